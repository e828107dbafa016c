# fastboard — the two commands a newcomer needs are `make run` and `make test`.
# Everything installs into .venv from the pinned, hashed requirements.lock.

SHELL := /bin/bash
HOST ?= 127.0.0.1
# PORT: 8000 for `make run` and `make serve`, 8080 for `make stack` unless given.
VENV := .venv
BIN := $(VENV)/bin
# The first Python 3.11+ on PATH (Debian 12 ships 3.11 as python3).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)

.PHONY: install run test lint typecheck pytest lock clean screenshots fuzz

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "fastboard needs Python 3.11 or newer on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# uv installs the locked, hashed set in seconds where pip takes half a minute. Bytecode is
# compiled at install, as pip does: every server and CLI the tests start would otherwise
# compile its imports again.
UV_VERSION := 0.13.8

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python --require-hashes -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

install: $(VENV)/.installed

## run: the dev server on http://$(HOST):8000, SQLite under var/, migrated on start
run: install
	$(BIN)/uvicorn main:app --reload --host $(HOST) --port $(or $(PORT),8000)

## test: lint, type-check and the whole test suite
test: install lint typecheck pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

## fuzz: Schemathesis on every operation, far longer than `make test` does (tests/fuzz/):
## FUZZ_EXAMPLES per operation, on PostgreSQL (FASTBOARD_TEST_DATABASE_URL, the local
## server by default); FUZZ_DATABASE=sqlite for a machine without one
FUZZ_EXAMPLES ?= 1000
FUZZ_DATABASE ?= postgresql
fuzz: install
	FASTBOARD_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FASTBOARD_FUZZ_DATABASE=$(FUZZ_DATABASE) \
	FASTBOARD_TEST_DATABASE_URL=$${FASTBOARD_TEST_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/postgres} \
	$(BIN)/pytest tests/fuzz -p no:cacheprovider -q -s

## screenshots: the README's pictures of the web UI (docs/screenshots/), from a fresh dev server
screenshots: install
	$(BIN)/python -m dev.screenshots

## lock: re-pin every dependency after editing pyproject.toml (dev lock and runtime lock)
lock: install
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -o requirements.prod.lock

include deploy/make/stack.mk
include bench/bench.mk

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache
