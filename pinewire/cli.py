"""The `pinewire` command. Errors are one clear line, never a traceback."""
from __future__ import annotations

import argparse
import functools
import asyncio
import getpass
import json
import logging
import os
import sys

import httpx

from pinewire import accounts, kafka, links
from pinewire.settings import settings as load_settings
from schemas import sql
from schemas import topics as registry


@functools.lru_cache(maxsize=1)
def _engine():
    return sql.engine(load_settings().sql_url)


def _ensure_topics() -> None:
    """Every long-running part creates the registry's topics if they are missing (idempotent)."""
    s = load_settings()
    asyncio.run(kafka.wait_for_broker(s.bootstrap, 60))
    asyncio.run(kafka.create_topics(s.bootstrap, s.namespace, s.partitions))


def _publish_link(row: dict) -> None:
    s = load_settings()
    try:
        asyncio.run(asyncio.wait_for(links.publish(s.bootstrap, s.namespace, links=[row]), 10))
    except Exception:  # noqa: BLE001 - saved in SQL; `up` publishes every link when it starts
        print(f"note: Kafka at {s.bootstrap} is not reachable; the link is saved and reaches "
              "the workers when the pipeline starts", file=sys.stderr)


def webhook_url(row: dict) -> str:
    return f"{load_settings().base_url}/hook/{row['token']}"


def alert_template(row: dict) -> str:
    return json.dumps({"strategy": row["strategy"], "symbol": "{{ticker}}",
                       "exchange": "{{exchange}}", "action": "{{strategy.order.action}}",
                       "price": "{{close}}", "time": "{{timenow}}"})


def cmd_link_add(a) -> int:
    account_id = None
    if a.account:
        account = accounts.account_by_name(_engine(), a.account)
        if account is None:
            raise accounts.AccountError(f"no account named {a.account!r} (pinewire account list)")
        account_id = account["id"]
    row = links.add_link(_engine(), name=a.name, strategy=a.strategy, quantity=a.qty, sl=a.sl,
                         target=a.target, trail=a.trail, trail_activation=a.trail_activation,
                         slippage_bps=a.slippage_bps, paper=not a.live, account_id=account_id)
    _publish_link(row)
    print(f"link {row['name']} created ({'paper' if row['paper'] else 'LIVE'})")
    print(f"webhook URL:   {webhook_url(row)}")
    print(f"alert message: {alert_template(row)}")
    return 0


def _secret(value: str | None, prompt: str) -> str:
    return value if value is not None else getpass.getpass(f"{prompt}: ")


def cmd_account_add(a) -> int:
    row = accounts.add_account(
        _engine(), load_settings().secret_key, name=a.name, client_code=a.client_code,
        api_key=_secret(a.api_key, "API key"), pin=_secret(a.pin, "PIN"),
        totp_secret=_secret(a.totp_secret, "TOTP secret (base32)"))
    print(f"account {row['name']} ({row['client_code']}) saved; credentials encrypted")
    return 0


def cmd_account_list(a) -> int:
    rows = accounts.list_accounts(_engine())
    if not rows:
        print("no accounts yet: pinewire account add --name NAME --client-code CODE")
    for r in rows:
        print(f"{r['name']:<16} {r['client_code']}")
    return 0


def cmd_secret_key(a) -> int:
    print(accounts.new_key())
    return 0


def cmd_link_list(a) -> int:
    rows = links.list_links(_engine())
    if not rows:
        print("no links yet: pinewire link add --name NAME --strategy STRATEGY --qty N")
    for r in rows:
        print(f"{r['name']:<16} strategy={r['strategy']} qty={r['quantity']} sl={r['sl_pct']}% "
              f"target={r['target_pct']}% trail={r['trail_pct']}% "
              f"{'paper' if r['paper'] else 'LIVE'} {'enabled' if r['enabled'] else 'disabled'}")
        if a.urls:
            print(f"{'':<16} {webhook_url(r)}")
    return 0


def cmd_alert(a) -> int:
    row = links.link_by_name(_engine(), a.link)
    if row is None:
        raise links.LinkError(f"no link named {a.link!r} (see: pinewire link list)")
    body = {"strategy": row["strategy"], "symbol": a.symbol, "action": a.action}
    if a.price:
        body["price"] = a.price
    response = httpx.post(webhook_url(row), content=json.dumps(body), timeout=10)
    print(f"{response.status_code} {response.text}")
    return 0 if response.status_code == 200 else 1


def cmd_bot(a) -> int:
    eng = _engine()
    if a.state != "status":
        row = links.set_bot(eng, a.state == "on")
        s = load_settings()
        asyncio.run(links.publish(s.bootstrap, s.namespace, bot_row=row))
    print("bot is", "running" if links.bot(eng)["running"] else "stopped")
    return 0


