# LiftOS developer entry points. `make setup` once, then `make test` / `make up`.
PY ?= .venv/bin/python
export PYTHONPATH := $(CURDIR):$(CURDIR)/gen

.PHONY: setup gen lint test check up demo bench

setup:
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	npm ci --no-audit --no-fund --loglevel=error
	scripts/install-chromium.sh
	scripts/install-postgres.sh

gen:
	PYTHON=$(PY) scripts/gen.sh gen

lint:
	npx buf lint
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy mesh sim ingestion_svc memory_svc causal_svc llm_svc surfacing_svc

test:
	$(PY) -m pytest -q

# README's test command: set up from scratch, lint, run every test.
check: setup lint test

up: setup
	$(PY) -m mesh.cli up

# README's first command: set up, then run the whole mesh on the simulated world.
demo: setup
	$(PY) -m mesh.cli demo
