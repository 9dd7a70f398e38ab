"""`/progress`, `/profile` and `/leaderboard`."""

from __future__ import annotations

import datetime as dt
from functools import partial

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import MilestoneBot
from bot.errors import UserError
from bot.services.leaderboard import Period
from bot.services.members import pace
from bot.ui import pages
from bot.ui.options import Day, Timezone
from bot.ui.pages import send_pages
from bot.ui.render import bar, clip, embed, level_name, lines_field, when
from bot.ui.texts import pace_text

MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}
TITLES = {Period.ALL: "all time", Period.MONTH: "this month", Period.WEEK: "this week"}
BOARD = "board"  # the kind of the leaderboard's page buttons


def name(display_name: str, user_id: int) -> str:
    """A stored display name, safe to show (no markdown), or the mention as fallback."""
    return discord.utils.escape_markdown(display_name) if display_name else f"<@{user_id}>"


class Progress(commands.Cog):
    """Your progress, your profile and the server's leaderboard."""

    def __init__(self, bot: MilestoneBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        pages.register(self.bot, BOARD, self.board_page)

    @app_commands.command(name="progress")
    @app_commands.guild_only()
    @app_commands.describe(member="Whose progress to show (default: you)")
    async def progress(
        self, interaction: discord.Interaction, member: discord.Member | None = None
    ) -> None:
        """Show level, progress per level, rank, streak and pace against the roadmap."""
        assert interaction.guild_id is not None
        guild_id = interaction.guild_id
        who = member or interaction.user
        overview = await self.bot.services.overview.progress_overview(guild_id, who.id)
        p, rank = overview.progress, overview.rank
        roadmap = self.bot.roadmap
        e = embed(
            f"Progress of {who.display_name}",
            f"**{level_name(roadmap, p.level)}**\n"
            f"{bar(p.completed, p.total, 16)} items done in all\n"
            f"Server rank: {'hidden' if p.hidden else f'#{rank}' if rank else 'not ranked yet'}",
        )
        e.add_field(
            name="Levels",
            value="\n".join(
                f"{'🏅' if lvl.reached else '▫️'} **{lvl.number}** {lvl.title}\n"
                f"  checklist {bar(lvl.checklist_done, lvl.checklist_total, 8)}"
                f" · milestones {bar(lvl.milestones_done, lvl.milestones_total, 8)}"
                for lvl in p.levels
            ),
            inline=False,
        )
        e.add_field(name="Check-in streak", value=f"{overview.streak} week(s)", inline=True)
        if p.started_on:
            today = self.bot.services.members.today(p.timezone)
            e.add_field(
                name="Pace",
                value=pace_text(pace(roadmap, p.started_on, today, p.level), p.level),
                inline=False,
            )
        if p.recent:
            e.add_field(
                name="Recently completed",
                value=lines_field(
                    [
                        f"{when(d.completed_at, 'd')} {d.item.title}"
                        + (f" · {clip(d.evidence, 120)}" if d.evidence else "")
                        for d in p.recent
                    ]
                ),
                inline=False,
            )
        await interaction.response.send_message(embed=e)
        if member is None or member.id == interaction.user.id:
            await self.bot.services.members.touch(
                guild_id, who.id, who.display_name, stored=p.display_name
            )

    @app_commands.command(name="profile")
    @app_commands.guild_only()
    @app_commands.describe(
        started="The day your journey began, as YYYY-MM-DD",
        timezone="Your timezone, e.g. Europe/Berlin (used for reminders and dates)",
        hidden="Hide yourself from the server leaderboard",
    )
    async def profile(
        self,
        interaction: discord.Interaction,
        started: Day | None = None,
        timezone: Timezone | None = None,
        hidden: bool | None = None,
    ) -> None:
        """Show or set your journey start date, timezone and leaderboard visibility."""
        assert interaction.guild_id is not None
        user = interaction.user
        profile = await self.bot.services.members.update_profile(
            interaction.guild_id,
            user.id,
            display_name=user.display_name,
            started_on=started,
            timezone=timezone,
            hidden=hidden,
        )
        if timezone is not None:
            await self.bot.scheduler.reschedule(interaction.guild_id, user.id)
        changed = any(v is not None for v in (started, timezone, hidden))
        e = embed("Your profile" + (" (saved)" if changed else ""))
        e.add_field(
            name="Journey started",
            value=profile.started_on.isoformat() if profile.started_on else "not set",
        )
        e.add_field(name="Timezone", value=profile.timezone or "not set (UTC)")
        e.add_field(name="Leaderboard", value="hidden" if profile.hidden else "shown")
        if not changed:
            e.set_footer(text="Change these with the options of /profile.")
        await interaction.response.send_message(embed=e, ephemeral=True)

    @app_commands.command(name="leaderboard")
    @app_commands.guild_only()
    @app_commands.describe(period="All time (default), this month or this week")
    @app_commands.choices(
        period=[
            app_commands.Choice(name="All time", value="all"),
            app_commands.Choice(name="This month", value="month"),
            app_commands.Choice(name="This week", value="week"),
        ]
    )
    async def leaderboard(self, interaction: discord.Interaction, period: str = "all") -> None:
        """Rank members by milestones completed; ties go to who got there first."""
        assert interaction.guild_id is not None
        guild_id = interaction.guild_id
        try:
            chosen = Period(period)
        except ValueError:
            raise UserError(
                "Pick a period from the list: all time, this month or this week."
            ) from None
        user = interaction.user
        state = f"{chosen.value}.{int(self.bot.clock.now().timestamp() * 1000)}"
        stored: list[str | None] = []
        await send_pages(interaction, BOARD, state, partial(self.board_page, viewed=stored))
        # The name Discord shows is stored after the answer, and only when it changed.
        await self.bot.services.members.touch(
            guild_id, user.id, user.display_name, stored=stored[0] if stored else None
        )

    async def board_page(
        self,
        interaction: discord.Interaction,
        page: int,
        state: str,
        *,
        viewed: list[str | None] | None = None,
    ) -> tuple[discord.Embed, int]:
        """One page of a leaderboard; `state` is its period and the moment it was asked for.

        With `viewed`, the name stored for the member asking is appended to it.
        """
        assert interaction.guild_id is not None
        period, _, stamp = state.partition(".")
        chosen = Period(period)
        as_of = dt.datetime.fromtimestamp(int(stamp) / 1000, dt.UTC)
        board = await self.bot.services.leaderboard.page(
            interaction.guild_id,
            chosen,
            page,
            as_of=as_of,
            viewer=interaction.user.id if viewed is not None else None,
        )
        if viewed is not None:
            viewed.append(board.viewer_name)
        lines = [
            f"{MEDALS.get(e.rank, f'`{e.rank:>3}`')} **{name(e.display_name, e.user_id)}**"
            f" · {e.completed} done · L{e.level}"
            for e in board.entries
        ]
        text = "\n".join(lines) or "Nobody has completed anything in this period yet."
        e = embed(f"Leaderboard: {TITLES[chosen]}", text)
        members = "member" if board.total == 1 else "members"
        e.set_footer(text=f"{board.total} {members} · page {board.page + 1}/{board.pages}")
        if board.since:
            e.description = f"since {when(board.since, 'D')}\n\n{text}"
        return e, board.pages


async def setup(bot: MilestoneBot) -> None:
    """Load the cog."""
    await bot.add_cog(Progress(bot))
