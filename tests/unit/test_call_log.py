"""A broker's rate limits held in SQL (connectors/call_log.py): several processes' calls and the
calls made before a restart all count. Each engine here is what one process would open on the
same database file."""
import asyncio
import threading
import time

import pytest

from connectors.call_log import CallsInSql
from connectors.ratelimit import MARGIN_S, RateLimiter
from connectors.smartapi.ratelimit import LIMITS
from schemas import sql


@pytest.fixture()
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'pinewire.db'}"


def _calls(url: str) -> CallsInSql:
    eng = sql.engine(url)
    return CallsInSql(lambda: eng, "smartapi", 3600.0)


def _take(calls: CallsInSql, now: float) -> float:
    return asyncio.run(calls.take("A123", "order", LIMITS["order"], now))


def test_another_process_counts_the_calls_of_the_first(url):
    first, second = _calls(url), _calls(url)
    for n in range(9):                                 # 9 a second
        assert _take(first, 100.0 + n * 0.01) == 0
    wait = _take(second, 100.09)
    assert wait == pytest.approx(100.0 + 1.0 + MARGIN_S - 100.09)
    assert _take(second, 100.09 + wait) == 0
    assert _take(_calls(url), 100.09 + wait) > 0, "the call it made counts too"


def test_a_restarted_process_counts_the_calls_made_before_it(url):
    before = _calls(url)
    for n in range(500):                               # 500 a minute, 8 a second
        assert _take(before, 1000.0 + n * 0.118) == 0
    after = _calls(url)                                # the same database, a new process
    wait = _take(after, 1060.0)
    assert wait == pytest.approx(1000.0 + 60.0 + MARGIN_S - 1060.0)
    assert _take(after, 1060.0 + wait + 0.13) == 0


def test_a_refused_call_is_not_counted_and_old_calls_are_pruned(url):
    calls = _calls(url)
    for n in range(9):
        _take(calls, 100.0 + n * 0.01)
    assert _take(calls, 100.5) > 0
    assert len(_rows(url)) == 9, "the refused call left no row"
    calls.pruned_at = -1e9                             # prune at the next call
    assert _take(calls, 100.0 + 3600 + 2) == 0
    assert [r["at_ms"] for r in _rows(url)] == [3702000]


def test_processes_racing_for_the_same_places_never_exceed_a_window(url):
    """Four processes (threads, each with its own engine and limiter), 8 calls each under a
    limit of 3 calls in 0.3 s: the calls recorded never put 4 in one window."""
    limits = {"order": ((3, 0.3),)}

    def process(limiter: RateLimiter):
        async def calls():
            for _ in range(8):
                await limiter.acquire("A123", "order")
        asyncio.run(calls())
    threads = [threading.Thread(target=process, args=(RateLimiter(limits, calls=_calls(url)),))
               for _ in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    at = sorted(r["at_ms"] / 1000 for r in _rows(url))
    assert len(at) == 32
    crowded = [(a, n) for a in at if (n := sum(1 for b in at if a <= b < a + 0.3)) > 3]
    assert crowded == []
    assert time.monotonic() - started < 30


def _rows(url: str) -> list[dict]:
    with sql.engine(url).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sql.broker_calls.select())]
