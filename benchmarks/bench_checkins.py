"""Benchmark: open and close a weekly check-in in a server where 10,000 members answer.

    python benchmarks/bench_checkins.py [--members 10000] [--weeks 12] [--rounds 5]

Seeds one server with `--members` members and `--weeks` past weekly cycles (most members
answered most weeks, so streaks are long), then times, over several rounds on a fresh
cycle each: opening the cycle, the nudge query, and closing it with its summary (answers,
streaks, hours, milestones, level-ups). All of it is database work through the real
services; the target is open + close under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bot.db import Database
from bot.db.migrate import upgrade
from bot.services.checkins import CheckinService


class FakeClock:
    """The benchmark's clock: each step happens at the time the scenario says."""

    def __init__(self, start: dt.datetime) -> None:
        self.current = start

    def now(self) -> dt.datetime:
        return self.current

    def set(self, when: dt.datetime) -> None:
        self.current = when


GUILD = 424242
START = dt.datetime(2026, 1, 5, 18, 0, tzinfo=dt.UTC)  # a Monday
WEEK = dt.timedelta(days=7)
TARGET_S = 1.0


def stamp(moment: dt.datetime) -> str:
    """SQLAlchemy's SQLite text form of a naive UTC datetime."""
    return (
        moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    )


def seed(path: Path, members: int, weeks: int, rng: random.Random) -> None:
    """Members, past cycles with answers, this period's completions and level-ups."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    with con:
        con.execute(
            "INSERT INTO guild_settings (guild_id, level_threshold, checkins_enabled,"
            " checkin_channel_id, checkin_weekday, checkin_time, checkin_open_hours,"
            " reminders_enabled, updated_at) VALUES (?, 100, 1, 1, 0, '18:00', 48, 0, ?)",
            (GUILD, stamp(START)),
        )
        con.executemany(
            "INSERT INTO members (guild_id, user_id, display_name, hidden, completed_count,"
            " level, reminders_subscribed, dm_failure_told, created_at)"
            " VALUES (?, ?, ?, 0, 0, 0, ?, 0, ?)",
            [(GUILD, u, f"member{u}", u % 3 == 0, stamp(START)) for u in range(1, members + 1)],
        )
        for week in range(weeks):
            opens = START + week * WEEK
            cur = con.execute(
                "INSERT INTO checkin_cycles (guild_id, channel_id, opens_at, closes_at, closed_at)"
                " VALUES (?, 1, ?, ?, ?)",
                (
                    GUILD,
                    stamp(opens),
                    stamp(opens + 2 * dt.timedelta(days=1)),
                    stamp(opens + 2 * dt.timedelta(days=1)),
                ),
            )
            cycle_id = cur.lastrowid
            con.executemany(
                "INSERT INTO checkin_answers (cycle_id, user_id, guild_id, learned, built,"
                " milestones, feedback, hours, submitted_at, updated_at)"
                " VALUES (?, ?, ?, 'spark', 'a pipeline', '', '', ?, ?, ?)",
                [
                    (cycle_id, u, GUILD, rng.choice((1, 2, 3.5, 5)), stamp(opens), stamp(opens))
                    for u in range(1, members + 1)
                    if rng.random() < 0.85
                ],
            )
    con.close()


def answer_all(path: Path, cycle_id: int, opens: dt.datetime, members: int) -> None:
    """Members 1..`members` answer the open cycle, complete an item, some reach a level."""
    con = sqlite3.connect(path)
    with con:
        con.executemany(
            "INSERT OR IGNORE INTO checkin_answers (cycle_id, user_id, guild_id, learned, built,"
            " milestones, feedback, hours, submitted_at, updated_at)"
            " VALUES (?, ?, ?, 'dbt', 'a model', 'l2.check.spark-job', '', 2.5, ?, ?)",
            [(cycle_id, u, GUILD, stamp(opens), stamp(opens)) for u in range(1, members + 1)],
        )
        con.executemany(
            "INSERT OR IGNORE INTO completions (guild_id, user_id, item_id, completed_at)"
            " VALUES (?, ?, ?, ?)",
            [
                (GUILD, u, f"bench.{cycle_id}", stamp(opens + dt.timedelta(hours=1)))
                for u in range(1, members + 1)
            ],
        )
        con.executemany(
            "INSERT OR IGNORE INTO level_announcements (guild_id, user_id, level, reached_at)"
            " VALUES (?, ?, 1, ?)",
            [(GUILD, u, stamp(opens + dt.timedelta(hours=2))) for u in range(1, members + 1, 50)],
        )
    con.close()


async def measure(
    url: str, path: Path, members: int, weeks: int, rounds: int
) -> dict[str, list[float]]:
    db = Database(url)
    clock = FakeClock(START)
    service = CheckinService(db, clock)
    times: dict[str, list[float]] = {"open": [], "nudge query": [], "close + summary": []}
    try:
        for r in range(rounds):
            opens = START + (weeks + r) * WEEK
            t0 = time.perf_counter()
            clock.set(opens)
            cycle = await service.open_cycle(GUILD, opens_at=opens)
            times["open"].append(time.perf_counter() - t0)
            assert cycle is not None
            answer_all(path, cycle.id, opens, members // 2)
            t0 = time.perf_counter()
            clock.set(opens + dt.timedelta(hours=36))
            await service.nudge_targets(cycle.id)
            times["nudge query"].append(time.perf_counter() - t0)
            answer_all(path, cycle.id, opens, members)  # the rest answer after the nudge
            t0 = time.perf_counter()
            clock.set(cycle.closes_at)
            summary = await service.close_cycle(cycle.id)
            times["close + summary"].append(time.perf_counter() - t0)
            assert summary is not None and summary.answered == members, summary
    finally:
        await db.dispose()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--weeks", type=int, default=12, help="past cycles (streak history)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db", type=Path, help="SQLite file to create (default: a temp file)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-checkins-"))
    path = args.db or folder / "bench.sqlite3"
    path.unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    t0 = time.perf_counter()
    seed(path, args.members, args.weeks, random.Random(7))
    seconds = time.perf_counter() - t0
    print(f"seeded {args.members:,} members and {args.weeks} past cycles in {seconds:.1f} s")
    print(f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} cores")

    times = asyncio.run(measure(url, path, args.members, args.weeks, args.rounds))
    print(f"\n{'operation':<18} {'rounds':>6} {'median ms':>10} {'max ms':>8}")
    for name, values in times.items():
        median, worst_ms = statistics.median(values) * 1000, max(values) * 1000
        print(f"{name:<18} {len(values):>6} {median:>10.1f} {worst_ms:>8.1f}")
    worst = max(o + c for o, c in zip(times["open"], times["close + summary"], strict=True))
    verdict = "PASS" if worst < TARGET_S else "FAIL"
    target = TARGET_S * 1000
    print(
        f"\nopen + close, worst round: {worst * 1000:.0f} ms (target < {target:.0f} ms): {verdict}"
    )


if __name__ == "__main__":
    main()
