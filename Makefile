# Taskplan. `make run` starts everything on embedded defaults; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install install-dev run test test-sqlite test-postgresql lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

# Browser assets come from the npm registry, pinned and checked against package-lock.json.
static/vendor/htmx.min.js: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js

install: $(VENV)/.installed static/vendor/htmx.min.js

install-dev: $(VENV)/.installed-dev static/vendor/htmx.min.js

run:
	@scripts/system-deps.sh run
	@$(MAKE) --no-print-directory install
	@scripts/run.sh

# The suite runs twice: against SQLite and against PostgreSQL (throwaway servers, free ports).
test:
	@scripts/system-deps.sh test
	@$(MAKE) --no-print-directory install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory test-sqlite test-postgresql

test-sqlite:
	TASKPLAN_TEST_DB=sqlite $(BIN)/pytest $(PYTEST_ARGS)

test-postgresql:
	TASKPLAN_TEST_DB=postgresql $(BIN)/pytest $(PYTEST_ARGS)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install-dev
	$(BIN)/python bench/bench_next_slot.py
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/bench_fire_lag.py

clean:
	rm -rf $(VENV) node_modules static/vendor
