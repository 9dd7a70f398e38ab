# Two commands on a fresh machine: `make run` (with DISCORD_TOKEN set) and `make test`.
# Everything installs from uv.lock (exact versions and hashes) with a pinned uv, which is
# bootstrapped into .uv/ from uv-requirements.txt (hashed too) on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UV_HOME := .uv
UV := $(UV_HOME)/bin/uv

# uv builds $(VENV) with $(PYTHON) and never downloads an interpreter of its own.
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
# Compile the dependencies' bytecode once, at install: with PYTHONDONTWRITEBYTECODE set (as in
# many shells and images) every process would otherwise compile them again (~2 s per start).
export UV_COMPILE_BYTECODE := 1

.PHONY: run test lint bench install lock upgrade hooks clean

$(UV): uv-requirements.txt
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet --require-hashes --no-deps -r uv-requirements.txt
	touch $@

# --locked: install exactly uv.lock, and stop if it no longer matches pyproject.toml.
$(BIN)/.synced: pyproject.toml uv.lock $(UV)
	$(UV) sync --locked
	touch $@

install: $(BIN)/.synced

# After editing dependencies in pyproject.toml: `make lock`; to take newer releases within
# the ranges pyproject.toml allows: `make upgrade`. Commit uv.lock either way.
lock: $(UV)
	$(UV) lock

upgrade: $(UV)
	$(UV) lock --upgrade

hooks: $(BIN)/.synced
	$(BIN)/pre-commit install

run: $(BIN)/.synced
	$(BIN)/milestone-bot run

lint: $(BIN)/.synced
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/vulture

# The whole suite runs a second time on a throwaway PostgreSQL cluster (tests/support/pg.py)
# when the server binaries are installed: every test's database is then a PostgreSQL one,
# end to end included, and the two-shard-process test runs. Tests of SQLite itself skip there
# (the `sqlite_only` fixture); so do those that pick both databases themselves (`db copy`).

# In CI (CI set, and not "false" or "0") missing server binaries fail the run instead of
# skipping it: .ci/run installs them, so a green CI always includes PostgreSQL.
#
# The two runs go side by side (most of a test's time is spent waiting on processes, sockets
# and timers, not on the CPU), each printing its own output when it ends.
test: lint
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "$(BIN)/pytest -q  &  TEST_BACKEND=postgres $(BIN)/pytest -q"; \
		log=$$(mktemp); \
		TEST_BACKEND=postgres $(BIN)/pytest -q -p no:cacheprovider >"$$log" 2>&1 & pg=$$!; \
		$(BIN)/pytest -q; sqlite=$$?; \
		wait $$pg; postgres=$$?; \
		echo "--- TEST_BACKEND=postgres $(BIN)/pytest -q"; cat "$$log"; rm -f "$$log"; \
		[ $$sqlite = 0 ] && [ $$postgres = 0 ]; \
	elif [ -n "$$CI" ] && [ "$$CI" != false ] && [ "$$CI" != 0 ]; then \
		echo "CI=$$CI: no PostgreSQL server binaries (initdb) found, so the PostgreSQL run cannot happen." >&2; \
		echo "Install them (Debian: apt-get install postgresql; .ci/run does this) or put initdb on PATH." >&2; \
		exit 1; \
	else \
		$(BIN)/pytest -q; \
		echo "PostgreSQL run skipped: no PostgreSQL server binaries (initdb) found."; \
	fi

bench: $(BIN)/.synced
	$(BIN)/python benchmarks/bench_db.py

clean:
	rm -rf $(VENV) $(UV_HOME) .pytest_cache .mypy_cache .ruff_cache
