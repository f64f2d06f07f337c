"""Two workers splitting the partitions, one killed with SIGKILL: its positions are watched
again by the other (once the group's session timeout has passed), move back when it returns,
and each exits exactly once. Prints how long after the kill the first exit on a killed
partition was decided: the resume time (README, "Scaling out")."""
import os
import secrets
import signal
import time

from connectors import credentials
from schemas import instruments
from schemas import topics as registry
from tests.integration.harness import (SECRETS, Pipeline, static_members, symbols_on,
                                       wait_until)
from webapp import notifications


def _exit_decided_at(p, position_id: str) -> int:
    """When the position's (only) exit intent was created."""
    def found():
        exits = [r[3] for r in p.topic_records(registry.ORDERS)
                 if r[3]["position_id"] == position_id and r[3]["purpose"] == "EXIT"]
        return exits
    exits = wait_until(found, 60, f"the exit of {position_id}")
    assert len({e["client_order_id"] for e in exits}) == 1, exits
    return min(e["created_at_ms"] for e in exits)


def _open(p, link, symbol: str) -> str:
    """A paper LONG entered at 1,000.00 (its 1 % stop at 990.00): its position id."""
    pid = p.alert_row(p.alert(link, "BUY", symbol, price="1000"))["position_id"]
    p.position(pid, "OPEN")
    return pid


def _kill_then_stop_out(p, procs: dict, name: str, symbol: str, pid: str, *,
                        restart: bool) -> int:
    """SIGKILL a worker once it has committed (else its last changes are replayed, fills and
    ticks in no set order between them), start it again at once or not, and send a tick
    through the position's stop, which waits in its topic: ms from the kill until the exit
    was decided."""
    p.committed()
    killed_at = int(time.time() * 1000)
    os.kill(procs[name].pid, signal.SIGKILL)
    procs[name].wait()
    if restart:
        procs[name] = p.named_worker(name, static=True)
    p.ticks(symbol, ["989"])
    decided_ms = _exit_decided_at(p, pid) - killed_at
    assert p.position(pid, "CLOSED", timeout_s=30)["exit_reason"] == "SL"
    return decided_ms


def test_a_killed_workers_positions_resume_elsewhere_and_move_back(kafka_url, tmp_path,
                                                                  request, fake_telegram):
    broker = request.node.callspec.params["kafka_url"]
    # the embedded broker's group coordinator takes longer to let a dead member go
    limit_ms = 20_000 if broker == "tansu" else 10_000
    static = static_members(broker)
    key = credentials.new_key()
    p = Pipeline(tmp_path, kafka_url, PINEWIRE_SECRET_KEY=key,
                 PINEWIRE_TELEGRAM_API=fake_telegram.url)
    chat, bot = str(secrets.randbelow(10**9)), f"123456789:{secrets.token_urlsafe(30)}"
    SECRETS.add(bot)                              # the admin hears of a lost worker
    notifications.set_telegram(p.engine, key, p.user["id"], chat_id=chat, bot_token=bot)
    procs = {}
    try:
        p.prepare_topics()
        p.ledger = p.spawn("ledger", log="ledger.log")
        p.start_web()
        procs = {name: p.named_worker(name, static) for name in ("worker-a", "worker-b")}
        owned = wait_until(lambda: p.split_between(set(procs)), 90,
                           "two workers splitting the partitions")
        link = p.add_link(sl_pct="1", target_pct=None)
        first, second = symbols_on(owned["worker-b"], 2, p.settings.partitions)
        ids = {symbol: _open(p, link, symbol) for symbol in (first, second)}

        # the owner of both is killed and not started again
        resumed_ms = _kill_then_stop_out(p, procs, "worker-b", first, ids[first], restart=False)
        wait_until(lambda: p.split_between({"worker-a"}), 30, "worker-a owning every partition")
        print(f"\nworker SIGKILL, not restarted -> its positions watched again by the other "
              f"after {resumed_ms / 1000:.1f}s")
        assert resumed_ms < limit_ms, f"resumed after {resumed_ms} ms"
        fake_telegram.wait_for(chat, "worker worker-b lost: no heartbeat for")

        # it comes back: the partitions split again, and the second position moves with its
        # partition (each worker counts only the live positions of the partitions it owns)
        procs["worker-b"] = p.named_worker("worker-b", static)
        wait_until(lambda: p.split_between(set(procs)), 90, "two workers splitting them again")
        owner = _owner(p, second)
        wait_until(lambda: {n: w["open_positions"] for n, w in p.workers_alive().items()} ==
                   {owner: 1, ({"worker-a", "worker-b"} - {owner}).pop(): 0}, 30,
                   f"the open position counted by {owner} alone")
        p.ticks(second, ["989"])                                  # stop: 990.00
        _exit_decided_at(p, ids[second])
        assert p.position(ids[second], "CLOSED", timeout_s=30)["exit_reason"] == "SL"

        # SIGKILL and restarted at once under the same name (what systemd's Restart= does):
        # static membership hands it back its own partitions, with no rebalance to wait for.
        if not static:
            return
        third = next(s for s in symbols_on(p.split_between(set(procs))["worker-b"], 3,
                                            p.settings.partitions) if s not in ids)
        ids[third] = _open(p, link, third)
        restarted_ms = _kill_then_stop_out(p, procs, "worker-b", third, ids[third], restart=True)
        print(f"worker SIGKILL, restarted at once -> its positions watched again after "
              f"{restarted_ms / 1000:.1f}s")
        assert restarted_ms < limit_ms, f"resumed after {restarted_ms} ms"
    finally:
        from pinewire import processes
        for proc in procs.values():
            processes.stop(proc)
        p.stop()


def _owner(p, symbol: str) -> str:
    """The worker that owns the symbol's partition now."""
    partition = registry.instrument_partition(instruments.lookup(symbol).token,
                                              p.settings.partitions)
    return next(n for n, w in p.workers_alive().items() if partition in w["active_partitions"])
