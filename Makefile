# Statehouse: `make run` serves on an embedded SQLite database, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
BUF := node_modules/.bin/buf
ADDRESS ?= 127.0.0.1:50051

.PHONY: help venv node run test unit integration lint format protos check-protos bench clean

help:
	@echo "make run      create the environment and serve on $(ADDRESS) (SQLite in ./data)"
	@echo "make test     create the environment, lint, type-check and run every test"
	@echo "make protos   regenerate client/src/statehouse/v1 from protos/"
	@echo "make lint     buf lint, ruff, mypy"
	@echo "make bench    measure the service against a plain echo server"

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

venv: $(VENV)/.installed
node: node_modules/.installed

run: venv
	$(BIN)/statehouse serve --address $(ADDRESS)

lint: venv node
	$(BUF) lint
	$(BUF) format --diff --exit-code
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv node
	$(BUF) format -w
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/pytest

unit: venv
	$(BIN)/pytest tests/unit

integration: venv
	$(BIN)/pytest tests/integration

protos: venv
	$(PY) tools/gen_protos.py

bench: venv
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache data
