# `make run`: web + worker + cron on SQLite and a local Redis.  `make test`: the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := chatcenter
# The Procfile's bare `gunicorn` and `python` must be the virtual environment's.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run test deps redis db-upgrade bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when requirements.txt changed.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

deps: $(VENV)/.installed

redis: deps
	PYTHON=$(BIN)/python scripts/ensure-redis

db-upgrade: deps
	$(BIN)/flask db upgrade

run: redis db-upgrade
	$(BIN)/honcho start -f Procfile --port 8000

test: redis
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: redis
	$(BIN)/python bench/run_all.py $(BENCH)

clean:
	rm -rf $(VENV) .pytest_cache
