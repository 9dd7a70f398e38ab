"""`/checkin answer|history|status|away`: the weekly check-in, from the member's side."""

from __future__ import annotations

import datetime as dt

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import MilestoneBot
from bot.errors import UserError
from bot.services.checkins import (
    CLOSE_JOB,
    NUDGE_JOB,
    OPEN_JOB,
    Answers,
    CycleInfo,
    CycleSummary,
    no_checkin_message,
)
from bot.ui.cards import CardRenderer
from bot.ui.options import Day
from bot.ui.pictures import attach, draw, hours_chart, participation_chart, picture
from bot.ui.posting import direct_message, post
from bot.ui.render import clip, embed, when
from bot.ui.views import PageContent, send_paginated
from bot.weekly import format_when
from cogs.checkins._jobs import CheckinJobs
from cogs.checkins._views import QUESTIONS, AnswerButton, CheckinForm, prompt_embed, summary_embed

PER_PAGE = 3


class DiscordCheckinPoster:
    """Posts the check-in jobs' messages with the bot's REST client."""

    def __init__(self, bot: MilestoneBot, answer: AnswerButton) -> None:
        self.bot = bot
        self.answer = answer

    async def post_checkin_prompt(
        self, guild_id: int, channel_id: int, cycle: CycleInfo
    ) -> int | None:
        view = AnswerButton(self.answer.open_form)
        every = await self.bot.services.assessments.cadence(guild_id)
        message = await post(
            self.bot, channel_id, guild_id, embed=prompt_embed(cycle.closes_at, every), view=view
        )
        return message.id

    async def post_checkin_summary(
        self, guild_id: int, channel_id: int, summary: CycleSummary
    ) -> None:
        e = summary_embed(self.bot.roadmap, summary)
        file = None
        cards = self.bot.cards
        if cards is not None and await self.bot.services.guilds.cards_on(guild_id):

            async def draw_chart(renderer: CardRenderer) -> bytes:
                counts = await self.bot.services.checkins.participation(
                    guild_id, until=summary.cycle.opens_at
                )
                guild = self.bot.get_guild(guild_id)
                chart = participation_chart(counts, guild.name if guild else None)
                return await renderer.participation(chart)

            # The summary goes out whatever happens to its chart.
            file = await picture(draw_chart(cards), e, "participation.png")
        await post(self.bot, channel_id, guild_id, embed=e, file=file)

    async def send_nudge(self, guild_id: int, user_id: int, cycle: CycleInfo) -> bool:
        guild = self.bot.get_guild(guild_id)
        name = guild.name if guild else "your server"
        link = (
            f"https://discord.com/channels/{guild_id}/{cycle.channel_id}/{cycle.message_id}"
            if cycle.message_id
            else "the check-in channel"
        )
        e = embed(
            f"Check-in reminder from {name}",
            f"This week's check-in closes {when(cycle.closes_at, 'R')} and you have not answered "
            f"yet. Answer with the button in {link} or `/checkin answer` in the server.\n"
            "Away for a while? `/checkin away` keeps your streak and stops these.",
        )
        return await direct_message(self.bot, user_id, e)


