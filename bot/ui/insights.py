"""`/config insights`: where members stand and stall, as embeds, and the inactive list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord

from bot.roadmap import Roadmap
from bot.services.insights import InactivePage, Insights
from bot.ui.render import bar, clip, embed, lines_field
from bot.ui.views import OwnedView, send_paginated

MAX_TITLE = 48


def insights_embeds(roadmap: Roadmap, guild_name: str, data: Insights) -> list[discord.Embed]:
    """The figures in two embeds (well inside Discord's 6,000 characters for a message)."""
    members = data.members
    overview = embed(
        f"Insights · {guild_name}",
        f"**{members}** member(s); {data.hidden} hidden from lists are counted in every "
        "number here but never named.",
    )
    overview.add_field(
        name="Members by level",
        value="\n".join(
            f"**{level}** · {roadmap.level_title(level)}: **{n}**"
            for level, n in enumerate(data.per_level)
        ),
        inline=False,
    )
    overview.add_field(
        name="No progress and no check-in for 4+ weeks",
        value=f"**{data.inactive}** member(s) last active on "
        f"{data.inactive_since.isoformat()} or before"
        + (f"; the button lists the {data.inactive_shown} shown." if data.inactive_shown else "."),
        inline=False,
    )
    overview.add_field(
        name="Time to reach each level (from journey start)",
        value="\n".join(
            f"**{t.level}** · "
            + (
                f"median **{t.median_months} month(s)** · roadmap {t.roadmap_months} · "
                f"{t.members} member(s)"
                if t.median_months is not None
                else f"nobody yet · roadmap {t.roadmap_months}"
            )
            for t in data.level_times
        ),
        inline=False,
    )
    overview.add_field(
        name=f"Check-in participation (last {len(data.participation)})",
        value=lines_field(
            [f"{p.opens_at:%Y-%m-%d} {bar(p.answers, members, 8)}" for p in data.participation]
        )
        if data.participation
        else "no check-in yet",
        inline=False,
    )
    overview.add_field(
        name="Self-assessment averages (each member's latest rating)",
        value=lines_field(
            [
                f"{a.metric.name}: **{a.average:.1f}** ({a.members})"
                if a.average is not None
                else f"{a.metric.name}: —"
                for a in data.metrics
            ]
        ),
        inline=False,
    )
    checklists = embed(
        "Checklist items: members who have each",
        "⚠️ marks each level's item the fewest members have: where they stall.",
    )
    for level, shares in data.checklists:
        fewest = min(s.members for s in shares)
        checklists.add_field(
            name=f"Level {level} · {roadmap.level_title(level)}",
            value=lines_field(
                [
                    f"{'⚠️ ' if s.members == fewest else ''}**{s.members}** · "
                    f"{clip(s.item.title, MAX_TITLE)}"
                    for s in shares
                ]
            ),
            inline=False,
        )
    checklists.add_field(
        name="Projects",
        value=" · ".join(f"#{n} **{s.members}**" for n, s in enumerate(data.projects, 1)),
        inline=False,
    )
    return [overview, checklists]


InactiveReader = Callable[[int], Awaitable[InactivePage]]


def inactive_embed(page: InactivePage) -> discord.Embed:
    """One page of the inactive members shown in lists."""
    lines = [
        f"<@{m.user_id}> · {discord.utils.escape_markdown(m.display_name) or 'unknown'} · "
        f"last active {m.last_active_on.isoformat()}"
        for m in page.entries
    ]
    e = embed(
        "No progress and no check-in for 4+ weeks",
        "\n".join(lines) or "Nobody: every shown member was active lately.",
    )
    e.set_footer(
        text=f"{page.total} shown member(s), longest inactive first · page "
        f"{page.page + 1}/{page.pages} · hidden members are never listed"
    )
    return e


class InsightsView(OwnedView):
    """A button under the insights that pages through the inactive members."""

    def __init__(self, owner_id: int, read: InactiveReader, inactive_shown: int) -> None:
        super().__init__(owner_id)
        self.read = read
        self.inactive.label = f"Inactive members ({inactive_shown})"
        self.inactive.disabled = inactive_shown == 0

    @discord.ui.button(label="Inactive members", style=discord.ButtonStyle.secondary)
    async def inactive(
        self, interaction: discord.Interaction, _: discord.ui.Button[InsightsView]
    ) -> None:
        async def render(number: int) -> tuple[discord.Embed, int]:
            page = await self.read(number)
            return inactive_embed(page), page.pages

        await send_paginated(interaction, render, ephemeral=True)
