"""The Telegram messages events become: which events, which words, IST, rupees."""
from datetime import datetime

from agents import notify
from schemas.market_time import IST

AT = int(datetime(2026, 11, 27, 14, 34, 10, tzinfo=IST).timestamp() * 1000)
NAMES = {"L1": "momentum"}.get


def _position(**kw) -> dict:
    return {"symbol": "SBIN-EQ", "side": "LONG", "state": "OPEN", "entry_qty": 10,
            "entry_value_paise": 801_500, "exit_qty": 0, "exit_value_paise": 0,
            "exit_reason": None, "realized_pnl_paise": None, "fees_paise": 0, **kw}


def _event(kind: str, **kw) -> dict:
    return {"kind": kind, "at_ms": AT, "link_id": "L1", "user_id": "U1", "reason": None,
            "position": None, "detail": None, **kw}


def _texts(event: dict) -> list[tuple]:
    return [(m.user_id, m.kind, m.text) for m in notify.messages(event, NAMES)]


def test_an_entry_fill_and_a_complete_exit_are_announced_with_price_and_pnl():
    assert _texts(_event("POSITION", reason="FILLED 10 @ 80150", position=_position())) == [
        ("U1", "entry", "14:34 SBIN-EQ LONG entered (momentum): 10 at ₹801.50")]
    closed = _position(state="CLOSED", exit_qty=10, exit_value_paise=812_000, exit_reason="TARGET",
                       realized_pnl_paise=10_500, fees_paise=2_000)
    assert _texts(_event("POSITION", reason="FILLED 10 @ 81200", position=closed)) == [
        ("U1", "exit", "14:34 SBIN-EQ LONG closed by target (momentum): 10 at ₹812.00, "
                       "P&L ₹85.00")]
    partial = _position(state="EXITING", exit_qty=4, exit_value_paise=324_800)
    assert _texts(_event("POSITION", reason="FILLED 4 @ 81200", position=partial)) == []
    # snapshots that are not fills say nothing: a trailing stop moving, an exit decided
    assert _texts(_event("POSITION", reason="trailing stop moved", position=_position())) == []


def test_a_rejected_order_carries_the_brokers_words():
    rejected = _position(state="REJECTED", entry_qty=0, entry_value_paise=0)
    assert _texts(_event("POSITION", reason="REJECTED 0 @ 0: RMS: margin exceeds",
                         position=rejected)) == [
        ("U1", "rejected", "14:34 SBIN-EQ LONG entry order rejected (momentum): "
                           "RMS: margin exceeds")]
    exiting = _position(state="EXITING", exit_failures=1)
    assert _texts(_event("POSITION", reason="REJECTED 0 @ 0", position=exiting))[0][2] \
        .endswith("exit order rejected (momentum): no reason given; sent again shortly")


def test_a_failing_exit_is_told_once_more_and_its_retries_are_quiet():
    again = _position(state="EXITING", exit_failures=2)
    assert _texts(_event("POSITION", reason="REJECTED 0 @ 0: RMS", position=again)) == []
    failing = _event("EXIT_FAILING", position=_position(state="EXITING", exit_failures=3),
                     reason="exit failing (3 tries): RMS; sent again in 8 s")
    assert _texts(failing) == [
        ("U1", "rejected", "14:34 SBIN-EQ LONG EXIT FAILING (momentum): exit failing (3 tries): "
                           "RMS; sent again in 8 s. The position is still open at the broker; "
                           "pinewire keeps trying")]


def test_ignored_alerts_are_their_own_kind_and_duplicates_are_never_sent():
    assert _texts(_event("ALERT_IGNORED", reason="bot is stopped")) == [
        ("U1", notify.IGNORED, "14:34 alert ignored (momentum): bot is stopped")]
    assert _texts(_event("ALERT_IGNORED", reason="duplicate of alert abc")) == []


def test_breaker_login_and_operator_events():
    assert _texts(_event("BREAKER_TRIPPED", reason="daily loss 41.00 reached")) == [
        ("U1", "breaker", "14:34 breaker tripped (momentum): daily loss 41.00 reached")]
    assert _texts(_event("ACCOUNT_HEALTH", link_id="", detail={
        "account_id": "A1", "name": "main", "problem": "Invalid totp"})) == [
        ("U1", "login", "14:34 broker login refused for account main: Invalid totp")]
    assert _texts(_event("ACCOUNT_HEALTH", detail={"account_id": "A1", "problem": None})) == []
    assert _texts(_event("WORKER_LOST", user_id=None, reason="worker w2 lost")) == [
        (None, "worker", "14:34 worker w2 lost")]
    assert _texts(_event("TICK_HELD", reason="tick 1 (sequence 4)")) == []


