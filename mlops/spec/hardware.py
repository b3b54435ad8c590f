"""`hardware`: where the work runs and what each piece of it may use."""
from __future__ import annotations

from typing import Dict, Literal, Optional

from pydantic import Field, field_validator

from mlops.spec.base import StrictModel


class HardwareSpec(StrictModel):
    cluster: str = Field("local", description="'local' (embedded Ray started by mlops) or a Ray address")
    local_cpus: Optional[int] = Field(None, ge=1, description="CPUs the embedded local Ray may use (default: all)")
    # Plain Ray tasks (load, featurize, split, sklearn training, evaluation).
    cpus_per_task: float = Field(1, gt=0, description="CPUs each Ray task (a node of the plan, a tuning trial) reserves")
    gpus_per_task: float = Field(0, ge=0, description="GPUs each Ray task reserves (fractions share a GPU)")
    memory_per_task_gb: Optional[float] = Field(None, gt=0, description="memory each Ray task reserves, in GB (omitted: no reservation)")
    resources_per_task: Dict[str, float] = Field(
        default_factory=dict, description="custom Ray resources each plan task and tuning trial asks for, e.g. "
                                          "{worker_pool: 1}: the work runs only on nodes that declare them "
                                          "(`ray start --resources`)")
    storage: Optional[str] = Field(
        None, description="where Ray keeps Tune results and Ray Train checkpoints: a path every node mounts "
                          "(/mnt/shared/mlops) or a URL (s3://bucket/mlops); omitted: .mlops/ beside the spec, "
                          "which serves one machine only")
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

    @field_validator("resources_per_task")
    @classmethod
    def _custom_only(cls, resources: Dict[str, float]) -> Dict[str, float]:
        """Ray's own resources have their own fields (their units and checks differ); amounts are positive."""
        own = {"cpu": "cpus_per_task", "gpu": "gpus_per_task", "memory": "memory_per_task_gb"}
        for name, amount in resources.items():
            if name.lower() in own or name == "object_store_memory":
                instead = f"set hardware.{own[name.lower()]} instead" if name.lower() in own else "it is not per task"
                raise ValueError(f"{name!r} is one of Ray's own resources: {instead}")
            if not amount > 0:
                raise ValueError(f"{name}: {amount} is not a positive amount")
        return resources

    @field_validator("storage")
    @classmethod
    def _storage_named(cls, storage: Optional[str]) -> Optional[str]:
        if storage is not None and not storage.strip():
            raise ValueError("an empty storage location: omit hardware.storage or name a shared path or URL")
        return storage
