"""Benchmark: how long each card takes to draw, and how long the event loop waits meanwhile.

    python benchmarks/bench_cards.py [--renders 300] [--skip-processes]

Realistic data: a member of a 100,000-member server (rank #12,345 of 100,000), a heatmap with
every day of the 52 weeks active, a 256 px avatar, names in several scripts; leaderboard pages
deep in the ranking (#12,341...); 12 check-in cycles; 26 weeks of hours; 15 assessment metrics.
Every card drawn is different (no cache hit), as when many members ask at once.

1. Each drawing function on its own, in this thread: p50 and p99 of wall time and of this
   thread's CPU time (the CPU figure is what the card costs; the wall figure also counts
   waiting for a core, on a machine shared with other work).
2. The progress card through CardRenderer, threads and processes, one request at a time
   and four at once, while a 1 ms ticker runs on the event loop: how late the ticker woke
   (its worst and p99 lag) is how long the loop was blocked. The same ticker with nothing
   rendering gives the machine's own baseline. Configurations take turns in ten rounds, so
   that each meets the same share of whatever else the machine runs.

Target: progress card p99 <= 150 ms on the project's 2-core machine, with the loop free.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from bot.ui.cards import CardRenderer, LeaderboardCard, LeaderboardRow, ProgressCard
from bot.ui.cards import samples as s
from bot.ui.cards.draw import (
    render_assessment,
    render_hours,
    render_leaderboard,
    render_participation,
    render_progress,
)

TARGET_MS = 150.0
NAMES = (
    "Priya Raman",
    "Дмитрий Иванов",
    "Lucía Fernández-Ortega",
    "王小明",
    "محمد علي",
    "🔥 Alex Chen 🚀",
    "김민준",
    "Ngozi Okafor",
    "राहुल शर्मा",
    "Sofia Rossi ✨",
)


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def full_year(today: dt.date, rng: random.Random) -> dict[dt.date, int]:
    """Every day of the last 52 weeks active, with 1 to about 10 things done."""
    return {today - dt.timedelta(days=i): 1 + int(rng.expovariate(0.5)) for i in range(364)}


def progress_cards(n: int, rng: random.Random) -> list[ProgressCard]:
    """`n` different progress cards of members of a 100,000-member server."""
    avatars = [s.sample_avatar(seed, 256) for seed in range(8)]
    base = s.sample_progress()
    cards = []
    for i in range(n):
        today = s.TODAY + dt.timedelta(days=i % 30)
        cards.append(
            dataclasses.replace(
                base,
                user_id=10**17 + i,
                display_name=NAMES[i % len(NAMES)],
                avatar=avatars[i % len(avatars)] if i % 5 else None,
                rank=12_345 + i,
                ranked_members=100_000,
                streak=rng.randint(0, 60),
                today=today,
                activity=full_year(today, rng),
            )
        )
    return cards


def leaderboard_cards(n: int, rng: random.Random) -> list[LeaderboardCard]:
    """`n` different pages deep in a 100,000-member leaderboard, with avatars."""
    avatars = [s.sample_avatar(seed, 128) for seed in range(20)]
    cards = []
    for i in range(n):
        first = 12_341 + 10 * i
        rows = tuple(
            LeaderboardRow(
                rank=first + j,
                user_id=10**17 + first + j,
                display_name=NAMES[(i + j) % len(NAMES)],
                completed=90 - j,
                level=2,
                avatar=avatars[(i + j) % len(avatars)] if (i + j) % 4 else None,
            )
            for j in range(10)
        )
        cards.append(
            LeaderboardCard(
                period="All time",
                page=first // 10,
                pages=10_000,
                total_members=100_000,
                rows=rows,
                server_name="Data Engineering Guild",
            )
        )
    return cards


def chart_inputs(n: int, rng: random.Random) -> dict[str, list[Any]]:
    """`n` different inputs for each chart."""
    parts, hours, assessments = [], [], []
    for i in range(n):
        p = s.sample_participation()
        parts.append(
            dataclasses.replace(
                p, cycles=tuple(dataclasses.replace(c, answered=c.answered + i) for c in p.cycles)
            )
        )
        h = s.sample_hours()
        weeks = tuple(
            (s.TODAY - dt.timedelta(weeks=25 - w), round(rng.uniform(0, 12), 1)) for w in range(26)
        )
        hours.append(dataclasses.replace(h, user_id=i, weeks=weeks))
        a = s.sample_assessment(metrics=15)
        assessments.append(dataclasses.replace(a, user_id=i))
    return {"participation": parts, "hours": hours, "assessment": assessments}


def time_direct(render: Callable[[Any], bytes], inputs: list[Any]) -> tuple[list[float], ...]:
    """Draw each input in this thread: wall and CPU milliseconds, and PNG sizes."""
    render(inputs[0])  # fonts, cmaps and caches of a warm worker
    wall, cpu, sizes = [], [], []
    for data in inputs:
        w, c = time.perf_counter(), time.thread_time()
        png = render(data)
        cpu.append((time.thread_time() - c) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
        sizes.append(len(png))
    return wall, cpu, sizes


async def ticker(lags: list[float], stop: asyncio.Event) -> None:
    """Sleep 1 ms at a time and record how late each wake-up was."""
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append((time.perf_counter() - start - 0.001) * 1000)


@dataclasses.dataclass
class Figures:
    """What one configuration measured, added up over the rounds."""

    latencies: list[float] = dataclasses.field(default_factory=list)
    lags: list[float] = dataclasses.field(default_factory=list)
    busy: float = 0.0  # seconds spent requesting cards


async def one_batch(
    renderer: CardRenderer | None, cards: list[ProgressCard], concurrency: int, into: Figures
) -> None:
    """Request `cards` through `renderer` (None: stay idle as long) with a ticker on the loop."""
    stop = asyncio.Event()
    tick = asyncio.create_task(ticker(into.lags, stop))
    started = time.perf_counter()
    if renderer is None:
        await asyncio.sleep(0.05 * len(cards))
    else:

        async def one(card: ProgressCard) -> None:
            t = time.perf_counter()
            await renderer.progress(card)
            into.latencies.append((time.perf_counter() - t) * 1000)

        for i in range(0, len(cards), concurrency):
            await asyncio.gather(*(one(c) for c in cards[i : i + concurrency]))
    into.busy += time.perf_counter() - started
    stop.set()
    await tick


async def loop_phase(cards: list[ProgressCard], processes: bool) -> list[tuple[str, Figures]]:
    """Idle, threads and processes, 1 and 4 at once: in rounds, so that every configuration
    meets the same share of whatever else the machine is doing."""
    configs: list[tuple[str, CardRenderer | None, int]] = [("idle loop (baseline)", None, 1)]
    renderers = []
    modes = [("threads", False)] + ([("processes", True)] if processes else [])
    for label, use_processes in modes:
        for workers in (1, 2):
            renderer = CardRenderer(workers=workers, processes=use_processes, cache_size=0)
            await renderer.start()
            await renderer.progress(dataclasses.replace(cards[0], user_id=1))  # warm
            renderers.append(renderer)
            for concurrency in (1, 4):
                name = f"{label}, {workers} worker(s), {concurrency} at once"
                configs.append((name, renderer, concurrency))
    figures = {name: Figures() for name, _, _ in configs}
    rounds = 10
    size = max(4, len(cards) // rounds)
    try:
        for r in range(rounds):
            batch = cards[r * size : (r + 1) * size] or cards[:size]
            for name, renderer, concurrency in configs:
                await one_batch(renderer, batch, concurrency, figures[name])
    finally:
        for renderer in renderers:
            renderer.close()
    return [(name, figures[name]) for name, _, _ in configs]


def main() -> None:
    """Run both phases and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renders", type=int, default=300)
    parser.add_argument("--skip-processes", action="store_true")
    args = parser.parse_args()
    rng = random.Random(2026)
    n = args.renders
    print(f"{n} renders per card · {os.cpu_count()} CPUs · load {os.getloadavg()[0]:.1f}")

    progress = progress_cards(n, rng)
    charts = chart_inputs(n, rng)
    kinds: list[tuple[str, Callable[[Any], bytes], list[Any]]] = [
        ("progress", render_progress, progress),
        ("leaderboard", render_leaderboard, leaderboard_cards(n, rng)),
        ("participation", render_participation, charts["participation"]),
        ("hours", render_hours, charts["hours"]),
        ("assessment (15 metrics)", render_assessment, charts["assessment"]),
    ]
    print("\n1. Drawing functions alone (ms)")
    print(f"{'card':<24} {'wall p50':>9} {'wall p99':>9} {'cpu p50':>8} {'cpu p99':>8} {'KB':>6}")
    for name, render, inputs in kinds:
        wall, cpu, sizes = time_direct(render, inputs)
        kb = statistics.mean(sizes) / 1024
        print(
            f"{name:<24} {pct(wall, 50):9.1f} {pct(wall, 99):9.1f} {pct(cpu, 50):8.1f}"
            f" {pct(cpu, 99):8.1f} {kb:6.0f}"
        )
        if name == "progress":
            verdict = "✅" if pct(wall, 99) <= TARGET_MS else "❌"
            progress_p99 = pct(wall, 99)

    print("\n2. Progress card through CardRenderer, 1 ms ticker on the loop (ms)")
    print(f"{'mode':<40} {'p50':>7} {'p99':>7} {'cards/s':>8} {'lag p99':>8} {'lag max':>8}")
    for name, f in asyncio.run(loop_phase(progress, not args.skip_processes)):
        head = f"{'':7} {'':7} {'':8}"
        if f.latencies:
            rate = len(f.latencies) / f.busy
            head = f"{pct(f.latencies, 50):7.1f} {pct(f.latencies, 99):7.1f} {rate:8.1f}"
        print(f"{name:<40} {head} {pct(f.lags, 99):8.2f} {max(f.lags):8.2f}")
    print(f"\nprogress card p99 {progress_p99:.1f} ms (target <= {TARGET_MS:.0f}) {verdict}")


if __name__ == "__main__":
    main()
