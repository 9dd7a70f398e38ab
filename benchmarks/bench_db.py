"""Seed a large SQLite database and measure the bot's hot paths through the real services.

Usage (from the repository root)::

    python benchmarks/bench_db.py [--members 100000] [--completions 5000000] [--db PATH]
                                  [--samples 2000] [--explain]

1. Creates a fresh SQLite file, applies the real Alembic migrations, then bulk-loads one big
   server (and a small second one, so guild isolation matters) with the raw sqlite3 module.
   The counters the services maintain (completed_count, last_completed_at, level, the
   level_announcements rows, the score_buckets per completed count, the score_days per count
   and day, and the period_scores of the current week and month in the server's timezone)
   are written consistent with the completions, and checked against them after seeding.
   The big server has a timezone (America/New_York) so local week and month boundaries are
   exercised; the small one has none (UTC).
2. Measures p50/p99 latency of completing an item, a member's progress, all-time, weekly
   (and monthly) leaderboard pages and a member's rank, through ProgressService and
   LeaderboardService on a real `Database(url)`.
3. With --explain, records the SQL each operation emits and prints EXPLAIN QUERY PLAN and the
   raw time of each statement.

This is a script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import datetime as dt
import math
import os
import platform
import queue
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event

from bot.db import Database
from bot.db.migrate import upgrade
from bot.roadmap import Roadmap, load_roadmap
from bot.services.leaderboard import PAGE_SIZE, LeaderboardService, Period
from bot.services.progress import ProgressService, level_from_done
from bot.services.scores import PERIODS, period_bounds, period_start

BIG_GUILD = 900_000_000_000_000_001
SMALL_GUILD = 900_000_000_000_000_002
SMALL_MEMBERS = 3_000
SMALL_AVERAGE = 30  # completions per member in the small server
THRESHOLD = 100  # the default level threshold (the big server's settings row keeps it)
BIG_TIMEZONE = "America/New_York"  # the big server's timezone; the small one has none (UTC)
HISTORY_DAYS = 730  # completions spread over the last two years
ORDERINGS = 128  # distinct "paths through the roadmap" members follow
ZERO_SHARE = 0.08  # members who joined but never completed anything
HIDDEN_SHARE = 0.01  # members who hid themselves from the leaderboard
TARGET_MS = 10.0
WARMUP_SECONDS = 3.0  # warm-up per operation: at most 30 calls or this long
CHUNK = 200_000  # rows per executemany call
US = 1_000_000
DAY_US = 86_400 * US
EVIDENCE = "https://github.com/example/portfolio/pull/1"


# --------------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paths:
    """Precomputed orderings of the roadmap and the level each prefix of them reaches."""

    item_ids: tuple[str, ...]  # sorted, so a member's rows go in primary-key order
    orderings: tuple[tuple[int, ...], ...]  # positions in item_ids, in completion order
    level_at: tuple[tuple[int, ...], ...]  # level_at[o][k]: level after the first k items


def build_paths(roadmap: Roadmap, rng: random.Random) -> Paths:
    """Members mostly work level by level, checklist items last, with some wandering."""
    item_ids = tuple(sorted(item.id for item in roadmap.items))
    position = {item_id: i for i, item_id in enumerate(item_ids)}
    orderings: list[tuple[int, ...]] = []
    level_at: list[tuple[int, ...]] = []
    for _ in range(ORDERINGS):
        keyed = sorted(
            roadmap.items,
            key=lambda item: (
                item.level + (0.35 if item.is_checklist else 0.0) + rng.gauss(0.0, 0.6)
            ),
        )
        order = tuple(position[item.id] for item in keyed)
        levels = tuple(
            level_from_done(roadmap, (item_ids[p] for p in order[:k]), THRESHOLD)
            for k in range(len(order) + 1)
        )
        orderings.append(order)
        level_at.append(levels)
    return Paths(item_ids, tuple(orderings), tuple(level_at))


def draw_counts(rng: random.Random, members: int, total: int, cap: int) -> list[int]:
    """Skewed completions per member (lognormal, capped) summing exactly to `total`."""
    if total > members * cap:
        raise SystemExit(f"{total} completions cannot fit in {members} members x {cap} items")
    weights = [
        0.0 if rng.random() < ZERO_SHARE else rng.lognormvariate(0.0, 1.1) for _ in range(members)
    ]

    def count_at(scale: float) -> int:
        return sum(min(cap, int(w * scale)) for w in weights)

    lo, hi = 0.0, 1.0
    while count_at(hi) < total and hi < 1e12:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        if count_at(mid) < total:
            lo = mid
        else:
            hi = mid
    counts = [min(cap, int(w * lo)) for w in weights]
    diff = total - sum(counts)
    order = list(range(members))
    rng.shuffle(order)
    # Top up (or trim) members who already have some, then anyone with room if need be.
    for allow_zero in (False, True):
        for i in order:
            if diff == 0:
                break
            c = counts[i]
            if diff > 0 and c < cap and (c > 0 or allow_zero):
                counts[i] += 1
                diff -= 1
            elif diff < 0 and c > 1:
                counts[i] -= 1
                diff += 1
    if diff != 0:
        raise SystemExit("could not distribute completions")
    return counts


class TimeFormat:
    """Formats microseconds since the epoch the way SQLAlchemy's SQLite DATETIME stores them."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def __call__(self, us: int) -> str:
        day, rest = divmod(us, DAY_US)
        date = self._days.get(day)
        if date is None:
            date = (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()
            self._days[day] = date
        secs, micro = divmod(rest, US)
        h, secs = divmod(secs, 3600)
        m, secs = divmod(secs, 60)
        return f"{date} {h:02d}:{m:02d}:{secs:02d}.{micro:06d}"


Row = tuple[int, int, str, str, str | None]
INSERT_COMPLETION = (
    "INSERT INTO completions (guild_id, user_id, item_id, completed_at, evidence, granted_by)"
    " VALUES (?, ?, ?, ?, ?, NULL)"
)


@dataclass
class SeedStats:
    """What the seeding wrote, for the report."""

    members: int = 0
    completions: int = 0
    announcements: int = 0
    buckets: int = 0
    period_rows: dict[str, int] = field(default_factory=dict)
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    counts: list[int] = field(default_factory=list)
    timings: list[tuple[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Window:
    """The current week or month of a server: its key and where it starts."""

    period: str  # "week" or "month"
    starts_on: str  # local first day, as period_scores.starts_on stores it
    start_us: int  # its UTC start, microseconds since the epoch


def windows_at(now: dt.datetime, timezone: str | None) -> list[Window]:
    """The week and month containing `now` in a server's timezone (UTC when None)."""
    tz = ZoneInfo(timezone or "UTC")
    found = []
    for period in PERIODS:
        starts_on = period_start(period, now, tz)
        start = period_bounds(period, starts_on, tz)[0]
        found.append(Window(period, starts_on.isoformat(), int(start.timestamp()) * US))
    return found


@dataclass
class GuildData:
    """One server's member, announcement and counter rows (completions are streamed)."""

    guild_id: int
    timezone: str | None = None
    windows: list[Window] = field(default_factory=list)
    members: list[tuple[Any, ...]] = field(default_factory=list)
    announcements: list[tuple[int, int, int, str]] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    buckets: dict[int, int] = field(default_factory=dict)  # n -> shown members with n done
    # (n, UTC day of the latest completion) -> shown members
    days: dict[tuple[int, str], int] = field(default_factory=dict)
    # period -> (guild_id, period, starts_on, user_id, n, last_at, hidden), in key order
    period_rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)


def generate_guild(
    rng: random.Random,
    paths: Paths,
    data: GuildData,
    members: int,
    completions: int,
    anchor_us: int,
    emit: Callable[[list[Row]], None],
) -> None:
    """Generate one server: completions go to `emit` in primary-key order, by chunks."""
    fmt = TimeFormat()
    guild_id = data.guild_id
    cap = len(paths.item_ids)
    data.counts = counts = draw_counts(rng, members, completions, cap)
    user_ids = sorted(rng.sample(range(10**17, 10**18), members))
    span = HISTORY_DAYS * DAY_US
    ids = paths.item_ids
    rows: list[Row] = []
    for n, (uid, k) in enumerate(zip(user_ids, counts, strict=True)):
        # Joins skew recent (the server grows); 45% are still active, the rest drifted away.
        age = int(span * rng.random() ** 1.6) + DAY_US
        join = anchor_us - age
        if rng.random() < 0.45:
            end = anchor_us - min(age - 1, int(rng.expovariate(1.0 / (5 * DAY_US))))
        else:
            end = join + 1 + int(rng.random() * (age - 1))
        o = rng.randrange(ORDERINGS)
        order = paths.orderings[o]
        levels = paths.level_at[o]
        last: str | None = None
        if k:
            times = sorted([rng.randrange(join, end) for _ in range(k)])
            for p, t in sorted(zip(order[:k], times, strict=True)):
                rows.append(
                    (guild_id, uid, ids[p], fmt(t), EVIDENCE if (uid + p) % 37 == 0 else None)
                )
            last = fmt(times[-1])
            reached = 0
            for j in range(1, k + 1):
                while levels[j] > reached:
                    reached += 1
                    data.announcements.append((guild_id, uid, reached, fmt(times[j - 1])))
            if len(rows) >= CHUNK:
                emit(rows)
                rows = []
        hidden = 1 if rng.random() < HIDDEN_SHARE else 0
        if k:
            if not hidden:
                data.buckets[k] = data.buckets.get(k, 0) + 1
                assert last is not None
                day = (k, last[:10])
                data.days[day] = data.days.get(day, 0) + 1
            for w in data.windows:
                # Every seeded time is before "now", so the window is [start, now): the
                # member's completions since its start, the latest being their last overall.
                n_in = k - bisect.bisect_left(times, w.start_us)
                if n_in:
                    rows_of = data.period_rows.setdefault(w.period, [])
                    rows_of.append((guild_id, w.period, w.starts_on, uid, n_in, last, hidden))
        joined = fmt(join)
        data.members.append(
            (guild_id, uid, f"member{n:06d}", joined[:10], hidden, k, last, levels[k], joined)
        )
    if rows:
        emit(rows)


def seed(path: Path, members: int, completions: int, rng: random.Random) -> SeedStats:
    """Create, migrate and fill the database; return what was written."""
    stats = SeedStats()
    start = time.perf_counter()
    mark = start

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        stats.timings.append((name, now - mark))
        mark = now

    upgrade(sqlite_url(path))
    lap("migrations")
    roadmap = load_roadmap()
    paths = build_paths(roadmap, rng)
    now = dt.datetime.now(dt.UTC)
    stats.now = now
    anchor_us = int(now.timestamp() * US) - 60 * US  # every seeded time is in the past
    lap("roadmap paths")

    # Guild ids ascend, user ids ascend, item ids ascend: primary keys are only appended.
    big = GuildData(BIG_GUILD, BIG_TIMEZONE, windows_at(now, BIG_TIMEZONE))
    small = GuildData(SMALL_GUILD, None, windows_at(now, None))
    specs = [(big, members, completions)]
    specs.append((small, SMALL_MEMBERS, SMALL_MEMBERS * SMALL_AVERAGE))
    chunks: queue.Queue[list[Row] | None] = queue.Queue(maxsize=4)
    failures: list[BaseException] = []

    def produce() -> None:
        # Python builds rows on this thread while sqlite3 (which releases the GIL) inserts.
        try:
            for data, n_members, n_completions in specs:
                generate_guild(rng, paths, data, n_members, n_completions, anchor_us, chunks.put)
        except BaseException as exc:
            failures.append(exc)
        finally:
            chunks.put(None)

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # A fresh file nobody else uses: no journal, no fsync while loading.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("PRAGMA cache_size=-1000000")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA threads=2")
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN ('completions', 'members', 'level_announcements',"
            " 'score_buckets', 'score_days', 'period_scores')"
        ).fetchall()
        conn.execute("BEGIN")
        for name, _sql in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        producer = threading.Thread(target=produce, name="seed-producer")
        producer.start()
        while (chunk := chunks.get()) is not None:
            conn.executemany(INSERT_COMPLETION, chunk)
        producer.join()
        if failures:
            raise failures[0]
        for data, _n_members, n_completions in specs:
            conn.executemany(
                "INSERT INTO members (guild_id, user_id, display_name, started_on, timezone,"
                " hidden, completed_count, last_completed_at, level, away_until,"
                " reminders_subscribed, reminder_weekday, reminder_time, dm_failed_at,"
                " dm_failure_told, created_at)"
                " VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, NULL, 0, NULL, NULL, NULL, 0, ?)",
                data.members,
            )
            conn.executemany(
                "INSERT INTO level_announcements (guild_id, user_id, level, reached_at)"
                " VALUES (?, ?, ?, ?)",
                data.announcements,
            )
            conn.executemany(
                "INSERT INTO score_buckets (guild_id, n, members) VALUES (?, ?, ?)",
                [(data.guild_id, n, shown) for n, shown in sorted(data.buckets.items())],
            )
            conn.executemany(
                "INSERT INTO score_days (guild_id, n, day, members) VALUES (?, ?, ?, ?)",
                [(data.guild_id, n, day, shown) for (n, day), shown in sorted(data.days.items())],
            )
            for period in sorted(data.period_rows):  # "month" < "week": key order
                conn.executemany(
                    "INSERT INTO period_scores (guild_id, period, starts_on, user_id, n,"
                    " last_at, hidden) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    data.period_rows[period],
                )
                stats.period_rows[period] = stats.period_rows.get(period, 0) + len(
                    data.period_rows[period]
                )
            conn.executemany(
                "INSERT INTO period_totals (guild_id, period, starts_on, members)"
                " VALUES (?, ?, ?, ?)",
                [
                    (data.guild_id, period, rows[0][2], sum(1 for r in rows if not r[6]))
                    for period, rows in sorted(data.period_rows.items())
                    if rows
                ],
            )
            if data.timezone is not None:
                conn.execute(
                    "INSERT INTO guild_settings (guild_id, timezone, level_threshold,"
                    " checkins_enabled, checkin_open_hours, reminders_enabled, updated_at)"
                    " VALUES (?, ?, ?, 0, 48, 0, ?)",
                    (data.guild_id, data.timezone, THRESHOLD, TimeFormat()(anchor_us)),
                )
            stats.members += len(data.members)
            stats.completions += n_completions
            stats.announcements += len(data.announcements)
            stats.buckets += len(data.buckets)
        stats.counts = specs[0][0].counts
        lap("generate + insert rows")
        for _name, sql in indexes:
            conn.execute(sql)
        conn.execute("COMMIT")
        lap("recreate indexes")
        conn.execute("ANALYZE")
        lap("ANALYZE")
        conn.execute("PRAGMA locking_mode=NORMAL")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
    stats.timings.append(("total", time.perf_counter() - start))
    return stats


PERIOD_RECOUNT = """
    SELECT c.user_id, count(*), max(c.completed_at), m.hidden
    FROM completions c JOIN members m ON m.guild_id = c.guild_id AND m.user_id = c.user_id
    WHERE c.guild_id = :guild AND c.completed_at >= :start AND c.completed_at < :end
    GROUP BY c.user_id, m.hidden
"""
PERIOD_STORED = """
    SELECT user_id, n, last_at, hidden FROM period_scores
    WHERE guild_id = :guild AND period = :period AND starts_on = :starts_on
"""


def _differ(conn: sqlite3.Connection, recounted: str, stored: str) -> tuple[int, int]:
    """Rows of a recount that the stored counters lack, and stored rows the recount lacks."""
    missing = conn.execute(f"SELECT count(*) FROM ({recounted} EXCEPT {stored})").fetchone()[0]
    extra = conn.execute(f"SELECT count(*) FROM ({stored} EXCEPT {recounted})").fetchone()[0]
    return int(missing), int(extra)


def verify(path: Path, now: dt.datetime) -> list[str]:
    """Check the counters against the rows (counts in full, the rest on a sample).

    score_buckets and this week's and month's period_scores (at `now`, in each server's
    timezone) are recounted in full from members and completions.
    """
    problems: list[str] = []
    conn = sqlite3.connect(path)
    try:
        bad = conn.execute(
            "SELECT count(*) FROM members m WHERE m.completed_count !="
            " (SELECT count(*) FROM completions c"
            "  WHERE c.guild_id = m.guild_id AND c.user_id = m.user_id)"
        ).fetchone()[0]
        if bad:
            problems.append(f"{bad} members with a wrong completed_count")
        bad = conn.execute(
            "SELECT count(*) FROM (SELECT * FROM members ORDER BY random() LIMIT 2000) m"
            " WHERE m.last_completed_at IS NOT (SELECT max(completed_at) FROM completions c"
            "  WHERE c.guild_id = m.guild_id AND c.user_id = m.user_id)"
        ).fetchone()[0]
        if bad:
            problems.append(f"{bad} sampled members with a wrong last_completed_at")
        shown = "FROM members WHERE hidden = 0 AND completed_count > 0"
        missing, extra = _differ(
            conn,
            f"SELECT guild_id, completed_count, count(*) {shown}"
            " GROUP BY guild_id, completed_count",
            "SELECT guild_id, n, members FROM score_buckets WHERE members > 0",
        )
        if missing or extra:
            problems.append(f"score_buckets: {missing} counts wrong or missing, {extra} extra")
        day = "date(last_completed_at)"
        missing, extra = _differ(
            conn,
            f"SELECT guild_id, completed_count, {day}, count(*) {shown}"
            f" GROUP BY guild_id, completed_count, {day}",
            "SELECT guild_id, n, day, members FROM score_days WHERE members > 0",
        )
        if missing or extra:
            problems.append(f"score_days: {missing} days wrong or missing, {extra} extra")
        guilds = conn.execute(
            "SELECT DISTINCT m.guild_id, g.timezone FROM members m"
            " LEFT JOIN guild_settings g ON g.guild_id = m.guild_id"
        ).fetchall()
        fmt = TimeFormat()
        checked = 0
        for guild_id, zone in guilds:
            tz = ZoneInfo(zone or "UTC")
            for period in PERIODS:
                starts_on = period_start(period, now, tz)
                start, end = (
                    fmt(int(b.timestamp()) * US) for b in period_bounds(period, starts_on, tz)
                )
                params = {
                    "guild": guild_id,
                    "start": start,
                    "end": end,
                    "period": period,
                    "starts_on": starts_on.isoformat(),
                }
                missing = conn.execute(
                    f"SELECT count(*) FROM ({PERIOD_RECOUNT} EXCEPT {PERIOD_STORED})", params
                ).fetchone()[0]
                extra = conn.execute(
                    f"SELECT count(*) FROM ({PERIOD_STORED} EXCEPT {PERIOD_RECOUNT})", params
                ).fetchone()[0]
                checked += conn.execute(
                    f"SELECT count(*) FROM ({PERIOD_STORED})", params
                ).fetchone()[0]
                if missing or extra:
                    problems.append(
                        f"period_scores {guild_id} {period} {starts_on}:"
                        f" {missing} rows wrong or missing, {extra} extra"
                    )
                shown = conn.execute(
                    f"SELECT count(*) FROM ({PERIOD_RECOUNT}) WHERE hidden = 0", params
                ).fetchone()[0]
                stored = conn.execute(
                    "SELECT members FROM period_totals WHERE guild_id = :guild"
                    " AND period = :period AND starts_on = :starts_on",
                    params,
                ).fetchone()
                if (stored[0] if stored else 0) != shown:
                    problems.append(
                        f"period_totals {guild_id} {period} {starts_on}: {stored} != {shown}"
                    )
        stray = conn.execute("SELECT count(*) FROM period_scores").fetchone()[0] - checked
        if stray:
            problems.append(f"{stray} period_scores rows outside the current week/month")
    finally:
        conn.close()
    return problems


def stale_windows(path: Path, now: dt.datetime) -> list[str]:
    """The big server's current week/month that have no period_scores rows (seeded too long
    ago, or a boundary passed since): the periodic boards would measure an empty window."""
    conn = sqlite3.connect(path)
    try:
        row = conn.execute(
            "SELECT timezone FROM guild_settings WHERE guild_id = ?", (BIG_GUILD,)
        ).fetchone()
        stale = []
        for w in windows_at(now, row[0] if row else None):
            found = conn.execute(
                "SELECT 1 FROM period_scores WHERE guild_id = ? AND period = ? AND starts_on = ?"
                " LIMIT 1",
                (BIG_GUILD, w.period, w.starts_on),
            ).fetchone()
            if found is None:
                stale.append(f"{w.period} of {w.starts_on}")
        return stale
    finally:
        conn.close()


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path.resolve()}"


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


@dataclass
class Series:
    """Latencies of one operation (or one subset of it), in milliseconds."""

    name: str
    times: list[float] = field(default_factory=list)
    informational: bool = False
    subset: bool = False

    def p(self, q: float) -> float:
        ordered = sorted(self.times)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Recorder:
    """Collects the SQL the engine sends while active (for --explain)."""

    active: bool = False
    statements: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)


