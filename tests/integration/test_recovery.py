"""Crashes and restarts: the worker killed with SIGKILL, and the whole of `pinewire up` stopped
and started again — on the embedded broker, which loses every topic, and on Apache Kafka, which
keeps them. Each time the position must exit by its rule, once."""
import os
import signal
import time
from pathlib import Path

import pytest

from schemas import ids, sql, topics as registry
from tests.integration.harness import Pipeline, free_ports, wait_until


def _changelog_best(pipeline, position_id: str) -> int | None:
    """The best price the positions changelog holds for a position (what a restart recovers)."""
    import asyncio
    from connectors import kafka

    async def read():
        latest = None
        name = registry.changelog_name(pipeline.settings.namespace, "positions")
        async for _, _, key, value in kafka.read_topic(pipeline.settings.bootstrap, name):
            if key.strip('"') == position_id:
                latest = value
        return latest
    value = asyncio.run(read())
    return value and value.get("best_paise")


def _exactly_one_exit(pipeline, position_id: str) -> None:
    orders = pipeline.rows_when(sql.orders, sql.orders.c.position_id == position_id, count=2)
    assert sorted(o["purpose"] for o in orders) == ["ENTRY", "EXIT"]
    fills = pipeline.rows_when(sql.fills, sql.fills.c.position_id == position_id, count=2)
    assert len(fills) == 2
    exit_ids = {r[3]["client_order_id"] for r in pipeline.topic_records(registry.ORDERS)
                if r[3]["position_id"] == position_id and r[3]["purpose"] == "EXIT"}
    assert len(exit_ids) == 1, exit_ids
    exit_fills = {r[3]["fill_id"] for r in pipeline.topic_records(registry.FILLS)
                  if r[3]["position_id"] == position_id and r[3]["client_order_id"] in exit_ids}
    assert len(exit_fills) == 1, exit_fills


def test_worker_sigkill_recovers_best_price_from_changelog_and_exits_once(pipeline):
    recovered_s = _restarted_with_a_trailing_stop(pipeline)
    print(f"\nworker SIGKILL -> restarted worker owning partitions: {recovered_s:.1f}s")


@pytest.mark.one_kafka_broker      # the worker's own store is tested: any broker shows it
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_a_worker_on_rocksdb_keeps_its_tables_only_from_a_clean_stop(kafka_url, tmp_path, stop):
    """Stopped, the worker keeps its RocksDB tables; killed, they may be ahead of their
    changelogs, and the next worker forgets them and reads the changelogs whole. Either way the
    position exits by its recovered best price, once."""
    with Pipeline(tmp_path, kafka_url, PINEWIRE_TABLE_STORE="rocksdb").running() as p:
        tables = p.data_dir / "worker" / "unnamed-1"     # the restarted worker takes it again
        left = tables / "left-by-the-stopped-worker"
        _restarted_with_a_trailing_stop(p, stop, while_stopped=left.touch)
        assert left.exists() == (stop == signal.SIGTERM)
        assert list(tables.rglob("positions-*.db")), "no RocksDB files under " + str(tables)


def _restarted_with_a_trailing_stop(pipeline, stop=signal.SIGKILL,
                                    while_stopped=lambda: None) -> float:
    """A position whose best price only its table knows; the worker stopped by `stop` and
    started again; a tick that only the recovered best price makes an exit. Returns the
    seconds from the stop to the restarted worker owning its partitions."""
    link = pipeline.add_link(sl_pct="1", target_pct=None, trail_pct="0.5")
    alert = pipeline.alert_row(pipeline.alert(link, "BUY", "SUNPHARMA", price="1680"))
    pid = alert["position_id"]
    pipeline.position(pid, "OPEN")
    # activation at 1688.40; best 1700 -> trailing stop 1691.50 (initial stop 1663.20)
    pipeline.ticks("SUNPHARMA", ["1685", "1692", "1700"])
    wait_until(lambda: _changelog_best(pipeline, pid) == 170000, 20,
               "the changelog to hold best price 1700")

    started = time.monotonic()
    os.kill(pipeline.worker.pid, stop)
    assert pipeline.worker.wait(timeout=60) in (0, -signal.SIGKILL)
    while_stopped()
    pipeline.start_worker(timeout_s=90)
    recovered_s = time.monotonic() - started

    # Above the trailing stop: nothing. At 1691 (below 1691.50, far above the initial stop):
    # only a recovered best price makes this an exit.
    pipeline.ticks("SUNPHARMA", ["1695", "1691"])
    pos = pipeline.position(pid, "CLOSED", timeout_s=30)
    assert (pos["exit_reason"], pos["exit_trigger_paise"]) == ("TRAIL", 169100)
    _exactly_one_exit(pipeline, pid)
    return recovered_s


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _stop_like_ctrl_c(proc, timeout_s: float = 30) -> None:
    children = _children(proc.pid)
    assert len(children) == 5, f"broker, ledger, worker, web and feed expected, got {children}"
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=timeout_s)
    wait_until(lambda: not any(_alive(c) for c in children), 10, "every child to exit")


