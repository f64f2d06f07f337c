"""The gateway's in-memory directory: a token's link by its hash, the newest record winning,
a rotated or deleted link's old hash gone at once."""
import pytest

from webapp.directory import LinkDirectory
from webapp.links import DEFAULTS, token_hash


def _row(version: int, token: str | None, **kw) -> dict:
    return {"id": "L1", "name": "trend", "strategy": "st", "version": version,
            "user_id": "u1", "token_hash": token_hash(token) if token else None,
            **DEFAULTS, **kw}


@pytest.fixture
def directory():
    d = LinkDirectory("127.0.0.1:9", "t")   # never connects: fed by hand
    d.follower.caught_up.set()
    return d


def test_a_token_finds_its_link_and_the_bot_versions(directory):
    directory.apply(links=[_row(1, "tok-a")],
                    bots=[{"running": False, "version": 4, "at_ms": 1, "user_id": "u1"},
                          {"running": True, "version": 2, "at_ms": 1}])
    link, own, everyone = directory.lookup(token_hash("tok-a"))
    assert (link["id"], link["version"], link["user_id"], own, everyone) == ("L1", 1, "u1", 4, 2)
    assert directory.lookup(token_hash("tok-b")) is None


def test_rotation_and_deletion_forget_the_old_token_and_an_older_record_changes_nothing(
        directory):
    directory.apply(links=[_row(2, "tok-new")])
    directory._on_record(directory.links_topic, "L1",
                         {**_row(1, "tok-old"), "link_id": "L1"})   # arrives late
    assert directory.lookup(token_hash("tok-old")) is None
    assert directory.lookup(token_hash("tok-new"))[0]["version"] == 2
    directory.apply(links=[_row(3, None)])                           # deleted
    assert directory.lookup(token_hash("tok-new")) is None


def test_nothing_is_known_before_the_topics_are_read():
    d = LinkDirectory("127.0.0.1:9", "t")
    d.apply(links=[_row(1, "tok-a")])
    assert d.lookup(token_hash("tok-a")) is None   # the gateway asks SQL meanwhile
