"""Files replaced whole: a reader sees the old content or the new, never half of either.

Every writer gets a temporary file of its own beside the target (then `os.replace`): a name made of the
process id alone was shared by two threads of one process writing one file (two combinations of a
multirun caching the same upstream node), and one thread's rename took the other's file away.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def temp_beside(path: Path) -> Path:
    """A hidden name in `path`'s folder that no other writer, thread or process, uses."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def write_atomic(path: str | Path, data: bytes | str, mode: int = 0o666) -> None:
    """Replace `path` with `data` (text is written as UTF-8), creating its folder. `mode` is the new file's
    permissions before the umask, from the moment it exists (0o600: never readable by others, not even
    while it is written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
