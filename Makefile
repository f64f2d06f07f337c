# The two commands: `make run` and `make test`. Everything they need is installed from here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test chaos unit integration bench install services jdk clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# PINEWIRE_BROKER=kafka make run: Apache Kafka instead of the embedded broker (needs a JDK and
# Maven, installed here when missing)
run: $(STAMP)
	@[ "$$PINEWIRE_BROKER" != kafka ] || $(MAKE) --no-print-directory jdk
	$(BIN)/pinewire up

# The tests start their own Kafka broker (or use PINEWIRE_TEST_KAFKA_URL), PostgreSQL server (or
# PINEWIRE_TEST_DATABASE_URL), workers and web apps on free loopback ports, and drive Debian's
# Chromium for the browser tests, and run Apache Kafka from Maven Central with a JDK
# (`pinewire kafka up` resolves its jars once into ~/.cache/pinewire). The PostgreSQL server
# binaries, Chromium, a JDK (17 or newer) and Maven must be on the machine; this installs them
# when they are not.
services:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }
	@command -v chromium >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@$(MAKE) --no-print-directory jdk

jdk:
	@{ command -v java && command -v mvn; } >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    default-jdk-headless maven; }

# The paper chaos test runs here on Apache Kafka only (three nodes, a broker killed too), at
# half size; at full size on both brokers under `make chaos`.
test: $(STAMP) services
	$(BIN)/python -m pytest -q -ra --durations=25 tests \
	  --deselect "tests/integration/test_chaos.py::test_chaos[tansu]"

# The chaos tests alone (also in `make test`): workers and a broker killed under load, exact
# exits required; live accounts under broker faults; cold starts of a 3-node Kafka cluster, 10
# of them here, 1 in `make test`; the paper chaos test on both brokers (README, "Chaos").
chaos: $(STAMP) services
	PINEWIRE_TEST_COLD_STARTS=10 PINEWIRE_TEST_CHAOS_FULL=1 $(BIN)/python -m pytest -q -ra -s \
	  -m chaos tests

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP) services
	$(BIN)/python -m pytest -q -ra tests/integration

# Benchmarks (never part of `make test`): each starts its own broker, worker and web app on
# loopback, prints a table and writes bench/results/<name>.json (<name>_kafka.json on Apache
# Kafka) with its goals and the same-run floors they were compared with. BENCH_BROKERS=tansu
# runs on the embedded broker only. The in-process backtest's needs no broker: it runs once.
BENCH_BROKERS ?= tansu kafka
bench: $(STAMP)
	@case " $(BENCH_BROKERS) " in *" kafka "*) $(MAKE) --no-print-directory jdk;; esac
	for broker in $(BENCH_BROKERS); do \
	  for b in webhook exits tick_path recovery; do \
	    $(BIN)/python -m bench.$$b --broker $$broker || exit 1; \
	  done; \
	done
	$(BIN)/python -m bench.backtest

clean:
	rm -rf $(VENV) .pinewire bench/results
