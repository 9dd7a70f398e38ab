"""Made-up, deterministic card data: for the README's examples, the tests and the benchmark.

A member of a 100,000-member server, well into level 2, with a year of activity.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import random

from PIL import Image, ImageDraw

from bot.ui.cards.models import (
    AssessmentChart,
    CycleBar,
    HoursChart,
    LeaderboardCard,
    LeaderboardRow,
    LevelBar,
    ParticipationChart,
    ProgressCard,
)

TODAY = dt.date(2026, 11, 26)  # a Thursday
LEVELS = (
    # number, title, checklist total, milestones total
    (1, "Junior Data Engineer", 7, 17),
    (2, "Data Engineer", 8, 18),
    (3, "Senior Data Engineer", 8, 19),
    (4, "Principal Data Engineer", 8, 19),
    (5, "Distinguished Data Engineer", 7, 19),
)
TITLES = {0: "Senior Data Analyst", **{n: t for n, t, _, _ in LEVELS}}
METRICS = (
    "Skill Assessments",
    "Certification Achievements",
    "Project Complexity",
    "Code Quality",
    "System Design",
    "Role Advancement",
    "Compensation Growth",
    "Leadership Scope",
    "Community Recognition",
    "Mentorship Impact",
    "Business Value",
    "Efficiency Gains",
    "Innovation",
    "Knowledge Sharing",
    "Organizational Influence",
)
NAMES = (
    "Priya Raman",
    "Дмитрий Иванов",
    "Lucía Fernández",
    "王小明",
    "محمد علي",
    "🔥 Alex Chen",
    "Ngozi Okafor",
    "Jonas Müller",
    "김민준",
    "Sofia Rossi ✨",
)


def sample_avatar(seed: int = 7, size: int = 256) -> bytes:
    """A PNG that stands in for a Discord avatar: soft shapes on a gradient."""
    rng = random.Random(seed)
    image = Image.linear_gradient("L").resize((size, size)).rotate(35)
    base = Image.merge(
        "RGB",
        (
            image.point(lambda v: 40 + v // 2),
            image.point(lambda v: 90 + v // 3),
            image.point(lambda v: 200 - v // 4),
        ),
    )
    draw = ImageDraw.Draw(base, "RGBA")
    for _ in range(6):
        r = rng.randint(size // 8, size // 3)
        x, y = rng.randint(0, size), rng.randint(0, size)
        colour = (rng.randint(150, 255), rng.randint(120, 230), rng.randint(60, 200), 150)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    out = io.BytesIO()
    base.save(out, "PNG")
    return out.getvalue()


def sample_activity(today: dt.date = TODAY, seed: int = 11) -> dict[dt.date, int]:
    """A year of days with completions and check-ins: busier lately, quiet some weeks."""
    rng = random.Random(seed)
    days: dict[dt.date, int] = {}
    for back in range(7 * 53):
        day = today - dt.timedelta(days=back)
        busy = 0.25 + 0.45 * math.exp(-back / 160)
        if (back // 7) % 9 == 4:  # a quiet week now and then
            busy = 0.05
        if rng.random() < busy:
            days[day] = 1 + int(rng.expovariate(0.7))
    return days


def sample_progress(
    today: dt.date = TODAY,
    name: str = "Priya Raman",
    avatar: bytes | None = None,
    user_id: int = 80_514_223_101_337,
) -> ProgressCard:
    """A member at level 2, halfway through level 3, ranked #12,345 of 100,000."""
    done = {1: (7, 17), 2: (8, 15), 3: (4, 7), 4: (1, 2), 5: (0, 0)}
    levels = tuple(
        LevelBar(n, t, done[n][0], c, done[n][1], m, reached=done[n][0] == c)
        for n, t, c, m in LEVELS
    )
    completed = sum(a + b for a, b in done.values())
    total = sum(c + m for _, _, c, m in LEVELS)
    return ProgressCard(
        user_id=user_id,
        display_name=name,
        avatar=avatar,
        level=2,
        level_title=f"Level 2 · {TITLES[2]}",
        levels=levels,
        completed=completed,
        total=total,
        rank=12_345,
        ranked_members=100_000,
        streak=7,
        today=today,
        activity=sample_activity(today),
    )


def sample_leaderboard(page: int = 0, avatars: bool = True) -> LeaderboardCard:
    """A page of the all-time leaderboard of a 100,000-member server."""
    rng = random.Random(page)
    first = page * 10 + 1
    count = max(1, 212 - page * 9)
    rows = []
    for i in range(10):
        rows.append(
            LeaderboardRow(
                rank=first + i,
                user_id=1000 + first + i,
                display_name=NAMES[i % len(NAMES)],
                completed=count,
                level=min(5, count // 40),
                avatar=sample_avatar(first + i, 128) if avatars and i % 3 != 2 else None,
            )
        )
        count = max(1, count - rng.randint(0, 14))
    return LeaderboardCard(
        period="All time",
        page=page,
        pages=10_000,
        total_members=100_000,
        rows=tuple(rows),
        server_name="Data Engineering Guild",
    )


def sample_participation(today: dt.date = TODAY) -> ParticipationChart:
    """Twelve weekly cycles of a server with a few hundred regulars."""
    rng = random.Random(3)
    monday = today - dt.timedelta(days=today.weekday())
    cycles = tuple(
        CycleBar(monday - dt.timedelta(weeks=11 - i), 240 + 8 * i + rng.randint(-40, 40))
        for i in range(12)
    )
    return ParticipationChart(cycles, server_name="Data Engineering Guild")


def sample_hours(today: dt.date = TODAY) -> HoursChart:
    """Sixteen weeks of a member's check-in hours, one week away."""
    rng = random.Random(5)
    monday = today - dt.timedelta(days=today.weekday())
    weeks = tuple(
        (monday - dt.timedelta(weeks=15 - i), 0.0 if i == 6 else round(rng.uniform(2, 11), 1))
        for i in range(16)
    )
    return HoursChart(80_514_223_101_337, "Priya Raman", weeks)


def sample_assessment(today: dt.date = TODAY, metrics: int = 6) -> AssessmentChart:
    """Monthly self-assessments over most of a year, slowly rising."""
    rng = random.Random(9)
    series: dict[str, list[tuple[dt.date, int]]] = {}
    for name in METRICS[:metrics]:
        rating = rng.randint(1, 2)
        points = []
        for month in range(10):
            day = today - dt.timedelta(days=30 * (9 - month))
            if rng.random() < 0.35:
                rating = min(5, rating + 1)
            elif rng.random() < 0.08:
                rating = max(1, rating - 1)
            points.append((day, rating))
        series[name] = points
    return AssessmentChart(80_514_223_101_337, "Priya Raman", series)