def cmd_topics(a) -> int:
    s = load_settings()
    names = [registry.topic_name(s.namespace, spec) for spec in registry.ALL]
    pipeline = [registry.topic_name(s.namespace, spec) for spec in registry.PIPELINE]
    ends = asyncio.run(kafka.topic_offsets(s.bootstrap, names))
    lag = asyncio.run(kafka.group_lag(s.bootstrap, s.namespace, [n for n in pipeline if n in ends]))
    print(f"{'topic':<28}{'partitions':>11}{'records':>10}{'lag':>8}  end offsets")
    for name in names:
        if name not in ends:
            print(f"{name:<28}{'missing':>11}")
            continue
        parts = ends[name]
        group = str(lag[name]["lag"]) if name in lag else "-"
        print(f"{name:<28}{len(parts):>11}{sum(parts.values()):>10}{group:>8}  "
              f"{' '.join(str(parts[p]) for p in sorted(parts))}")
    return 0


def cmd_tail(a) -> int:
    s = load_settings()
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


def cmd_up(a) -> int:
    from pinewire import up
    return up.run(load_settings())


def cmd_broker(a) -> int:
    from pinewire import broker
    s = load_settings()
    os.execv(broker.command(s.broker_port)[0], broker.command(s.broker_port))


def cmd_worker(a) -> int:
    _ensure_topics()
    from agents import worker
    worker.main()
    return 0


def cmd_web(a) -> int:
    import uvicorn
    from webapp.app import create_app
    s = load_settings()  # no Kafka needed to start: the gateway answers 503 until it is back
    uvicorn.run(create_app(s), host=s.web_host, port=s.web_port, access_log=False,
                log_level=s.log_level.lower())
    return 0


def cmd_feed(a) -> int:
    from connectors.ticks import feed
    _ensure_topics()
    s = load_settings()
    watch = feed.watchlist_tokens(s.feed_watchlist)
    if a.replay:
        sent = asyncio.run(feed.run_replay(s.bootstrap, s.namespace, a.replay, speed=a.speed,
                                           watchlist=watch, only_subscribed=not a.all))
        print(f"replayed {sent} ticks")
        return 0
    if s.feed == "smartapi":
        run = feed.run_smartapi(s.bootstrap, s.namespace, session=_feed_session(s),
                                url=s.smartapi_ws_url, watchlist=watch)
    else:
        run = feed.run_synthetic(s.bootstrap, s.namespace, watchlist=watch, rate=s.feed_rate,
                                 volatility_bps=s.feed_volatility_bps, seed=s.feed_seed)
    try:
        asyncio.run(run)
    except KeyboardInterrupt:
        pass
    return 0


def _feed_session(s):
    from connectors.smartapi.session import Session
    if not s.feed_account:
        raise accounts.AccountError("PINEWIRE_FEED=smartapi needs PINEWIRE_FEED_ACCOUNT "
                                    "(an account name from `pinewire account list`)")
    account = accounts.account_by_name(_engine(), s.feed_account)
    if account is None:
        raise accounts.AccountError(f"no account named {s.feed_account!r}")
    creds = accounts.credentials(_engine(), s.secret_key, account["id"])
    return Session(creds, s.smartapi_root, s.smartapi_timeout_s)


def cmd_smartapi_sim(a) -> int:
    from connectors.smartapi.simulator import server
    from connectors.smartapi.simulator.state import SimState
    accounts = server.load_accounts(a.accounts) if a.accounts else [server.demo_account(
        load_settings().data_dir / "smartapi-sim-account.json")]
    sim = SimState(accounts, server.default_prices())
    print(f"SmartAPI simulator for {', '.join(x.client_code for x in accounts)}; point pinewire at it:")
    print(f"  PINEWIRE_SMARTAPI_ROOT=http://{a.host}:{a.rest_port}")
    print(f"  PINEWIRE_SMARTAPI_WS_URL=ws://{a.host}:{a.ws_port}/smart-stream")
    print(f"  PINEWIRE_SMARTAPI_ORDER_WS_URL=ws://{a.host}:{a.ws_port}/smart-order-update",
          flush=True)
    try:
        asyncio.run(server.serve(sim, a.host, a.rest_port, a.ws_port,
                                 walk_interval_s=a.walk or None))
    except KeyboardInterrupt:
        pass
    return 0


