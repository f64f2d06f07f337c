"""Runs last: no PIN, TOTP secret, API key, secret key, webhook token, broker session token,
dashboard password, API token or session cookie appears in clear in any log file, any file the
SDK could have written, or any topic of the run."""
import asyncio
import functools
import os
from pathlib import Path

from sqlalchemy import select

from connectors import kafka
from schemas import sql, topics as registry
from schemas.settings import webhook_token_key
from webapp import links
from tests.integration.harness import PIPELINES, SECRETS


def _secrets(smartapi_sim, sim_account, app_sims) -> set[str]:
    found = {sim_account.pin, sim_account.totp_secret, sim_account.api_key} | SECRETS
    for sim in app_sims:           # Kite's and Upstox's: app keys and secrets, issued tokens
        found |= {a.api_key for a in sim.accounts} | {a.api_secret for a in sim.accounts}
        found |= {t for t in sim.tokens() if len(t) >= 16}   # (6-letter login codes: used once)
    for p in PIPELINES:
        if p.env.get("PINEWIRE_SECRET_KEY"):
            found.add(p.env["PINEWIRE_SECRET_KEY"])
        key = webhook_token_key(p.settings)
        with p.engine.connect() as conn:
            found |= {links.webhook_token(key, dict(row._mapping))
                      for row in conn.execute(select(sql.links.c.token_sealed))}
    for issued in smartapi_sim.http.get("/sim/sessions").json():
        found |= set(issued)
    return {s for s in found if s}


def _found(secrets: set[str], text: str) -> set[str]:
    """The secrets in a text, all looked for in one pass (the run's files are hundreds of
    megabytes, its secrets hundreds). A file is read as Latin-1: one character a byte."""
    return {s for _, s in _automaton(frozenset(secrets)).iter(text)}


@functools.cache
def _automaton(secrets: frozenset[str]):
    import ahocorasick
    automaton = ahocorasick.Automaton()
    for s in secrets:
        automaton.add_word(s.encode().decode("latin-1"), s)
    automaton.make_automaton()
    return automaton


def _topic_text(p) -> str:
    names = [registry.topic_name(p.settings.namespace, spec) for spec in registry.ALL]
    names += [registry.changelog_name(p.settings.namespace, t) for t in registry.TABLES]

    async def one(name: str) -> str:      # the records as they are on the wire
        return "\n".join([key + (value or b"").decode("latin-1") async for _, _, key, value
                          in kafka.read_topic(p.settings.bootstrap, name, decode=False)])

    async def read():
        ends = await kafka.topic_offsets(p.settings.bootstrap, names)
        return "\n".join(await asyncio.gather(*(one(name) for name in ends)))
    return asyncio.run(read())


def test_no_secret_in_any_log_or_topic(tmp_path_factory, smartapi_sim, sim_account, kite_sim,
                                       upstox_sim, kafka_url):
    secrets = _secrets(smartapi_sim, sim_account, [kite_sim, upstox_sim])
    assert len(secrets) >= 5, "the audit needs secrets to look for"
    # Apache Kafka's segment files (.log) are read too; its offset indexes are not (10 MB of
    # preallocated offsets per partition, nothing else)
    files = [f for f in Path(tmp_path_factory.getbasetemp()).rglob("*")
             if f.is_file() and f.suffix not in (".db", ".db-wal", ".db-shm", ".json", ".csv",
                                                 ".index", ".timeindex")]
    assert any(f.name == "worker.log" for f in files) and any(f.name == "feed.log" for f in files)
    leaks = sorted({(f.name, s[:4] + "…") for f in files
                    for s in _found(secrets, f.read_bytes().decode("latin-1"))})
    assert leaks == []
    assert not Path(os.getcwd(), "logs").exists(), "the SDK wrote ./logs"
    live = [p for p in PIPELINES if p.env.get("PINEWIRE_SECRET_KEY")
            and p.settings.kafka_url == kafka_url]
    for p in live:
        text = _topic_text(p)
        assert text and [s[:4] for s in _found(secrets, text)] == []
