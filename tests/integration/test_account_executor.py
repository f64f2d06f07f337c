"""Per-account executors: a live account's orders all go to its partition, so with two workers
splitting the partitions exactly one of them places them and holds the account's order-update
socket — whichever worker owns the positions. When that worker is killed, the other takes the
account over with its partition: the next order goes out, its fill comes back, and at no time
are two order-update sockets open for the account."""
import os
import signal

from connectors import credentials
from pinewire import processes
from schemas import instruments, topics as registry
from tests.integration.harness import Pipeline, symbols_on, wait_until
from webapp import accounts


def test_one_worker_executes_an_accounts_orders_and_hands_it_over(
        kafka_url, smartapi_sim, sim_account, tmp_path):
    key = credentials.new_key()
    p = Pipeline(tmp_path, kafka_url, PINEWIRE_SECRET_KEY=key, PINEWIRE_SMARTAPI_TIMEOUT_S="20",
                 **smartapi_sim.env())
    account = accounts.add_account(p.engine, key, name="sim", user_id=p.user["id"],
                                   client_code=sim_account.client_code,
                                   api_key=sim_account.api_key, pin=sim_account.pin,
                                   totp_secret=sim_account.totp_secret)
    code, workers = sim_account.client_code, {}
    try:
        p.prepare_topics()
        p.ledger = p.spawn("ledger", log="ledger.log")
        p.start_web()
        workers = {name: p.spawn("worker", log=f"{name}.log") for name in ("w1", "w2")}
        owned = wait_until(lambda: len(p.workers_alive()) == 2 and
                           p.split_between(set(p.workers_alive())), 90,
                           "two workers splitting the partitions")
        home = registry.instrument_partition(account["id"], p.settings.partitions)
        executor = next(w for w, parts in owned.items() if home in parts)
        elsewhere = next(w for w in owned if w != executor)
        # two instruments on each worker's partitions: both workers' positions, one executor
        symbols = symbols_on(owned[executor], 2, p.settings.partitions) + \
            symbols_on(owned[elsewhere], 2, p.settings.partitions)
        baseline = smartapi_sim.order_sockets(reset=True)["open"].get(code, 0)
        link = p.add_link(sl_pct="5", target_pct="5", paper=False, account_id=account["id"])
        ids = {}
        for symbol in symbols:
            # the catalog's own price, which the simulator starts from (other tests expect it)
            instrument = instruments.lookup(symbol)
            smartapi_sim.price(instrument.token, str(instrument.reference_paise / 100))
            ids[symbol] = p.alert_row(p.alert(link, "BUY", symbol))["position_id"]
        for pid in ids.values():
            p.position(pid, "OPEN", timeout_s=40)        # placed, filled on the order stream

        intents = [r for r in p.topic_records(registry.ORDERS) if r[3]["position_id"] in
                   ids.values()]
        assert len(intents) == 4 and {partition for partition, *_ in intents} == {home}
        fills = [r for r in p.topic_records(registry.FILLS) if r[3]["position_id"] in
                 ids.values()]
        assert {(f[3]["token"], f[0]) for f in fills} == {
            (t, registry.instrument_partition(t, p.settings.partitions))
            for t in (instruments.lookup(s).token for s in symbols)}   # back to each position
        assert smartapi_sim.order_sockets()["peak"].get(code, 0) == baseline + 1

        # the executor dies: its partitions, and the account, go to the other worker
        owner_pid = _pid_of(p, workers, executor)
        os.kill(owner_pid, signal.SIGKILL)
        next(w for w in workers.values() if w.pid == owner_pid).wait()
        wait_until(lambda: p.split_between({elsewhere}), 60, f"{elsewhere} owning every partition")
        closing = symbols[0]
        p.alert_row(p.alert(link, "EXIT", closing))
        assert p.position(ids[closing], "CLOSED", timeout_s=40)["exit_reason"] == "SIGNAL"
        exit_intent = next(r for r in p.topic_records(registry.ORDERS)
                           if r[3]["position_id"] == ids[closing] and r[3]["purpose"] == "EXIT")
        assert exit_intent[0] == home
        assert smartapi_sim.order_sockets()["open"].get(code, 0) == baseline + 1
        assert smartapi_sim.order_sockets()["peak"].get(code, 0) == baseline + 1
    finally:
        for proc in workers.values():
            processes.stop(proc)
        p.stop()


def _pid_of(p, workers: dict, worker_id: str) -> int:
    """A worker's pid from its id (host:pid when it has no name)."""
    pid = int(worker_id.rsplit(":", 1)[1])
    assert pid in {w.pid for w in workers.values()}
    return pid
