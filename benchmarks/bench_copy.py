"""Measure `db copy`: a large seeded SQLite database to PostgreSQL and back.

Usage (from the repository root; needs the PostgreSQL server binaries, see tests/support/pg.py)::

    python benchmarks/bench_copy.py [--members 20000] [--completions 1000000] [--batch 5000]

Seeds a SQLite file with benchmarks/bench_db.py's seeder (counters consistent with the
completions), starts a throwaway PostgreSQL cluster, then runs the real `copy_database`
SQLite -> PostgreSQL -> SQLite and prints rows per second and the verification of each leg.
This is a script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_db import seed, sqlite_url
from bot.db.copy import CopyReport, copy_database
from tests.support.pg import running_cluster


def show(leg: str, report: CopyReport) -> None:
    rate = report.rows / report.seconds
    verdict = "verified" if report.ok else f"NOT verified: {report.counter_problems}"
    print(f"{leg}: {report.rows:,} rows in {report.seconds:.1f} s = {rate:,.0f} rows/s, {verdict}")
    biggest = max(report.tables, key=lambda t: t.source)
    print(f"    largest table {biggest.name}: {biggest.source:,} rows")


async def copy_both_ways(source: str, postgres: str, back: str, batch: int) -> None:
    started = time.perf_counter()
    show("SQLite -> PostgreSQL", await copy_database(source, postgres, batch_size=batch))
    show("PostgreSQL -> SQLite", await copy_database(postgres, back, batch_size=batch))
    print(f"both legs with migrations and verification: {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--completions", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5_000)
    args = parser.parse_args()
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="bench-copy-") as folder:
        path = Path(folder) / "laptop.sqlite3"
        started = time.perf_counter()
        seed(path, args.members, args.completions, random.Random(2026))
        size = path.stat().st_size / 2**20
        print(
            f"seeded {args.completions:,} completions in {time.perf_counter() - started:.0f} s "
            f"({size:.0f} MiB)"
        )
        with running_cluster() as cluster:
            cluster.create_database("bench")
            back = sqlite_url(Path(folder) / "back.sqlite3")
            asyncio.run(copy_both_ways(sqlite_url(path), cluster.url("bench"), back, args.batch))


if __name__ == "__main__":
    main()
