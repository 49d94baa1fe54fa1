# The two set-up commands of the README: `make run` and `make test`. Each creates .venv and
# installs what it needs on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: run test lint format typecheck chromium test-noida test-kafka test-tansu kafka-libs bench clean

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

## The whole suite: lint and format, strict types, everything on noida-db (with the /docs page in
## headless Chromium), everything on Apache Kafka (one node, and three for the cluster tests), then
## the API on tansu without the idempotent producer.
test: lint typecheck test-noida test-kafka test-tansu

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

## Rewrites the code as CI wants it (ruff's fixes and format).
format: $(VENV)/.test-installed
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

# Debian's Chromium for the /docs page test. Where it cannot be installed (not root, no apt-get)
# that test is skipped with its reason, except in CI, where it fails.
chromium:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get install -y -q chromium >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
		else echo "chromium: not installed and cannot be here: the /docs page test is skipped"; fi; }

test-noida: $(VENV)/.test-installed chromium
	$(BIN)/pytest --broker noida $(PYTEST_ARGS)

# Apache Kafka from Maven Central (apache-kafka/pom.xml), copied into apache-kafka/libs once.
apache-kafka/libs/.copied: apache-kafka/pom.xml
	rm -rf apache-kafka/libs
	mvn -q -B -f apache-kafka/pom.xml dependency:copy-dependencies -DincludeScope=runtime \
		-DoutputDirectory=$(CURDIR)/apache-kafka/libs
	touch $@

kafka-libs: apache-kafka/libs/.copied

# The reference broker: one KRaft node for the suite, three for the cluster tests. Without java
# or mvn the phase is skipped with one line, except in CI, where it must run.
test-kafka: $(VENV)/.test-installed
	@if command -v java >/dev/null && command -v mvn >/dev/null; then \
		$(MAKE) --no-print-directory kafka-libs && $(BIN)/pytest --broker kafka $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then \
		echo "test-kafka: CI needs java and mvn to run Apache Kafka"; exit 1; \
	else \
		echo "test-kafka: skipped: install Java 17 and Maven (e.g. apt-get install openjdk-17-jdk-headless maven)"; \
	fi

# Apache Kafka is the reference now; tansu stays for what only it has: no InitProducerId, so the
# service's non-idempotent mode (SHOP_KAFKA_IDEMPOTENCE=false) serves every endpoint end to end.
TANSU_TESTS := tests/service/test_api.py tests/service/test_events.py \
	tests/service/test_concurrency.py tests/service/test_poison.py tests/service/test_inputs.py
test-tansu: $(VENV)/.test-installed
	$(BIN)/pytest --broker tansu $(TANSU_TESTS) $(PYTEST_ARGS)

## The benchmark of bench/README.md (installs wrk from Debian when it is missing).
bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench $(BENCH_ARGS)

## Everything the commands above made: the venv, the embedded data, caches, Kafka's jars, bench output.
clean:
	rm -rf $(VENV) .shop-data apache-kafka/libs bench/out .pytest_cache .mypy_cache .ruff_cache \
		src/shop.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
