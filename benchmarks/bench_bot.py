"""The real bot process against a bare discord.py bot, both through the fake Discord.

Usage (from the repository root)::

    python benchmarks/bench_bot.py [--db PATH] [--samples 400] [--rounds 4] [--servers 1000]
                                   [--throughput-seconds 20] [--sync-seconds 60]
                                   [--database-url postgresql://...] [--postgres]
                                   [--profile FILE.svg] [--cards]

Three processes: this one runs the fake Discord (REST + gateway on 127.0.0.1, from
tests/fakediscord) and drives it; the real bot (`python -m bot`, unmodified) and a bare
discord.py bot that answers `/ping` each run in their own process, both connected to the fake
at once. Interactions go to one bot or the other in alternating rounds, so a busy machine
slows both alike: the ratios (real ÷ bare) are the figures to read.

The database is seeded once by `benchmarks/bench_db.py` (100,000 members and 5,000,000
completions by default) and kept at --db; every run works on a fresh copy of it. With
--database-url (or --postgres, which starts a throwaway local cluster like the tests do) the
bot runs on PostgreSQL instead: the seeded rows are copied there first.

Per interaction: p50 and p99 of the time from the fake sending INTERACTION_CREATE to the
bot's interaction callback reaching it, and the bot process's CPU (user + system, from
/proc) divided by the interactions of the batch, after the work each one triggers (hooks,
announcements) has finished. Then 32 interactions in flight for a while (30% /progress, 30%
/leaderboard, 30% autocomplete, 10% /milestone complete): answers a second, p50/p99, answers
later than Discord's 3 s deadline. RSS of both processes, connected to --servers servers.
Last, `/config sync-roles` on the big server with five level roles set and 1% of the members'
roles out of line: members looked up per second, lookups and role changes sent.

This is a script that prints figures, not a test. Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

THIS = Path(__file__).resolve()
REPO = THIS.parents[1]
FLOOR_BOT = THIS.with_name("floor_bot.py")  # --floor: the bot with its reads answered from memory
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_db  # noqa: E402  (the seeding lives there)

from bot.db.migrate import HEAD, upgrade  # noqa: E402

REAL_TOKEN = "bench-real-bot"
BARE_TOKEN = "bench-bare-bot"
DEADLINE = 3.0  # Discord's limit for the first answer to an interaction
ANSWER_TIMEOUT = 10.0  # an interaction not answered in this long counts as missed
MANAGE_GUILD = 1 << 5
MANAGE_ROLES = 1 << 28
LEVEL_ROLE_COUNT = 5
DRIFT_SHARE = 0.01  # members whose level roles are out of line before /config sync-roles
AUTOCOMPLETE_QUERIES = ("", "sql", "spark", "pipeline", "cloud", "data model", "kafka", "test")
MIX = (("progress", 0.3), ("leaderboard", 0.3), ("autocomplete", 0.3), ("complete", 0.1))


# --------------------------------------------------------------------------------------------
# The bare bot (run as `bench_bot.py --bare-bot`)
# --------------------------------------------------------------------------------------------


def run_bare_bot() -> None:
    """A discord.py bot with one slash command, `/ping`, and the real bot's intents."""
    import discord
    import yarl
    from discord import app_commands

    discord.http.Route.BASE = os.environ["BENCH_API_BASE"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["BENCH_GATEWAY_URL"])
    intents = discord.Intents.none()
    intents.guilds = True

    class Bare(discord.Client):
        def __init__(self) -> None:
            super().__init__(intents=intents, allowed_mentions=discord.AllowedMentions.none())
            self.tree = app_commands.CommandTree(self)

        async def setup_hook(self) -> None:
            await self.tree.sync()

    client = Bare()

    @client.tree.command(name="ping", description="Answer pong")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong", ephemeral=True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, lambda: asyncio.ensure_future(client.close()))
        async with client:
            await client.start(BARE_TOKEN)

    asyncio.run(main())


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


