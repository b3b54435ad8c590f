"""`retraining`: placeholder until implemented (issue 5); rejects any use so nothing is silently ignored."""
from __future__ import annotations

from typing import Any

from pydantic import model_validator

from mlops.spec.base import StrictModel


class RetrainingSpec(StrictModel):
    @model_validator(mode="before")
    @classmethod
    def _not_supported_yet(cls, raw: Any) -> Any:
        raise ValueError("section 'retraining' is not supported by this build of mlops yet")
