"""The Upstox simulator as a real server process, helpers to script it, and the daily login as a
browser would do it (the authorization dialog's redirect carries the code)."""
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


def instrument_key(token: str) -> str:
    """The simulator's key for an NSE equity named by its exchange token."""
    return f"NSE_EQ|INE{int(token):06d}A01"


@dataclass
class UpstoxAccount:
    user_id: str
    api_key: str
    api_secret: str
    redirect_uri: str = "http://127.0.0.1:1/upstox/redirect"

    @classmethod
    def new(cls, user_id: str = "UP7788") -> "UpstoxAccount":
        return cls(user_id, secrets.token_hex(8), secrets.token_hex(12))


class UpstoxSimulator:
    def __init__(self, directory: Path, accounts: list[UpstoxAccount]):
        self.dir, self.accounts = directory, accounts
        self.rest_port, self.ws_port = free_port(), free_port()
        path = directory / "upstox-accounts.json"
        path.write_text(json.dumps([a.__dict__ for a in accounts]))
        self.proc = processes.spawn(
            [sys.executable, "-m", "pinewire.cli", "upstox-sim", "--accounts", str(path),
             "--rest-port", str(self.rest_port), "--ws-port", str(self.ws_port), "--walk", "0"],
            directory / "upstox-sim.log")
        self.http = httpx.Client(base_url=self.root, timeout=10)
        wait_until(self._up, 30, "the Upstox simulator")

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def instruments_url(self) -> str:
        return f"{self.root}/instruments/complete.json.gz"

    def env(self) -> dict:
        return {"PINEWIRE_UPSTOX_ROOT": self.root,
                "PINEWIRE_UPSTOX_INSTRUMENTS_URL": self.instruments_url}

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError((self.dir / "upstox-sim.log").read_text())
        try:
            return self.http.get("/sim/orders").status_code == 200
        except httpx.TransportError:
            return False

    def redirect_after_login(self, account: UpstoxAccount) -> str:
        answer = self.http.get("/v2/login/authorization/dialog", params={
            "response_type": "code", "client_id": account.api_key,
            "redirect_uri": account.redirect_uri})
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]

    def code(self, account: UpstoxAccount) -> str:
        return parse_qs(urlsplit(self.redirect_after_login(account)).query)["code"][0]

    def price(self, token: str, rupees: str) -> None:
        from schemas.money import rupees_to_paise
        self.http.post("/sim/price", json={"instrument_key": instrument_key(token),
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
