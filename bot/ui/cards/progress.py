"""The `/progress` card: who, what level, bars per level, rank, streak and a year of activity."""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Mapping

from PIL import Image, ImageDraw

from bot.ui.cards.canvas import (
    ACCENT,
    ACCENT_LIGHT,
    BG,
    EDGE,
    FAINT,
    GREEN,
    HEAT,
    MONTHS,
    MUTED,
    PANEL,
    TEXT,
    Canvas,
    avatar,
    display_name,
    fmt,
)
from bot.ui.cards.models import WEEKS, LevelBar, ProgressCard, first_day, window
from bot.ui.cards.text import Weight

WIDTH, HEIGHT = 1200, 630
M = 40  # outer margin


def heat_level(count: int) -> int:
    """The shade (0-4) of a day with `count` completions and check-in answers."""
    if count <= 0:
        return 0
    if count <= 2:
        return count
    return 3 if count <= 4 else 4


def render_progress(card: ProgressCard) -> bytes:
    """Draw the progress card as PNG bytes (1200 by 630)."""
    c = Canvas(WIDTH, HEIGHT)
    name = display_name(card.display_name)
    _header(c, card, name)
    _levels(c, card.levels, 40, 200, 752, 188)
    _stats(c, card, 808, 200, 352, 188)
    _heatmap(c, card.activity, card.today, *HEATMAP)
    return c.png()


HEATMAP = (40.0, 404.0, 1120.0, 204.0)  # the activity panel: x, y, width, height
_PAD = 22.0
PITCH, CELL = 20.0, 16.0  # whole device pixels at SCALE 2: the grid is one paste
GRID_X = HEATMAP[0] + HEATMAP[2] - _PAD - (WEEKS * PITCH - (PITCH - CELL))
GRID_Y = HEATMAP[1] + 60


def cell_origin(day: dt.date, today: dt.date) -> tuple[float, float] | None:
    """Where the heatmap draws `day` (its cell's top-left corner), None when not shown."""
    start = first_day(today)
    if not start <= day <= today:
        return None
    col, row = divmod((day - start).days, 7)
    return GRID_X + col * PITCH, GRID_Y + row * PITCH


_grid_lock = threading.Lock()


@functools.cache
def _cell_mask_unlocked() -> Image.Image:
    pitch, cell = Canvas.px(PITCH), Canvas.px(CELL)
    one = Image.new("L", (pitch, pitch), 0)
    ImageDraw.Draw(one).rounded_rectangle((0, 0, cell - 1, cell - 1), Canvas.px(3.5), 255)
    grid = Image.new("L", (pitch * WEEKS, pitch * 7), 0)
    for col in range(WEEKS):
        for row in range(7):
            grid.paste(one, (col * pitch, row * pitch))
    return grid


def _cell_mask() -> Image.Image:
    with _grid_lock:
        return _cell_mask_unlocked()


def _grid(days: Mapping[dt.date, int], today: dt.date) -> Image.Image:
    """The heatmap's colours: a 52 by 7 map of shades scaled up (pasted through the cell mask).

    Days after today get the panel's own colour, so they do not show.
    """
    future = len(HEAT)
    levels = bytearray([future]) * (WEEKS * 7)
    start = first_day(today)
    for offset in range((today - start).days + 1):
        col, row = divmod(offset, 7)
        day = start + dt.timedelta(days=offset)
        levels[row * WEEKS + col] = heat_level(days.get(day, 0))
    shades = Image.frombytes("P", (WEEKS, 7), bytes(levels))
    shades.putpalette([v for colour in (*HEAT, PANEL) for v in colour])
    return shades.resize(_cell_mask().size, Image.Resampling.NEAREST).convert("RGB")


def _header(c: Canvas, card: ProgressCard, name: str) -> None:
    cx, cy, r = M + 66, 36 + 66, 66
    c.circle(cx, cy, r + 5, ACCENT)
    c.circle(cx, cy, r + 2, BG)
    c.paste(avatar(card.avatar, card.user_id, name, 2 * r), cx - r, cy - r)

    x = 204
    right = 1160 - 150  # the level badge's place
    c.text((x, 84), name, 46, TEXT, Weight.BOLD, max_width=right - x - 16)
    c.text((x, 120), card.level_title, 24, ACCENT_LIGHT, Weight.SEMIBOLD, max_width=right - x - 16)
    share = card.completed / card.total if card.total else 0.0
    c.bar(x, 140, right - x - 16, 12, share, ACCENT)
    done = f"{fmt(card.completed)} of {fmt(card.total)} items done"
    c.text((x, 180), done, 18, MUTED, Weight.REGULAR)
    c.text((right - 16, 180), f"{share:.0%}", 18, TEXT, Weight.SEMIBOLD, anchor="rs")

    bx, by, size = 1160 - 134, 36, 134
    c.rect(bx, by, size, size, PANEL, radius=22, outline=EDGE)
    c.text((bx + size / 2, by + 34), "LEVEL", 15, MUTED, Weight.SEMIBOLD, anchor="ms")
    c.text((bx + size / 2, by + 110), str(card.level), 76, TEXT, Weight.BOLD, anchor="ms")


