"""Each worker's own state directory (RocksDB locks its files, so two workers never share one).

A named worker (PINEWIRE_WORKER_NAME) keeps `<root>/<name>` across restarts; an unnamed one
takes the first `<root>/unnamed-N` that no running worker holds, so several unnamed workers
can share a data directory and a restarted one usually finds its own tables again. The claim
is an flock held for the life of the process; the kernel drops it when the process dies,
even by kill -9."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

_held: list[int] = []   # the lock files' descriptors, open while the process lives


class StateDirTaken(RuntimeError):
    pass


def _lock(directory: Path) -> bool:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    _held.append(fd)
    return True


def claim(root: Path, name: str | None) -> Path:
    if name:
        if not _lock(root / name):
            raise StateDirTaken(f"another worker named {name!r} is running on {root / name}; "
                                "give each worker its own PINEWIRE_WORKER_NAME")
        return root / name
    n = 1
    while not _lock(root / f"unnamed-{n}"):
        n += 1
    return root / f"unnamed-{n}"
