# The two set-up commands of the README: `make run` and `make test`. Each creates .venv and
# installs what it needs on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: run test typecheck test-noida test-tansu bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.bench-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

## The service on the embedded broker and Schema Registry (ports 8000 and 8001).
run: $(VENV)/.run-installed
	$(BIN)/python -m shop

## The whole suite: strict types, everything on noida-db, then the same suite on tansu.
test: typecheck test-noida test-tansu

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

test-noida: $(VENV)/.test-installed
	$(BIN)/pytest --broker noida $(PYTEST_ARGS)

# tansu proves we rely on no quirk of one broker; tests needing idempotence or persistence skip.
test-tansu: $(VENV)/.test-installed
	$(BIN)/pytest --broker tansu $(PYTEST_ARGS)

## The benchmark of bench/README.md (installs wrk from Debian when it is missing).
bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench $(BENCH_ARGS)
