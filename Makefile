# Two commands on a fresh machine: `make run` (with DISCORD_TOKEN set) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench install clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

run: $(BIN)/.installed
	$(BIN)/milestone-bot run

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The service tests run a second time on a throwaway PostgreSQL cluster (tests/support/pg.py)
# when the server binaries are installed: the same migrations and services must work on both.
PG_TESTS := tests/services tests/scheduler

test: lint
	$(BIN)/pytest -q
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "TEST_BACKEND=postgres $(BIN)/pytest -q $(PG_TESTS)"; \
		TEST_BACKEND=postgres $(BIN)/pytest -q $(PG_TESTS); \
	else \
		echo "PostgreSQL service tests skipped: no PostgreSQL server binaries (initdb) found."; \
	fi

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_db.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
