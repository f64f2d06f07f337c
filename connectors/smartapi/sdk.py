"""Loading smartapi-python safely.

- Its import asks a public-IP service with no timeout (the answer is unused): skipped.
- Its constructors create ./logs/<date>/app.log in the working directory and its error logging
  prints request headers (the API key) and login parameters (PIN, TOTP): its logger is
  silenced, and nothing is written to the working directory.
"""
from __future__ import annotations

import os
import types
from functools import lru_cache


@lru_cache(maxsize=1)
def sdk() -> types.SimpleNamespace:
    import logzero
    import requests

    real_get = requests.get

    def no_public_ip_lookup(*args, **kwargs):
        raise requests.ConnectionError("public IP lookup skipped")

    logzero.logger.disabled = True
    logzero.logger.handlers.clear()
    requests.get = no_public_ip_lookup
    try:
        from SmartApi import smartConnect, smartWebSocketOrderUpdate, smartWebSocketV2
    finally:
        requests.get = real_get
    quiet_os = types.SimpleNamespace(path=os.path, makedirs=lambda *a, **k: None)
    for module in (smartConnect, smartWebSocketV2, smartWebSocketOrderUpdate):
        module.os = quiet_os
        module.logzero = types.SimpleNamespace(logfile=lambda *a, **k: None)
    return types.SimpleNamespace(
        SmartConnect=smartConnect.SmartConnect,
        SmartWebSocketV2=smartWebSocketV2.SmartWebSocketV2,
        SmartWebSocketOrderUpdate=smartWebSocketOrderUpdate.SmartWebSocketOrderUpdate,
        exceptions=__import__("SmartApi.smartExceptions", fromlist=["x"]),
    )