def cmd_reconcile(a) -> int:
    from pinewire.reconcile import reconcile
    _ensure_topics()
    s = load_settings()
    print(f"restored {asyncio.run(reconcile(_engine(), s))} position(s)")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pinewire", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="broker, worker, web and feed together (paper mode)").set_defaults(fn=cmd_up)
    sub.add_parser("broker", help="the embedded Kafka broker, in the foreground").set_defaults(fn=cmd_broker)
    sub.add_parser("worker", help="a Faust worker running every agent").set_defaults(fn=cmd_worker)
    sub.add_parser("web", help="gateway, status page and API").set_defaults(fn=cmd_web)
    f = sub.add_parser("feed", help="synthetic tick feed, or --replay a CSV")
    f.add_argument("--replay", type=__import__("pathlib").Path, help="CSV of ts,token,ltp[,volume]")
    f.add_argument("--speed", type=float, default=1.0, help="1 real time, N faster, 0 no waits")
    f.add_argument("--all", action="store_true", help="replay every token, subscribed or not")
    f.set_defaults(fn=cmd_feed)

    link = sub.add_parser("link", help="webhook links").add_subparsers(dest="link", required=True)
    add = link.add_parser("add", help="create a link and print its webhook URL")
    add.add_argument("--name", required=True)
    add.add_argument("--strategy", required=True, help="must match the alert's 'strategy'")
    add.add_argument("--qty", type=int, required=True, help="quantity traded per entry")
    add.add_argument("--sl", help="stop-loss, percent of entry")
    add.add_argument("--target", help="target, percent of entry")
    add.add_argument("--trail", help="trailing stop distance, percent of the best price")
    add.add_argument("--trail-activation", help="percent in profit before trailing starts "
                                                "(default: the trailing distance)")
    add.add_argument("--slippage-bps", type=int, default=0, help="paper fills' slippage")
    add.add_argument("--live", action="store_true", help="trade on the broker, not on paper")
    add.add_argument("--account", help="the broker account a live link trades on")
    add.set_defaults(fn=cmd_link_add)
    ls = link.add_parser("list", help="list links")
    ls.add_argument("--urls", action="store_true", help="also print each webhook URL")
    ls.set_defaults(fn=cmd_link_list)

    acc = sub.add_parser("account", help="broker accounts").add_subparsers(dest="account",
                                                                           required=True)
    aa = acc.add_parser("add", help="save an Angel One account; credentials are encrypted")
    aa.add_argument("--name", required=True)
    aa.add_argument("--client-code", required=True)
    aa.add_argument("--api-key", help="prompted for when omitted (keeps it out of shell history)")
    aa.add_argument("--pin", help="prompted for when omitted")
    aa.add_argument("--totp-secret", help="base32 seed; prompted for when omitted")
    aa.set_defaults(fn=cmd_account_add)
    acc.add_parser("list", help="list accounts (never their credentials)").set_defaults(
        fn=cmd_account_list)
    sub.add_parser("secret-key", help="print a new PINEWIRE_SECRET_KEY").set_defaults(
        fn=cmd_secret_key)

    al = sub.add_parser("alert", help="send an alert to a link's webhook, as TradingView would")
    al.add_argument("link")
    al.add_argument("action", type=str.upper)
    al.add_argument("symbol")
    al.add_argument("--price", help="the price the alert carries (rupees)")
    al.set_defaults(fn=cmd_alert)

    bot = sub.add_parser("bot", help="start or stop acting on new alerts")
    bot.add_argument("state", choices=["on", "off", "status"])
    bot.set_defaults(fn=cmd_bot)
    sub.add_parser("topics", help="partitions, end offsets and lag of each topic").set_defaults(fn=cmd_topics)
    tail = sub.add_parser("tail", help="print a topic's decoded records")
    tail.add_argument("topic", help=", ".join(s.name for s in registry.ALL))
    tail.add_argument("-f", "--follow", action="store_true")
    tail.set_defaults(fn=cmd_tail)
    sim = sub.add_parser("smartapi-sim", help="a SmartAPI simulator on 127.0.0.1 (REST + websockets)")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--rest-port", type=int, default=18080)
    sim.add_argument("--ws-port", type=int, default=18081)
    sim.add_argument("--accounts", type=__import__("pathlib").Path,
                     help="JSON list of {client_code, pin, totp_secret, api_key}; default: a "
                          "demo account written to the data directory")
    sim.add_argument("--walk", type=float, default=0.5,
                     help="seconds between random-walk steps of every price (0: scripted only)")
    sim.set_defaults(fn=cmd_smartapi_sim)
    sub.add_parser("reconcile", help="restore live positions from the ledger if the broker "
                                     "lost them").set_defaults(fn=cmd_reconcile)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    service = args.fn in (cmd_worker, cmd_web, cmd_feed, cmd_smartapi_sim)
    logging.basicConfig(level=load_settings().log_level.upper() if service else "WARNING",
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.fn(args) or 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one clear line for the operator
        print(f"pinewire: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
