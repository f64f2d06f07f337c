"""Child processes that die with their parent and stop cleanly: TERM, a grace period, then KILL."""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Linux: the kernel sends SIGTERM to the child if the parent dies, even by SIGKILL.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    os.setpgrp()  # Ctrl-C in the terminal reaches only the supervisor, which stops us in order


def spawn(args: list[str], log_path: Path, env: dict | None = None) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab", buffering=0)
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, preexec_fn=_die_with_parent)


def stop(proc: subprocess.Popen, grace_s: float = 10.0) -> int | None:
    """SIGTERM the child's process group, wait, SIGKILL what is left. Returns the exit code."""
    return stop_all([proc], grace_s)[0]


def stop_all(procs: list[subprocess.Popen], grace_s: float = 10.0) -> list[int | None]:
    """Stop these together: SIGTERM every one's process group at once, wait at most grace_s
    for them all, SIGKILL what is left. Their exit codes."""
    for proc in procs:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(p.poll() is None for p in procs):
        time.sleep(0.05)
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
        except ProcessLookupError:
            pass
    return [proc.wait() for proc in procs]