@app_commands.guild_only()
class Checkins(commands.GroupCog, group_name="checkin"):
    """The weekly check-in: answer it, see your history and the status."""

    def __init__(self, bot: MilestoneBot) -> None:
        self.bot = bot
        self.checkins = bot.services.checkins
        self.answer_button = AnswerButton(self.open_form)
        poster = DiscordCheckinPoster(bot, self.answer_button)
        self.jobs = CheckinJobs(self.checkins, bot.services.reminders, poster)
        super().__init__()

    async def cog_load(self) -> None:
        # Prompts posted before a restart keep working; the jobs run from the scheduler.
        self.bot.add_view(self.answer_button)
        self.bot.scheduler.register(*self.jobs.kinds())

    async def cog_unload(self) -> None:
        self.answer_button.stop()
        self.bot.scheduler.unregister(CLOSE_JOB, OPEN_JOB, NUDGE_JOB)

    async def open_form(self, interaction: discord.Interaction) -> None:
        """Open the check-in form, pre-filled when the member already answered."""
        if interaction.guild_id is None:
            raise UserError("Use this in a server.")
        cycle = await self.checkins.open_cycle_for(interaction.guild_id)
        if cycle is None:
            status = await self.checkins.status(interaction.guild_id)
            message = no_checkin_message(status.next_opens_at, status.timezone)
            if status.next_opens_at:
                message += f" ({when(status.next_opens_at, 'R')})"
            raise UserError(message)
        previous = await self.checkins.current_answer(interaction.guild_id, interaction.user.id)
        await interaction.response.send_modal(CheckinForm(self.save_answer, previous))

    async def save_answer(self, interaction: discord.Interaction, answers: Answers) -> None:
        """Store what the member submitted in the form."""
        assert interaction.guild_id is not None
        result = await self.checkins.submit_answer(
            interaction.guild_id, interaction.user.id, interaction.user.display_name, answers
        )
        verb = "replaced your earlier answer" if result.replaced else "saved your answer"
        await interaction.response.send_message(
            f"✅ Thanks! I {verb} ({result.hours:g} h of learning). You can edit it until "
            f"{when(result.cycle.closes_at)} with the same button.",
            ephemeral=True,
        )

    @app_commands.command(name="answer")
    async def answer(self, interaction: discord.Interaction) -> None:
        """Open the form for this week's check-in (again, to edit your answer)."""
        await self.open_form(interaction)

    @app_commands.command(name="history")
    @app_commands.describe(member="Whose answers to show (default: you)")
    async def history(
        self, interaction: discord.Interaction, member: discord.Member | None = None
    ) -> None:
        """Show past check-in answers and the streak."""
        assert interaction.guild_id is not None
        guild_id = interaction.guild_id
        who = member or interaction.user
        total = await self.checkins.history_count(guild_id, who.id)
        streak = await self.checkins.streak(guild_id, who.id)
        pages = max(1, -(-total // PER_PAGE))
        shown = [q for q in QUESTIONS if q.key != "hours"]
        cards = self.bot.cards if total else None  # no answers: no chart of them
        if cards is not None and not await self.bot.services.guilds.cards_on(
            guild_id, interaction.user.id
        ):
            cards = None
        chart: list[bytes | None] = []  # drawn once, shown on every page

        async def render(page: int) -> PageContent:
            page = min(max(page, 0), pages - 1)
            entries = await self.checkins.history(guild_id, who.id, PER_PAGE, page * PER_PAGE)
            e = embed(
                f"Check-ins of {who.display_name}",
                f"Streak: **{streak}** week(s) · {total} answer(s)"
                + ("" if entries else "\n\nNo answers yet: `/checkin answer` when one is open."),
            )
            for entry in entries:
                body = "\n".join(
                    f"{q.emoji} {clip(value, 200)}"
                    for q in shown
                    if (value := getattr(entry, q.key))
                )
                e.add_field(
                    name=f"Week of {entry.opens_at:%Y-%m-%d} · {entry.hours:g} h",
                    value=clip(body or "—", 1024),
                    inline=False,
                )
            e.set_footer(text=f"page {page + 1}/{pages}")
            if cards is None:
                return PageContent(e, pages)
            if not chart:
                chart.append(await draw(draw_chart(cards)))
            return PageContent(e, pages, attach(e, chart[0], "hours.png"))

        async def draw_chart(renderer: CardRenderer) -> bytes:
            weeks = await self.checkins.hours(guild_id, who.id)
            return await renderer.hours(hours_chart(who.id, who.display_name, weeks))

        await send_paginated(interaction, render, ephemeral=True, defer=cards is not None)

    @app_commands.command(name="status")
    async def status(self, interaction: discord.Interaction) -> None:
        """Show the open check-in, how many answered, and when the next one opens."""
        assert interaction.guild_id is not None
        st = await self.checkins.status(interaction.guild_id)
        if not st.enabled and st.cycle is None:
            text = (
                "This server has no weekly check-in: an admin can set one up with /config checkins."
            )
        elif st.cycle is not None and st.closes_at is not None:
            text = (
                f"A check-in is open: **{st.answered}** member(s) answered so far. It closes "
                f"{when(st.closes_at)} ({when(st.closes_at, 'R')})."
            )
        else:
            text = "No check-in is open right now."
        if st.next_opens_at is not None:
            nxt = st.next_opens_at
            text += f"\nThe next one opens {format_when(nxt, st.timezone)} ({when(nxt, 'R')})."
        await interaction.response.send_message(
            embed=embed("Check-in status", text), ephemeral=True
        )

    @app_commands.command(name="away")
    @app_commands.describe(until="The last day you are away, as YYYY-MM-DD")
    async def away(self, interaction: discord.Interaction, until: Day) -> None:
        """Be away until a date: no nudges, and your streak is kept across those weeks."""
        assert interaction.guild_id is not None
        saved: dt.date = await self.checkins.set_away(
            interaction.guild_id, interaction.user.id, until, interaction.user.display_name
        )
        await interaction.response.send_message(
            f"Away until {saved.isoformat()}: no nudges until then, and your streak is kept.",
            ephemeral=True,
        )
