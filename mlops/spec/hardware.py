"""`hardware`: where the work runs and what each piece of it may use."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from mlops.spec.base import StrictModel


class HardwareSpec(StrictModel):
    cluster: str = Field("local", description="'local' (embedded Ray started by mlops) or a Ray address")
    local_cpus: Optional[int] = Field(None, ge=1, description="CPUs the embedded local Ray may use (default: all)")
    # Plain Ray tasks (load, featurize, split, sklearn training, evaluation).
    cpus_per_task: float = Field(1, gt=0, description="CPUs each Ray task (a node of the plan, a tuning trial) reserves")
    gpus_per_task: float = Field(0, ge=0, description="GPUs each Ray task reserves (fractions share a GPU)")
    memory_per_task_gb: Optional[float] = Field(None, gt=0, description="memory each Ray task reserves, in GB (omitted: no reservation)")
    # Ray Train workers (torch models) and Ray Tune trials.
    workers: int = Field(1, ge=1, description="Ray Train workers")
    cpus_per_worker: float = Field(1, gt=0, description="CPUs each Ray Train worker reserves (torch models)")
    gpus_per_worker: float = Field(0, ge=0, description="GPUs each Ray Train worker reserves (torch models)")
    accelerator: Literal["cpu", "gpu", "auto"] = Field("cpu", description="auto: use GPUs when the cluster has them, else CPU with a warning")
    max_concurrent_trials: Optional[int] = Field(None, ge=1, description="most tuning trials run at once (omitted: as many as the resources allow)")
    max_failures: int = Field(0, ge=0, description="Ray Train / Tune retries after a failure")
    # Ray Serve replicas.
    cpus_per_replica: float = Field(1, gt=0, description="CPUs each serving replica reserves")
    gpus_per_replica: float = Field(0, ge=0, description="GPUs each serving replica reserves")
