"""The SmartAPI simulator as a real server process, and helpers to script it."""
from __future__ import annotations

from dataclasses import dataclass

import pyotp

from tests.integration.simulator import SimulatorProcess


@dataclass
class SimAccount:
    client_code: str
    pin: str
    totp_secret: str
    api_key: str

    def totp(self) -> str:
        return pyotp.TOTP(self.totp_secret).now()


class Simulator(SimulatorProcess):
    verb = "smartapi-sim"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/smart-stream"

    @property
    def order_ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/smart-order-update"

    def env(self) -> dict:
        return {"PINEWIRE_SMARTAPI_ROOT": self.root, "PINEWIRE_SMARTAPI_WS_URL": self.ws_url,
                "PINEWIRE_SMARTAPI_ORDER_WS_URL": self.order_ws_url}

    def price(self, token: str, rupees: str) -> None:
        from schemas.money import rupees_to_paise
        self.http.post("/sim/price", json={"token": token, "ltp_paise": rupees_to_paise(rupees)})

    def candles(self, token: str, interval: str, rows: list[list]) -> None:
        """What getCandleData answers for the token and interval."""
        self.http.post("/sim/candles", json={"token": token, "interval": interval, "rows": rows})

    def refused_logins(self, client_code: str) -> int:
        return self.http.get("/sim/refused-logins").json().get(client_code, 0)

    def order_sockets(self, reset: bool = False) -> dict:
        """{"open": {client code: n}, "peak": {...}} of order-update sockets; reset: the peak
        counts from now."""
        answer = self.http.post("/sim/order-sockets") if reset else \
            self.http.get("/sim/order-sockets")
        return answer.json()
