"""Every Ray that mlops starts requires the cluster token and listens on loopback only (ShadowRay).

Each kind is started as a new user would meet it: an empty HOME, so no Ray token exists yet. A client
without the token is refused, one with it runs a task, and no process of that Ray listens on anything
but loopback.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlops.cluster.access import is_loopback

pytestmark = pytest.mark.slow

# A client: connects, runs one task, prints what happened on its last line.
PROBE = textwrap.dedent("""
    import sys, ray
    try:
        ray.init(address=sys.argv[1], logging_level="ERROR")
        print("PROBE " + ray.get(ray.remote(lambda: "ran").remote(), timeout=60))
    except Exception as exc:  # what a refused client sees
        print("PROBE refused " + type(exc).__name__)
""")


def _socket_owners() -> dict[str, int]:
    """socket inode -> pid, for every process we can see."""
    owners = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    owners[target[8:-1]] = int(pid)
        except OSError:
            continue
    return owners


def _tree(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(pid))
    out, stack = {root}, [root]
    while stack:
        for child in children.get(stack.pop(), []):
            out.add(child)
            stack.append(child)
    return out


def _hex_address(field: str) -> str:
    """/proc/net/tcp's local address (little-endian hex) as text."""
    host, port = field.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        ip = ".".join(str(b) for b in reversed(raw))
    else:  # tcp6: four little-endian 32-bit words
        words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
        ip = b"".join(words).hex()
        ip = "::1" if ip == "0" * 31 + "1" else ("::ffff:" + ".".join(str(b) for b in b"".join(words)[12:])
                                                if ip.startswith("0" * 20 + "ffff") else ip)
    return f"{ip}:{int(port, 16)}"


def listeners(pids: set[int]) -> list[str]:
    """Every TCP address these processes listen on."""
    owners = _socket_owners()
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and owners.get(cols[9]) in pids:  # 0A: LISTEN
                found.append(_hex_address(cols[1]))
    return found


def listening_processes(pids: set[int]) -> list[tuple[str, str]]:
    """(address, process title) of every TCP listener of these processes."""
    owners = _socket_owners()
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            pid = owners.get(cols[9])
            if cols[3] == "0A" and pid in pids:
                try:
                    title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
                except OSError:
                    title = "?"
                found.append((_hex_address(cols[1]), title))
    return found


def _loopback_only(addresses: list[str]) -> bool:
    return all(a.rsplit(":", 1)[0] in ("127.0.0.1", "::1", "::ffff:127.0.0.1") for a in addresses)


def probe(address: str, home: Path, auth_mode: str | None) -> str:
    """What a client of `address` with this HOME and RAY_AUTH_MODE meets: "ran", or "refused <error>", with
    " (token)" when Ray said the token was missing or wrong."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(HOME=str(home), RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_USAGE_STATS_ENABLED="0")
    if auth_mode:
        env["RAY_AUTH_MODE"] = auth_mode
    if auth_mode != "token":  # a client without the token: 2 connect attempts, not Ray's ~20 s window of retries
        env["RAY_gcs_server_port_wait_time_s"] = "2"
    done = subprocess.run([sys.executable, "-c", PROBE, address], env=env, capture_output=True, text=True, timeout=180)
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    if not lines:
        return f"no answer: {done.stderr[-500:]}"
    said = lines[-1][6:]
    return said + " (token)" if said.startswith("refused") and "InvalidAuthToken" in done.stderr else said


def probes(address: str, *clients: tuple[Path, str | None]) -> list[str]:
    """probe() for each (home, auth mode) at once: a refused client spends seconds in Ray's connection retries,
    and the clients are independent."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(clients)) as pool:
        return list(pool.map(lambda client: probe(address, *client), clients))


def _fresh_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(HOME=str(home), RAY_USAGE_STATS_ENABLED="0")
    return env


def test_the_persistent_head_requires_the_token_and_listens_on_loopback(tmp_path, monkeypatch):
    home, stranger = tmp_path / "home", tmp_path / "stranger"
    home.mkdir()
    stranger.mkdir()
    start = ("import json; from mlops.cluster.local_head import start_head; s = start_head({}, num_cpus=1); "
             "print(json.dumps({'gcs': s.gcs, 'pid': s.pid}))")
    started = subprocess.run([sys.executable, "-c", start], cwd=tmp_path, env=_fresh_env(home), capture_output=True,
                             text=True, timeout=180)
    assert started.returncode == 0, started.stderr[-2000:]
    state = json.loads(started.stdout.strip().splitlines()[-1])
    try:
        assert is_loopback(state["gcs"])
        token = home / ".ray" / "auth_token"
        assert token.is_file() and oct(token.stat().st_mode & 0o777) == "0o600"
        opened = listeners(_tree(state["pid"]))
        assert opened and _loopback_only(opened), opened
        # no token: no entry, whether the client turns auth off or leaves it to Ray; the owner's token works
        assert probes(state["gcs"], (stranger, "disabled"), (stranger, None), (home, "token")) == [
            "refused ConnectionError (token)", "refused ConnectionError (token)", "ran"]
    finally:
        from mlops.cluster.local_head import HeadState, stop_head

        monkeypatch.chdir(tmp_path)  # stop_head forgets the state file of the working directory
        stop_head(HeadState(state["gcs"], state["pid"], 0))


def test_the_embedded_ray_of_apply_requires_the_token_and_listens_on_loopback(tmp_path):
    home, stranger = tmp_path / "home", tmp_path / "stranger"
    home.mkdir()
    stranger.mkdir()
    # The embedded Ray lives as long as its driver, so the driver runs the checks while it holds it.
    script = textwrap.dedent(f"""
        import json, os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import ray
        from mlops.cluster.session import ray_session
        from test_ray_access import listeners, probes, _tree
        from pathlib import Path
        with ray_session("local", None, 1):
            gcs = ray.get_runtime_context().gcs_address
            stranger, owner = probes(gcs, (Path({str(stranger)!r}), "disabled"), (Path({str(home)!r}), "token"))
            print(json.dumps({{"gcs": gcs, "listening": listeners(_tree(os.getpid())),
                               "stranger": stranger, "owner": owner}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=_fresh_env(home), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert is_loopback(seen["gcs"])
    assert seen["listening"] and _loopback_only(seen["listening"]), seen["listening"]
    assert seen["stranger"] == "refused ConnectionError (token)"
    assert seen["owner"] == "ran"
