import os

import pytest

from connectors import credentials
from pinewire import broker, kafka_cluster, processes
from tests.integration.harness import Pipeline, free_port, free_ports

# Every test that takes `kafka_url` runs once per broker: the embedded one (Tansu, what
# `make run` starts) and a one-node Apache Kafka (what production runs). PINEWIRE_TEST_BROKERS
# narrows the list; PINEWIRE_TEST_KAFKA_URL replaces both with one external cluster.
BROKERS = ["external"] if os.environ.get("PINEWIRE_TEST_KAFKA_URL") else \
    os.environ.get("PINEWIRE_TEST_BROKERS", "tansu,kafka").split(",")


def pytest_collection_modifyitems(config, items):
    """A module marked one_kafka_broker (its docstring says why) runs on the first broker of
    BROKERS only."""
    keep, dropped = [], []
    for item in items:
        on = getattr(item, "callspec", None) and item.callspec.params.get("kafka_url")
        skip = item.get_closest_marker("one_kafka_broker") and on not in (None, BROKERS[0])
        (dropped if skip else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session", params=BROKERS)
def kafka_url(request, tmp_path_factory):
    """A broker for the session, one per entry of BROKERS."""
    if request.param == "external":
        yield os.environ["PINEWIRE_TEST_KAFKA_URL"]
    elif request.param == "kafka":
        cluster = kafka_cluster.start(tmp_path_factory.mktemp("kafka"), 1,
                                      base_port=free_ports(2))
        yield cluster.bootstrap
        cluster.stop()
    else:
        port = free_port()
        proc = broker.start(port, tmp_path_factory.mktemp("broker"))
        yield f"127.0.0.1:{port}"
        processes.stop(proc)


@pytest.fixture(scope="session")
def fake_telegram():
    from tests.integration.telegram import FakeTelegram
    server = FakeTelegram()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pipeline(kafka_url, tmp_path_factory, fake_telegram):
    # A paper order without a fresh tick waits this long for one, then fills at the alert's
    # price: the tests that rely on it wait 5 s, not the default 30 s. Telegram messages go
    # to the fake Bot API.
    with Pipeline(tmp_path_factory.mktemp("pipeline"), kafka_url,
                  PINEWIRE_PAPER_FILL_TIMEOUT_S="5", PINEWIRE_SECRET_KEY=credentials.new_key(),
                  PINEWIRE_TELEGRAM_API=fake_telegram.url).running() as p:
        yield p


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """PINEWIRE_TEST_DATABASE_URL if set, otherwise a PostgreSQL server started for the session."""
    from tests.integration.postgres import TempPostgres
    external = os.environ.get("PINEWIRE_TEST_DATABASE_URL")
    if external:
        yield external
        return
    if not TempPostgres.available():
        pytest.fail("PostgreSQL server binaries not found: `make test` installs them")
    server = TempPostgres()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sim_account():
    import secrets

    import pyotp

    from tests.integration.smartapi import SimAccount
    # Angel One PINs are 4 digits; 8 here (the simulator accepts any) so that the secrets
    # audit cannot mistake a timestamp or an offset for the PIN.
    return SimAccount(client_code="S1234567", pin=f"{secrets.randbelow(10**8):08d}",
                      totp_secret=pyotp.random_base32(32), api_key=secrets.token_hex(8))


@pytest.fixture(scope="session")
def kite_account():
    from tests.integration.kite import new_account
    return new_account()


@pytest.fixture(scope="session")
def kite_sim(tmp_path_factory, kite_account):
    from tests.integration.kite import KiteSimulator
    sim = KiteSimulator(tmp_path_factory.mktemp("kite"), [kite_account])
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def upstox_account():
    from tests.integration.upstox import new_account
    return new_account()


@pytest.fixture(scope="session")
def upstox_sim(tmp_path_factory, upstox_account):
    from tests.integration.upstox import UpstoxSimulator
    sim = UpstoxSimulator(tmp_path_factory.mktemp("upstox"), [upstox_account])
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def smartapi_sim(tmp_path_factory, sim_account):
    from tests.integration.smartapi import Simulator
    sim = Simulator(tmp_path_factory.mktemp("smartapi"), [sim_account])
    yield sim
    sim.stop()
