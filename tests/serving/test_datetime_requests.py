"""A model trained on the messy table, served in process (the real replica and ingress, no Ray): a date
column takes ISO text and epoch numbers on /predict and in CSV on /invocations, answers as batch scoring
does for the same rows, and a text that is no date is scored as a missing one. The request model accepts
and ignores the columns the model does not read (features.drop, ids, free text)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient
from sklearn.ensemble import RandomForestRegressor

from messy_data import messy_frame
from mlops.models.bundle import Bundle
from mlops.serving.endpoint_config import EndpointConfig
from serving_settings import settings_for
from mlops.serving.ingress import EndpointAPI
from mlops.serving.replica import Endpoint
from mlops.serving.schema import request_model
from mlops.serving.scoring import columns_taking_null
from mlops.spec.features import FeaturesSpec
from mlops.stages import featurize
from mlops.stages.batch_output import output_frame
from mlops.stages.load import Loaded, frame_fingerprint
from mlops.models.preprocessing import build_pipeline

ReplicaClass = Endpoint.__mro__[1]


class Recorder:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def trained():
    frame = messy_frame(600)
    section = FeaturesSpec().model_dump(mode="json")
    fs = featurize.run(Loaded(frame, frame_fingerprint(frame)), {"data": {"target": "price"}, "features": section})
    pipe = build_pipeline({**section, "datetime": fs.datetime}, fs.numeric, fs.categorical,
                          RandomForestRegressor(10, random_state=0)).fit(fs.frame[fs.raw_inputs], fs.frame["price"])
    meta = {"task": "regression", "input_schema": fs.input_schema, "ignored_columns": fs.ignored, "target": "price"}
    return frame, Bundle(pipe, meta)


def test_dates_score_the_same_online_and_in_batch():
    frame, bundle = trained()
    config = EndpointConfig(settings_for("houses", fast_path=False), tracking_uri="sqlite://", version="1",
                            input_schema=bundle.meta["input_schema"], takes_null=columns_taking_null(bundle),
                            target_column="price")
    replica = ReplicaClass(config)
    replica._metrics = Recorder()
    replica.serving = (bundle, None, "1")
    rows = frame[bundle.input_columns].iloc[[0, 0, 0]].reset_index(drop=True)  # one house, its date three ways
    rows.loc[:, "built_date"] = ["1990-05-01", "1990-05-01T02:00:00+02:00", "not a date"]
    body = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in rows.astype(object).to_dict("records")]
    batch = output_frame(bundle, rows, None, False)["prediction"].tolist()
    with TestClient(EndpointAPI(config, replica)) as client:
        answer = client.post("/predict", json={"rows": body})
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == batch
        assert batch[0] == batch[1]  # the same instant, written two ways
        epoch = {**body[0], "built_date": 641520000}  # 1990-05-01T00:00:00Z in epoch seconds
        assert client.post("/predict", json={"rows": [epoch]}).json()["predictions"] == batch[:1]
        csv = pd.DataFrame(body).to_csv(index=False).encode()
        via_csv = client.post("/invocations", content=csv,
                              headers={"content-type": "text/csv"})
        assert via_csv.status_code == 200, via_csv.text
        assert via_csv.json()["predictions"] == batch
        refused = client.post("/predict", json={"rows": [{**body[0], "built_date": True}]})
        assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "rows.0.built_date"


def test_the_request_model_accepts_and_ignores_columns_the_model_does_not_read():
    frame, bundle = trained()
    model = request_model(bundle.meta["input_schema"], 10, target_column="price",
                          ignored_columns=bundle.meta["ignored_columns"])
    row = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in frame.head(1).astype(object).to_dict("records")[0].items()}
    assert set(bundle.meta["ignored_columns"]) == {"house_id", "description", "country"}
    parsed = model.model_validate({"rows": [row]})  # a row copied from the training file, every column
    assert parsed.rows[0].model_dump(by_alias=True)["description"] == row["description"]
    from pydantic import ValidationError
    import pytest

    with pytest.raises(ValidationError, match="not a column of the model's training data"):
        model.model_validate({"rows": [{**row, "surprise": 1}]})  # a column the data never had: still refused


def test_a_row_copied_from_the_training_file_scores_on_every_route():
    """Every column of the training file, those the model does not read included (an id, free text, a
    constant): /predict and /invocations (JSON and CSV) answer alike; a column the data never had is a 422."""
    frame, bundle = trained()
    config = EndpointConfig(settings_for("houses", fast_path=False), tracking_uri="sqlite://", version="1",
                            input_schema=bundle.meta["input_schema"], takes_null=columns_taking_null(bundle),
                            target_column="price", ignored_columns=bundle.meta["ignored_columns"])
    replica = ReplicaClass(config)
    replica._metrics = Recorder()
    replica.serving = (bundle, None, "1")
    rows = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in frame.head(3).astype(object).to_dict("records")]
    expected = output_frame(bundle, frame.head(3)[bundle.input_columns].reset_index(drop=True), None, False)["prediction"].tolist()
    with TestClient(EndpointAPI(config, replica)) as client:
        predict = client.post("/predict", json={"rows": rows})
        assert predict.status_code == 200, predict.text
        assert predict.json()["predictions"] == expected
        records = client.post("/invocations", json={"dataframe_records": rows})
        assert records.status_code == 200 and records.json()["predictions"] == expected, records.text
        csv = client.post("/invocations", content=frame.head(3).to_csv(index=False).encode(), headers={"content-type": "text/csv"})
        assert csv.status_code == 200 and csv.json()["predictions"] == expected, csv.text
        surprise = client.post("/predict", json={"rows": [{**rows[0], "surprise": 1}]})
        assert surprise.status_code == 422 and surprise.json()["detail"][0]["field"] == "rows.0.surprise"
