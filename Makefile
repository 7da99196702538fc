# `make run`: web + worker + two pollers on SQLite and a local Redis.  `make test`: the whole suite.
PYTHON ?= python3
# `PORT=8150 make run` serves on 8150; `make test` checks the Redis the tests use.
PORT ?= 8000
TEST_REDIS_URL ?= redis://127.0.0.1:6379/13
# Test processes in parallel (pytest-xdist); each uses the next Redis database after TEST_REDIS_URL's.
TEST_WORKERS ?= 2
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := chatcenter
# The Procfile's bare `gunicorn` and `python` must be the virtual environment's.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run test deps dev-deps redis test-redis db-upgrade bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file changed. The service needs requirements.txt;
# the tests add their tools (requirements-dev.txt), which production never installs.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

deps: $(VENV)/.installed

dev-deps: $(VENV)/.installed-dev

redis: deps
	PYTHON=$(BIN)/python scripts/ensure-redis

db-upgrade: deps
	$(BIN)/flask db upgrade

# scripts/run: Redis if needed, db upgrade, honcho; Ctrl-C stops the Redis it started.
run: deps
	BIN=$(BIN) PORT=$(PORT) scripts/run

test-redis: dev-deps
	REDIS_URL=$(TEST_REDIS_URL) PYTHON=$(BIN)/python scripts/ensure-redis

# The tests' Redis: started for the run when none answers, and stopped after it (a Redis
# that was already there, e.g. `make run`'s, is left alone).
test: dev-deps
	TEST_REDIS_URL=$(TEST_REDIS_URL) PYTHON=$(BIN)/python scripts/with-redis $(TEST_REDIS_URL) \
		$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

BENCH_SCRIPT ?= bench/run_all.py
bench: redis dev-deps
	@if [ -f $(BENCH_SCRIPT) ]; then $(BIN)/python $(BENCH_SCRIPT) $(BENCH); \
	else echo "no benchmarks yet ($(BENCH_SCRIPT) is missing): nothing to run" >&2; fi

clean:
	rm -rf $(VENV) .pytest_cache
