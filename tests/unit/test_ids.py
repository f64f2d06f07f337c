"""Ids are deterministic, distinct where they must be, and fit SmartAPI's ordertag."""
from schemas import ids
from schemas.topics import instrument_partition


def test_dedupe_key_ignores_key_order_and_depends_on_link():
    a = ids.dedupe_key("L1", {"a": 1, "b": "x"})
    assert a == ids.dedupe_key("L1", {"b": "x", "a": 1})
    assert a != ids.dedupe_key("L2", {"a": 1, "b": "x"})
    assert a != ids.dedupe_key("L1", {"a": 2, "b": "x"})


def test_order_ids_are_deterministic_and_short():
    pid = ids.position_id(ids.alert_id("k", 1))
    assert pid == ids.position_id(ids.alert_id("k", 1))
    for purpose in ("ENTRY", "EXIT"):
        coid = ids.client_order_id(pid, purpose, 99)
        assert len(coid) <= 20 and coid == ids.client_order_id(pid, purpose, 99)
    assert ids.client_order_id(pid, "ENTRY") != ids.client_order_id(pid, "EXIT")
    assert ids.fill_id("c", 0) != ids.fill_id("c", 1)
    # two brokers' orders numbered alike are two fills: the client order id tells them apart
    assert ids.fill_id("p1E0", "2611", 10) != ids.fill_id("p2E0", "2611", 10)


def test_instrument_partition_matches_kafka_default_partitioner():
    from aiokafka.partitioner import DefaultPartitioner
    partitioner = DefaultPartitioner()
    for token in ("2885", "3045", "99926000", "1"):
        assert instrument_partition(token, 8) == partitioner(token.encode(), list(range(8)), [])
