"""Commands for mlops' local Ray head: up, down. The head itself lives in mlops.cluster.local_head."""
from __future__ import annotations

from typing import Optional

import typer

from mlops.cli.common import console, user_errors


@user_errors
def up(num_cpus: Optional[int] = typer.Option(None, "--num-cpus", min=1,
                                              help="CPUs the head offers its tasks (default: all of this machine's)")) -> None:
    """Start mlops' local Ray head for this directory (loopback only, token auth): apply, predict --batch,
    monitor and serve --detach run on it instead of starting their own Ray, until `mlops down`."""
    from mlops.cluster.local_head import read_state, start_head, temp_dir
    from mlops.serving.deploy import throughput_env

    running = read_state()
    if running is not None:  # one head per directory: a second would hold the cores twice
        console.print(f"the local Ray head already runs at {running.gcs} (pid {running.pid}); `mlops down` stops it",
                      soft_wrap=True)
        return
    with console.status("starting the local Ray head...", spinner="dots"):
        # As `serve --detach` starts it for an endpoint with the default serving.online.throughput_mode:
        # Serve reads these when it first starts on the head, which may be for a later endpoint.
        head = start_head(throughput_env(), num_cpus)
    cpus = f"{num_cpus} CPUs" if num_cpus else "every CPU"
    logs = temp_dir(head.gcs.rsplit(":", 1)[1]) / "session_latest" / "logs"
    console.print(f"[green]started[/] the local Ray head at {head.gcs} ({cpus}, pid {head.pid}, Ray's logs in {logs}); "
                  f"`mlops down` stops it", soft_wrap=True, highlight=False)


@user_errors
def down() -> None:
    """Stop mlops' local Ray head of this directory, with every endpoint and controller on it."""
    from mlops import api
    from mlops.cluster.local_head import read_state

    if read_state() is None:
        console.print("no local mlops Ray head is running")
        return
    said = api.stop(None)  # as `mlops stop` without a name: the controllers, the endpoints, then the head
    console.print(said.replace("stopped nothing and the local Ray head", "stopped the local Ray head"), soft_wrap=True)


COMMANDS = (up, down)  # in the order `mlops --help` lists them
