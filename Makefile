# StealthFlow Observability: developer entry points.
#
#   make run              .venv, Redis + Elasticsearch, API (gunicorn) and one worker
#   make test             .venv, services up, ruff, ruff format --check, mypy, pytest
#   make bench            throughput/latency/memory benchmark, writes BENCHMARKS.md (BENCH_ARGS="--logs 20000 ...")
#   make lint             ruff, ruff format --check, mypy
#   make format           ruff format + ruff check --fix
#   make services-up / services-down / services-status
#   make clean            remove .venv and tool caches (keeps .services data and the .cache download)
#   make distclean        clean + stop services + remove .services and .cache
#
# .venv is (re)built from requirements*.txt; a stamp inside it records the last install.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements.stamp
TYPED := app worker common

.PHONY: help venv run test bench lint format services-up services-down services-status clean distclean

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

$(BIN)/python:
	$(PYTHON) -m venv --clear $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	@# A .venv copied from elsewhere or left by another Python: rebuild it.
	@$(BIN)/python -c 'import sys' 2>/dev/null || { echo "$(VENV) is broken; recreating it"; $(PYTHON) -m venv --clear $(VENV); }
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $@

venv: $(STAMP)

run: $(STAMP)
	scripts/run.sh

test: $(STAMP) services-up lint
	$(BIN)/pytest

bench: $(STAMP) services-up
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(TYPED)

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

services-up:
	scripts/services.sh up

services-down:
	scripts/services.sh down

services-status:
	scripts/services.sh status

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
	find . -path ./.services -prune -o -path ./.cache -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean services-down
	rm -rf .services .cache
