# The two commands: `make run` and `make test`. Everything they need is installed from here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test unit integration bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/pinewire up

# The integration tests start their own broker (or use PINEWIRE_TEST_KAFKA_URL), workers and
# web apps on free loopback ports; nothing else needs to be running.
test: $(STAMP)
	$(BIN)/python -m pytest -q -ra tests

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q -ra tests/integration

bench: $(STAMP)
	$(BIN)/python -m bench.tick_path

clean:
	rm -rf $(VENV) .pinewire bench/results
