"""`/progress`, `/profile` and `/leaderboard`."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from functools import partial

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import MilestoneBot
from bot.errors import UserError
from bot.services.leaderboard import Period
from bot.services.members import pace
from bot.ui import pages
from bot.ui.cards import CardRenderer
from bot.ui.options import Day, Timezone
from bot.ui.pages import send_pages
from bot.ui.pictures import avatar_path, files, leaderboard_card, picture, progress_card
from bot.ui.render import SUBMITTED, bar, clip, embed, level_name, lines_field, when
from bot.ui.texts import pace_text
from bot.ui.views import PageContent

log = logging.getLogger(__name__)

MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}
TITLES = {Period.ALL: "all time", Period.MONTH: "this month", Period.WEEK: "this week"}
BOARD = "lb"  # the kind of the leaderboard's page buttons (bot.ui.pages)
# What a leaderboard's first page saw of the member asking: stored (name, avatar), pictures.
Viewed = tuple[tuple[str, str | None] | None, bool]


def name(display_name: str, user_id: int) -> str:
    """A stored display name, safe to show (no markdown), or the mention as fallback."""
    return discord.utils.escape_markdown(display_name) if display_name else f"<@{user_id}>"


class Progress(commands.Cog):
    """Your progress, your profile and the server's leaderboard."""

    def __init__(self, bot: MilestoneBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        pages.register(self.bot, BOARD, self.board_page)

    @app_commands.command(name="progress", extras={"public": True})
    @app_commands.guild_only()
    @app_commands.describe(member="Whose progress to show (default: you)")
    async def progress(
        self, interaction: discord.Interaction, member: discord.Member | None = None
    ) -> None:
        """Show level, progress per level, rank, streak and pace against the roadmap."""
        assert interaction.guild_id is not None
        guild_id = interaction.guild_id
        who = member or interaction.user
        overview = await self.bot.services.overview.progress_overview(
            guild_id, who.id, viewer=interaction.user.id
        )
        p, rank, streak = overview.progress, overview.rank, overview.streak
        roadmap = self.bot.roadmap
        e = embed(
            f"Progress of {who.display_name}",
            f"**{level_name(roadmap, p.level)}**\n"
            f"{bar(p.completed, p.total, 16)} items done in all\n"
            f"Projects: {p.projects_done}/{p.projects_total} (`/projects`)\n"
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
        e.add_field(name="Check-in streak", value=f"{streak} week(s)", inline=True)
        if p.started_on:
            today = self.bot.services.members.today(p.timezone)
            e.add_field(
                name="Pace",
                value=pace_text(pace(roadmap, p.started_on, today, p.level), p.level),
                inline=False,
            )
        if pending := overview.pending:
            e.add_field(
                name=f"{SUBMITTED} Awaiting review (not counted yet)",
                value=lines_field(
                    [f"{s.item.title} · submitted {when(s.submitted_at, 'R')}" for s in pending]
                ),
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
        cards = self.bot.cards if overview.cards else None
        if cards is None:
            await interaction.response.send_message(embed=e)
            if who.id == interaction.user.id:
                await self._remember(interaction, (p.display_name, p.avatar_path), pictures=False)
            return
        # The embed is the text version; the card goes with it unless it cannot be had.
        await interaction.response.defer()

        async def draw_card() -> bytes:
            activity, avatar = await asyncio.gather(
                self.bot.services.progress.activity(guild_id, who.id, p.timezone),
                self.bot.avatars.of(who),
            )
            card = progress_card(
                roadmap,
                p,
                display_name=who.display_name,
                avatar=avatar,
                rank=rank,
                streak=streak,
                activity=activity,
            )
            return await cards.progress(card)

        file = await picture(draw_card(), e, "progress.png")
        await interaction.followup.send(embed=e, files=files(file))
        if who.id == interaction.user.id:
            await self._remember(interaction, (p.display_name, p.avatar_path), pictures=True)

    async def _remember(
        self,
        interaction: discord.Interaction,
        known: tuple[str, str | None] | None,
        *,
        pictures: bool,
    ) -> None:
        """After answering, store the caller's display name if it changed (and, when pictures
        are on, the avatar the cards draw): best effort, never before the answer.

        `known`: the (name, avatar path) stored, when the answer read them already.
        """
        assert interaction.guild_id is not None
        user = interaction.user
        try:
            await self.bot.services.members.remember(
                interaction.guild_id,
                user.id,
                user.display_name,
                avatar_path=avatar_path(user) if pictures else None,
                known=known,
            )
        except Exception as exc:
            log.warning("could not store the display name of %s: %r", user.id, exc)

    @app_commands.command(name="profile")
    @app_commands.guild_only()
    @app_commands.describe(
        started="The day your journey began, as YYYY-MM-DD",
        timezone="Your timezone, e.g. Europe/Berlin (used for reminders and dates)",
        hidden="Hide yourself from the server leaderboard",
        cards="Pictures in your answers: the progress and leaderboard cards, check-in charts",
    )
    async def profile(
        self,
        interaction: discord.Interaction,
        started: Day | None = None,
        timezone: Timezone | None = None,
        hidden: bool | None = None,
        cards: bool | None = None,
    ) -> None:
        """Show or set your journey start date, timezone, leaderboard visibility and pictures."""
        assert interaction.guild_id is not None
        user = interaction.user
        profile = await self.bot.services.members.update_profile(
            interaction.guild_id,
            user.id,
            display_name=user.display_name,
            started_on=started,
            timezone=timezone,
            hidden=hidden,
            cards=cards,
        )
        if timezone is not None:
            await self.bot.scheduler.reschedule(interaction.guild_id, user.id)
        changed = any(v is not None for v in (started, timezone, hidden, cards))
        e = embed("Your profile" + (" (saved)" if changed else ""))
        e.add_field(
            name="Journey started",
            value=profile.started_on.isoformat() if profile.started_on else "not set",
        )
        e.add_field(name="Timezone", value=profile.timezone or "not set (UTC)")
        e.add_field(name="Leaderboard", value="hidden" if profile.hidden else "shown")
        server_cards = await self.bot.services.guilds.cards_on(interaction.guild_id)
        e.add_field(
            name="Pictures",
            value=("on" if profile.cards else "off (text only)")
            + ("" if server_cards else "\n(off in this server: /config cards)"),
        )
        if not changed:
            e.set_footer(text="Change these with the options of /profile.")
        await interaction.response.send_message(embed=e, ephemeral=True)

    @app_commands.command(name="leaderboard", extras={"public": True})
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
        try:
            chosen = Period(period)
        except ValueError:
            raise UserError(
                "Pick a period from the list: all time, this month or this week."
            ) from None
        state = f"{chosen.value}.{int(self.bot.clock.now().timestamp() * 1000)}"
        viewed: list[Viewed] = []  # the caller's stored looks, read with page 1
        await send_pages(interaction, BOARD, state, partial(self.board_page, viewed=viewed))
        if viewed:
            looks, pictures = viewed[0]
            await self._remember(interaction, looks, pictures=pictures)

    async def board_page(
        self,
        interaction: discord.Interaction,
        state: str,
        page: int,
        *,
        viewed: list[Viewed] | None = None,
    ) -> PageContent:
        """One page of a leaderboard; `state` is its period and the moment it was asked for
        (a board paged through later keeps its week or month).

        With `viewed`, the name and avatar stored for the member asking, and whether the
        answer has a picture, are appended to it.
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
            # Whether it has a picture is read with the page (when pictures can be made).
            cards_for=interaction.user.id if self.bot.cards is not None else None,
        )
        cards = self.bot.cards if board.cards else None
        if cards is not None and not interaction.response.is_done():
            # A picture is slow to make: acknowledge first (a click: a deferred update).
            thinking = interaction.type is discord.InteractionType.application_command
            await interaction.response.defer(thinking=thinking)
        if viewed is not None:
            viewed.append((board.viewer_looks, cards is not None))
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
        if cards is None:
            return PageContent(e, board.pages)
        server = interaction.guild.name if interaction.guild else None

        async def draw_card(renderer: CardRenderer) -> bytes:
            paths = [entry.avatar_path for entry in board.entries]
            avatars = await self.bot.avatars.fetch_many(paths)
            return await renderer.leaderboard(leaderboard_card(board, avatars, server))

        file = await picture(draw_card(cards), e, "leaderboard.png")
        return PageContent(e, board.pages, file)


async def setup(bot: MilestoneBot) -> None:
    """Load the cog."""
    await bot.add_cog(Progress(bot))
