"""Date parts inside the saved pipeline: ISO text (naive and with offsets), epoch numbers, datetimes and
bad cells all score (a bad cell as a missing value), the reference time is fixed at fit, and the fitted
pipeline saves and loads with the exact trust list."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor

from messy_data import messy_frame
from mlops.models import safe_format
from mlops.models.datetime_parts import DatetimeParts, epoch_seconds
from mlops.models.preprocessing import build_pipeline
from mlops.spec.features import FeaturesSpec


def test_every_spelling_of_a_time_reads_as_the_same_instant():
    values = ["2024-03-01T10:00:00Z", "2024-03-01T12:00:00+02:00", "2024-03-01 10:00:00", 1709287200,
              "1709287200", 1709287200000, pd.Timestamp("2024-03-01 10:00")]
    seconds = epoch_seconds(pd.Series(values, dtype=object))
    assert np.all(seconds == 1709287200.0)
    aware = pd.Series(pd.to_datetime(["2024-03-01 12:00"]).tz_localize("Europe/Paris"))
    assert epoch_seconds(aware)[0] == 1709290800.0


def test_unreadable_cells_are_missing_never_an_error():
    seconds = epoch_seconds(pd.Series(["big", None, "", True, float("nan"), "2024-02-30", float("inf")], dtype=object))
    assert np.isnan(seconds).all()


def test_age_is_measured_from_the_newest_training_time_not_now():
    train = pd.DataFrame({"d": ["2020-01-01", "2020-01-11"]})
    step = DatetimeParts(["age_days", "year", "month_sin", "month_cos"]).fit(train)
    assert step.reference_ == pd.Timestamp("2020-01-11").timestamp()
    out = step.transform(pd.DataFrame({"d": ["2020-01-01", "nonsense"]}))
    assert out[0].tolist() == [10.0, 2020.0, 0.0, 1.0]
    assert np.isnan(out[1]).all()
    assert list(step.get_feature_names_out()) == ["d_age_days", "d_year", "d_month_sin", "d_month_cos"]


def test_numbers_pass_through_and_listed_epoch_columns_become_dates():
    frame = pd.DataFrame({"x": [1.5, 2.5], "t": [1709287200, 1709373600]})
    step = DatetimeParts(["day_of_week"], datetime=["t"]).fit(frame)
    assert step.dates_ == ["t"] and step.transform(frame).tolist() == [[1.5, 4.0], [2.5, 5.0]]


def test_the_saved_pipeline_scores_messy_rows_as_training_did(tmp_path: Path):
    frame = messy_frame(800)
    features = FeaturesSpec().model_dump(mode="json")
    numeric, categorical = ["sqft", "rooms", "built_date"], ["city", "zip_code", "garage"]
    X = frame[numeric + categorical]
    pipe = build_pipeline(features, numeric, categorical, RandomForestRegressor(20, random_state=0)).fit(X, frame["price"])
    safe_format.save(pipe, tmp_path / "model.skops")
    loaded = safe_format.load(tmp_path / "model.skops")  # the exact trust list: nothing else named
    assert np.array_equal(loaded.predict(X), pipe.predict(X))
    # One row per kind of cell online requests and batch files send: all score, the bad one as if missing.
    rows = pd.DataFrame({"sqft": [900.0] * 4, "rooms": [3] * 4, "city": ["austin"] * 4, "zip_code": ["10007"] * 4,
                         "garage": ["yes"] * 4,
                         "built_date": ["1990-05-01", "1990-05-01T02:00:00+02:00", 641520000, "not a date"]})
    predicted = loaded.predict(rows[numeric + categorical])
    assert np.isfinite(predicted).all() and predicted[0] == predicted[1] == predicted[2]
    # Bounded encoding: 600 zip codes become at most `threshold` columns.
    width = len(pipe[:-1].transform(X.head(2))[0])
    assert width <= 3 + len(features["datetime_parts"]) - 1 + 6 + 50 + 3


def test_numbers_and_dates_written_as_text_are_learned_and_served_as_training_read_them(tmp_path: Path):
    """'$1,234.50', '5.5%' and day-first dates ('13/01/2024 18:30'), as a CSV export writes them, are numbers and
    dates in the pipeline: a label set by the amount and by the day is learned, save/load keeps the layout, a
    request in the same spelling scores the same, and an ambiguous '03/04/2024' is read day first every time."""
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    n = 600
    amount = rng.uniform(0, 10_000, n)
    day = rng.integers(1, 29, n)
    frame = pd.DataFrame({"amount": [f"${a:,.2f}" for a in amount], "rate": [f"{r:.1f}%" for r in rng.uniform(1, 20, n)],
                          "when": [f"{d:02d}/{m:02d}/2024 18:30" for d, m in zip(day, rng.integers(1, 13, n))]})
    label = ((amount > 5_000) & (day > 14)).astype(int)
    features = FeaturesSpec(datetime_parts=["day", "month"]).model_dump(mode="json")
    pipe = build_pipeline(features, ["amount", "rate", "when"], [], DecisionTreeClassifier(random_state=0)).fit(frame, label)
    step = pipe.named_steps["preprocess"].named_transformers_["numeric"].named_steps["dates"]
    assert step.number_texts_ == ["amount", "rate"] and step.dates_ == ["when"]
    assert step.date_formats_ == {"when": "%d/%m/%Y %H:%M"}
    assert (pipe.predict(frame) == label).mean() == 1.0
    safe_format.save(pipe, tmp_path / "model.skops")
    loaded = safe_format.load(tmp_path / "model.skops")
    rows = pd.DataFrame({"amount": ["$9,000.00", "$9,000.00", "(1,000)"], "rate": ["5%", "5%", "5%"],
                         "when": ["20/03/2024 18:30", "03/04/2024 18:30", "20/03/2024 18:30"]})
    assert loaded.predict(rows).tolist() == [1, 0, 0]  # '03/04' is the 3rd of April, as in training
    parts = step.transform(rows)
    assert parts[:, 0].tolist() == [9000.0, 9000.0, -1000.0] and parts[1, 2:].tolist() == [3.0, 4.0]


def test_a_parquet_files_extension_columns_fit_and_score_like_a_csvs(tmp_path: Path):
    """pandas reads a parquet file written from nullable columns back as Int64, Float64, boolean, string and
    category: the pipeline takes them as read_csv's columns (numbers with NaN, objects), so a category
    column no longer fails the fit, and a request's plain values score as the same rows do."""
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"age": pd.array(np.where(rng.random(n) < .1, None, rng.integers(18, 80, n)), dtype="Int64"),
                          "member": pd.array(np.where(rng.random(n) < .1, None, rng.random(n) < .5), dtype="boolean"),
                          "tier": pd.Categorical(rng.choice(["gold", "silver"], n)),
                          "spend": pd.array(rng.gamma(2, 50, n), dtype="Float64"),
                          "note": pd.array(rng.choice(["a", "b", None], n), dtype="string")})
    frame.to_parquet(tmp_path / "rows.parquet")
    read = pd.read_parquet(tmp_path / "rows.parquet")
    assert str(read["tier"].dtype) == "category" and str(read["age"].dtype) == "Int64"
    label = ((read["tier"] == "gold") & (read["age"].fillna(0) > 55)).astype(int).to_numpy()  # a missing age: the median
    features = FeaturesSpec().model_dump(mode="json")
    pipe = build_pipeline(features, ["age", "spend"], ["member", "tier", "note"], DecisionTreeClassifier(random_state=0))
    pipe.fit(read, label)
    assert (pipe.predict(read) == label).mean() == 1.0
    safe_format.save(pipe, tmp_path / "model.skops")
    loaded = safe_format.load(tmp_path / "model.skops")
    plain = pd.DataFrame({"age": [70, None, 70], "member": [True, None, False], "tier": ["gold", "gold", "silver"],
                          "spend": [40.0, 40.0, 40.0], "note": ["a", None, "b"]})
    assert loaded.predict(plain).tolist() == [1, 0, 0]


def test_a_time_split_orders_day_first_text_by_time_not_by_text():
    """data.timestamp as a CSV export writes it ('31/12/2023'): split.method: time holds out the newest rows,
    which sorting the text would not ('02/01/2024' < '31/12/2023' as text); text that is no time ('2024Q1')
    is ordered as written."""
    from mlops.models.datetime_parts import time_order
    from mlops.stages import split

    days = pd.date_range("2023-12-01", periods=60, freq="D")
    frame = pd.DataFrame({"ts": days.strftime("%d/%m/%Y"), "x": range(60), "y": [0, 1] * 30}).sample(frac=1, random_state=0)

    class Features:  # what split reads of featurize's output
        raw_inputs = ["x"]

    Features.frame = frame.reset_index(drop=True)
    held = split.run(Features, {"target": "y", "timestamp": "ts", "split": {"method": "time", "test_size": 0.25}})
    assert sorted(held.X_test["x"]) == list(range(45, 60))  # the last 15 days, January's included
    assert list(time_order(pd.Series(["2024Q2", "2024Q1", None, "2023Q4"]))) == [3, 1, 0, 2]