@pytest.mark.parametrize("broker", ["tansu", "kafka"])
def test_up_restarted_keeps_the_position_and_exits_it_once(tmp_path, broker):
    """Its own broker, whatever the session's: `pinewire up` starts it. Tansu comes back empty
    and the position is restored from the ledger; Apache Kafka comes back with its topics and
    nothing is restored."""
    p = Pipeline(tmp_path, None, PINEWIRE_BROKER=broker, PINEWIRE_BROKER_PORT=free_ports(2),
                 PINEWIRE_FEED="synthetic", PINEWIRE_FEED_WATCHLIST="RELIANCE")
    up = None
    try:
        up = p.spawn("up", log="up.log")
        wait_until(lambda: p.healthy(), 90, "pinewire up to serve")
        link = p.add_link(sl_pct="1", target_pct="2")
        pid = p.alert_row(p.alert(link, "BUY", "KOTAKBANK", price="2100"))["position_id"]
        p.position(pid, "OPEN")
        _stop_like_ctrl_c(up)

        up = p.spawn("up", log="up.log")
        wait_until(lambda: p.healthy(), 90, "pinewire up to serve again")
        status = p.http.get("/status.json").json()
        assert [x["id"] for x in status["open_positions"]] == [pid]
        said = (tmp_path / "logs" / "up.log").read_text()
        if broker == "tansu":
            assert status["reconciliation"]["restored"] == 1
            assert "restored 1 open position(s) from the ledger" in said
            assert "Restored 1 open position(s)" in p.http.get("/status").text
        else:
            assert status["reconciliation"] is None
            assert said.count("Apache Kafka") == 2 and "restored" not in said
        p.ticks("KOTAKBANK", ["2090", "2079"])          # initial stop 2079.00
        pos = p.position(pid, "CLOSED", timeout_s=30)
        assert (pos["exit_reason"], pos["exit_trigger_paise"]) == ("SL", 207900)
        _exactly_one_exit(p, pid)
        _stop_like_ctrl_c(up)
        up = None
    finally:
        if up is not None:
            from pinewire import processes
            processes.stop(up, grace_s=30)
        p.http.close()


def test_a_replayed_fill_announces_its_closed_position_again(pipeline):
    """A worker can close a position and lose the event that says so (killed before its
    producer sent it, with the changelog write already out): the ledger would keep it open
    for ever. Replayed, the closing fill finds the position closed and announces it again."""
    from sqlalchemy import delete, update

    link = pipeline.add_link(sl_pct="1", target_pct=None)
    pid = pipeline.alert_row(pipeline.alert(link, "BUY", "KOTAKBANK", price="2100"))["position_id"]
    pipeline.position(pid, "OPEN")
    pipeline.ticks("KOTAKBANK", ["2079"])                       # its stop: 2079.00
    closed = pipeline.position(pid, "CLOSED")
    [exit_fill] = [r[3] for r in pipeline.topic_records(registry.FILLS)
                   if r[3]["position_id"] == pid and r[3]["client_order_id"].endswith("X0")]
    with pipeline.engine.begin() as conn:                       # the ledger never heard it
        conn.execute(update(sql.positions).where(sql.positions.c.id == pid)
                     .values(state="EXITING", version=closed["version"] - 1))
        conn.execute(delete(sql.position_events).where(
            sql.position_events.c.position_id == pid, sql.position_events.c.state == "CLOSED"))

    pipeline.produce(registry.FILLS, exit_fill, key=pid, instrument="KOTAKBANK")
    again = pipeline.position(pid, "CLOSED")
    assert closed["exit_trigger_paise"] == 207900
    assert {k: again[k] for k in ("version", "exit_value_paise", "closed_at_ms")} == \
        {k: closed[k] for k in ("version", "exit_value_paise", "closed_at_ms")}
    assert len([e for e in pipeline.rows(sql.position_events,
                                         sql.position_events.c.position_id == pid)
                if e["state"] == "CLOSED"]) == 1


