"""Charts: check-in participation per cycle, a member's hours per week, self-assessment trends."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from bot.ui.cards.canvas import (
    ACCENT,
    ACCENT_LIGHT,
    EDGE,
    FAINT,
    GREEN,
    MONTHS,
    MUTED,
    PANEL,
    RGB,
    TEXT,
    TRACK,
    Canvas,
    display_name,
    fmt,
)
from bot.ui.cards.models import AssessmentChart, HoursChart, ParticipationChart
from bot.ui.cards.text import Weight

WIDTH = 1200
CYCLES = 12
MAX_WEEKS = 26
DIM_ACCENT: RGB = (44, 84, 140)
DIM_GREEN: RGB = (30, 104, 80)


def short_date(day: dt.date) -> str:
    """`5 Jan`."""
    return f"{day.day} {MONTHS[day.month - 1]}"


def long_date(day: dt.date) -> str:
    """`5 Jan 2026`."""
    return f"{short_date(day)} {day.year}"


def nice_step(top: float, ticks: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) so `ticks` steps cover `top`."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _number(value: float) -> str:
    return fmt(round(value)) if value >= 100 or value == int(value) else f"{value:.1f}"


def _header(c: Canvas, title: str, subtitle: str, big: str, big_note: str) -> None:
    c.text((40, 64), title, 34, TEXT, Weight.BOLD, max_width=700)
    c.text((40, 98), subtitle, 17, MUTED, max_width=700)
    c.text((WIDTH - 40, 66), big, 40, TEXT, Weight.BOLD, anchor="rs")
    c.text((WIDTH - 40, 98), big_note, 16, MUTED, anchor="rs", max_width=380)


def _bars(
    c: Canvas,
    values: Sequence[float],
    labels: Sequence[str],
    colours: Sequence[RGB],
    box: tuple[float, float, float, float],
    average: float | None = None,
    label_every: int = 1,
) -> None:
    """A bar chart in `box` (x, y, w, h) with a grid, value labels and x labels."""
    x, y, w, h = box
    c.rect(x, y, w, h, PANEL, radius=18, outline=EDGE)
    left, right, top_pad, bottom = x + 64, x + w - 24, y + 44, y + h - 44
    top = max(max(values, default=0), average or 0)
    step = nice_step(top)
    ceiling = step * max(1, math.ceil(top / step)) if top > 0 else 4
    plot_h = bottom - top_pad

    def ypos(v: float) -> float:
        return bottom - plot_h * (v / ceiling)

    tick = 0.0
    while tick <= ceiling + 1e-9:
        ty = ypos(tick)
        c.rect(left, ty, right - left, 1, TRACK if tick else EDGE)
        c.text((left - 14, ty), _number(tick), 14, FAINT, anchor="rm")
        tick += step
    n = max(1, len(values))
    slot = (right - left) / n
    bar_w = min(56.0, slot * 0.62)
    for i, (value, label, colour) in enumerate(zip(values, labels, colours, strict=True)):
        cx = left + slot * (i + 0.5)
        top_y = ypos(value)
        if value > 0:
            c.rect(cx - bar_w / 2, top_y, bar_w, bottom - top_y, colour, radius=min(8, bar_w / 4))
            # Square the bottom corners: only the top of a bar is rounded.
            c.rect(cx - bar_w / 2, max(top_y, bottom - 8), bar_w, min(8, bottom - top_y), colour)
        else:
            c.rect(cx - bar_w / 2, bottom - 2, bar_w, 2, FAINT)
        if slot >= 34:
            c.text((cx, top_y - 10), _number(value), 14, TEXT, Weight.SEMIBOLD, anchor="ms")
        if i % label_every == 0 or i == n - 1:
            c.text((cx, bottom + 26), label, 14, MUTED, anchor="ms")
    if average is not None and average > 0:
        ay = ypos(average)
        dash = 10.0
        dx = left
        while dx < right:
            c.rect(dx, ay - 1, min(dash, right - dx), 2, ACCENT_LIGHT)
            dx += dash * 1.8


def render_participation(chart: ParticipationChart) -> bytes:
    """Answers per check-in cycle, the last 12 cycles, the latest highlighted (1200 by 600)."""
    cycles = chart.cycles[-CYCLES:]
    c = Canvas(WIDTH, 600)
    where = f" · {chart.server_name}" if chart.server_name else ""
    count = len(cycles)
    subtitle = f"Members who answered, last {count} {'cycle' if count == 1 else 'cycles'}{where}"
    latest = cycles[-1].answered if cycles else 0
    note = "answered the latest check-in"
    if len(cycles) >= 2:
        delta = latest - cycles[-2].answered
        note = f"latest cycle · {'+' if delta >= 0 else '−'}{fmt(abs(delta))} on the one before"
    _header(c, "Check-in participation", subtitle, fmt(latest), note)
    if not cycles:
        c.rect(40, 130, WIDTH - 80, 440, PANEL, radius=18, outline=EDGE)
        c.text((WIDTH / 2, 350), "No check-in cycles yet.", 20, MUTED, anchor="mm")
        return c.png()
    colours = [DIM_ACCENT] * (count - 1) + [ACCENT]
    _bars(
        c,
        [cy.answered for cy in cycles],
        [short_date(cy.opens_on) for cy in cycles],
        colours,
        (40, 130, WIDTH - 80, 440),
    )
    return c.png()


def render_hours(chart: HoursChart) -> bytes:
    """A member's hours spent learning per check-in week, the last 26 at most (1200 by 600)."""
    weeks = chart.weeks[-MAX_WEEKS:]
    c = Canvas(WIDTH, 600)
    name = display_name(chart.display_name)
    answered = [h for _, h in weeks]
    total = sum(answered)
    average = total / len(answered) if answered else 0.0
    span = f"{len(weeks)} {'week' if len(weeks) == 1 else 'weeks'}"
    subtitle = f"{name} · {_number(total)} h in {span}"
    _header(c, "Hours spent learning", subtitle, f"{average:.1f} h", "a week on average (dashed)")
    if not weeks:
        c.rect(40, 130, WIDTH - 80, 440, PANEL, radius=18, outline=EDGE)
        c.text((WIDTH / 2, 350), "No check-in answers yet.", 20, MUTED, anchor="mm")
        return c.png()
    colours = [DIM_GREEN] * (len(weeks) - 1) + [GREEN]
    _bars(
        c,
        answered,
        [short_date(d) for d, _ in weeks],
        colours,
        (40, 130, WIDTH - 80, 440),
        average=average,
        label_every=1 if len(weeks) <= 13 else 2,
    )
    return c.png()