class Reader:
    """A raw sqlite3 connection for choosing samples and checking results (never timed)."""

    def __init__(self, path: Path, roadmap: Roadmap) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA query_only=1")
        self.roadmap = roadmap

    def members(self, guild_id: int) -> list[tuple[int, int]]:
        return self.conn.execute(
            "SELECT user_id, completed_count FROM members WHERE guild_id = ?", (guild_id,)
        ).fetchall()

    def state(self, guild_id: int, user_id: int) -> tuple[set[str], int, int]:
        done = {
            row[0]
            for row in self.conn.execute(
                "SELECT item_id FROM completions WHERE guild_id = ? AND user_id = ?",
                (guild_id, user_id),
            )
        }
        level, count = self.conn.execute(
            "SELECT level, completed_count FROM members WHERE guild_id = ? AND user_id = ?",
            (guild_id, user_id),
        ).fetchone()
        return done, level, count

    def ranked_total(self, guild_id: int) -> int:
        return int(
            self.conn.execute(
                "SELECT count(*) FROM members WHERE guild_id = ? AND hidden = 0"
                " AND completed_count > 0",
                (guild_id,),
            ).fetchone()[0]
        )

    def week_rows(self, guild_id: int, since: str) -> int:
        return int(
            self.conn.execute(
                "SELECT count(*) FROM completions WHERE guild_id = ? AND completed_at >= ?",
                (guild_id, since),
            ).fetchone()[0]
        )

    def close(self) -> None:
        self.conn.close()


