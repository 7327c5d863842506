# The two commands: `make run` and `make test`. Everything else is a step of those.
VENV      ?= .venv
PYTHON    ?= python3
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
export RJ_DATABASE_URL ?= sqlite+aiosqlite:///./rj.db
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test

.PHONY: run test install install-dev lint typecheck dockerlint test-sqlite test-postgres test-fuzz openapi migrate worker bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)
install-dev: $(DEV_STAMP)

## make run: install, migrate the embedded database, load demo data once, then serve the whole
## service on :8000: the API and, in the same process, the timed work (`serve` says what it started)
run: $(STAMP)
	@$(BIN)/rj-casework migrate
	@$(BIN)/rj-casework demo --if-empty
	@$(BIN)/rj-casework serve

migrate: $(STAMP)
	$(BIN)/rj-casework migrate

## make worker: the timed work on its own, beside a server run with RJ_TIMED_WORK=separate
worker: $(STAMP)
	$(BIN)/rj-casework worker

openapi: $(STAMP)
	$(BIN)/rj-casework openapi

## make test: lint, type-check, Dockerfile lint, the fuzzing, then the suite on SQLite and on PostgreSQL
test: lint typecheck dockerlint test-fuzz test-sqlite test-postgres

lint: $(DEV_STAMP)
	$(BIN)/ruff check app tests bench migrations
	$(BIN)/ruff format --check app tests bench migrations

typecheck: $(DEV_STAMP)
	$(BIN)/mypy app

dockerlint: $(DEV_STAMP)
	$(BIN)/hadolint Dockerfile

test-sqlite: $(DEV_STAMP)
	RJ_TEST_DATABASE_URL= $(BIN)/pytest -q -p no:cacheprovider

test-postgres: $(DEV_STAMP)
	@if $(BIN)/python -c "import socket,sys; s=socket.socket(); s.settimeout(2); sys.exit(s.connect_ex(('127.0.0.1',5432)))"; then \
		RJ_TEST_DATABASE_URL=$${RJ_TEST_DATABASE_URL:-$(PG_TEST_URL)} RJ_TEST_BACKEND=postgresql $(BIN)/pytest -q -p no:cacheprovider; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL is not reachable at 127.0.0.1:5432, and CI=true requires it" >&2; exit 1; \
	else \
		echo "PostgreSQL not reachable at 127.0.0.1:5432: the PostgreSQL pass is skipped (CI never skips it)"; \
	fi

## make test-fuzz: schemathesis against the real server from its own OpenAPI document, every phase
## (stateful included) and every check: as a practitioner on PostgreSQL (SQLite when PostgreSQL is
## not reachable outside CI), then as a rep and as an admin on SQLite. RJ_FUZZ_EXAMPLES and RJ_FUZZ_SEED change the run.
test-fuzz: $(DEV_STAMP)
	RJ_TEST_DATABASE_URL=$${RJ_TEST_DATABASE_URL:-$(PG_TEST_URL)} $(BIN)/python -m tests.fuzz.runner --role practitioner --backend auto
	$(BIN)/python -m tests.fuzz.runner --role rep --backend sqlite --max-examples 10
	$(BIN)/python -m tests.fuzz.runner --role admin --backend sqlite --max-examples 10

## make bench: the benchmark (needs PostgreSQL on 127.0.0.1:5432, wrk and pgbench; see docs/performance.md)
bench: $(DEV_STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	bench/run

clean:
	rm -rf $(VENV) rj.db rj.db-wal rj.db-shm demo-keys.txt .mypy_cache .ruff_cache