def test_the_end_of_day_report_is_one_message_per_user():
    rows = [dict(user_id="U1", decision="CLOSE", pnl_paise=-4_100),
            dict(user_id="U1", decision="KEEP", pnl_paise=12_000),
            dict(user_id="U2", decision="KEEP", pnl_paise=500)]
    assert _texts(_event("EOD_REPORT", link_id="", user_id=None, detail={
        "day": "2026-11-27", "kind": "EOD", "rows": rows})) == [
        ("U1", "eod", "14:34 end of day 2026-11-27: 1 closed, 1 kept, P&L at the last price "
                      "₹79.00"),
        ("U2", "eod", "14:34 end of day 2026-11-27: 0 closed, 1 kept, P&L at the last price "
                      "₹5.00")]


def test_a_worker_is_lost_only_once_seen_alive_and_then_silent():
    beat = lambda at: {"at_ms": at}          # noqa: E731
    beats = {"w1": beat(10_000), "w2": beat(9_000), "old": beat(1_000), "gone": None}
    alive, lost = notify.lost_workers(beats, set(), "w1", 10_500, heartbeat_s=2)
    assert (alive, lost) == ({"w2"}, [])     # "old" was never seen alive: no report
    # 8 s (3 beats + 2 s) without a beat from w2
    alive, lost = notify.lost_workers(beats, alive, "w1", 17_000, heartbeat_s=2)
    assert (alive, lost) == (set(), [("w2", 9_000)])
    alive, lost = notify.lost_workers(beats, alive, "w1", 19_000, heartbeat_s=2)
    assert lost == []                         # reported once


def test_the_feed_is_announced_down_after_30_s_and_back_once():
    from connectors.ticks.feed import FeedWatch
    watch = FeedWatch()
    assert watch.update(True, 0) is None
    assert [watch.update(False, t) for t in (1, 20, 30.9)] == [None, None, None]
    assert watch.update(False, 31) == ("FEED_DOWN", "market data feed disconnected for 30 s: "
                                                    "no live ticks, exits wait")
    assert watch.update(False, 50) is None                 # said once
    assert watch.update(True, 61.4) == ("FEED_UP", "market data feed back after 60 s")
    assert watch.update(True, 62) is None
    assert watch.update(False, 70) is None and watch.update(True, 71) is None   # a blip
    assert _texts(_event("FEED_DOWN", user_id=None, reason="market data feed disconnected")) \
        == [(None, "feed", "14:34 market data feed disconnected")]


def test_a_cheap_first_look_lets_through_every_event_that_can_speak():
    spoken = [e for e in [_event("POSITION", reason="FILLED 1 @ 1", position=_position()),
                          _event("POSITION", reason="trailing stop moved", position=_position()),
                          _event("TICK_HELD", reason="tick"), _event("ALERT_ACCEPTED"),
                          _event("BREAKER_TRIPPED", reason="x"), _event("FEED_UP", reason="x")]
              if notify.worth_reading(e["kind"], e["reason"])]
    assert [e["kind"] for e in spoken] == ["POSITION", "BREAKER_TRIPPED", "FEED_UP"]
    assert all(_texts(e) for e in spoken)


def test_a_refused_broker_stop_rule_is_told_and_its_acceptance_is_not():
    from agents import notify
    position = {"symbol": "SBIN-EQ", "side": "LONG", "state": "OPEN", "entry_qty": 10,
                "entry_value_paise": 805000, "exit_qty": 0, "user_id": "u1"}
    refused = {"kind": "POSITION", "at_ms": 0, "link_id": "L", "position": position,
               "reason": "broker stop rule REJECTED: no GTT for this product"}
    assert notify.worth_reading("POSITION", refused["reason"])
    assert not notify.worth_reading("POSITION", "broker stop rule PROTECTED")
    [message] = notify.messages(refused, link_name=lambda link_id: "demo")
    assert "the broker refused its stop rule (demo): no GTT for this product" in message.text
