"""`hardware`: where the work runs and what each piece of it may use."""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from mlops.spec.base import StrictModel


class HardwareSpec(StrictModel):
    cluster: str = Field("local", description="'local' (embedded Ray started by mlops) or a Ray address")
    local_cpus: Optional[int] = Field(None, ge=1, description="CPUs the embedded local Ray may use (default: all)")
    cpus_per_task: float = Field(1, gt=0)
    gpus_per_task: float = Field(0, ge=0)
    memory_per_task_gb: Optional[float] = Field(None, gt=0)
