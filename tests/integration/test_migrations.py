"""Alembic migrations on SQLite and PostgreSQL: head equals the models, and a database made
before migrations existed is stamped as the baseline and upgraded with its rows kept."""
import secrets

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from schemas import sql
from schemas.settings import Settings, webhook_token_key
from webapp import links


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    """A database with no table at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    server = create_engine(request.getfixturevalue("postgres_url"), isolation_level="AUTOCOMMIT")
    name = f"m{secrets.token_hex(4)}"
    with server.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield server.url.set(database=name).render_as_string(hide_password=False)
    with server.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    server.dispose()


def test_head_matches_the_models(empty_url):
    eng = sql.engine(empty_url)
    with eng.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), sql.metadata) == []
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == \
            sorted(p.stem.split("_")[0] for p in (sql.MIGRATIONS / "versions").glob("0*.py"))[-1]
    eng.dispose()


def test_a_database_from_before_migrations_is_stamped_and_upgraded(empty_url, monkeypatch):
    monkeypatch.setenv("PINEWIRE_SESSION_SECRET", "the-operators-session-secret")
    eng = create_engine(empty_url)
    sql.upgrade(eng, "0001")
    with eng.begin() as conn:   # as the pre-migration code left it: tables, no version table
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text(
            "INSERT INTO links (id, name, token, token_hash, strategy, quantity, slippage_bps, "
            "paper, enabled, version, created_at_ms) VALUES "
            "('L1', 'old', 't', 'h', 'st', 5, 0, true, true, 1, 0)"))
    eng.dispose()
    eng = sql.engine(empty_url)
    with eng.connect() as conn:
        row = conn.execute(text("SELECT name, quantity, side, max_entries, eod, product, "
                                "token_sealed FROM links")).one()
        columns = {c["name"] for c in inspect(conn).get_columns("links")}
    assert tuple(row[:6]) == ("old", 5, "both", 1, "close-losers", "auto")
    assert "token" not in columns, "no webhook token in clear"
    key = webhook_token_key(Settings())
    assert links.webhook_token(key, {"token_sealed": row.token_sealed}) == "t"
    eng.dispose()


def test_engines_opened_by_several_threads_at_once_all_open(empty_url):
    """Alembic's migration context is one per process: engines opened in threads at the same
    moment (a worker's first orders, each loading its account in a thread) must all upgrade."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier
    start = Barrier(4)

    def open_one(_):
        start.wait(10)
        return sql.engine(empty_url)

    with ThreadPoolExecutor(4) as pool:
        engines = list(pool.map(open_one, range(4)))
    for eng in engines:
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM links")).scalar() == 0
        eng.dispose()
