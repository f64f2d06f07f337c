"""Option signals through the real gateway: BUY_CALL on an underlying becomes a BUY of the
at-the-money contract of the nearest expiry, in lots; without a master or a price, a clear 422."""
import json
from datetime import timedelta

import pytest

from schemas import topics as registry
from schemas.settings import webhook_token_key
from tests.integration.harness import Pipeline
from webapp import links
from webapp.catalog import today_ist


def _master(path):
    rows = [{"token": "99926000", "symbol": "Nifty 50", "name": "NIFTY", "expiry": "",
             "strike": "0.000000", "lotsize": "1", "instrumenttype": "AMXIDX",
             "exch_seg": "NSE", "tick_size": "0.000000"}]
    token = 50000
    for days in (2, 9):
        expiry = today_ist() + timedelta(days=days)
        code = expiry.strftime("%d%b%y").upper()
        for strike in range(24400, 24651, 50):
            for right in ("CE", "PE"):
                token += 1
                rows.append({"token": str(token), "symbol": f"NIFTY{code}{strike}{right}",
                             "name": "NIFTY", "expiry": expiry.strftime("%d%b%Y").upper(),
                             "strike": f"{strike * 100}.000000", "lotsize": "75",
                             "instrumenttype": "OPTIDX", "exch_seg": "NFO",
                             "tick_size": "5.000000"})
    path.write_text(json.dumps(rows))
    return (today_ist() + timedelta(days=2)).strftime("%d%b%y").upper()


@pytest.fixture(scope="module")
def gateway(kafka_url, tmp_path_factory):
    directory = tmp_path_factory.mktemp("options")
    code = _master(directory / "master.json")
    p = Pipeline(directory, kafka_url, PINEWIRE_INSTRUMENT_MASTER=str(directory / "master.json"))
    p.prepare_topics()
    p.start_web()
    yield p, code
    p.stop()


def test_buy_call_resolves_to_the_atm_contract_of_the_nearest_expiry(gateway):
    p, code = gateway
    link = links.add_link(p.engine, name="opt", strategy="st", quantity=2,
                          user_id=p.user["id"], token_key=webhook_token_key(p.settings))
    response = p.post(link, json.dumps({"strategy": "st", "symbol": "NIFTY",
                                        "action": "BUY_CALL", "price": "24537.15"}))
    assert response.status_code == 200, response.text
    [alert] = [r[3] for r in p.topic_records(registry.ALERTS)
               if r[3]["id"] == response.json()["alert_id"]]
    assert (alert["symbol"], alert["exchange"], alert["action"], alert["lot_size"],
            alert["signal_action"], alert["price_paise"]) == \
        (f"NIFTY{code}24550CE", "NFO", "BUY", 75, "BUY_CALL", None)


@pytest.mark.parametrize("body,message", [
    ({"symbol": "NIFTY", "action": "SELL_PUT"}, "needs the underlying's price"),
    ({"symbol": "RELIANCE", "action": "BUY_CALL", "price": "1400"}, "no CE options on RELIANCE"),
])
def test_option_signals_that_cannot_resolve_get_422(gateway, body, message):
    p, _ = gateway
    link = links.add_link(p.engine, name=f"opt-{message[:6].replace(' ', '')}", strategy="st",
                          quantity=1, user_id=p.user["id"],
                          token_key=webhook_token_key(p.settings))
    response = p.post(link, json.dumps(body))
    assert response.status_code == 422 and message in response.json()["error"]


def test_without_an_instrument_master_options_are_refused_clearly(pipeline):
    link = pipeline.add_link()
    response = pipeline.post(link, json.dumps({"symbol": "NIFTY", "action": "BUY_CALL",
                                               "price": "24500"}))
    assert response.status_code == 422 and "need the instrument master" in \
        response.json()["error"]
