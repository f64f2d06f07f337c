"""The SmartAPI simulator as a real server process, and helpers to script it."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyotp

from pinewire import processes
from tests.integration.harness import free_port, wait_until


@dataclass
class SimAccount:
    client_code: str
    pin: str
    totp_secret: str
    api_key: str

    def totp(self) -> str:
        return pyotp.TOTP(self.totp_secret).now()


class Simulator:
    def __init__(self, directory: Path, accounts: list[SimAccount], walk: float = 0):
        self.dir, self.accounts = directory, accounts
        self.rest_port, self.ws_port = free_port(), free_port()
        path = directory / "sim-accounts.json"
        path.write_text(json.dumps([a.__dict__ for a in accounts]))
        self.proc = processes.spawn(
            [sys.executable, "-m", "pinewire.cli", "smartapi-sim", "--accounts", str(path),
             "--rest-port", str(self.rest_port), "--ws-port", str(self.ws_port),
             "--walk", str(walk)], directory / "smartapi-sim.log")
        self.http = httpx.Client(base_url=self.root, timeout=10)
        wait_until(self._up, 30, "the SmartAPI simulator")

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/smart-stream"

    @property
    def order_ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/smart-order-update"

    def env(self) -> dict:
        return {"PINEWIRE_SMARTAPI_ROOT": self.root, "PINEWIRE_SMARTAPI_WS_URL": self.ws_url,
                "PINEWIRE_SMARTAPI_ORDER_WS_URL": self.order_ws_url}

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError((self.dir / "smartapi-sim.log").read_text())
        try:
            return self.http.get("/sim/orders").status_code == 200
        except httpx.TransportError:
            return False

    def price(self, token: str, rupees: str) -> None:
        from schemas.money import rupees_to_paise
        self.http.post("/sim/price", json={"token": token, "ltp_paise": rupees_to_paise(rupees)})

    def faults(self, **changes) -> dict:
        response = self.http.post("/sim/faults", json=changes)
        response.raise_for_status()
        return response.json()

    def candles(self, token: str, interval: str, rows: list[list]) -> None:
        """What getCandleData answers for the token and interval."""
        self.http.post("/sim/candles", json={"token": token, "interval": interval, "rows": rows})

    def refused_logins(self, client_code: str) -> int:
        return self.http.get("/sim/refused-logins").json().get(client_code, 0)

    def orders(self) -> list[dict]:
        return self.http.get("/sim/orders").json()

    def held_answers(self) -> int:
        return self.http.get("/sim/held-answers").json()["held"]

    def order_sockets(self, reset: bool = False) -> dict:
        """{"open": {client code: n}, "peak": {...}} of order-update sockets; reset: the peak
        counts from now."""
        answer = self.http.post("/sim/order-sockets") if reset else \
            self.http.get("/sim/order-sockets")
        return answer.json()

    def drop_streams(self) -> int:
        return self.http.post("/sim/drop-streams").json()["dropped"]

    def stop(self) -> None:
        processes.stop(self.proc)
        self.http.close()
