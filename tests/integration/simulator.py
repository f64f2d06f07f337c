"""A broker simulator (`pinewire <broker>-sim`) as a real server process on free loopback
ports, and what every simulator answers: faults, orders, issued tokens, dropped streams."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

from pinewire import processes
from tests.integration.harness import free_port, wait_until


class SimulatorProcess:
    verb = ""

    def __init__(self, directory: Path, accounts: list, walk: float = 0):
        self.dir, self.accounts = directory, accounts
        self.rest_port, self.ws_port = free_port(), free_port()
        path = directory / f"{self.verb}-accounts.json"
        path.write_text(json.dumps([a.__dict__ for a in accounts]))
        self.log = directory / f"{self.verb}.log"
        self.proc = processes.spawn(
            [sys.executable, "-m", "pinewire.cli", self.verb, "--accounts", str(path),
             "--rest-port", str(self.rest_port), "--ws-port", str(self.ws_port),
             "--walk", str(walk)], self.log)
        self.http = httpx.Client(base_url=self.root, timeout=10)
        wait_until(self._up, 30, f"the {self.verb} simulator")

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(self.log.read_text())
        try:
            return self.http.get("/sim/orders").status_code == 200
        except httpx.TransportError:
            return False

    def faults(self, **changes) -> dict:
        answer = self.http.post("/sim/faults", json=changes)
        answer.raise_for_status()
        return answer.json()

    def orders(self) -> list[dict]:
        return self.http.get("/sim/orders").json()

    def tokens(self) -> list:
        """Every token the simulator issued."""
        return self.http.get("/sim/sessions").json()

    def held_answers(self) -> int:
        return self.http.get("/sim/held-answers").json()["held"]

    def drop_streams(self) -> int:
        return self.http.post("/sim/drop-streams").json()["dropped"]

    def stop(self) -> None:
        processes.stop(self.proc)
        self.http.close()
