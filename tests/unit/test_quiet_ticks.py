"""The tick path's shortcut (a tick inside every position's quiet range skips them all) must
decide exactly what visiting every position on every tick decides: same exits (reason, trigger
price, tick), same final positions, over a corpus of tick paths and rule sets."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from agents import fills as F
from agents import positions as P
from agents.memory import WorkerMemory

TOKEN = "2885"

rules = st.fixed_dictionaries({
    "side": st.sampled_from(["LONG", "SHORT"]),
    "sl_pct": st.sampled_from([None, "0.5", "1", "2.25"]),
    "target_pct": st.sampled_from([None, "0.75", "1.5", "3"]),
    "trail_pct": st.sampled_from([None, "0.3", "0.5", "1"]),
    "trail_activation_pct": st.sampled_from([None, "0", "0.4"]),
    "tick_band_pct": st.sampled_from([None, None, None, "1.5"]),
    "entry": st.integers(99_000, 101_000),
})
# a random walk in paise around 1,000.00 rupees, with an occasional jump
steps = st.lists(st.one_of(st.integers(-60, 60), st.integers(-2500, 2500)), min_size=1,
                 max_size=300)


def _open(i: int, r: dict) -> P.Position:
    pos = P.open_position(alert_id=f"a{i}", link_id=f"L{i}", token=TOKEN, symbol="RELIANCE-EQ",
                          exchange="NSE", side=r["side"], quantity=3, paper=True,
                          sl_pct=r["sl_pct"], target_pct=r["target_pct"],
                          trail_pct=r["trail_pct"],
                          trail_activation_pct=r["trail_activation_pct"], slippage_bps=0,
                          reference_price_paise=None, partition=0, now_ms=0,
                          tick_band_pct=r["tick_band_pct"])
    return F.apply_fill(pos, fill_id="f", client_order_id=pos.entry_order_id, status="FILLED",
                        quantity=3, price_paise=r["entry"], text=None, now_ms=0)


def _prices(walk: list[int]) -> list[int]:
    price, out = 100_000, []
    for step in walk:
        price = max(100, price + step)
        out.append(price)
    return out


def straightforward(book: list[P.Position], prices: list[int]):
    book, exits = list(book), []
    for seq, price in enumerate(prices):
        for i, pos in enumerate(book):
            changed, decision, _ = P.on_tick(pos, price, 0, seq)
            if changed is not None:
                book[i] = changed
                if decision is not None:
                    exits.append((pos.id, decision.reason, price, seq))
    return exits, book


def shortcut(book: list[P.Position], prices: list[int]):
    memory = WorkerMemory("127.0.0.1:9", "test")   # never connects: only its positions
    table = {pos.id: pos for pos in book}          # the positions table
    for pos in book:
        memory.track(pos)
    exits, skipped = [], 0
    for seq, price in enumerate(prices):
        if memory.is_quiet(TOKEN, price):
            skipped += 1
            for pid in memory.index[TOKEN]:   # the claim itself: nothing would have changed
                assert P.on_tick(table[pid], price, 0, seq) == (None, None, None)
            continue
        for pid in list(memory.index[TOKEN]):
            pos = table[pid]
            changed, decision, _ = P.on_tick(pos, price, 0, seq)
            if changed is not None:
                table[pid] = changed
                memory.track(changed)
                if decision is not None:
                    exits.append((pos.id, decision.reason, price, seq))
    return exits, table, skipped


@settings(max_examples=400, deadline=None, derandomize=True)   # the same corpus every run
@given(st.lists(rules, min_size=1, max_size=6), steps)
def test_the_shortcut_decides_what_visiting_every_position_decides(rule_sets, walk):
    book = [_open(i, r) for i, r in enumerate(rule_sets)]
    prices = _prices(walk)
    expected_exits, expected_book = straightforward(book, prices)
    exits, table, _ = shortcut(book, prices)
    assert sorted(exits) == sorted(expected_exits)   # one tick visits its positions in any order
    for pos in expected_book:
        if pos.state in P.LIVE_STATES:
            assert table[pos.id] == pos


def test_the_shortcut_skips_most_ticks_of_a_sideways_market():
    """Without this the comparison above could pass with a shortcut that never fires."""
    book = [_open(i, {"side": side, "sl_pct": "2", "target_pct": "3", "trail_pct": "1",
                      "trail_activation_pct": None, "tick_band_pct": None, "entry": 100_000})
            for i, side in enumerate(["LONG", "SHORT"])]
    prices = [100_000 + (i * 37) % 400 - 200 for i in range(2000)]   # 998.00 .. 1002.00
    exits, _, skipped = shortcut(book, prices)
    assert exits == straightforward(book, prices)[0] == []
    assert skipped > 1900


def test_a_position_that_needs_every_tick_has_no_quiet_range():
    banded = _open(0, {"side": "LONG", "sl_pct": "1", "target_pct": None, "trail_pct": None,
                       "trail_activation_pct": None, "tick_band_pct": "1", "entry": 100_000})
    plain = _open(1, {"side": "LONG", "sl_pct": "1", "target_pct": "2", "trail_pct": None,
                      "trail_activation_pct": None, "tick_band_pct": None, "entry": 100_000})
    assert P.quiet_range(banded) is None
    # stop 990.00 excluded, best 1,000.00 included (a higher price is a new best)
    assert P.quiet_range(plain) == (99_001, 100_000)
    memory = WorkerMemory("127.0.0.1:9", "test")
    memory.track(plain)
    assert memory.is_quiet(TOKEN, 99_500)
    memory.track(banded)
    assert not memory.is_quiet(TOKEN, 99_500)


def test_a_batch_is_recorded_tick_by_tick_and_only_ticks_that_need_work_come_out():
    plain = _open(1, {"side": "LONG", "sl_pct": "1", "target_pct": "2", "trail_pct": None,
                      "trail_activation_pct": None, "tick_band_pct": None, "entry": 100_000})
    memory = WorkerMemory("127.0.0.1:9", "test")
    memory.track(plain)
    batch = [[TOKEN, 99_500, 1], ["3045", 80_000, 2], [TOKEN, 100_500, 3], ["11536", 5, 4]]
    seen = []
    for token, price, seq in memory.saw_ticks(batch, 7000, now_ms=9, resting={"11536"}):
        seen.append((token, price, seq, memory.last_price[token]))
    # a new best on TOKEN (recorded before it is handed out), a resting paper order on 11536
    assert seen == [(TOKEN, 100_500, 7002, (100_500, 3)), ("11536", 5, 7003, (5, 4))]
    assert memory.last_price["3045"] == (80_000, 2) and memory.last_seq[TOKEN] == 7002
