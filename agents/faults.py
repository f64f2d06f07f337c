"""Rehearsal crash points. PINEWIRE_FAULT_POINT names a point in the agents where a worker kills
itself with SIGKILL, as a crash would, the first time a worker of this data directory reaches
it (a mark in the data directory keeps the restarted worker going). Unset, each point is one
comparison."""
from __future__ import annotations

import os
import signal

from agents import app as A


def crash_point(name: str) -> None:
    if A.S.fault_point != name:
        return
    mark = A.S.data_dir / f"fault-{name}.reached"
    if mark.exists():
        return
    mark.parent.mkdir(parents=True, exist_ok=True)
    mark.touch()
    os.kill(os.getpid(), signal.SIGKILL)
