"""The Kite simulator as a real server process, helpers to script it, and the daily login as a
browser would do it (the login page's redirect carries the request token)."""
from __future__ import annotations

import json
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from pinewire import processes
from tests.integration.harness import free_port, wait_until


@dataclass
class KiteAccount:
    user_id: str
    api_key: str
    api_secret: str
    redirect_url: str = "http://127.0.0.1:1/kite/redirect"

    @classmethod
    def new(cls, user_id: str = "ZK1234") -> "KiteAccount":
        return cls(user_id, secrets.token_hex(8), secrets.token_hex(16))


class KiteSimulator:
    def __init__(self, directory: Path, accounts: list[KiteAccount]):
        self.dir, self.accounts = directory, accounts
        self.rest_port, self.ws_port = free_port(), free_port()
        path = directory / "kite-accounts.json"
        path.write_text(json.dumps([a.__dict__ for a in accounts]))
        self.proc = processes.spawn(
            [sys.executable, "-m", "pinewire.cli", "kite-sim", "--accounts", str(path),
             "--rest-port", str(self.rest_port), "--ws-port", str(self.ws_port), "--walk", "0"],
            directory / "kite-sim.log")
        self.http = httpx.Client(base_url=self.root, timeout=10)
        wait_until(self._up, 30, "the Kite simulator")

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    def env(self) -> dict:
        return {"PINEWIRE_KITE_ROOT": self.root, "PINEWIRE_KITE_WS_URL": self.ws_url,
                "PINEWIRE_KITE_LOGIN_URL": f"{self.root}/connect/login"}

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError((self.dir / "kite-sim.log").read_text())
        try:
            return self.http.get("/sim/orders").status_code == 200
        except httpx.TransportError:
            return False

    def redirect_after_login(self, api_key: str) -> str:
        """Where the login page sends the browser: the app's redirect URL with a request
        token."""
        answer = self.http.get("/connect/login", params={"api_key": api_key, "v": "3"})
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]

    def request_token(self, api_key: str) -> str:
        return parse_qs(urlsplit(self.redirect_after_login(api_key)).query)["request_token"][0]

    def price(self, token: str, rupees: str, exchange_segment: int = 1) -> None:
        """The price of an NSE instrument named by its exchange token (pinewire's token)."""
        from schemas.money import rupees_to_paise
        self.http.post("/sim/price", json={"instrument_token": int(token) << 8 | exchange_segment,
                                           "ltp_paise": rupees_to_paise(rupees)})

    def faults(self, **changes) -> dict:
        answer = self.http.post("/sim/faults", json=changes)
        answer.raise_for_status()
        return answer.json()

    def orders(self) -> list[dict]:
        return self.http.get("/sim/orders").json()

    def tokens(self) -> list[str]:
        return self.http.get("/sim/sessions").json()

    def drop_streams(self) -> int:
        return self.http.post("/sim/drop-streams").json()["dropped"]

    def stop(self) -> None:
        processes.stop(self.proc)
        self.http.close()
