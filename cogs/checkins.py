"""`/checkin answer|history|status|away`: the weekly check-in, from the member's side."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import MilestoneBot
from bot.errors import UserError
from bot.scheduling import format_when, safe_timezone
from bot.services.checkins import Answers, HistoryEntry
from bot.services.members import parse_day
from bot.ui.render import clip, embed, when
from bot.ui.replies import handle_error
from bot.ui.views import send_paginated

PER_PAGE = 3
log = logging.getLogger(__name__)


class CheckinForm(discord.ui.Modal, title="Weekly check-in"):
    """The check-in questions; hours must be a number."""

    learned: discord.ui.TextInput[CheckinForm] = discord.ui.TextInput(
        label="What did you learn this week?",
        style=discord.TextStyle.paragraph,
        max_length=1000,
        custom_id="checkin:learned",
    )
    built: discord.ui.TextInput[CheckinForm] = discord.ui.TextInput(
        label="What did you build or experiment with?",
        style=discord.TextStyle.paragraph,
        max_length=1000,
        required=False,
        custom_id="checkin:built",
    )
    milestones: discord.ui.TextInput[CheckinForm] = discord.ui.TextInput(
        label="Which milestones moved?",
        style=discord.TextStyle.paragraph,
        max_length=1000,
        required=False,
        custom_id="checkin:milestones",
    )
    feedback: discord.ui.TextInput[CheckinForm] = discord.ui.TextInput(
        label="Where do you want feedback?",
        style=discord.TextStyle.paragraph,
        max_length=1000,
        required=False,
        custom_id="checkin:feedback",
    )
    hours: discord.ui.TextInput[CheckinForm] = discord.ui.TextInput(
        label="Hours spent learning (a number)",
        placeholder="e.g. 4 or 2.5",
        max_length=6,
        custom_id="checkin:hours",
    )

    def __init__(self, bot: MilestoneBot, previous: HistoryEntry | None) -> None:
        super().__init__()
        self.bot = bot
        if previous is not None:
            self.learned.default = previous.learned
            self.built.default = previous.built
            self.milestones.default = previous.milestones
            self.feedback.default = previous.feedback
            self.hours.default = f"{previous.hours:g}"

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        answers = Answers(
            learned=self.learned.value,
            built=self.built.value,
            milestones=self.milestones.value,
            feedback=self.feedback.value,
            hours=self.hours.value,
        )
        result = await self.bot.checkins.submit_answer(
            interaction.guild_id,
            interaction.user.id,
            interaction.user.display_name,
            answers,
            self.bot.clock.now(),
        )
        verb = "replaced your earlier answer" if result.replaced else "saved your answer"
        await interaction.response.send_message(
            f"✅ Thanks! I {verb} ({result.hours:g} h of learning). You can edit it until "
            f"{when(result.cycle.closes_at)} with the same button.",
            ephemeral=True,
        )

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception
    ) -> None:
        if isinstance(error, UserError):
            # Nothing is lost: the text they typed is echoed back so they can paste it again.
            text = f"{error.message}\n\nYour answer was not saved. What you wrote:\n" + clip(
                "\n".join(
                    f"> {v}"
                    for v in (
                        self.learned.value,
                        self.built.value,
                        self.milestones.value,
                        self.feedback.value,
                    )
                    if v
                ),
                1500,
            )
            await interaction.response.send_message(clip(text, 2000), ephemeral=True)
            return
        await handle_error(interaction, error, "check-in form")


@app_commands.guild_only()
class Checkins(commands.GroupCog, group_name="checkin"):
    """The weekly check-in: answer it, see your history and the status."""

    def __init__(self, bot: MilestoneBot) -> None:
        self.bot = bot
        super().__init__()

    async def open_form(self, interaction: discord.Interaction) -> None:
        """Open the check-in form, pre-filled when the member already answered."""
        if interaction.guild_id is None:
            raise UserError("Use this in a server.")
        now = self.bot.clock.now()
        cycle = await self.bot.checkins.open_cycle_for(interaction.guild_id, now)
        if cycle is None:
            status = await self.bot.checkins.status(interaction.guild_id, now)
            if status.next_opens_at:
                raise UserError(
                    "No check-in is open right now. The next one opens "
                    f"{when(status.next_opens_at)} ({when(status.next_opens_at, 'R')})."
                )
            raise UserError(
                "This server has no weekly check-in yet: an admin can set one up with "
                "`/config checkins`."
            )
        previous = await self.bot.checkins.current_answer(
            interaction.guild_id, interaction.user.id, now
        )
        await interaction.response.send_modal(CheckinForm(self.bot, previous))

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
        now = self.bot.clock.now()
        total = await self.bot.checkins.history_count(guild_id, who.id)
        streak = await self.bot.checkins.streak(guild_id, who.id, now)
        pages = max(1, -(-total // PER_PAGE))

        async def render(page: int) -> tuple[discord.Embed, int]:
            page = min(max(page, 0), pages - 1)
            entries = await self.bot.checkins.history(guild_id, who.id, PER_PAGE, page * PER_PAGE)
            e = embed(
                f"Check-ins of {who.display_name}",
                f"Streak: **{streak}** week(s) · {total} answer(s)"
                + ("" if entries else "\n\nNo answers yet: `/checkin answer` when one is open."),
            )
            for entry in entries:
                body = "\n".join(
                    f"**{label}** {clip(value, 200)}"
                    for label, value in (
                        ("Learned:", entry.learned),
                        ("Built:", entry.built),
                        ("Milestones:", entry.milestones),
                        ("Feedback:", entry.feedback),
                    )
                    if value
                )
                e.add_field(
                    name=f"Week of {entry.opens_at:%Y-%m-%d} · {entry.hours:g} h",
                    value=clip(body or "—", 1024),
                    inline=False,
                )
            e.set_footer(text=f"page {page + 1}/{pages}")
            return e, pages

        await send_paginated(interaction, render, ephemeral=True)

    @app_commands.command(name="status")
    async def status(self, interaction: discord.Interaction) -> None:
        """Show the open check-in, how many answered, and when the next one opens."""
        assert interaction.guild_id is not None
        st = await self.bot.checkins.status(interaction.guild_id, self.bot.clock.now())
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
    async def away(
        self, interaction: discord.Interaction, until: app_commands.Range[str, 1, 40]
    ) -> None:
        """Be away until a date: no nudges, and your streak is kept across those weeks."""
        assert interaction.guild_id is not None
        profile = await self.bot.members.profile(interaction.guild_id, interaction.user.id)
        # The bot's clock, like the nudges that read `away_until` (not the wall clock).
        today = self.bot.clock.now().astimezone(ZoneInfo(safe_timezone(profile.timezone))).date()
        day = parse_day(until)
        saved = await self.bot.checkins.set_away(
            interaction.guild_id, interaction.user.id, day, today, interaction.user.display_name
        )
        await interaction.response.send_message(
            f"Away until {saved.isoformat()}: no nudges until then, and your streak is kept.",
            ephemeral=True,
        )


async def setup(bot: MilestoneBot) -> None:
    """Load the cog."""
    await bot.add_cog(Checkins(bot))
