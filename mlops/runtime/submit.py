"""`mlops submit`: run `mlops apply` as a Ray job on an existing cluster (Ray Job Submission API).

The spec is validated here first, so a bad spec never reaches the cluster. By default the job runs the
spec at its absolute path (a cluster on this machine or on a shared filesystem); `upload=True` ships
the spec's directory as the job's working_dir instead. With `runtime="ship"` (the default) mlops' code, its
plugins' and their requirements travel with the job (mlops.runtime.job_env), so a cluster with only Ray runs
it. The job's logs stream while it runs; Ctrl-C raises JobInterrupted, whose caller decides whether the job
stops. Token authentication (RAY_AUTH_MODE=token, the
default for local clusters since Ray 2.59) is handled by Ray's client, which reads the cluster token
from RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH / ~/.ray/auth_token.
"""
from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

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


def entrypoint(project: Project, overrides: Sequence[str], upload: bool, shipped: bool = False) -> str:
    """The job's shell command: `python -m mlops.cli apply SPEC` with the overrides and a pinned SQLite store.
    The spec is the uploaded copy (in the job's working_dir) or the one here; the Python is the job's own
    (the cluster's, or the virtualenv of shipped requirements) unless the job runs from this machine's files."""
    spec = project.config.spec_file.name if upload else str(project.config.spec_file)
    args = ["-m", "mlops.cli", "apply", spec, *overrides, *absolute_tracking_override(project)]
    python = "python" if upload or shipped else sys.executable
    command = " ".join(shlex.quote(a) for a in [python, *args])
    if shipped:  # the job's log says which copy of mlops ran it: the shipped one, not one the cluster had
        return f"{python} -c {shlex.quote(WHICH_MLOPS)} && {command}"
    return command


WHICH_MLOPS = "import mlops; print('mlops code from', mlops.__path__[0], flush=True)"


def check_endpoint_token(project: Project) -> None:
    """A submitted job deploys its endpoint from the cluster, so a token mlops generates would be written in
    the job's working directory there, out of the user's reach: such a spec is refused before anything is sent."""
    online = project.spec.serving.online if project.spec.serving is not None else None
    if online is not None and online.auth is not None and not online.auth.token_env:
        from mlops.errors import Problem, SpecError

        raise SpecError(Problem("serving.online.auth", "a submitted job deploys the endpoint from the cluster, where the "
                                "token mlops generates would stay (in the job's working directory)",
                                hint="set serving.online.auth.token_env to a variable the cluster's processes have, or "
                                     "deploy from here with `mlops apply --address` (the token stays beside the spec)"))


def submit(project: Project, overrides: Sequence[str], address: str, *, upload: bool = False,
           include: Sequence[str] = (), wait: bool = True, timeout_s: float = 3600, runtime: str = "ship",
           on_output: Callable[[str], None] | None = None) -> Submission:
    """Submit the apply as a job; with wait, follow it until it ends, its logs going to `on_output` as they
    come (else kept in the Submission). With upload, the spec's directory goes as the job's working_dir: the
    files mlops.runtime.upload chooses, nothing else; `runtime` says what else travels (mlops.runtime.job_env)."""
    import shutil

    from mlops.runtime.job_env import job_runtime_env
    from mlops.runtime.upload import checked_upload, stage

    check_endpoint_token(project)
    # Checked before the cluster is contacted: a refused upload sends nothing anywhere.
    chosen = checked_upload(project.base_dir, include, project.spec.tracking.uri) if upload else None
    if chosen is not None and project.config.spec_file.name not in chosen.files:
        from mlops.errors import Problem, SpecError

        raise SpecError(Problem("--upload", f"{project.config.spec_file.name} itself is ignored (.gitignore or .mlopsignore)",
                                hint="the job runs the uploaded spec: un-ignore it, e.g. `!spec.yaml` in .mlopsignore"))
    staging = stage(chosen) if chosen is not None else None
    try:
        runtime_env = job_runtime_env(project, staging, runtime)
        return _submit(project, overrides, address, runtime_env, wait, timeout_s, on_output)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _submit(project: Project, overrides: Sequence[str], address: str, runtime_env: dict[str, Any] | None, wait: bool,
            timeout_s: float, on_output: Callable[[str], None] | None) -> Submission:
    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobSubmissionClient

    upload = bool(runtime_env and "working_dir" in runtime_env)
    shipped = bool(runtime_env and "py_modules" in runtime_env)
    use_cluster_token()
    try:
        client = JobSubmissionClient(address)
    except AuthenticationError:
        raise MlopsError(f"the Ray cluster at {address} requires its auth token: set RAY_AUTH_TOKEN or "
                         "RAY_AUTH_TOKEN_PATH (the head node keeps it in ~/.ray/auth_token)") from None
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise MlopsError(f"cannot reach the Ray job server at {address}: {exc}") from None
    job_id = _submit_when_ready(client, address, entrypoint=entrypoint(project, overrides, upload, shipped),
                                runtime_env=runtime_env, metadata={tracking_tags.SPEC_FILE: project.spec.name})
    if not wait:
        return Submission(job_id, str(client.get_job_status(job_id)))
    try:
        logs = follow(client, job_id, on_output, timeout_s)
    except KeyboardInterrupt:
        raise JobInterrupted(client, job_id) from None
    status = _status(client, job_id)
    return Submission(job_id, status, "" if on_output else logs)


class JobInterrupted(MlopsError):
    """Ctrl-C while following a job: the job keeps running until the caller decides (`stop()`)."""

    exit_code = 130

    def __init__(self, client: Any, job_id: str):
        self.client, self.job_id = client, job_id
        super().__init__(f"job {job_id} keeps running on the cluster (stop it with `ray job stop {job_id}`)")

    def stop(self) -> str:
        """Stop the job and wait (a few seconds) for it to end; its final status."""
        self.client.stop_job(self.job_id)
        deadline = time.monotonic() + 30
        status = _status(self.client, self.job_id)
        while status not in TERMINAL and time.monotonic() < deadline:
            time.sleep(0.5)
            status = _status(self.client, self.job_id)
        return status


def follow(client: Any, job_id: str, on_output: Callable[[str], None] | None, timeout_s: float) -> str:
    """Stream the job's logs until it ends (Ray's log tail closes then); all of them, as one string."""
    import asyncio

    chunks: list[str] = []

    async def tail() -> None:
        async for chunk in client.tail_job_logs(job_id):
            chunks.append(chunk)
            if on_output:
                on_output(chunk)

    try:
        asyncio.run(asyncio.wait_for(tail(), timeout_s))
    except asyncio.TimeoutError:
        raise MlopsError(f"job {job_id} still {_status(client, job_id)} after {timeout_s:.0f}s "
                         f"(it keeps running; check `ray job status {job_id}`)") from None
    return "".join(chunks)


def _status(client: Any, job_id: str) -> str:
    """The job's status as a plain word (SUCCEEDED), waiting a moment for the end that the log tail saw."""
    status = str(client.get_job_status(job_id)).split(".")[-1]
    deadline = time.monotonic() + 10
    while status not in TERMINAL and time.monotonic() < deadline:  # the tail can close just before the status moves
        time.sleep(0.2)
        status = str(client.get_job_status(job_id)).split(".")[-1]
    return status


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
