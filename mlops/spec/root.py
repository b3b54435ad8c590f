"""`Spec`: the whole validated spec, one pydantic model per section composed."""
from __future__ import annotations

from typing import Optional

from pydantic import Field, ValidationInfo, field_validator, model_validator

from mlops.spec.base import StrictModel
from mlops.spec.data import DataSpec
from mlops.spec.features import FeaturesSpec
from mlops.spec.hardware import HardwareSpec
from mlops.spec.model import ModelSpec
from mlops.spec.monitoring import MonitoringSpec
from mlops.spec.retraining import RetrainingSpec
from mlops.spec.serving import ServingSpec
from mlops.spec.tracking import TrackingSpec
from mlops.spec.tuning import TuningSpec, check_space_roots
from mlops.spec.validation import ValidationSpec
from mlops.spec.versions import CURRENT as SPEC_VERSION



class Spec(StrictModel):
    """A whole project spec, as `mlops apply` runs it."""

    spec_version: int = Field(SPEC_VERSION, ge=1, le=SPEC_VERSION,
                              description="the spec format (omitted: the current one; older ones are upgraded)")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="MLflow experiment and registered-model name")
    data: DataSpec = Field(description="the training data: source, target, split")
    features: FeaturesSpec = Field(FeaturesSpec(), description="which columns are features and how they are prepared")
    model: ModelSpec = Field(description="the task, the model family and its parameters, the metric")
    tuning: Optional[TuningSpec] = Field(None, description="a hyperparameter search on Ray Tune (null: fit the given parameters)")
    validation: Optional[ValidationSpec] = Field(None, description="data validation, drift and outlier detection against the training data")
    retraining: Optional[RetrainingSpec] = Field(None, description="when and on what data `mlops monitor` retrains")
    serving: Optional[ServingSpec] = Field(None, description="batch scoring and/or an online endpoint")
    monitoring: Optional[MonitoringSpec] = Field(None, description="request logs, alerts and the always-on controller of an online endpoint")
    hardware: HardwareSpec = Field(HardwareSpec(), description="where the plan runs and what each task reserves")
    tracking: TrackingSpec = Field(TrackingSpec(), description="the MLflow store and experiment")

    @field_validator("tuning")
    @classmethod
    def _search_space_fits_model(cls, tuning: Optional[TuningSpec], info: ValidationInfo) -> Optional[TuningSpec]:
        model = info.data.get("model")
        if tuning is None or model is None:
            return tuning
        if model.type == "auto" and tuning.search == "grid":
            raise ValueError("search: grid is not available for model.type auto (families' spaces are sampled); use random or optuna")
        if model.type == "auto" and tuning.search_space:
            raise ValueError("search_space is per family for model.type auto: put it under model.search_space.FAMILY")
        problems = check_space_roots(tuning.search_space, model.type, "search_space")
        if problems:
            raise ValueError("; ".join(problems))
        return tuning

    @model_validator(mode="after")
    def _target_is_not_a_feature(self):
        listed = (self.features.numeric or []) + (self.features.categorical or [])
        if self.data.target in listed:
            raise ValueError(f"data.target '{self.data.target}' is also listed as a feature")
        return self

    @model_validator(mode="after")
    def _half_precision_has_a_gpu(self):
        """fp16 trains on CUDA only: a torch model whose workers (or tuning trials) can hold no GPU is refused
        now, not after the data is loaded (bf16 runs on CPUs)."""
        from mlops.errors import FieldValueError

        model, hw = self.model, self.hardware
        if model.type == "torch" and model.training.precision == "fp16" and hw.accelerator == "cpu" \
                and not hw.gpus_per_worker:
            raise FieldValueError("model.training.precision", "fp16 needs a GPU, and this training has none "
                                  "(hardware.gpus_per_worker: 0, accelerator: cpu); use bf16 (CPUs run it) or fp32, "
                                  "or give the workers GPUs (hardware.gpus_per_worker: 1)")
        return self

    @model_validator(mode="after")
    def _feature_views_fit_the_labels(self):
        from mlops.errors import FieldValueError

        views = self.features.views
        online = self.serving.online if self.serving is not None else None
        if online is not None and online.features_from_store and not views:
            raise FieldValueError("serving.online.features_from_store", "needs features.views to read from the store")
        if not views:
            return self
        if not self.data.timestamp:
            raise FieldValueError("data.timestamp", "features.views need the labels' time column (the point-in-time join "
                                                    "takes each view's latest row at or before it)")
        for i, view in enumerate(views):
            key = self.features.entity_key(view)
            if key not in self.data.entity_keys:
                raise FieldValueError("data.entity_keys", f"lacks '{key}', the key of entity '{view.entity}' that "
                                                          f"features.views.{i} joins on")
        return self


__all__ = ["Spec"]
