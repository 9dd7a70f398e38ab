"""The `/leaderboard` card: one page of up to 10 members, each with a bar against the page's top."""

from __future__ import annotations

from bot.ui.cards.canvas import (
    ACCENT,
    ACCENT_LIGHT,
    BG,
    BRONZE,
    EDGE,
    GOLD,
    MONTHS,
    MUTED,
    PANEL,
    SILVER,
    TEXT,
    TRACK,
    Canvas,
    avatar,
    display_name,
    fmt,
)
from bot.ui.cards.models import LeaderboardCard, LeaderboardRow
from bot.ui.cards.text import Weight

WIDTH = 1200
ROW_H = 64
TOP = 132
ROWS = 10
MEDALS = {1: GOLD, 2: SILVER, 3: BRONZE}


def height(rows: int) -> int:
    """The card's height for a page of `rows` members (an empty page keeps one row's room)."""
    return TOP + ROW_H * max(1, min(rows, ROWS)) + 36


def render_leaderboard(card: LeaderboardCard) -> bytes:
    """Draw one leaderboard page as PNG bytes (1200 wide, 808 tall for 10 rows)."""
    rows = card.rows[:ROWS]
    c = Canvas(WIDTH, height(len(rows)))
    x, w = 40, WIDTH - 80

    if card.server_name:
        c.text((x, 50), card.server_name.upper(), 15, MUTED, Weight.SEMIBOLD, max_width=620)
    title_w = c.text((x, 92), "Leaderboard", 40, TEXT, Weight.BOLD)
    c.text((x + title_w + 16, 92), card.period, 28, ACCENT_LIGHT, Weight.SEMIBOLD, max_width=420)
    members = "member" if card.total_members == 1 else "members"
    page = f"Page {fmt(card.page + 1)} of {fmt(max(1, card.pages))}"
    c.text((x + w, 56), page, 20, TEXT, Weight.SEMIBOLD, anchor="rs")
    detail = f"{fmt(card.total_members)} {members}"
    if card.since:
        since = f"since {card.since.day} {MONTHS[card.since.month - 1]} {card.since.year}"
        detail = f"{since} · {detail}"
    c.text((x + w, 88), detail, 16, MUTED, anchor="rs")

    top = max((r.completed for r in rows), default=0)
    panel_y = TOP - 14
    c.rect(x, panel_y, w, ROW_H * max(1, len(rows)) + 20, PANEL, radius=18, outline=EDGE)
    if not rows:
        c.text(
            (WIDTH / 2, panel_y + 10 + ROW_H / 2),
            "Nobody has completed anything in this period yet.",
            20,
            MUTED,
            anchor="mm",
        )
    for i, row in enumerate(rows):
        _row(c, row, top, x, panel_y + 10 + i * ROW_H, w, last=i == len(rows) - 1)
    return c.png()


def _row(
    c: Canvas, row: LeaderboardRow, top: int, x: float, y: float, w: float, last: bool
) -> None:
    mid = y + ROW_H / 2
    if not last:
        c.rect(x + 20, y + ROW_H - 1, w - 40, 1, EDGE)
    medal = MEDALS.get(row.rank)
    rank_x = x + 52
    if medal:
        c.circle(rank_x, mid, 19, medal)
        c.text((rank_x, mid), str(row.rank), 19, BG, Weight.BOLD, anchor="mm")
    else:
        rank = f"#{fmt(row.rank)}"
        size = 19 if len(rank) <= 5 else 15
        c.text((rank_x, mid), rank, size, MUTED, Weight.SEMIBOLD, anchor="mm", max_width=80)

    name = display_name(row.display_name)
    ax = x + 104
    c.paste(avatar(row.avatar, row.user_id, name, 44), ax, mid - 22)
    name_x = ax + 60
    c.text((name_x, mid), name, 22, TEXT, Weight.SEMIBOLD, anchor="lm", max_width=420)

    chip_x = x + 640
    label = f"Level {row.level}"
    chip_w = c.measure(label, 14, Weight.SEMIBOLD) + 22
    c.rect(chip_x, mid - 14, chip_w, 28, TRACK, radius=14)
    c.text((chip_x + chip_w / 2, mid), label, 14, TEXT, Weight.SEMIBOLD, anchor="mm")

    bar_x, bar_w = x + 760, 236
    c.bar(bar_x, mid - 5, bar_w, 10, row.completed / top if top else 0.0, medal or ACCENT)
    c.text((x + w - 24, mid), fmt(row.completed), 24, TEXT, Weight.BOLD, anchor="rm")
