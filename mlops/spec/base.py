"""Shared base of every spec model: unknown keys are errors, never silently ignored."""
from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)
