"""Seed a large server and time `/config insights`' database work through the real service.

Usage (from the repository root)::

    python benchmarks/bench_insights.py [--members 100000] [--completions 5000000]
                                        [--db PATH] [--samples 2000]

1. Seeds with `bench_db.seed` (one big server and a small one, consistent counters), then adds
   what insights count: twelve weekly check-in cycles answered by a share of the members,
   self-assessments for a fifth of them, and each member's last active day. The insight
   counters are then built by `insights.rebuild`, the recount the tests compare the live
   counters with.
2. Times `InsightsService.overview` (every figure of the page) and `inactive_page` (the first
   pages mostly, deep ones too) on a real `Database(url)`: p50 and p99 in milliseconds,
   target p99 < 50 ms.

This is a script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_db import BIG_GUILD, SMALL_GUILD, Series, TimeFormat, seed, sqlite_url

from bot.db import Database
from bot.roadmap import load_roadmap
from bot.services import insights
from bot.services.insights import InsightsService

TARGET_MS = 50.0
CYCLES = 12
ANSWER_SHARE = 0.15  # members answering a given check-in
ASSESSED_SHARE = 0.20  # members who ever assessed themselves
US = 1_000_000


def add_insight_data(path: Path, rng: random.Random, now: dt.datetime) -> dict[str, int]:
    """Check-in cycles and answers, assessments, last active days; then the counters."""
    roadmap = load_roadmap()
    fmt = TimeFormat()
    conn = sqlite3.connect(path, isolation_level=None)
    written = {"cycles": 0, "answers": 0, "assessments": 0, "ratings": 0}
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        users = [
            u
            for (u,) in conn.execute("SELECT user_id FROM members WHERE guild_id = ?", (BIG_GUILD,))
        ]
        answers = []
        for week in range(CYCLES, 0, -1):
            opens = now - dt.timedelta(weeks=week)
            opens_us = int(opens.timestamp() * US)
            closes_us = opens_us + 48 * 3600 * US
            cycle_id = conn.execute(
                "INSERT INTO checkin_cycles (guild_id, channel_id, opens_at, closes_at, closed_at,"
                " answer_count) VALUES (?, 1, ?, ?, ?, 0)",
                (BIG_GUILD, fmt(opens_us), fmt(closes_us), fmt(closes_us)),
            ).lastrowid
            written["cycles"] += 1
            for user in rng.sample(users, int(len(users) * ANSWER_SHARE)):
                at = fmt(opens_us + rng.randrange(48 * 3600 * US))
                answers.append((cycle_id, user, BIG_GUILD, "learned things", at, at))
        conn.executemany(
            "INSERT INTO checkin_answers (cycle_id, user_id, guild_id, learned, built, milestones,"
            " feedback, hours, submitted_at, updated_at) VALUES (?, ?, ?, ?, '', '', '', 2, ?, ?)",
            answers,
        )
        written["answers"] = len(answers)
        metrics = [m.id for m in roadmap.metrics]
        assessments, ratings = [], []
        for user in rng.sample(users, int(len(users) * ASSESSED_SHARE)):
            days = sorted(
                {
                    (now - dt.timedelta(days=rng.randrange(365))).date()
                    for _ in range(rng.randint(1, 4))
                }
            )
            level = rng.randint(1, 4)
            for day in days:
                at = fmt(int(dt.datetime.combine(day, dt.time(12), dt.UTC).timestamp() * US))
                assessments.append((BIG_GUILD, user, day.isoformat(), at))
                level = max(1, min(5, level + rng.choice((0, 0, 1))))
                for metric in rng.sample(metrics, rng.randint(10, 15)):
                    ratings.append((BIG_GUILD, user, day.isoformat(), metric, level))
        conn.executemany(
            "INSERT INTO assessments (guild_id, user_id, taken_on, saved_at) VALUES (?, ?, ?, ?)",
            assessments,
        )
        conn.executemany(
            "INSERT INTO assessment_ratings (guild_id, user_id, taken_on, metric_id, rating)"
            " VALUES (?, ?, ?, ?, ?)",
            ratings,
        )
        written["assessments"], written["ratings"] = len(assessments), len(ratings)
        # Last active day: the latest completion or answer, else the day the member appeared.
        conn.execute(
            "UPDATE members SET last_active_on = substr(max(created_at,"
            " coalesce(last_completed_at, created_at), coalesce((SELECT max(a.updated_at)"
            " FROM checkin_answers a WHERE a.guild_id = members.guild_id"
            " AND a.user_id = members.user_id), created_at)), 1, 10)"
        )
        conn.execute(
            "UPDATE members SET last_assessed_on = (SELECT max(taken_on) FROM assessments a"
            " WHERE a.guild_id = members.guild_id AND a.user_id = members.user_id)"
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    engine = create_engine(f"sqlite:///{path}")
    with Session(engine) as s, s.begin():
        for guild_id in (BIG_GUILD, SMALL_GUILD):
            insights.rebuild(s, guild_id)
    engine.dispose()
    conn = sqlite3.connect(path)
    conn.execute("ANALYZE")
    conn.close()
    return written


async def measure(path: Path, samples: int) -> tuple[list[Series], list[str]]:
    """Time the two reads of `/config insights`."""
    roadmap = load_roadmap()
    db = Database(sqlite_url(path))
    service = InsightsService(db, roadmap)
    notes: list[str] = []
    rng = random.Random(3)
    series: list[Series] = []
    try:
        first = await service.overview(BIG_GUILD)
        pages = (await service.inactive_page(BIG_GUILD)).pages
        notes.append(
            f"{first.members} members ({first.hidden} hidden), per level {first.per_level},"
            f" {first.inactive} inactive 4+ weeks ({first.inactive_shown} listed, {pages} pages),"
            f" {len(first.participation)} cycles,"
            f" median months to levels {[t.median_months for t in first.level_times]}"
        )

        async def run(name: str, op: Callable[[int], Awaitable[object]]) -> None:
            for i in range(30):  # warm-up
                await op(-1 - i)
            s = Series(name)
            for i in range(samples):
                start = time.perf_counter()
                await op(i)
                s.times.append((time.perf_counter() - start) * 1000)
            series.append(s)

        await run("insights overview", lambda _i: service.overview(BIG_GUILD))

        def some_page(i: int) -> Awaitable[object]:
            deep = i % 5 == 4
            page = rng.randrange(pages) if deep else rng.randrange(min(pages, 5))
            return service.inactive_page(BIG_GUILD, page)

        await run("inactive members, a page", some_page)
        await run("insights overview, small server", lambda _i: service.overview(SMALL_GUILD))
    finally:
        await db.dispose()
    return series, notes


def report(series: list[Series], notes: list[str]) -> None:
    """Print the notes and the table."""
    for note in notes:
        print(f"  {note}")
    print(
        f"\n{'operation (database work)':<36} {'samples':>7} {'p50 ms':>8} {'p99 ms':>8}"
        f"  target p99<{TARGET_MS:.0f}ms"
    )
    print("-" * 80)
    for s in series:
        p50, p99 = statistics.median(s.times), s.p(0.99)
        verdict = "PASS" if p99 < TARGET_MS else "FAIL"
        print(f"{s.name:<36} {len(s.times):>7} {p50:>8.2f} {p99:>8.2f}  {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--completions", type=int, default=5_000_000)
    parser.add_argument("--db", type=Path, help="database file (default: a temporary file)")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--reuse", action="store_true", help="measure an already seeded --db")
    args = parser.parse_args(argv)
    print(f"SQLite {sqlite3.sqlite_version}, Python {platform.python_version()}, ", end="")
    print(f"{os.cpu_count()} cores, {platform.machine()} {platform.system()}")
    temp = None
    if args.db is None:
        temp = tempfile.TemporaryDirectory(prefix="bench_insights_", dir="/tmp")
        path = Path(temp.name) / "bench.db"
    else:
        path = args.db
        if path.exists() and not args.reuse:
            parser.error(f"{path} exists: remove it first, or pass --reuse to measure it")
    try:
        if args.reuse:
            series, notes = asyncio.run(measure(path, args.samples))
            report(series, notes)
            return 0
        rng = random.Random(args.seed)
        start = time.perf_counter()
        stats = seed(path, args.members, args.completions, rng)
        print(
            f"seeded {stats.members} members, {stats.completions} completions"
            f" in {time.perf_counter() - start:.1f} s"
        )
        start = time.perf_counter()
        written = add_insight_data(path, rng, stats.now)
        print(
            "added "
            + ", ".join(f"{v} {k}" for k, v in written.items())
            + f" and built the insight counters in {time.perf_counter() - start:.1f} s"
        )
        series, notes = asyncio.run(measure(path, args.samples))
        report(series, notes)
    finally:
        if temp is not None:
            temp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
