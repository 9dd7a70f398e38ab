"""Shared fixtures: a migrated database per test, copied from one migrated template.

SQLite by default (a file per test). With TEST_BACKEND=postgres, a PostgreSQL database per
test on a throwaway cluster (tests/support/pg.py), made with CREATE DATABASE ... TEMPLATE.
"""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.db import Database
from bot.db.migrate import upgrade
from bot.roadmap import Roadmap, load_roadmap
from tests.support.fakes import FakeClock
from tests.support.pg import PostgresCluster, postgres_requested, running_cluster

PG_TEMPLATE = "bot_template"
_pg_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster | None]:
    """With TEST_BACKEND=postgres: a throwaway PostgreSQL cluster for the session."""
    if not postgres_requested():
        yield None
        return
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def migrated_template(
    tmp_path_factory: pytest.TempPathFactory, pg_cluster: PostgresCluster | None
) -> Path | str:
    """Run the real migrations once; tests start from a copy of the result.

    SQLite: the path of a migrated file. PostgreSQL: the name of a migrated template database.
    """
    if pg_cluster is not None:
        pg_cluster.create_database(PG_TEMPLATE)
        upgrade(pg_cluster.url(PG_TEMPLATE))
        return PG_TEMPLATE
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def db_url(
    tmp_path: Path, migrated_template: Path | str, pg_cluster: PostgresCluster | None
) -> Iterator[str]:
    """A fresh, migrated database for this test: a SQLite file, or a PostgreSQL database."""
    if pg_cluster is not None:
        name = f"test_{next(_pg_database_numbers)}"
        pg_cluster.create_database(name, template=str(migrated_template))
        try:
            yield pg_cluster.url(name)
        finally:
            pg_cluster.drop_database(name)
        return
    path = tmp_path / "bot.sqlite3"
    shutil.copy(migrated_template, path)
    yield f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def empty_db_url(tmp_path: Path, pg_cluster: PostgresCluster | None) -> Iterator[str]:
    """A database with no schema at all, of this run's backend (for migration tests)."""
    if pg_cluster is not None:
        name = f"empty_{next(_pg_database_numbers)}"
        pg_cluster.create_database(name)
        try:
            yield pg_cluster.url(name)
        finally:
            pg_cluster.drop_database(name)
        return
    yield f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A Database on this test's own database (SQLite file or PostgreSQL database)."""
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture
def sqlite_only(pg_cluster: PostgresCluster | None) -> None:
    """Request this in a test that checks SQLite behaviour: it is skipped on PostgreSQL."""
    if pg_cluster is not None:
        pytest.skip("checks SQLite-specific behaviour; not applicable to PostgreSQL")


@pytest.fixture
def postgres_only(pg_cluster: PostgresCluster | None) -> PostgresCluster:
    """Request this in a test that needs PostgreSQL: it runs with TEST_BACKEND=postgres."""
    if pg_cluster is None:
        pytest.skip("needs PostgreSQL: runs with TEST_BACKEND=postgres (make test does)")
    return pg_cluster


@pytest.fixture
def clock() -> FakeClock:
    """A clock the test moves; hand it to every service the test builds."""
    return FakeClock(dt.datetime(2025, 3, 3, 12, 0, tzinfo=dt.UTC))


@pytest.fixture(scope="session")
def roadmap() -> Roadmap:
    """The shipped roadmap content."""
    return load_roadmap()
