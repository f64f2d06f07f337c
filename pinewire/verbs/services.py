"""The long-running parts, and looking at Kafka: up, broker, worker, ledger, web, feed, the
broker simulators (smartapi-sim, kite-sim, upstox-sim), reconcile, topics, tail."""
from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

from connectors import credentials, kafka
from pinewire.verbs.common import engine, ensure_topics
from schemas import topics as registry
from schemas.records import heartbeat_alive
from schemas.settings import settings
from webapp import accounts


def cmd_up(a) -> int:
    from pinewire import up
    return up.run(settings(), workers=a.workers)


def cmd_broker(a) -> int:
    from pinewire import broker
    s = settings()
    os.execv(broker.command(s.broker_port)[0], broker.command(s.broker_port))


def cmd_worker(a) -> int:
    ensure_topics()
    from agents import worker
    worker.main()
    return 0


def cmd_ledger(a) -> int:
    ensure_topics()
    from agents import ledger_process
    from webapp.telegram_commands import TelegramCommands
    ledger_process.main(settings(), lambda eng, s, outbox: TelegramCommands(eng, s, outbox).run())
    return 0


def cmd_web(a) -> int:
    import uvicorn
    from webapp.app import create_app
    from webapp.keepalive import SERVER_OPTIONS
    s = settings()  # no Kafka needed to start: the gateway answers 503 until it is back
    # several processes take turns on one socket
    app = "webapp.app:create_app" if s.web_workers > 1 else create_app(s)
    uvicorn.run(app, factory=s.web_workers > 1, workers=s.web_workers, host=s.web_host,
                port=s.web_port, access_log=False, log_level=s.log_level.lower(),
                **SERVER_OPTIONS)
    return 0


def cmd_feed(a) -> int:
    from connectors.ticks import feed, replay
    ensure_topics()
    s = settings()
    watch = feed.watchlist_tokens(s.feed_watchlist)
    if a.replay:
        print(f"replaying {a.replay}: {replay.describe(a.replay)}", flush=True)
        sent = asyncio.run(feed.run_replay(s.bootstrap, s.namespace, s.partitions, a.replay,
                                           speed=a.speed, watchlist=watch,
                                           only_subscribed=a.only_subscribed))
        print(f"replayed {sent} ticks")
        return 0
    if s.feed in credentials.BROKERS:
        stream_of, max_tokens = _market_stream(s)
        run = feed.run_live(s.bootstrap, s.namespace, s.partitions, stream_of=stream_of,
                            max_tokens=max_tokens, watchlist=watch)
    else:
        run = feed.run_synthetic(s.bootstrap, s.namespace, s.partitions, watchlist=watch,
                                 rate=s.feed_rate, volatility_bps=s.feed_volatility_bps,
                                 seed=s.feed_seed)
    try:
        asyncio.run(run)
    except KeyboardInterrupt:
        pass
    return 0


def _market_stream(s):
    """(stream_of(send), instruments per connection) of the feed account's broker."""
    if not s.feed_account:
        raise accounts.AccountError(f"PINEWIRE_FEED={s.feed} needs PINEWIRE_FEED_ACCOUNT "
                                    "(an account name from `pinewire account list`)")
    account = accounts.account_by_name(engine(), s.feed_account)
    if account is None:
        raise accounts.AccountError(f"no account named {s.feed_account!r}")
    if account["broker"] != s.feed:
        raise accounts.AccountError(f"PINEWIRE_FEED={s.feed}, but the account "
                                    f"{s.feed_account!r} is a {account['broker']} account")
    creds = credentials.load(engine(), s.secret_key, account["id"])
    reload = lambda: credentials.load(engine(), s.secret_key, account["id"])  # noqa: E731
    if s.feed == "upstox":
        from connectors.upstox import ticks
        from connectors.upstox.master import Master
        from connectors.upstox.session import UpstoxSession
        session = UpstoxSession(creds, s.upstox_root, s.upstox_timeout_s,
                                account_name=account["name"], reload=reload)
        master = Master(session, s.upstox_instruments_url)
        return (lambda send: ticks.UpstoxMarketStream(session, master, send), ticks.MAX_TOKENS)
    if s.feed == "kite":
        from connectors.kite import ticks
        from connectors.kite.master import Master
        from connectors.kite.session import KiteSession
        session = KiteSession(creds, s.kite_root, s.kite_timeout_s, account_name=account["name"],
                              reload=reload)
        master = Master(session)
        return (lambda send: ticks.KiteMarketStream(session, master, s.kite_ws_url, send),
                ticks.MAX_TOKENS)
    from connectors.smartapi import ticks
    from connectors.smartapi.session import Session
    session = Session(creds, s.smartapi_root, s.smartapi_timeout_s)
    return (lambda send: ticks.SmartApiMarketStream(
        session, s.smartapi_ws_url, lambda p: send(p.token, p.ltp_paise, p.exchange_ts_ms)),
        ticks.MAX_TOKENS)


