"""A throwaway PostgreSQL server for tests: initdb into a temp dir, listen on 127.0.0.1 only.

PostgreSQL refuses to run as root, so as root it runs as the `postgres` system user.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.integration.harness import free_port, wait_until


def _bin(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


class TempPostgres:
    def __init__(self):
        # not under pytest's temp tree: that is private to root, and postgres runs as `postgres`
        self.root, self.port = Path(tempfile.mkdtemp(prefix="pinewire-pg-")), free_port()
        self.data = self.root / "pgdata"
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return bool(_bin("initdb") and _bin("postgres"))

    def _as_owner(self) -> dict:
        if os.geteuid() != 0:
            return {}
        user = pwd.getpwnam("postgres")
        return {"user": user.pw_uid, "group": user.pw_gid}

    def start(self) -> str:
        owner = self._as_owner()
        if owner:
            os.chown(self.root, owner["user"], owner["group"])
        subprocess.run([_bin("initdb"), "-D", str(self.data), "-U", "pinewire", "-A", "trust",
                        "--no-sync", "-E", "UTF8"], check=True, capture_output=True, **owner)
        log = open(self.root / "postgres.log", "wb")
        self.proc = subprocess.Popen(
            [_bin("postgres"), "-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1",
             "-k", str(self.root), "-c", "fsync=off"], stdout=log, stderr=subprocess.STDOUT,
            **owner)
        url = f"postgresql+psycopg2://pinewire@127.0.0.1:{self.port}/postgres"
        wait_until(self._ready, 30, "PostgreSQL to accept connections")
        return url

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"postgres exited: {(self.root / 'postgres.log').read_text()}")
        import psycopg2
        try:
            psycopg2.connect(host="127.0.0.1", port=self.port, user="pinewire",
                             dbname="postgres").close()
            return True
        except psycopg2.OperationalError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: do not wait for clients
            self.proc.wait(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)