class Bench:
    """Runs the operations against the real services."""

    def __init__(self, path: Path, samples: int, budget: float, explain: bool) -> None:
        self.path = path
        self.samples = samples
        self.budget = budget
        self.explain = explain
        self.rng = random.Random(7)
        self.roadmap = load_roadmap()
        self.db = Database(sqlite_url(path))
        self.progress = ProgressService(self.db, self.roadmap)
        self.leaderboard = LeaderboardService(self.db)
        self.reader = Reader(path, self.roadmap)
        self.recorder = Recorder()
        self.series: list[Series] = []
        self.notes: list[str] = []
        self.plans: list[tuple[str, list[tuple[str, tuple[Any, ...]]]]] = []
        self.mismatches = 0
        self.timing = 0.0
        self.period_info: dict[Period, tuple[int, dt.datetime | None]] = {}

        @event.listens_for(self.db.engine.sync_engine, "before_cursor_execute")
        def _record(
            _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool
        ) -> None:
            if self.recorder.active:
                self.recorder.statements.append((statement, tuple(parameters or ())))

        all_members = self.reader.members(BIG_GUILD)
        self.users = [uid for uid, _ in all_members]
        self.active_users = [uid for uid, count in all_members if count > 0]
        self.used: set[int] = set()

    async def close(self) -> None:
        self.reader.close()
        await self.db.dispose()

    # -- sample choosers ----------------------------------------------------------------------

    def pick_completion(self) -> tuple[int, str, set[str], int, int]:
        while True:
            uid = self.rng.choice(self.users)
            if uid in self.used:
                continue
            done, level, count = self.reader.state(BIG_GUILD, uid)
            todo = [item.id for item in self.roadmap.items if item.id not in done]
            if todo:
                return uid, self.rng.choice(todo), done, level, count

    def pick_level_ups(self, wanted: int, max_probes: int) -> list[tuple[int, str]]:
        """Members one checklist item short of their next level, with that item."""
        found: list[tuple[int, str]] = []
        top = self.roadmap.levels[-1].number
        for _ in range(max_probes):
            if len(found) >= wanted:
                break
            uid = self.rng.choice(self.active_users)
            if uid in self.used:
                continue
            done, level, _count = self.reader.state(BIG_GUILD, uid)
            if level >= top:
                continue
            missing = [i.id for i in self.roadmap.checklist(level + 1) if i.id not in done]
            if len(missing) == 1:
                self.used.add(uid)
                found.append((uid, missing[0]))
        return found

    # -- measuring loop -----------------------------------------------------------------------

    async def run(
        self,
        name: str,
        op: Callable[[int], Awaitable[str | None]],
        *,
        count: int | None = None,
        warmup: int = 30,
        informational: bool = False,
        budget: float | None = None,
    ) -> None:
        """Time `op(i)` `count` times (or until the time budget is spent).

        `op` returns the name of a subset the sample also belongs to, or None.
        """
        count = self.samples if count is None else count
        warm_until = time.perf_counter() + WARMUP_SECONDS
        for i in range(warmup):
            await op(-1 - i)
            if time.perf_counter() > warm_until:
                break
        if self.explain:
            self.recorder.statements = []
            self.recorder.active = True
            await op(-1000)
            self.recorder.active = False
            self.plans.append((name, list(self.recorder.statements)))
        main = Series(name, informational=informational)
        subsets: dict[str, Series] = {}
        deadline = time.perf_counter() + (self.budget if budget is None else budget)
        for i in range(count):
            self.timing = 0.0
            label = await op(i)
            main.times.append(self.timing)
            if label is not None:
                subsets.setdefault(
                    label, Series(f"  {label}", informational=informational, subset=True)
                ).times.append(self.timing)
            if time.perf_counter() > deadline:
                self.notes.append(f"{name}: time budget spent after {i + 1} samples")
                break
        self.series.append(main)
        self.series.extend(subsets[k] for k in sorted(subsets))

    async def timed(self, coro: Awaitable[Any]) -> Any:
        start = time.perf_counter()
        result = await coro
        self.timing = (time.perf_counter() - start) * 1000
        return result

    # -- operations ---------------------------------------------------------------------------

    async def bench_complete(self) -> None:
        level_ups = self.pick_level_ups(max(1, self.samples // 10) + 40, 40 * self.samples)
        self.notes.append(f"complete: {len(level_ups)} level-up samples found")
        every = max(2, self.samples // max(1, len(level_ups) - 30)) if level_ups else 0

        async def op(i: int) -> str | None:
            label = None
            if every and (i < 0 or i % every == 0) and level_ups:
                uid, item_id = level_ups.pop()
                done, level, count = self.reader.state(BIG_GUILD, uid)
                label = "reaching a level"
            else:
                uid, item_id, done, level, count = self.pick_completion()
            change = await self.timed(
                self.progress.complete(BIG_GUILD, uid, item_id, display_name=f"bench{uid % 997}")
            )
            # A checklist item naming projects completes them in the same unit of work.
            linked = {i.id for i in change.linked}
            expected = level_from_done(self.roadmap, done | {item_id} | linked, THRESHOLD)
            if (
                not change.changed
                or change.completed_count != count + 1 + len(linked)
                or change.old_level != level
                or change.new_level != expected
                or (label is not None and change.new_level <= level)
            ):
                self.mismatches += 1
            return label

        await self.run("complete item", op)

    async def bench_progress(self) -> None:
        async def op(_i: int) -> str | None:
            uid = self.rng.choice(self.users)
            await self.timed(self.progress.member_progress(BIG_GUILD, uid))
            return None

        await self.run("member_progress", op)

    async def bench_pages(self) -> None:
        total = self.reader.ranked_total(BIG_GUILD)
        last = max(0, -(-total // PAGE_SIZE) - 1)

        async def op(i: int) -> str | None:
            deep = i % 5 == 4 and last > 50
            page = self.rng.randint(50, last) if deep else self.rng.randrange(50)
            await self.timed(self.leaderboard.page(BIG_GUILD, Period.ALL, page))
            return "deep pages (50..last)" if deep else "pages 0..49"

        await self.run("leaderboard all-time", op)

    async def bench_period(
        self, period: Period, name: str, informational: bool, budget: float | None = None
    ) -> None:
        async def op(_i: int) -> str | None:
            page = self.rng.randrange(10) if self.rng.random() < 0.8 else self.rng.randrange(50)
            board = await self.timed(self.leaderboard.page(BIG_GUILD, period, page))
            self.period_info[period] = (board.total, board.since)
            return None

        await self.run(name, op, informational=informational, budget=budget)

    async def bench_rank(self) -> None:
        total = self.reader.ranked_total(BIG_GUILD)

        async def op(_i: int) -> str | None:
            uid = self.rng.choice(self.active_users)
            rank = await self.timed(self.leaderboard.rank(BIG_GUILD, uid))
            if rank is not None and rank > total * 0.8:
                return "bottom 20% of the ranking"
            return None

        await self.run("rank", op)

    async def bench_small_guild(self) -> None:
        members = [uid for uid, count in self.reader.members(SMALL_GUILD) if count > 0]

        async def op(_i: int) -> str | None:
            uid = self.rng.choice(members)
            await self.timed(self.leaderboard.rank(SMALL_GUILD, uid))
            return None

        await self.run("rank, small server", op, count=min(500, self.samples), informational=True)

    async def all(self) -> None:
        await self.bench_progress()
        await self.bench_pages()
        await self.bench_period(Period.WEEK, "leaderboard weekly", informational=False)
        await self.bench_rank()
        await self.bench_complete()
        await self.bench_period(
            Period.MONTH, "leaderboard monthly", informational=True, budget=self.budget / 3
        )
        await self.bench_small_guild()
        for period, (total, since) in self.period_info.items():
            if since is not None:
                stamp = since.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
                rows = self.reader.week_rows(BIG_GUILD, stamp)
                self.notes.append(
                    f"{period.value} window since {since:%Y-%m-%d %H:%M} UTC:"
                    f" {rows} completions by {total} members"
                )


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def print_table(series: Sequence[Series]) -> None:
    print(f"{'operation':<34} {'samples':>7} {'p50 ms':>8} {'p99 ms':>8}  target p99<10ms")
    print("-" * 78)
    for s in series:
        if not s.times:
            continue
        p50, p99 = statistics.median(s.times), s.p(0.99)
        verdict = "PASS" if p99 < TARGET_MS else "FAIL"
        if s.informational:
            verdict += " (info)"
        elif s.subset:
            verdict = f"({verdict})"
        print(f"{s.name:<34} {len(s.times):>7} {p50:>8.2f} {p99:>8.2f}  {verdict}")


def print_plans(path: Path, plans: Sequence[tuple[str, list[tuple[str, tuple[Any, ...]]]]]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA query_only=1")
    try:
        for name, statements in plans:
            print(f"\n=== {name} ===")
            for sql, params in statements:
                verb = sql.lstrip().split(None, 1)[0].upper()
                if verb not in {"SELECT", "INSERT", "UPDATE", "DELETE"}:
                    continue
                print(f"\n  {' '.join(sql.split())}")
                print(f"  params: {params}")
                depth: dict[int, int] = {0: 0}
                for node, parent, _unused, detail in conn.execute(
                    f"EXPLAIN QUERY PLAN {sql}", params
                ):
                    depth[node] = depth.get(parent, 0) + 1
                    print(f"  {'  ' * depth[node]}{detail}")
                if verb == "SELECT":
                    runs: list[float] = []
                    until = time.perf_counter() + 2.0
                    while len(runs) < 5 and (len(runs) < 2 or time.perf_counter() < until):
                        start = time.perf_counter()
                        conn.execute(sql, params).fetchall()
                        runs.append((time.perf_counter() - start) * 1000)
                    print(
                        f"  raw sqlite3 time: {statistics.median(runs):.2f} ms"
                        f" (median of {len(runs)})"
                    )
    finally:
        conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--completions", type=int, default=5_000_000)
    parser.add_argument("--db", type=Path, help="database file (default: a temporary file)")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN QUERY PLAN")
    parser.add_argument(
        "--budget", type=float, default=25.0, help="max seconds of samples per operation"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --db")
    parser.add_argument("--reuse", action="store_true", help="measure an already seeded --db")
    parser.add_argument("--seed", type=int, default=20261126, help="random seed for the data")
    args = parser.parse_args(argv)

    wall = time.perf_counter()
    print(f"SQLite {sqlite3.sqlite_version}, Python {platform.python_version()}, ", end="")
    print(f"{os.cpu_count()} cores, {platform.machine()} {platform.system()}")

    temp_dir: tempfile.TemporaryDirectory[str] | None = None
    if args.db is None:
        temp_dir = tempfile.TemporaryDirectory(prefix="bench_db_", dir="/tmp")
        path = Path(temp_dir.name) / "bench.db"
    else:
        path = args.db
    try:
        if args.reuse:
            if not path.exists():
                parser.error(f"{path} does not exist")
            print(f"reusing {path}")
        else:
            if path.exists():
                if not args.overwrite:
                    parser.error(f"{path} exists: pass --overwrite or --reuse")
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            print(
                f"seeding {path}: {args.members} members, {args.completions} completions"
                f" (+ {SMALL_MEMBERS} members in a second server)"
            )
            stats = seed(path, args.members, args.completions, random.Random(args.seed))
            counts = sorted(stats.counts)
            n = len(counts)
            print(
                f"  wrote {stats.members} members, {stats.completions} completions,"
                f" {stats.announcements} level announcements, {stats.buckets} score buckets,"
                f" period_scores rows: "
                + ", ".join(f"{k} {v}" for k, v in sorted(stats.period_rows.items()))
                + f" (big server in {BIG_TIMEZONE})"
            )
            print(
                f"  completions per member: mean {sum(counts) / n:.1f}, median {counts[n // 2]},"
                f" p90 {counts[int(n * 0.9)]}, none {sum(1 for c in counts if c == 0)},"
                f" all 130 {sum(1 for c in counts if c == 130)}"
            )
            print("  " + ", ".join(f"{name} {secs:.1f} s" for name, secs in stats.timings))
            size = path.stat().st_size / 2**20
            print(f"  SEEDING TIME {stats.timings[-1][1]:.1f} s, file {size:.0f} MiB")
            start = time.perf_counter()
            problems = verify(path, stats.now)
            print(
                f"  consistency check ({time.perf_counter() - start:.1f} s): "
                + ("; ".join(problems) if problems else "OK")
            )

        stale = stale_windows(path, dt.datetime.now(dt.UTC))
        if stale:
            print(f"  WARNING: no period_scores rows for {', '.join(stale)}: reseed")

        bench = Bench(path, args.samples, args.budget, args.explain)

        async def measure() -> None:
            # Checkpoint the write-ahead log in the background, as the running bot does.
            async def checkpoints() -> None:
                while True:
                    await asyncio.sleep(15)
                    await bench.db.checkpoint()

            background = asyncio.create_task(checkpoints())
            try:
                await bench.all()
            finally:
                background.cancel()
                await bench.close()

        start = time.perf_counter()
        asyncio.run(measure())
        print(f"\nmeasured in {time.perf_counter() - start:.1f} s")
        for note in bench.notes:
            print(f"  {note}")
        print(
            "  service results vs expected counters/levels: "
            + (f"{bench.mismatches} MISMATCHES" if bench.mismatches else "all consistent")
        )
        print()
        print_table(bench.series)
        if args.explain:
            print_plans(path, bench.plans)
        print(f"\ntotal wall time {time.perf_counter() - wall:.1f} s")
    finally:
        if temp_dir is not None:
            temp_dir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