@dataclass
class Proc:
    """A bot process and its CPU and memory, read from /proc."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu(self) -> float:
        """CPU seconds so far, every thread: user + system time at nanosecond resolution
        from each thread's schedstat (the clock ticks of /proc/PID/stat are 10 ms)."""
        total = 0
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            with contextlib.suppress(OSError):  # a thread that just ended
                total += int((task / "schedstat").read_text().split()[0])
        return total / 1e9

    def loop_cpu(self) -> float:
        """CPU seconds of the main thread alone (the event loop's)."""
        return int(Path(f"/proc/{self.pid}/task/{self.pid}/schedstat").read_text().split()[0]) / 1e9

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> int | None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        return self.popen.returncode

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def spawn(name: str, args: Sequence[str], env: dict[str, str], workdir: Path) -> Proc:
    log = workdir / f"{name}.log"
    handle = log.open("wb")
    popen = subprocess.Popen(
        [sys.executable, *args],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        cwd=workdir,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    handle.close()
    return Proc(name, popen, log)


# --------------------------------------------------------------------------------------------
# The fake Discord, instrumented
# --------------------------------------------------------------------------------------------


def make_fake() -> Any:
    """The project's fake Discord with three additions for measuring (no behaviour change):
    interactions go to one chosen client, each answer is time-stamped, gateway member
    lookups are counted."""
    from tests.fakediscord import FakeDiscord
    from tests.fakediscord.interaction import InteractionResult

    class BenchFake(FakeDiscord):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.target = REAL_TOKEN
            self.member_lookups = 0  # user ids asked for over the gateway
            self.lookup_requests = 0

        async def _on_gateway_message(self, conn: Any, payload: dict[str, Any]) -> None:
            op, d = payload.get("op"), payload.get("d") or {}
            if op == 2:
                conn.bench_token = d.get("token")
            elif op == 8:
                self.lookup_requests += 1
                self.member_lookups += len(d.get("user_ids") or [])
            await super()._on_gateway_message(conn, payload)

        def conn_of(self, token: str) -> Any:
            for conn in reversed(self._conns):
                if getattr(conn, "bench_token", None) == token and not conn.ws.closed:
                    return conn
            raise RuntimeError(f"no client identified with {token!r}")

        async def _send_interaction(self, payload: dict[str, Any], description: str) -> Any:
            res = InteractionResult(payload, description)
            res.answered = asyncio.Event()
            res.answered_at = None
            self._by_token[res.token] = res
            self._by_id[res.id] = res
            res.sent_at = time.perf_counter()
            # A fresh payload nobody changes afterwards: no copy needed.
            self.conn_of(self.target).dispatch("INTERACTION_CREATE", payload)
            return res

        async def _interaction_callback(self, req: Any) -> Any:
            now = time.perf_counter()
            res = self._by_id.get(req.param("iid"))
            response = await super()._interaction_callback(req)
            if res is not None and getattr(res, "answered_at", 0) is None:
                res.answered_at = now
                res.answered.set()
            return response

        def forget(self, keep: set[int] = frozenset()) -> None:  # type: ignore[assignment]
            """Drop what the fake recorded, but the messages in `keep` (memory stays flat)."""
            self.requests.clear()
            self._by_id.clear()
            self._by_token.clear()
            self._modals.clear()
            self.messages = {k: v for k, v in self.messages.items() if k in keep}
            for cid, ids in self._channel_message_ids.items():
                self._channel_message_ids[cid] = [m for m in ids if m in keep]

    return BenchFake()


# --------------------------------------------------------------------------------------------
# What to ask: members, items, level-ups, read from the seeded file
# --------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """Users and (user, item) pairs for each kind of interaction, never reused."""

    members: list[tuple[int, str, int, int, int]]  # user, name, level, count, hidden
    readers: list[int]  # members with something done, for reads
    completes: list[tuple[int, str]]
    level_ups: list[tuple[int, str]]
    rng: random.Random
    used: set[int] = field(default_factory=set)

    def reader(self) -> int:
        return self.rng.choice(self.readers)

    def complete(self) -> tuple[int, str]:
        return self.completes.pop()

    def level_up(self) -> tuple[int, str]:
        return self.level_ups.pop()


def make_plan(seed_path: Path, completes: int, level_ups: int, rng: random.Random) -> Plan:
    from bot.roadmap import load_roadmap

    roadmap = load_roadmap()
    conn = sqlite3.connect(f"file:{seed_path}?mode=ro", uri=True)
    try:
        members = conn.execute(
            "SELECT user_id, display_name, level, completed_count, hidden FROM members"
            " WHERE guild_id = ? ORDER BY user_id",
            (bench_db.BIG_GUILD,),
        ).fetchall()

        def done_of(uid: int) -> set[str]:
            return {
                r[0]
                for r in conn.execute(
                    "SELECT item_id FROM completions WHERE guild_id = ? AND user_id = ?",
                    (bench_db.BIG_GUILD, uid),
                )
            }

        order = [m for m in members if not m[4]]
        rng.shuffle(order)
        top = roadmap.levels[-1].number
        ups: list[tuple[int, str]] = []
        pairs: list[tuple[int, str]] = []
        used: set[int] = set()
        deadline = time.perf_counter() + 60
        for uid, _name, level, count, _hidden in order:
            if (len(ups) >= level_ups and len(pairs) >= completes) or (
                time.perf_counter() > deadline
            ):
                break
            if count == 0 or level >= top:
                continue
            done = done_of(uid)
            missing = [i.id for i in roadmap.checklist(level + 1) if i.id not in done]
            if len(missing) == 1 and len(ups) < level_ups:
                ups.append((uid, missing[0]))
                used.add(uid)
                continue
            if len(pairs) < completes:
                # An item that does not reach a level: not on the next level's checklist.
                gate = {i.id for i in roadmap.checklist(level + 1)}
                todo = [i.id for i in roadmap.items if i.id not in done and i.id not in gate]
                if todo:
                    pairs.append((uid, rng.choice(todo)))
                    used.add(uid)
        readers = [m[0] for m in members if m[3] > 0 and not m[4] and m[0] not in used]
    finally:
        conn.close()
    return Plan(members, readers, pairs, ups, rng, used)


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


@dataclass
class Series:
    """Latencies (ms) and CPU (s) of one kind of interaction on one bot."""

    name: str
    times: list[float] = field(default_factory=list)
    cpu: float = 0.0
    loop_cpu: float = 0.0  # of it, the event loop's thread
    count: int = 0
    requests: int = 0  # REST requests the bot sent

    def p(self, q: float) -> float:
        if not self.times:
            return float("nan")
        ordered = sorted(self.times)
        return ordered[max(0, min(len(ordered) - 1, int(q * len(ordered) + 0.5) - 1))]

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu / self.count if self.count else float("nan")


class Bench:
    """Drives the fake: sends interactions to the real or the bare bot and times them."""

    def __init__(self, args: argparse.Namespace, fake: Any, plan: Plan) -> None:
        self.args = args
        self.fake = fake
        self.plan = plan
        self.rng = plan.rng
        self.guild = bench_db.BIG_GUILD
        self.channel = 0
        self.bare: Proc | None = None
        self.real: Proc | None = None
        self.series: dict[str, Series] = {}
        self.notes: list[str] = []
        self.pages: list[tuple[int, dict[str, Any]]] = []  # (owner, leaderboard message)
        self.admin = 0

    # -- sending ------------------------------------------------------------------------------

    async def send(self, kind: str) -> Any:
        """Send one interaction of `kind`; return its result handle."""
        fake, g, plan = self.fake, self.guild, self.plan
        if kind == "ping":
            return await fake.slash(g, plan.reader(), "ping", channel_id=self.channel)
        if kind == "progress":
            return await fake.slash(g, plan.reader(), "progress", channel_id=self.channel)
        if kind == "leaderboard":
            return await fake.slash(g, plan.reader(), "leaderboard", channel_id=self.channel)
        if kind in ("week", "month"):
            return await fake.slash(
                g, plan.reader(), "leaderboard", {"period": kind}, channel_id=self.channel
            )
        if kind == "next":
            owner, message = self.pages[self.rng.randrange(len(self.pages))]
            custom_id = next_button(fake.messages.get(int(message["id"]), message))
            return await fake.click(g, owner, message, custom_id)
        if kind == "autocomplete":
            query = self.rng.choice(AUTOCOMPLETE_QUERIES)
            return await fake.autocomplete(
                g,
                plan.reader(),
                "milestone complete",
                {"milestone": query},
                "milestone",
                channel_id=self.channel,
            )
        if kind == "levels":
            return await fake.slash(g, plan.reader(), "levels", channel_id=self.channel)
        if kind == "complete":
            uid, item = plan.complete()
            return await fake.slash(
                g, uid, "milestone complete", {"milestone": item}, channel_id=self.channel
            )
        if kind == "level-up":
            uid, item = plan.level_up()
            return await fake.slash(
                g, uid, "milestone complete", {"milestone": item}, channel_id=self.channel
            )
        raise ValueError(kind)

    async def answered(self, res: Any) -> float | None:
        """Milliseconds to the answer, or None when none came in time."""
        try:
            await asyncio.wait_for(res.answered.wait(), ANSWER_TIMEOUT)
        except TimeoutError:
            return None
        return float((res.answered_at - res.sent_at) * 1000)

    def announcements(self) -> int:
        return sum(
            1
            for m in self.fake.channel_messages(self.channel)
            if "reached" in (m.get("content") or "")
        )

    async def settle(self, proc: Proc, *, until: Callable[[], bool] | None = None) -> None:
        """Wait until the bot's CPU stops moving (its hooks and posts are done)."""
        deadline = time.perf_counter() + 10
        if until is not None:
            while not until() and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        last = proc.cpu()
        while time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
            now = proc.cpu()
            if now == last:
                return
            last = now

    async def batch(
        self, proc: Proc, token: str, kind: str, n: int, *, record: bool, into: str | None = None
    ) -> None:
        """`n` interactions one after another; CPU measured over the whole batch."""
        self.fake.target = token
        series = self.series.setdefault(into or kind, Series(into or kind))
        keep = {int(m["id"]) for _, m in self.pages}
        self.fake.forget(keep)
        posted = self.announcements()
        await self.settle(proc)
        start, loop_start = proc.cpu(), proc.loop_cpu()
        times: list[float] = []
        for _ in range(n):
            res = await self.send(kind)
            ms = await self.answered(res)
            times.append(ms if ms is not None else ANSWER_TIMEOUT * 1000)
        requests = len(self.fake.requests)
        if kind == "level-up":
            await self.settle(proc, until=lambda: self.announcements() >= posted + n)
        else:
            await self.settle(proc)
        if record:
            series.times += times
            series.cpu += proc.cpu() - start
            series.loop_cpu += proc.loop_cpu() - loop_start
            series.count += n
            series.requests += requests

    async def open_pages(self, count: int) -> None:
        """Leaderboards whose Next button the "next" interactions click."""
        self.fake.target = REAL_TOKEN
        for _ in range(count):
            owner = self.plan.reader()
            res = await self.fake.slash(self.guild, owner, "leaderboard", channel_id=self.channel)
            await self.answered(res)
            for _ in range(100):  # the view's message is fetched after the answer
                if res.message is not None and res.message.get("components"):
                    break
                await asyncio.sleep(0.01)
            self.pages.append((owner, res.message))

    # -- throughput ---------------------------------------------------------------------------

    async def load(
        self, proc: Proc, token: str, kinds: Sequence[tuple[str, float]]
    ) -> dict[str, Any]:
        """32 interactions in flight for --throughput-seconds."""
        self.fake.target = token
        self.fake.forget({int(m["id"]) for _, m in self.pages})
        await self.settle(proc)
        names = [k for k, _ in kinds]
        weights = [w for _, w in kinds]
        times: list[float] = []
        missed = 0
        late = 0
        duration = self.args.throughput_seconds
        cpu0, wall0 = proc.cpu(), time.perf_counter()
        fake0 = time.process_time()
        end = wall0 + duration

        async def worker() -> None:
            nonlocal missed, late
            while time.perf_counter() < end:
                kind = self.rng.choices(names, weights)[0]
                if kind == "complete" and not self.plan.completes:
                    kind = "progress"
                res = await self.send(kind)
                ms = await self.answered(res)
                if ms is None:
                    missed += 1
                    continue
                if ms > DEADLINE * 1000:
                    late += 1
                times.append(ms)

        await asyncio.gather(*(worker() for _ in range(32)))
        wall = time.perf_counter() - wall0
        cpu = proc.cpu() - cpu0
        fake_cpu = time.process_time() - fake0
        await self.settle(proc)
        ordered = sorted(times)
        return {
            "rate": len(times) / wall,
            "p50": statistics.median(ordered) if ordered else float("nan"),
            "p99": ordered[int(0.99 * (len(ordered) - 1))] if ordered else float("nan"),
            "late": late,
            "missed": missed,
            "cpu": 100 * cpu / wall,
            "fake_cpu": 100 * fake_cpu / wall,
            "answers": len(times),
        }

    # -- /config sync-roles ---------------------------------------------------------------------

    async def sync_roles(self, proc: Proc) -> dict[str, Any]:
        """Five level roles, 1% of members out of line, then `/config sync-roles`."""
        fake, g = self.fake, self.guild
        fake.target = REAL_TOKEN
        fake.forget()
        roles = [fake.add_role(g, f"Level {n}", position=n) for n in range(1, 6)]
        for level, role in enumerate(roles, start=1):
            res = await fake.slash(
                g,
                self.admin,
                "config level-role",
                {"level": level, "role": role.id},
                channel_id=self.channel,
            )
            await self.answered(res)
        guild = fake.guild(g)
        drifted = 0
        concerned = 0
        for uid, _name, level, _count, _hidden in self.plan.members:
            member = guild.members.get(uid)
            if member is None:
                continue
            wanted = {r.id for r in roles[:level]}
            if level:
                concerned += 1
            if self.rng.random() < DRIFT_SHARE:
                drifted += 1
                wanted = {r.id for r in roles[: self.rng.randrange(LEVEL_ROLE_COUNT + 1)]}
            member.roles = wanted
        await self.settle(proc)
        fake.forget()
        lookups0, cpu0 = fake.member_lookups, proc.cpu()
        start = time.perf_counter()
        res = await fake.slash(g, self.admin, "config sync-roles", channel_id=self.channel)
        await self.answered(res)
        budget = start + self.args.sync_seconds
        finished = False
        while time.perf_counter() < budget:
            await asyncio.sleep(0.25)
            if sync_finished(res):
                finished = True
                break
        elapsed = time.perf_counter() - start
        rest = fake.requests
        rest_lookups = sum(
            1
            for r in rest
            if r.method == "GET" and "/members/" in r.path and "/roles/" not in r.path
        )
        role_calls = sum(1 for r in rest if "/roles/" in r.path and r.method in ("PUT", "DELETE"))
        looked_up = (fake.member_lookups - lookups0) + rest_lookups
        return {
            "finished": finished,
            "elapsed": elapsed,
            "looked_up": looked_up,
            "rate": looked_up / elapsed if elapsed else 0.0,
            "gateway_requests": fake.lookup_requests,
            "rest_lookups": rest_lookups,
            "role_calls": role_calls,
            "drifted": drifted,
            "concerned": concerned,
            "cpu_per_member_ms": 1000 * (proc.cpu() - cpu0) / looked_up if looked_up else 0.0,
            "text": final_text(res),
        }


def next_button(message: dict[str, Any]) -> str:
    for row in message.get("components") or []:
        for comp in row.get("components") or []:
            if "Next" in (comp.get("label") or ""):
                return str(comp["custom_id"])
    raise RuntimeError("the leaderboard has no Next button")


def final_text(res: Any) -> str:
    from tests.fakediscord import message_text

    msgs = [*res.followup_messages]
    if res.message is not None:
        msgs.insert(0, res.message)
    return "\n".join(message_text(m) for m in msgs).strip()


def sync_finished(res: Any) -> bool:
    text = final_text(res)
    return text.startswith("Checked") or "finished" in text.lower()


# --------------------------------------------------------------------------------------------
# Setting the scene
# --------------------------------------------------------------------------------------------


def populate(fake: Any, plan: Plan, servers: int, rng: random.Random) -> tuple[int, int]:
    """The big server with every seeded member, the small one, and filler servers."""
    big = fake.add_guild("Big server", guild_id=bench_db.BIG_GUILD)
    channel = big.default_channel.id
    bot_role = fake.add_role(big.id, "Milestone Bot", position=50, permissions=MANAGE_ROLES)
    fake.set_bot_roles(big.id, [bot_role.id])
    for uid, name, _level, _count, _hidden in plan.members:
        fake.add_member(big.id, user_id=uid, name=name)
    admin = fake.add_member(big.id, name="admin", permissions=MANAGE_GUILD | MANAGE_ROLES)
    small = fake.add_guild("Small server", guild_id=bench_db.SMALL_GUILD)
    for _ in range(20):
        fake.add_member(small.id)
    for n in range(max(0, servers - 2)):
        guild = fake.add_guild(f"Server {n}")
        fake.add_channel(guild.id, "progress")
        fake.add_role(guild.id, "Members", position=1)
        for _ in range(3):
            fake.add_member(guild.id)
    return channel, admin.id


# --------------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------------


def ensure_seed(path: Path, members: int, completions: int) -> None:
    """Seed with bench_db.py unless a fresh enough file is there."""
    import datetime as dt

    if path.exists():
        stale = bench_db.stale_windows(path, dt.datetime.now(dt.UTC))
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            count = conn.execute(
                "SELECT count(*) FROM members WHERE guild_id = ?", (bench_db.BIG_GUILD,)
            ).fetchone()[0]
            (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            conn.close()
        if not stale and count == members:
            print(f"reusing the seeded database {path} ({count} members)")
            if revision != HEAD:  # seeded before a newer migration: bring it up to date once
                print(f"migrating it from {revision} to {HEAD}")
                upgrade(bench_db.sqlite_url(path))
            return
        print(f"reseeding {path}: " + (f"stale ({', '.join(stale)})" if stale else "other size"))
    command = [
        sys.executable,
        str(REPO / "benchmarks" / "bench_db.py"),
        "--db",
        str(path),
        "--members",
        str(members),
        "--completions",
        str(completions),
        "--samples",
        "1",
        "--overwrite",
    ]
    print("seeding: " + " ".join(command[1:]))
    subprocess.run(command, cwd=REPO, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def copy_sqlite(seed: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{seed}?mode=ro", uri=True)
    try:
        src.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.OperationalError:
        pass
    finally:
        src.close()
    shutil.copyfile(seed, target)
    # bench_db.py ends with ANALYZE; a bot's own database has only the statistics its
    # migrations write (completions' and members', 0011): the run plans as a bot's would.
    conn = sqlite3.connect(target)
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
            conn.execute("DELETE FROM sqlite_stat1 WHERE tbl NOT IN ('completions', 'members')")
            conn.commit()
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------

KINDS = (
    ("progress", "/progress"),
    ("leaderboard", "/leaderboard page 1"),
    ("next", "/leaderboard Next button"),
    ("week", "/leaderboard this week"),
    ("month", "/leaderboard this month"),
    ("autocomplete", "/milestone complete autocomplete"),
    ("levels", "/levels"),
    ("complete", "/milestone complete"),
    ("level-up", "/milestone complete reaching a level"),
)
READS = {"progress", "leaderboard", "next", "week", "month", "autocomplete", "levels"}


def loop_share(s: Series) -> str:
    """How much of the CPU was the event loop's thread (the rest: database threads, ...)."""
    return f"{100 * s.loop_cpu / s.cpu:.0f}%" if s.cpu else "-"


def print_table(series: dict[str, Series]) -> None:
    """Each interaction against the bare bot's batches run just before its own."""
    bare = Series("ping")
    for name, found in series.items():
        if name.startswith("ping/"):
            bare.times += found.times
            bare.cpu += found.cpu
            bare.loop_cpu += found.loop_cpu
            bare.count += found.count
            bare.requests += found.requests
    print(
        f"{'interaction':<38} {'n':>5} {'p50 ms':>7} {'p99 ms':>7} {'p99÷bare':>8}"
        f" {'CPU ms':>7} {'CPU÷bare':>8} {'REST/i':>6} {'loop':>5}  target"
    )
    print("-" * 110)
    print(
        f"{'bare /ping (the floor)':<38} {bare.count:>5} {bare.p(0.5):>7.2f} {bare.p(0.99):>7.2f}"
        f" {1.0:>8.1f} {bare.cpu_ms:>7.2f} {1.0:>8.1f} {bare.requests / bare.count:>6.1f}"
        f" {loop_share(bare):>5}"
    )
    for kind, label in KINDS:
        s = series.get(kind)
        if s is None or not s.count:
            continue
        paired = series[f"ping/{kind}"]
        p99r = s.p(0.99) / paired.p(0.99)
        cpur = s.cpu_ms / paired.cpu_ms
        cpu_target, p99_target = (2, 3) if kind in READS else (3, 4)
        ok = cpur <= cpu_target and p99r <= p99_target
        print(
            f"{label:<38} {s.count:>5} {s.p(0.5):>7.2f} {s.p(0.99):>7.2f} {p99r:>8.1f}"
            f" {s.cpu_ms:>7.2f} {cpur:>8.1f} {s.requests / s.count:>6.1f} {loop_share(s):>5}"
            f"  {'met' if ok else 'NOT met'} (CPU≤{cpu_target}×, p99≤{p99_target}×)"
        )


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    from tests.support.pg import running_cluster

    with running_cluster() as cluster:
        cluster.create_database("bench")
        yield cluster.url("bench")


async def run(args: argparse.Namespace, database_url: str, workdir: Path) -> None:
    rng = random.Random(args.seed)
    per_kind = args.samples
    rounds = max(1, args.rounds)
    n = max(1, per_kind // rounds)
    expected_rate = 600  # generous: enough completes for the load phase
    plan = make_plan(
        args.db,
        completes=n * rounds + 40 + int(expected_rate * 0.1 * args.throughput_seconds),
        level_ups=n * rounds + 20,
        rng=rng,
    )
    print(
        f"plan: {len(plan.members)} members, {len(plan.readers)} readers, "
        f"{len(plan.completes)} completes, {len(plan.level_ups)} level-ups"
    )
    fake = make_fake()
    await fake.start()
    t0 = time.perf_counter()
    channel, admin = populate(fake, plan, args.servers, rng)
    print(
        f"fake Discord on {fake.base_url}: {len(fake.guilds)} servers "
        f"({time.perf_counter() - t0:.1f} s to build)"
    )
    bench = Bench(args, fake, plan)
    bench.channel, bench.admin = channel, admin
    env = {
        "BENCH_API_BASE": fake.api_base,
        "BENCH_GATEWAY_URL": fake.gateway_url,
        "DISCORD_API_BASE": fake.api_base,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "LOG_LEVEL": "WARNING",
    }
    bare = real = None
    try:
        bare = spawn("bare", [str(THIS), "--bare-bot"], env, workdir)
        await wait_for(lambda: identified(fake, BARE_TOKEN), 60, "the bare bot to connect", bare)
        await wait_for(
            lambda: any(c["name"] == "ping" for c in fake.commands()),
            30,
            "the bare bot's /ping",
            bare,
        )
        ping = next(c for c in fake.commands() if c["name"] == "ping")
        real = spawn(
            "bot",
            [str(FLOOR_BOT), "run"] if args.floor else ["-m", "bot", "run"],
            {**env, "DISCORD_TOKEN": REAL_TOKEN, "DATABASE_URL": database_url},
            workdir,
        )
        await wait_for(lambda: identified(fake, REAL_TOKEN), 120, "the bot to connect", real)
        await wait_for(
            lambda: any(c["name"] == "progress" for c in fake.commands()),
            60,
            "the bot's commands",
            real,
        )
        fake.global_commands.append(ping)  # both command sets stay known to the fake
        await asyncio.sleep(3)  # READY follows the last GUILD_CREATE by guild_ready_timeout
        bench.bare, bench.real = bare, real
        for proc, token, kind in ((bare, BARE_TOKEN, "ping"), (real, REAL_TOKEN, "levels")):
            fake.target = token
            res = await bench.send(kind)
            if await bench.answered(res) is None:
                raise RuntimeError(f"{proc.name} did not answer /{kind}\n{proc.tail()}")
        if args.floor:
            print("--floor: the bot answers its reads from memory (benchmarks/floor_bot.py)")
        print(
            f"both bots connected to {len(fake.guilds)} servers; "
            f"RSS bare {bare.rss_mib():.0f} MiB, bot {real.rss_mib():.0f} MiB"
        )

        if not args.cards:  # the text answers, as before pictures (see --cards)
            fake.target = REAL_TOKEN
            res = await fake.slash(
                bench.guild, admin, "config cards", {"state": "off"}, channel_id=channel
            )
            if await bench.answered(res) is None:
                raise RuntimeError(f"the bot did not answer /config cards\n{real.tail()}")
        await bench.open_pages(8)
        kinds = [k for k, _ in KINDS if not args.kinds or k in args.kinds.split(",")]
        # Warm-up: caches, connections and code paths, then the measured rounds.
        await bench.batch(bare, BARE_TOKEN, "ping", 50, record=False)
        for kind in kinds:
            if kind in ("complete", "level-up"):
                await bench.batch(real, REAL_TOKEN, kind, 10, record=False)
            else:
                await bench.batch(real, REAL_TOKEN, kind, 30, record=False)
        started = time.perf_counter()
        profiler = None
        if args.profile and args.throughput_seconds <= 0:  # profile the rounds instead
            profiler = start_profiler(args.profile, real.pid, 600)
        for r in range(rounds):
            for kind in kinds:
                # Each batch right after a batch of the bare bot: a ratio compares two moments
                # of the same load on the machine.
                await bench.batch(bare, BARE_TOKEN, "ping", n, record=True, into=f"ping/{kind}")
                await bench.batch(real, REAL_TOKEN, kind, n, record=True)
            print(f"  round {r + 1}/{rounds} done ({time.perf_counter() - started:.0f} s)")
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes what it has on ^C
            profiler.wait(60)

        bare_load = real_load = None
        if args.throughput_seconds > 0:
            print("\n32 in flight:")
            bare_load = await bench.load(bare, BARE_TOKEN, [("ping", 1.0)])
            profiler = start_profiler(args.profile, real.pid, args.throughput_seconds)
            real_load = await bench.load(real, REAL_TOKEN, MIX)
            if profiler is not None:
                profiler.wait(60)
        rss_bare, rss_real = bare.rss_mib(), real.rss_mib()

        sync = None
        if args.sync_seconds > 0:
            sync = await bench.sync_roles(real)

        print()
        print_table(bench.series)
        print()
        if bare_load is not None and real_load is not None:
            print_load(bare_load, real_load)
        print(
            f"\nRSS with {len(fake.guilds)} servers: bot {rss_real:.0f} MiB,"
            f" bare {rss_bare:.0f} MiB"
            f" (target ≤ 120 MiB: {'met' if rss_real <= 120 else 'NOT met'})"
        )
        if sync is not None:
            print_sync(sync)
        if args.profile:
            print_profile(args.profile)
        for note in bench.notes:
            print(f"  {note}")
    finally:
        codes = {}
        for proc in (real, bare):
            if proc is not None:
                codes[proc.name] = proc.stop()
        await fake.close()
        bad = {k: v for k, v in codes.items() if v not in (0, None)}
        if bad:
            print(f"exit codes: {bad}")
            for proc in (real, bare):
                if proc is not None:
                    print(f"--- {proc.name} log tail ---\n{proc.tail()}")


def print_load(bare_load: dict[str, Any], real_load: dict[str, Any]) -> None:
    print(
        f"{'32 in flight':<34} {'answers/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'> 3 s':>6} {'missed':>6} {'bot CPU':>8} {'fake CPU':>8}"
    )
    for label, load in (("bare /ping", bare_load), ("bot (30/30/30/10 mix)", real_load)):
        print(
            f"{label:<34} {load['rate']:>9.0f} {load['p50']:>8.1f} {load['p99']:>8.1f}"
            f" {load['late']:>6} {load['missed']:>6} {load['cpu']:>7.0f}%"
            f" {load['fake_cpu']:>7.0f}%"
        )
    target = (
        real_load["rate"] >= 400
        and real_load["p99"] <= 250
        and not real_load["late"]
        and not real_load["missed"]
    )
    print(f"  target 400/s, p99 ≤ 250 ms, no missed deadline: {'met' if target else 'NOT met'}")


def print_sync(sync: dict[str, Any]) -> None:
    print(
        f"\n/config sync-roles, {sync['concerned']} members above level 0,"
        f" {sync['drifted']} with roles out of line:"
        f" {'finished' if sync['finished'] else 'NOT finished'} after"
        f" {sync['elapsed']:.1f} s; {sync['looked_up']} members looked up"
        f" ({sync['rate']:.0f}/s: {sync['gateway_requests']} gateway requests,"
        f" {sync['rest_lookups']} REST lookups), {sync['role_calls']} role changes sent,"
        f" bot CPU {sync['cpu_per_member_ms']:.2f} ms a member"
    )
    if sync["text"]:
        print("  answer: " + sync["text"].replace("\n", " / ")[:300])


def start_profiler(path: Path | None, pid: int, seconds: float) -> subprocess.Popen[bytes] | None:
    """py-spy (on PyPI) sampling the bot during the load, as collapsed stacks."""
    if path is None:
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return subprocess.Popen(
        [
            spy,
            "record",
            "-p",
            str(pid),
            "-d",
            str(int(seconds)),
            "-r",
            "200",
            "--threads",
            "--format",
            "raw",
            "-o",
            str(path),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


PROFILE_GROUPS = (
    ("aiosqlite", ("aiosqlite",)),
    ("sqlite3 (SQLite itself)", ("execute (sqlite3", "fetchall (sqlite3", "sqlite3/")),
    ("asyncpg", ("asyncpg",)),
    ("SQLAlchemy ORM", ("sqlalchemy/orm",)),
    ("SQLAlchemy core and engine", ("sqlalchemy/",)),
    ("discord.py", ("discord/",)),
    ("aiohttp", ("aiohttp/",)),
    ("the bot's own code", ("/bot/", "/cogs/")),
    ("event loop and selector", ("asyncio/", "selectors.py")),
    ("threads waiting", ("threading.py",)),
)


def print_profile(path: Path) -> None:
    """Share of samples by the innermost frame's library (py-spy raw: `stack count`)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        print(f"no profile at {path}")
        return
    totals: dict[str, int] = {}
    all_samples = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if any("(threading.py)" in f and "wait" in f for f in frames[-3:]):
            continue  # idle worker threads
        all_samples += n
        group = "other"
        for frame in reversed(frames):
            found = next((g for g, keys in PROFILE_GROUPS if any(k in frame for k in keys)), None)
            if found is not None:
                group = found
                break
        totals[group] = totals.get(group, 0) + n
    print(f"\nprofile of the bot under load ({all_samples} busy samples, innermost library):")
    for group, n in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {group:<30} {100 * n / max(1, all_samples):5.1f}%")


def identified(fake: Any, token: str) -> bool:
    return any(getattr(c, "bench_token", None) == token and c.identified for c in fake._conns)


async def wait_for(predicate: Callable[[], object], seconds: float, what: str, proc: Proc) -> None:
    deadline = time.perf_counter() + seconds
    while not predicate():
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited while waiting for {what}:\n{proc.tail()}")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timed out waiting for {what}:\n{proc.tail()}")
        await asyncio.sleep(0.05)


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and sys.argv[1:] == ["--bare-bot"]:
        run_bare_bot()
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--db",
        type=Path,
        default=Path("/tmp/bench_bot/seed.sqlite3"),
        help="the seeded SQLite file, kept between runs",
    )
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--completions", type=int, default=5_000_000)
    parser.add_argument("--samples", type=int, default=400, help="per kind of interaction")
    parser.add_argument("--rounds", type=int, default=4, help="alternations of bare and bot")
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--throughput-seconds", type=float, default=20.0)
    parser.add_argument(
        "--sync-seconds",
        type=float,
        default=60.0,
        help="time budget of /config sync-roles (0: skip it)",
    )
    parser.add_argument("--database-url", help="run the bot on this PostgreSQL database")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="run the bot on a throwaway local PostgreSQL cluster",
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--cards",
        action="store_true",
        help="leave pictures on (default: /config cards off, so the text answers are measured;"
        " benchmarks/bench_cards.py measures the pictures)",
    )
    parser.add_argument("--kinds", help="only these interactions, e.g. progress,levels")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="run the bot with its reads answered from memory (benchmarks/floor_bot.py): what"
        " the same answers cost without database work; the reads only, no load",
    )
    parser.add_argument(
        "--profile", type=Path, help="sample the bot with py-spy during the load (raw stacks)"
    )
    args = parser.parse_args(argv)
    if args.floor:
        args.kinds = args.kinds or ",".join(k for k, _ in KINDS if k in READS)
        args.throughput_seconds = args.sync_seconds = 0

    wall = time.perf_counter()
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    args.db.parent.mkdir(parents=True, exist_ok=True)
    ensure_seed(args.db, args.members, args.completions)
    workdir = Path(tempfile.mkdtemp(prefix="bench_bot_", dir=str(args.db.parent)))
    try:
        with contextlib.ExitStack() as stack:
            if args.postgres:
                args.database_url = stack.enter_context(postgres_cluster())
            if args.database_url:
                url = args.database_url
                t0 = time.perf_counter()
                load_postgres(args.db, url)
                print(f"copied the seeded rows to PostgreSQL in {time.perf_counter() - t0:.0f} s")
            else:
                target = workdir / "bot.sqlite3"
                t0 = time.perf_counter()
                copy_sqlite(args.db, target)
                print(f"copied the seeded file for this run in {time.perf_counter() - t0:.1f} s")
                url = f"sqlite:///{target}"
            asyncio.run(run(args, url, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\ntotal wall time {time.perf_counter() - wall:.0f} s")
    return 0


SEEDED_TABLES = (
    "guild_settings",
    "members",
    "completions",
    "level_announcements",
    "score_buckets",
    "period_scores",
    "period_totals",
)


def load_postgres(seed: Path, url: str) -> None:
    """Migrate the PostgreSQL database, empty the seeded tables and copy the seed's rows in."""
    from bot.config import normalise_database_url
    from bot.db.migrate import upgrade

    url = normalise_database_url(url)
    upgrade(url)
    asyncio.run(_copy_rows(seed, url))


async def _copy_rows(seed: Path, url: str) -> None:
    import datetime as dt

    import asyncpg
    from sqlalchemy import Boolean, Date

    from bot.db.models import Base, TZDateTime

    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn)
    src = sqlite3.connect(f"file:{seed}?mode=ro", uri=True)
    utc = dt.UTC

    def as_time(v: Any) -> Any:
        return None if v is None else dt.datetime.fromisoformat(v).replace(tzinfo=utc)

    def as_date(v: Any) -> Any:
        return None if v is None else dt.date.fromisoformat(v)

    def as_bool(v: Any) -> Any:
        return None if v is None else bool(v)

    try:
        await conn.execute(
            "TRUNCATE " + ", ".join(Base.metadata.tables[t].name for t in SEEDED_TABLES)
        )
        # Load without indexes, then build them: several times faster than keeping them.
        tables = list(SEEDED_TABLES)
        keys = await conn.fetch(
            "SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def"
            " FROM pg_constraint WHERE contype = 'p' AND conrelid::regclass::text = ANY($1)",
            tables,
        )
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY($1)"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype = 'p')",
            tables,
        )
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        for key in keys:
            await conn.execute(f'ALTER TABLE {key["tbl"]} DROP CONSTRAINT "{key["conname"]}"')
        for name in SEEDED_TABLES:
            table = Base.metadata.tables[name]
            columns = [c.name for c in table.columns]
            convert = []
            for c in table.columns:
                if isinstance(c.type, TZDateTime):
                    convert.append(as_time)
                elif isinstance(c.type, Date):
                    convert.append(as_date)
                elif isinstance(c.type, Boolean):
                    convert.append(as_bool)
                else:
                    convert.append(None)
            cursor = src.execute(f"SELECT {', '.join(columns)} FROM {name}")
            while rows := cursor.fetchmany(100_000):
                records = [
                    tuple(f(v) if f else v for f, v in zip(convert, row, strict=True))
                    for row in rows
                ]
                await conn.copy_records_to_table(name, records=records, columns=columns)
        await conn.execute("SET maintenance_work_mem = '256MB'")
        for key in keys:
            await conn.execute(
                f'ALTER TABLE {key["tbl"]} ADD CONSTRAINT "{key["conname"]}" {key["def"]}'
            )
        for index in indexes:
            await conn.execute(index["indexdef"])
        await conn.execute("ANALYZE")
    finally:
        src.close()
        await conn.close()


if __name__ == "__main__":
    sys.exit(main())
