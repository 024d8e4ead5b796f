# relayhub — the two quick-start commands are `make demo` and `make test`.
# Each installs what it needs into .venv (and, once the EVM tier lands, npm packages
# pinned by package-lock.json) before it runs.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench-quick install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/relayhub demo

lint: $(STAMP)
	$(VENV)/bin/ruff check relay adapters appchains benchmarks tests
	$(VENV)/bin/ruff format --check relay adapters appchains benchmarks tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(VENV)/bin/pytest -q

test: lint typecheck unit

bench-quick: $(STAMP)
	$(PY) benchmarks/relay_ingest.py --quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
