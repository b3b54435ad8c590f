"""`tuning`: placeholder until implemented (issue 3 (A)); rejects any use so nothing is silently ignored."""
from __future__ import annotations

from typing import Any

from pydantic import model_validator

from mlops.spec.base import StrictModel


class TuningSpec(StrictModel):
    @model_validator(mode="before")
    @classmethod
    def _not_supported_yet(cls, raw: Any) -> Any:
        raise ValueError("section 'tuning' is not supported by this build of mlops yet")