# the broker simulators: module, what it serves, default REST port (websockets: the next)
SIMULATORS = {
    "smartapi-sim": ("connectors.smartapi.simulator.server", "SmartAPI: REST + websockets",
                     18080, "client_code, pin, totp_secret, api_key"),
    "kite-sim": ("connectors.kite.simulator.server", "Kite: REST + ticker websocket", 18090,
                 "user_id, api_key, api_secret, redirect_url"),
    "upstox-sim": ("connectors.upstox.simulator.server", "Upstox: REST + both feeds", 18095,
                   "user_id, api_key, api_secret, redirect_uri"),
}


def cmd_simulator(a) -> int:
    import importlib

    from connectors.sim_common import accounts_from
    server = importlib.import_module(SIMULATORS[a.simulator][0])
    path = a.accounts or settings().data_dir / f"{a.simulator}-account.json"
    accounts_ = accounts_from(path, server.Account, None if a.accounts else server.demo)
    print(f"{server.NAME} simulator for {', '.join(map(server.who, accounts_))}; point "
          "pinewire at it:")
    for line in server.env_lines(a.host, a.rest_port, a.ws_port):
        print(f"  {line}", flush=True)
    try:
        asyncio.run(server.serve(server.create(accounts_), a.host, a.rest_port, a.ws_port,
                                 walk_interval_s=a.walk or None))
    except KeyboardInterrupt:
        pass
    return 0


def cmd_reconcile(a) -> int:
    from pinewire.reconcile import reconcile, reconcile_brokers
    ensure_topics()
    if a.broker:
        for report in asyncio.run(reconcile_brokers(engine(), settings())):
            lines = report["closed"] + report["report"]
            print(f"{report['account']}: " + ("agrees with the broker" if not lines else
                                              "\n  " + "\n  ".join(lines)))
        return 0
    print(f"restored {asyncio.run(reconcile(engine(), settings()))} position(s)")
    return 0


def cmd_topics(a) -> int:
    s = settings()
    names = [registry.topic_name(s.namespace, spec) for spec in registry.ALL]
    ends = asyncio.run(kafka.topic_offsets(s.bootstrap, names))
    lag = {who: asyncio.run(kafka.group_lag(s.bootstrap, group, [
        n for n in (registry.topic_name(s.namespace, spec) for spec in specs) if n in ends]))
        for who, (group, specs) in registry.consumer_groups(s.namespace).items()}
    print(f"{'topic':<28}{'partitions':>11}{'records':>10}{'lag':>8}{'ledger':>8}  end offsets")
    for name in names:
        if name not in ends:
            print(f"{name:<28}{'missing':>11}")
            continue
        parts = ends[name]
        workers, ledger = (str(lag[who][name]["lag"]) if name in lag[who] else "-"
                           for who in ("workers", "ledger"))
        print(f"{name:<28}{len(parts):>11}{sum(parts.values()):>10}{workers:>8}{ledger:>8}  "
              f"{' '.join(str(parts[p]) for p in sorted(parts))}")
    _print_workers(s)
    return 0


