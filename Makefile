# relayhub — the two quick-start commands are `make demo` and `make test`.
# Each installs what it needs into .venv (and, once the EVM tier lands, npm packages
# pinned by package-lock.json) before it runs.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NPM_STAMP := node_modules/.installed

.PHONY: demo test lint typecheck unit bench-quick install clean lock chromium

# Python packages come from requirements.lock (every transitive dependency pinned with
# its sha256: pip's hash-checking mode), then the project itself without dependencies.
# `make lock` regenerates the lock after a change to pyproject.toml's dependencies.
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) tools/lock.py

demo: $(STAMP)
	$(VENV)/bin/relayhub demo

lint: $(STAMP)
	$(VENV)/bin/ruff check relay adapters appchains benchmarks tests
	$(VENV)/bin/ruff format --check relay adapters appchains benchmarks tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP) $(NPM_STAMP) chromium
	$(VENV)/bin/pytest -q

test: lint typecheck unit

bench-quick: $(STAMP)
	$(VENV)/bin/relayhub bench run benchmarks/configs/relay-ingest-notary.toml --quick

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

# Debian's chromium, headless: tests/bench/test_bench_report.py opens a generated
# benchmark report in it. Installed when missing (the machines run as root); if it
# cannot be, that test skips, and fails under CI=true.
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -q && apt-get install -y -q chromium) \
		|| echo "chromium could not be installed: the report's browser test will skip (fail under CI=true)"
