# The two commands of the README: `make run` and `make test`.
# Both create .venv when missing and install billbridge into it; nothing else is needed by hand.
# `make test` is CI's command (lint, format check, mypy, the whole pytest); `make test-fast` is the
# day-to-day loop: the tests without the slow, browser and PostgreSQL ones (ARGS go to pytest).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test test-fast lint typecheck unit chromium clean

run: $(STAMP_RUN)
	$(BIN)/billbridge demo

test: $(STAMP_TEST) chromium lint typecheck unit

lint: $(STAMP_TEST)
	$(BIN)/ruff check $(wildcard src tests bench)
	$(BIN)/ruff format --check $(wildcard src tests bench)

typecheck: $(STAMP_TEST)
	$(BIN)/mypy

unit: $(STAMP_TEST)
	$(BIN)/pytest

FAST_MARKERS := not slow and not browser and not postgres

test-fast: $(STAMP_TEST)
	$(BIN)/pytest -q -m "$(FAST_MARKERS)" $(ARGS)

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "billbridge needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): $(VENV)/bin/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

$(STAMP_TEST): $(VENV)/bin/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@ $(STAMP_RUN)

# The browser tests drive Debian's Chromium (Playwright's own browser download needs the internet).
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); \
	else echo "chromium is missing and cannot be installed here: the browser tests will be skipped"; fi

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
