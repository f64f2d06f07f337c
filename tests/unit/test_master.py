"""The instrument master: lookups and at-the-money option resolution on a real-shaped file."""
from datetime import date
from pathlib import Path

import pytest

from connectors.smartapi.master import InstrumentError, InstrumentMaster

FIXTURE = Path(__file__).parents[1] / "fixtures" / "OpenAPIScripMaster.json"


@pytest.fixture(scope="module")
def master():
    return InstrumentMaster.load(str(FIXTURE), Path("/nonexistent"))


def test_lookups(master):
    assert master.lookup("SBIN").token == "3045" == master.lookup("NSE:SBIN-EQ").token
    assert master.lookup("NIFTY").symbol == "Nifty 50"
    fut = master.lookup("NIFTY26NOV26FUT", "NFO")
    assert (fut.lot_size, fut.expiry, fut.strike_paise) == (75, date(2026, 11, 26), None)
    assert master.by_token("99926009").name == "BANKNIFTY"
    assert master.lookup("NOPE") is None


@pytest.mark.parametrize("underlying,right,price,today,symbol,lot", [
    ("NIFTY", "CE", 2451050, date(2026, 11, 21), "NIFTY24NOV2624500CE", 75),   # 24510.50
    ("NIFTY", "PE", 2452600, date(2026, 11, 21), "NIFTY24NOV2624550PE", 75),   # nearer 24550
    ("NIFTY", "CE", 2452500, date(2026, 11, 21), "NIFTY24NOV2624500CE", 75),   # tie -> lower
    ("NIFTY", "CE", 2451050, date(2026, 11, 24), "NIFTY24NOV2624500CE", 75),   # expiry day
    ("NIFTY", "CE", 2451050, date(2026, 11, 25), "NIFTY01DEC2624500CE", 75),   # rolled over
    ("NIFTY", "CE", 9999900, date(2026, 11, 21), "NIFTY24NOV2624800CE", 75),   # top strike
    ("SBIN-EQ", "PE", 80450, date(2026, 11, 21), "SBIN25NOV26800PE", 750),
])
def test_atm_nearest_expiry(master, underlying, right, price, today, symbol, lot):
    c = master.resolve_option(underlying, right, price, today)
    assert (c.symbol, c.lot_size, c.exchange) == (symbol, lot, "NFO")


def test_no_options_left(master):
    with pytest.raises(InstrumentError, match="no CE options on NIFTY"):
        master.resolve_option("NIFTY", "CE", 2450000, date(2026, 12, 2))


def test_url_source_is_fetched_once_a_day(tmp_path):
    import http.server
    import threading
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            body = FIXTURE.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/OpenAPIScripMaster.json"
    try:
        for _ in range(2):
            m = InstrumentMaster.load(url, tmp_path, today=date(2026, 11, 21))
        assert m.lookup("SBIN").token == "3045" and len(requests) == 1
        InstrumentMaster.load(url, tmp_path, today=date(2026, 11, 22))
        assert len(requests) == 2
    finally:
        server.shutdown()


def test_a_new_day_never_makes_a_lookup_wait_for_the_master(tmp_path):
    from datetime import timedelta

    from webapp.catalog import DailyMaster, today_ist
    dm = DailyMaster(str(FIXTURE), tmp_path)
    first = dm.current()                        # the first load happens on demand
    dm.day = today_ist() - timedelta(days=1)    # midnight passed
    assert dm.current() is first and dm.lookup("SBIN").token == "3045"   # served, not reloaded
    dm.refresh()                                # the background task's job
    assert dm.current() is not first and dm.day == today_ist()
