import uuid

from pinewire import kafka_cluster


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch):
    drawn = iter([uuid.UUID(bytes=b"\xfb" + bytes(15)), uuid.UUID(bytes=bytes(16))])
    monkeypatch.setattr(kafka_cluster.uuid, "uuid4", lambda: next(drawn))
    assert kafka_cluster.new_cluster_id() == "AAAAAAAAAAAAAAAAAAAAAA"
