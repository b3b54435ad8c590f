"""`mlops submit`: run `mlops apply` as a Ray job on an existing cluster (Ray Job Submission API).

The spec is validated here first, so a bad spec never reaches the cluster. By default the job runs the
spec at its absolute path (a cluster on this machine or on a shared filesystem); `upload=True` ships
the spec's directory as the job's working_dir instead. Token authentication (RAY_AUTH_MODE=token, the
default for local clusters since Ray 2.59) is handled by Ray's client, which reads the cluster token
from RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH / ~/.ray/auth_token.
"""
from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass
from typing import Any, Sequence

from mlops import stores
from mlops.errors import MlopsError
from mlops.project import Project
from mlops.cluster.session import use_cluster_token
from mlops import tracking_tags

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


@dataclass
class Submission:
    job_id: str
    status: str
    logs: str = ""


def absolute_tracking_override(project: Project) -> list[str]:
    """A SQLite store is pinned to its path here (beside the spec, when the spec's URI is relative): an
    uploaded spec would otherwise put it in the job's own working directory."""
    uri = project.spec.tracking.uri  # already absolute: load_project resolves it against the spec
    return [f"tracking.uri='{uri}'"] if stores.sqlite_path(uri) is not None else []


def entrypoint(project: Project, overrides: Sequence[str], upload: bool) -> str:
    """The job's shell command: `python -m mlops.cli apply SPEC` with the overrides and a pinned SQLite store."""
    spec = project.config.spec_file.name if upload else str(project.config.spec_file)
    args = ["-m", "mlops.cli", "apply", spec, *overrides, *absolute_tracking_override(project)]
    python = "python" if upload else sys.executable
    return " ".join(shlex.quote(a) for a in [python, *args])


def submit(project: Project, overrides: Sequence[str], address: str, *, upload: bool = False,
           include: Sequence[str] = (), wait: bool = True, timeout_s: float = 3600) -> Submission:
    """Submit the apply as a job; with wait, block until it ends and return its logs. With upload, the
    spec's directory goes as the job's working_dir: the files mlops.runtime.upload chooses, nothing else."""
    import shutil

    from mlops.runtime.upload import checked_upload, stage

    # Checked before the cluster is contacted: a refused upload sends nothing anywhere.
    chosen = checked_upload(project.base_dir, include, project.spec.tracking.uri) if upload else None
    if chosen is not None and project.config.spec_file.name not in chosen.files:
        from mlops.errors import Problem, SpecError

        raise SpecError(Problem("--upload", f"{project.config.spec_file.name} itself is ignored (.gitignore or .mlopsignore)",
                                hint="the job runs the uploaded spec: un-ignore it, e.g. `!spec.yaml` in .mlopsignore"))
    staging = stage(chosen) if chosen is not None else None
    try:
        return _submit(project, overrides, address, staging, wait, timeout_s)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _submit(project: Project, overrides: Sequence[str], address: str, working_dir: Any, wait: bool,
            timeout_s: float) -> Submission:
    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobSubmissionClient

    upload = working_dir is not None
    use_cluster_token()
    try:
        client = JobSubmissionClient(address)
    except AuthenticationError:
        raise MlopsError(f"the Ray cluster at {address} requires its auth token: set RAY_AUTH_TOKEN or "
                         "RAY_AUTH_TOKEN_PATH (the head node keeps it in ~/.ray/auth_token)") from None
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise MlopsError(f"cannot reach the Ray job server at {address}: {exc}") from None
    runtime_env = {"working_dir": str(working_dir)} if upload else None
    job_id = _submit_when_ready(client, address, entrypoint=entrypoint(project, overrides, upload), runtime_env=runtime_env,
                                metadata={tracking_tags.SPEC_FILE: project.spec.name})
    if not wait:
        return Submission(job_id, str(client.get_job_status(job_id)))
    deadline = time.monotonic() + timeout_s
    status = str(client.get_job_status(job_id))
    while status.split(".")[-1] not in TERMINAL:
        if time.monotonic() > deadline:
            raise MlopsError(f"job {job_id} still {status} after {timeout_s:.0f}s (it keeps running; check `ray job status {job_id}`)")
        time.sleep(1.0)
        status = str(client.get_job_status(job_id))
    return Submission(job_id, status.split(".")[-1], client.get_job_logs(job_id))


AGENT_WAIT_S = 60  # a freshly started head takes a while before its job agent accepts jobs


def _submit_when_ready(client: Any, address: str, **job: Any) -> str:
    """submit_job, retrying while the cluster's job agent is still starting; other failures become messages."""
    deadline = time.monotonic() + AGENT_WAIT_S
    while True:
        try:
            return client.submit_job(**job)
        except RuntimeError as exc:
            if "No available agent" in str(exc) and time.monotonic() < deadline:
                time.sleep(1.0)
                continue
            raise MlopsError(f"the Ray job server at {address} refused the job: {str(exc).strip().splitlines()[0]}") from None