def _print_workers(s) -> None:
    """Each worker's partitions, from the heartbeats on the workers topic (latest per worker)."""
    async def latest() -> dict:
        beats = {}
        async for _, _, key, value in kafka.read_topic(
                s.bootstrap, registry.topic_name(s.namespace, registry.WORKERS)):
            beats[key] = value
        return beats
    now = int(time.time() * 1000)
    beats = [b for b in asyncio.run(latest()).values() if b]
    print(f"\n{'worker':<28}{'state':>8}{'positions':>10}  active partitions / standby")
    for b in sorted(beats, key=lambda b: b["worker_id"]):
        state = "alive" if heartbeat_alive(b, now, s.heartbeat_s) else "gone"
        print(f"{b['worker_id']:<28}{state:>8}{b['open_positions']:>10}  "
              f"{','.join(map(str, b['active'])) or '-'} / {','.join(map(str, b['standby'])) or '-'}")


def cmd_tail(a) -> int:
    s = settings()
    name = registry.topic_name(s.namespace, registry.spec_by_name(a.topic))

    async def tail():
        async for partition, offset, key, value in kafka.read_topic(s.bootstrap, name,
                                                                    follow=a.follow):
            print(json.dumps({"partition": partition, "offset": offset, "key": key,
                              "value": value}), flush=True)
    try:
        asyncio.run(tail())
    except KeyboardInterrupt:
        pass
    return 0


def register(sub) -> None:
    up = sub.add_parser("up", help="broker, worker, ledger, web and feed together")
    up.add_argument("--workers", type=int, default=1, choices=range(1, 33), metavar="N",
                    help="worker processes splitting the partitions (default 1)")
    up.set_defaults(fn=cmd_up)
    sub.add_parser("broker", help="the embedded Kafka broker, in the foreground").set_defaults(
        fn=cmd_broker)
    sub.add_parser("worker", help="a Faust worker running every agent").set_defaults(fn=cmd_worker)
    sub.add_parser("ledger", help="writes alerts, events, orders and fills into SQL (its own "
                                  "consumer group; run one or more)").set_defaults(fn=cmd_ledger)
    sub.add_parser("web", help="gateway, status page and API").set_defaults(fn=cmd_web)
    f = sub.add_parser("feed", help="synthetic tick feed, or --replay a CSV")
    f.add_argument("--replay", type=Path, help="CSV with a header: ts or ts_ms, token, ltp "
                                               "(rupees) or ltp_paise[, volume]")
    f.add_argument("--speed", type=float, default=1.0, help="1 real time, N faster, 0 no waits")
    f.add_argument("--only-subscribed", action="store_true",
                   help="replay only instruments the pipeline subscribed (default: every one)")
    f.set_defaults(fn=cmd_feed)
    for verb, (_, serves, port, fields) in SIMULATORS.items():
        sim = sub.add_parser(verb, help=f"a broker simulator on 127.0.0.1 ({serves})")
        sim.add_argument("--host", default="127.0.0.1")
        sim.add_argument("--rest-port", type=int, default=port)
        sim.add_argument("--ws-port", type=int, default=port + 1)
        sim.add_argument("--accounts", type=Path,
                         help=f"JSON list of {{{fields}}}; default: a demo account written to "
                              "the data directory")
        sim.add_argument("--walk", type=float, default=0.5,
                         help="seconds between random-walk steps of every price (0: scripted "
                              "only)")
        sim.set_defaults(fn=cmd_simulator, simulator=verb)
    rec = sub.add_parser("reconcile", help="restore live positions from the ledger if Kafka "
                                           "lost them; --broker: agree with the brokers")
    rec.add_argument("--broker", action="store_true",
                     help="compare open live positions with each account's positions and "
                          "order book: close what the broker shows flat, report what it holds "
                          "beyond pinewire (never traded)")
    rec.set_defaults(fn=cmd_reconcile)
    sub.add_parser("topics", help="partitions, end offsets and lag of each topic").set_defaults(
        fn=cmd_topics)
    tail = sub.add_parser("tail", help="print a topic's decoded records")
    tail.add_argument("topic", help=", ".join(s.name for s in registry.ALL))
    tail.add_argument("-f", "--follow", action="store_true")
    tail.set_defaults(fn=cmd_tail)


SERVICES = (cmd_worker, cmd_ledger, cmd_web, cmd_feed, cmd_simulator)
