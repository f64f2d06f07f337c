"""An agent's record that fails for a transient cause (the broker or its metadata not ready:
a new cluster, a rebalance) is handled again, never recorded as decided; what keeps failing, or
fails for any other cause, goes to on_error and the dead letters once."""
import asyncio
from types import SimpleNamespace

import pytest
from aiokafka.errors import KafkaConnectionError
from faust.exceptions import PartitionsMismatch

from agents import app as A


@pytest.fixture
def dead(monkeypatch):
    letters = []

    async def dead_letter(agent, event, exc):
        letters.append((agent, type(exc).__name__))
    monkeypatch.setattr(A, "dead_letter", dead_letter)
    monkeypatch.setattr(A, "TRANSIENT_FIRST_S", 0)
    return letters


def run(failures, dead):
    calls, errors = [], []

    async def handler(record):
        calls.append(record)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]

    async def on_error(record, exc):
        errors.append(type(exc).__name__)
    asyncio.run(A.handle(SimpleNamespace(value="alert"), handler, on_error))
    return len(calls), errors, dead


def test_a_transient_failure_is_handled_again_and_decided_once(dead):
    failures = [PartitionsMismatch("changelog has 0 partitions"), KafkaConnectionError()]
    assert run(failures, dead) == (3, [], [])


def test_one_that_keeps_failing_is_dead_lettered_once(dead):
    failures = [KafkaConnectionError()] * A.TRANSIENT_TRIES
    assert run(failures, dead) == (A.TRANSIENT_TRIES, ["KafkaConnectionError"],
                                   [("handler", "KafkaConnectionError")])


def test_any_other_failure_is_not_tried_again(dead):
    assert run([ValueError("bad")], dead) == (1, ["ValueError"], [("handler", "ValueError")])
