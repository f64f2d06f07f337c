"""The Upstox simulator as a real server process, and the daily login as a browser would do it
(the authorization dialog's redirect carries the code)."""
from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

from connectors.upstox.simulator.state import UpstoxAccount
from tests.integration.simulator import SimulatorProcess


def instrument_key(token: str) -> str:
    """The simulator's key for an NSE equity named by its exchange token."""
    return f"NSE_EQ|INE{int(token):06d}A01"


def new_account(user_id: str = "UP7788") -> UpstoxAccount:
    return UpstoxAccount(user_id, secrets.token_hex(8), secrets.token_hex(12))


class UpstoxSimulator(SimulatorProcess):
    verb = "upstox-sim"

    @property
    def instruments_url(self) -> str:
        return f"{self.root}/instruments/complete.json.gz"

    def env(self) -> dict:
        return {"PINEWIRE_UPSTOX_ROOT": self.root,
                "PINEWIRE_UPSTOX_INSTRUMENTS_URL": self.instruments_url}

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
