"""Fixtures for the database tools: a PostgreSQL server even when TEST_BACKEND is sqlite."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from tests.support.pg import PostgresCluster, find_bin_dir, running_cluster

_numbers = itertools.count(1)


@pytest.fixture
def own_databases(pg_cluster: PostgresCluster | None) -> None:
    """For tests that make their own SQLite and PostgreSQL databases, whatever TEST_BACKEND
    says (db copy): the PostgreSQL pass would repeat them exactly, so only the first runs them.
    """
    if pg_cluster is not None:
        pytest.skip("makes its own SQLite and PostgreSQL databases: the SQLite pass runs it")


@pytest.fixture(scope="session")
def pg_server(pg_cluster: PostgresCluster | None) -> Iterator[PostgresCluster]:
    """The session's PostgreSQL cluster, or one of our own; skipped only without binaries."""
    if pg_cluster is not None:
        yield pg_cluster
        return
    if find_bin_dir() is None:
        pytest.skip("no PostgreSQL server binaries (initdb) installed")
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def empty_pg(pg_server: PostgresCluster) -> Iterator[Callable[[], str]]:
    """Makes empty PostgreSQL databases (no schema) and drops them after the test."""
    made: list[str] = []

    def make() -> str:
        name = f"copy_{next(_numbers)}"
        pg_server.create_database(name)
        made.append(name)
        return pg_server.url(name)

    yield make
    for name in made:
        pg_server.drop_database(name)