@pytest.mark.one_kafka_broker      # the worker's own steps are tested: any broker shows them
def test_a_worker_killed_as_it_decides_an_alert_decides_it_once_after_the_restart(kafka_url,
                                                                                  tmp_path):
    """The worker dies (SIGKILL) right after writing an alert's decision, before its order and
    event went out: restarted, it finds the decision and sends them, one entry order in all;
    the alert is never taken for its own duplicate and dropped."""
    with Pipeline(tmp_path, kafka_url, PINEWIRE_FAULT_POINT="alert_decided").running() as p:
        link = p.add_link(sl_pct="1", target_pct=None)
        alert_id = p.alert(link, "BUY", "ASIANPAINT", price="2900")
        wait_until(lambda: p.worker.poll() is not None, 30, "the worker to die at its point")
        assert p.worker.returncode == -signal.SIGKILL
        assert (tmp_path / "fault-alert_decided.reached").exists()
        p.start_worker()
        alert = p.alert_row(alert_id)
        assert alert["status"] == "ACCEPTED", alert["reason"]
        p.ticks("ASIANPAINT", ["2901"])    # the entry's tick is old now: it fills at the next
        assert p.position(alert["position_id"], "OPEN")["entry_qty"] == 10
        entries = {r[3]["client_order_id"] for r in p.topic_records(registry.ORDERS)
                   if r[3]["position_id"] == alert["position_id"]}
        assert entries == {f"{alert['position_id']}E0"}
        fills = {r[3]["fill_id"] for r in p.topic_records(registry.FILLS)
                 if r[3]["position_id"] == alert["position_id"]}
        assert len(fills) == 1


@pytest.mark.one_kafka_broker      # the worker's own steps are tested: any broker shows them
def test_what_a_handover_lost_from_the_table_is_restored_from_the_ledger(kafka_url, tmp_path):
    """As when a partition changes hands while its old owner's last writes are on the way: the
    ledger holds a live position the owner's table lacks — restored, and its stop exits it —
    and a closed version of one the table still holds open — closed there, never sold twice.
    A lost position whose stop ticks passed while it was lost exits at the first of them."""
    with Pipeline(tmp_path, kafka_url, PINEWIRE_LEDGER_CHECK_S="1").running() as p:
        link = p.add_link(sl_pct="1", target_pct=None)
        p.ticks("SBIN", ["800"])
        ticked = p.position(p.alert_row(p.alert(link, "BUY", "SBIN", price="800"))["position_id"],
                            "OPEN")
        assert ticked["snapshot"]["tick_offset"] is not None
        p.ticks("SBIN", ["795", "791.5", "790"])           # the stop: 792; 791.5 passes it
        assert p.position(ticked["id"], "CLOSED")["exit_trigger_paise"] == 79150
        passed = ids.position_id(f"passed-{time.time_ns()}")
        with p.engine.begin() as conn:
            sql.upsert(conn, sql.positions, {**ticked, "id": passed, "version": 7,
                                             "snapshot": {**ticked["snapshot"], "id": passed,
                                                          "version": 7}}, ["id"])
        p.rows_when(sql.position_events, sql.position_events.c.position_id == passed,
                    sql.position_events.c.kind == "RESTORED", count=1, timeout_s=30)
        p.ticks("SBIN", ["780"])
        caught_up = p.position(passed, "CLOSED")
        assert (caught_up["exit_reason"], caught_up["exit_trigger_paise"],
                caught_up["exit_value_paise"]) == ("SL", 79150, 79150 * caught_up["exit_qty"])
        kept = p.alert_row(p.alert(link, "BUY", "ULTRACEMCO", price="11800"))["position_id"]
        closed_elsewhere = p.alert_row(p.alert(link, "BUY", "BHARTIARTL",
                                               price="1950"))["position_id"]
        row, gone = p.position(kept, "OPEN"), p.position(closed_elsewhere, "OPEN")
        lost = ids.position_id(f"lost-{time.time_ns()}")
        with p.engine.begin() as conn:
            sql.upsert(conn, sql.positions, {**row, "id": lost, "version": 7,
                                             "snapshot": {**row["snapshot"], "id": lost,
                                                          "version": 7}}, ["id"])
            sql.upsert(conn, sql.positions, {**gone, "state": "CLOSED", "version": 9,
                                             "snapshot": {**gone["snapshot"], "state": "CLOSED",
                                                          "version": 9}}, ["id"])
        for pid in (lost, closed_elsewhere):
            p.rows_when(sql.position_events, sql.position_events.c.position_id == pid,
                        sql.position_events.c.kind == "RESTORED", count=1, timeout_s=30)
        p.ticks("ULTRACEMCO", ["11682"])                   # the stop: 11800 x 0.99
        assert p.position(lost, "CLOSED")["exit_reason"] == "SL"
        p.ticks("BHARTIARTL", ["1930"])                    # through its stop: nothing is sold
        assert p.position(kept, "CLOSED")["exit_reason"] == "SL"
        exits = [r for r in p.topic_records(registry.ORDERS)
                 if r[3]["position_id"] == closed_elsewhere and r[3]["purpose"] == "EXIT"]
        assert exits == []
