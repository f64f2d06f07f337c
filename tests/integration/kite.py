"""The Kite simulator as a real server process, and the daily login as a browser would do it
(the login page's redirect carries the request token)."""
from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

from connectors.kite.simulator.state import KiteAccount
from tests.integration.simulator import SimulatorProcess


def new_account(user_id: str = "ZK1234") -> KiteAccount:
    return KiteAccount(user_id, secrets.token_hex(8), secrets.token_hex(16))


class KiteSimulator(SimulatorProcess):
    verb = "kite-sim"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    def env(self) -> dict:
        return {"PINEWIRE_KITE_ROOT": self.root, "PINEWIRE_KITE_WS_URL": self.ws_url,
                "PINEWIRE_KITE_LOGIN_URL": f"{self.root}/connect/login"}

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
