"""Embeds and text pieces shared by the cogs. Everything here respects Discord's limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import discord

from bot.roadmap import Item, Roadmap

COLOUR = discord.Colour.from_rgb(47, 128, 237)
FIELD_LIMIT = 1024
DESCRIPTION_LIMIT = 4096
DONE, TODO = "✅", "⬜"
SUBMITTED = "🕓"
"""The mark of an item submitted for review and not decided yet."""


def bar(done: int, total: int, width: int = 10) -> str:
    """A text progress bar like `▰▰▰▱▱▱▱▱▱▱ 3/10`."""
    filled = 0 if total == 0 else round(width * done / total)
    return "▰" * filled + "▱" * (width - filled) + f" {done}/{total}"


def clip(text: str, limit: int) -> str:
    """Cut text to `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def lines_field(lines: list[str], limit: int = FIELD_LIMIT) -> str:
    """Join lines for an embed field, dropping whole lines (and saying so) past the limit."""
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        line = clip(line, 200)
        more = f"… and {len(lines) - i} more"
        if used + len(line) + 1 > limit - len(more) - 1:
            out.append(more)
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out) or "—"


def item_line(
    item: Item,
    done: set[str] | None,
    *,
    with_id: bool = False,
    submitted: Collection[str] = (),
) -> str:
    """One item as a checklist line: done, submitted for review, or not done."""
    if done is None:
        mark = ""
    elif item.id in done:
        mark = DONE + " "
    else:
        mark = (SUBMITTED if item.id in submitted else TODO) + " "
    suffix = f" `{item.id}`" if with_id else ""
    return f"{mark}{item.title}{suffix}"


def embed(title: str, description: str | None = None) -> discord.Embed:
    """A bot embed with the house colour and clipped text."""
    return discord.Embed(
        title=clip(title, 256),
        description=clip(description, DESCRIPTION_LIMIT) if description else None,
        colour=COLOUR,
    )


def level_name(roadmap: Roadmap, level: int) -> str:
    """`Level 2 · Data Engineer` (level 0 is the starting point)."""
    return f"Level {level} · {roadmap.level_title(level)}"


def when(moment: dt.datetime, style: str = "f") -> str:
    """A Discord timestamp, shown in each reader's own timezone."""
    return discord.utils.format_dt(moment, style)  # type: ignore[arg-type]
