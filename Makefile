# relayhub — the two quick-start commands are `make demo` and `make test`.
# Each installs what it needs into .venv (and, once the EVM tier lands, npm packages
# pinned by package-lock.json) before it runs.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NPM_STAMP := node_modules/.installed

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

unit: $(STAMP) $(NPM_STAMP)
	$(VENV)/bin/pytest -q

test: lint typecheck unit

bench-quick: $(STAMP)
	$(PY) benchmarks/relay_ingest.py --quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# The real EVM peers (ganache 7, solcjs), pinned by package-lock.json. `npm ci` installs
# exactly the locked versions; the stamp reinstalls them when either file changes.
.PHONY: npm contracts

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NPM_STAMP)

npm: $(NPM_STAMP)

# Rebuild appchains/evm/artifacts/*.json from appchains/evm/contracts/*.sol (byte for byte).
contracts: $(STAMP) $(NPM_STAMP)
	$(PY) -m appchains.evm.build_contracts