PANEL_W, PANEL_H, GAP, COLUMNS = 362.0, 150.0, 17.0, 3
MAX_METRICS = 15


def render_assessment(chart: AssessmentChart) -> bytes:
    """One small step chart of ratings (1-5) per metric, on a shared time axis."""
    metrics = [(name, sorted(points)) for name, points in chart.metrics.items() if points]
    metrics = metrics[:MAX_METRICS]
    rows = max(1, math.ceil(len(metrics) / COLUMNS))
    top = 130
    c = Canvas(WIDTH, round(top + rows * (PANEL_H + GAP) + 23))
    days = [d for _, points in metrics for d, _ in points]
    name = display_name(chart.display_name)
    if days:
        first, last = min(days), max(days)
        subtitle = f"{name} · {long_date(first)} to {long_date(last)}"
    else:
        first = last = dt.date(2000, 1, 1)
        subtitle = f"{name} · no self-assessments yet"
    latest = [points[-1][1] for _, points in metrics]
    big = f"{sum(latest) / len(latest):.1f}" if latest else "—"
    _header(c, "Self-assessment", subtitle, big, "average of the latest ratings, 1 to 5")
    if not metrics:
        c.rect(40, top, WIDTH - 80, PANEL_H, PANEL, radius=18, outline=EDGE)
        c.text(
            (WIDTH / 2, top + PANEL_H / 2),
            "Rate yourself with /assess rate.",
            20,
            MUTED,
            anchor="mm",
        )
        return c.png()
    span = max(1, (last - first).days)
    for i, (metric, points) in enumerate(metrics):
        px = 40 + (i % COLUMNS) * (PANEL_W + GAP)
        py = top + (i // COLUMNS) * (PANEL_H + GAP)
        c.rect(px, py, PANEL_W, PANEL_H, PANEL, radius=16, outline=EDGE)
        rating = points[-1][1]
        c.text((px + PANEL_W - 18, py + 34), f"{rating}", 24, TEXT, Weight.BOLD, anchor="rs")
        c.text((px + 18, py + 30), metric, 16, TEXT, Weight.SEMIBOLD, max_width=PANEL_W - 76)
        left, right = px + 36, px + PANEL_W - 20
        low, high = py + PANEL_H - 22, py + 52

        def ypos(r: int, low: float = low, high: float = high) -> float:
            return low - (low - high) * (max(1, min(5, r)) - 1) / 4

        for r in range(1, 6):
            c.rect(left, ypos(r), right - left, 1, TRACK)
        for r in (1, 3, 5):
            c.text((px + 18, ypos(r)), str(r), 12, FAINT, anchor="lm")

        def xpos(d: dt.date, left: float = left, right: float = right) -> float:
            return left + (right - left) * (d - first).days / span

        path: list[tuple[float, float]] = []
        for j, (day, value) in enumerate(points):
            x, y = xpos(day), ypos(value)
            if j:
                path.append((x, path[-1][1]))
            path.append((x, y))
        if len(path) == 1:
            path.append((right, path[0][1]))
        else:
            path.append((right, path[-1][1]))
        c.line(path, ACCENT, width=3)
        for day, value in points:
            c.circle(xpos(day), ypos(value), 4.5, ACCENT_LIGHT)
    return c.png()
