"""Each worker's own state directory (RocksDB locks its files, so two workers never share one).

A named worker (PINEWIRE_WORKER_NAME) keeps `<root>/<name>` across restarts; an unnamed one
takes the first `<root>/unnamed-N` that no running worker holds, so several unnamed workers
can share a data directory and a restarted one usually finds its own tables again. The claim
is an flock held for the life of the process; the kernel drops it when the process dies,
even by kill -9.

Tables kept on disk are kept only from a clean stop. Faust writes a table's local store before
its changelog, so a worker killed in between would start with tables ahead of their
changelogs and of its committed offsets: a decision whose order was never sent would be taken
for made. A clean stop leaves a mark (`stopped_cleanly`); a worker that finds none forgets
what the directory holds and reads its changelogs back whole, as it does from memory."""
from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

_held: list[int] = []   # the lock files' descriptors, open while the process lives
LOCK, CLEAN = ".lock", ".stopped-cleanly"


class StateDirTaken(RuntimeError):
    pass


def _lock(directory: Path) -> bool:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    _held.append(fd)
    return True


def claim(root: Path, name: str | None) -> Path:
    """The worker's directory, locked for the life of the process; emptied unless its last
    worker stopped cleanly."""
    if name:
        if not _lock(root / name):
            raise StateDirTaken(f"another worker named {name!r} is running on {root / name}; "
                                "give each worker its own PINEWIRE_WORKER_NAME")
        directory = root / name
    else:
        n = 1
        while not _lock(root / f"unnamed-{n}"):
            n += 1
        directory = root / f"unnamed-{n}"
    _keep_only_after_a_clean_stop(directory)
    return directory


def _keep_only_after_a_clean_stop(directory: Path) -> None:
    mark = directory / CLEAN
    if mark.exists():
        mark.unlink()          # a kill from now on leaves none
        return
    for entry in directory.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        elif entry.name != LOCK:
            entry.unlink()


def stopped_cleanly(directory: Path) -> None:
    """Called once the worker has stopped and its tables' writes are in their changelogs."""
    (directory / CLEAN).touch()
