# Two commands on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
export FLASK_APP := wsgi

.PHONY: install run test lint format worker

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

## Start the app with demo data at http://127.0.0.1:8000 (SQLite + in-process store by default).
run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo
	$(BIN)/flask run --host 127.0.0.1 --port 8000

## Lint, check nginx.conf, run every test on SQLite and on PostgreSQL (starts Redis if needed).
test: install
	VENV=$(VENV) bash scripts/test.sh

## Deliver notifications (needs REDIS_URL): RQ worker on both queues plus the sweeper.
worker: install
	$(BIN)/flask notifications-worker

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