def _levels(
    c: Canvas, levels: tuple[LevelBar, ...], x: float, y: float, w: float, h: float
) -> None:
    c.rect(x, y, w, h, PANEL, radius=18, outline=EDGE)
    pad = 22
    title_w, bar_w, count_w = 236, 150, 62
    col1 = x + pad + 30 + title_w
    col2 = col1 + bar_w + count_w + 16
    c.text((x + pad, y + 32), "Levels", 19, TEXT, Weight.BOLD)
    c.text((col1, y + 32), "CHECKLIST", 13, MUTED, Weight.SEMIBOLD)
    c.text((col2, y + 32), "MILESTONES", 13, MUTED, Weight.SEMIBOLD)
    shown = levels[:5]
    row_h = (h - 52) / max(5, len(shown))
    for i, lvl in enumerate(shown):
        ry = y + 50 + i * row_h
        mid = ry + row_h / 2
        colour = GREEN if lvl.reached else EDGE
        c.circle(x + pad + 11, mid, 11, colour)
        number_colour = BG if lvl.reached else MUTED
        c.text((x + pad + 11, mid), str(lvl.number), 13, number_colour, Weight.BOLD, anchor="mm")
        title_colour = TEXT if lvl.reached or i == 0 else MUTED
        c.text((x + pad + 32, mid), lvl.title, 16, title_colour, Weight.SEMIBOLD, "lm", title_w - 8)
        for col, done, total, fill in (
            (col1, lvl.checklist_done, lvl.checklist_total, ACCENT),
            (col2, lvl.milestones_done, lvl.milestones_total, GREEN),
        ):
            c.bar(col, mid - 4, bar_w, 8, done / total if total else 0.0, fill)
            c.text((col + bar_w + 10, mid), f"{done}/{total}", 15, MUTED, Weight.REGULAR, "lm")


def _stats(c: Canvas, card: ProgressCard, x: float, y: float, w: float, h: float) -> None:
    gap = 12
    tile_h = (h - gap) / 2
    if card.rank_hidden:
        rank, rank_note = "hidden", "from leaderboards"
    elif card.rank is None:
        rank, rank_note = "—", "not ranked yet"
    else:
        rank = f"#{fmt(card.rank)}"
        rank_note = f"of {fmt(card.ranked_members)}" if card.ranked_members else "on this server"
    weeks = "week" if card.streak == 1 else "weeks"
    tiles = (
        ("SERVER RANK", rank, rank_note),
        ("CHECK-IN STREAK", fmt(card.streak), f"{weeks} in a row"),
    )
    for i, (label, value, note) in enumerate(tiles):
        ty = y + i * (tile_h + gap)
        c.rect(x, ty, w, tile_h, PANEL, radius=18, outline=EDGE)
        c.text((x + 22, ty + 30), label, 13, MUTED, Weight.SEMIBOLD)
        width = c.text((x + 22, ty + 74), value, 36, TEXT, Weight.BOLD, max_width=w - 44)
        c.text(
            (x + 22 + width + 10, ty + 74),
            note,
            16,
            MUTED,
            Weight.REGULAR,
            max_width=max(0.0, w - 54 - width),
        )


def _heatmap(
    c: Canvas,
    activity: Mapping[dt.date, int],
    today: dt.date,
    x: float,
    y: float,
    w: float,
    h: float,
) -> None:
    c.rect(x, y, w, h, PANEL, radius=18, outline=EDGE)
    days = window(activity, today)
    pad = _PAD
    c.text((x + pad, y + 32), "Activity", 19, TEXT, Weight.BOLD)
    active = len(days)
    summary = f"{fmt(active)} active {'day' if active == 1 else 'days'} in the last 52 weeks"
    title_w = c.measure("Activity", 19, Weight.BOLD)
    c.text((x + pad + title_w + 14, y + 32), summary, 15, MUTED)

    # Legend, right-aligned on the title line.
    lx = x + w - pad
    lx -= c.measure("More", 13)
    c.text((lx, y + 31), "More", 13, MUTED)
    for shade in reversed(HEAT):
        lx -= 6 + 13
        c.tile(lx, y + 20, 13, shade, PANEL, radius=3)
    c.text((lx - 8, y + 31), "Less", 13, MUTED, anchor="rs")

    for row, label in ((0, "Mon"), (2, "Wed"), (4, "Fri")):
        c.text((x + pad, GRID_Y + row * PITCH + CELL / 2), label, 12, FAINT, anchor="lm")
    start = first_day(today)
    last_month_col = -3
    for col in range(WEEKS):
        monday = start + dt.timedelta(weeks=col)
        starts_month = monday.day <= 7 if col else monday.day <= 21
        if starts_month and col - last_month_col >= 3:
            c.text((GRID_X + col * PITCH, GRID_Y - 8), MONTHS[monday.month - 1], 12, MUTED)
            last_month_col = col
    c.image.paste(_grid(days, today), (c.px(GRID_X), c.px(GRID_Y)), _cell_mask())
