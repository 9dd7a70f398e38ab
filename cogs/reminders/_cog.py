"""`/reminders subscribe|unsubscribe|status`: a personal weekly nudge by DM."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import MilestoneBot
from bot.services.reminders import (
    DM_JOB,
    POST_JOB,
    ChannelReminder,
    MemberReminder,
    SubscriptionStatus,
)
from bot.ui.options import DAY_CHOICES, TimeOfDay
from bot.ui.posting import direct_message, post
from bot.ui.render import embed, level_name, lines_field
from bot.ui.texts import DM_FAILED, DM_HELP, assess_due_text
from bot.weekly import WEEKDAYS, format_when
from cogs.reminders._jobs import ReminderJobs


def status_embed(status: SubscriptionStatus, title: str) -> discord.Embed:
    """The member's subscription, in words."""
    if not status.subscribed:
        return embed(title, "You get no reminder DMs. `/reminders subscribe` starts them.")
    schedule = status.schedule
    text = (
        f"Every **{WEEKDAYS[schedule.weekday].capitalize()} at {schedule.hhmm}** "
        f"({schedule.timezone}): your next checklist items and a principle of continuous "
        "learning."
    )
    if status.next_at:
        text += f"\nNext: {format_when(status.next_at, schedule.timezone)}."
    if status.dm_failed:
        text += f"\n⚠️ My last DM to you failed: {DM_HELP}"
    if status.away_until:
        text += f"\nYou are away until {status.away_until.isoformat()}: no DMs until then."
    return embed(title, text)


class DiscordReminderPoster:
    """Posts the reminder jobs' messages with the bot's REST client."""

    def __init__(self, bot: MilestoneBot) -> None:
        self.bot = bot

    async def post_reminder(
        self, guild_id: int, channel_id: int, reminder: ChannelReminder
    ) -> None:
        p, week = reminder.principle, reminder.week
        e = embed(
            f"Keep learning · {p.name}",
            f"**{p.description}**\n\nThis week here: {week.milestones_completed} milestone(s) "
            f"completed by {week.active_members} member(s), {week.checkin_answers} check-in "
            "answer(s). What will you learn next? `/milestone list` shows what is ahead.",
        )
        content = None
        users = [discord.Object(u) for u in reminder.dm_failed_user_ids]
        if users:
            content = " ".join(f"<@{u.id}>" for u in users) + ": " + DM_FAILED
        await post(self.bot, channel_id, guild_id, embed=e, content=content, mention=users)

    async def send_reminder_dm(self, guild_id: int, user_id: int, reminder: MemberReminder) -> bool:
        guild = self.bot.get_guild(guild_id)
        p = reminder.principle
        items = [f"⬜ {i.title}" for i in reminder.items] or ["Your checklists are complete. 🏆"]
        e = embed(
            f"Your weekly nudge{f' from {guild.name}' if guild else ''}",
            f"You are at **{level_name(self.bot.roadmap, reminder.level)}**.\n\n"
            f"**{p.name}**: {p.description}",
        )
        e.add_field(name="Next on your checklist", value=lines_field(items), inline=False)
        if reminder.assessment_due:
            e.add_field(
                name="Self-assessment",
                value=assess_due_text(reminder.last_assessed_on, reminder.assess_every_weeks),
                inline=False,
            )
        e.set_footer(text="Stop these with /reminders unsubscribe in the server.")
        return await direct_message(self.bot, user_id, e)


@app_commands.guild_only()
class Reminders(commands.GroupCog, group_name="reminders"):
    """Personal weekly reminder DMs in your own timezone."""

    def __init__(self, bot: MilestoneBot) -> None:
        self.bot = bot
        self.reminders = bot.services.reminders
        self.jobs = ReminderJobs(self.reminders, DiscordReminderPoster(bot))
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.scheduler.register(*self.jobs.kinds())

    async def cog_unload(self) -> None:
        self.bot.scheduler.unregister(POST_JOB, DM_JOB)

    @app_commands.command(name="subscribe")
    @app_commands.describe(
        day="Weekday of the DM (default Monday)",
        time="Time of day as HH:MM in your timezone (default 09:00; set it with /profile)",
    )
    @app_commands.choices(day=DAY_CHOICES)
    async def subscribe(
        self,
        interaction: discord.Interaction,
        day: int | None = None,
        time: TimeOfDay | None = None,
    ) -> None:
        """Get a weekly DM with your next checklist items and a learning principle."""
        assert interaction.guild_id is not None
        status = await self.reminders.subscribe(
            interaction.guild_id,
            interaction.user.id,
            day,
            time,
            display_name=interaction.user.display_name,
        )
        await self.bot.scheduler.reschedule(interaction.guild_id, interaction.user.id)
        e = status_embed(status, "Reminders on")
        if status.schedule.timezone == "UTC":
            e.set_footer(text="Times are in UTC: set your timezone with /profile timezone.")
        await interaction.response.send_message(embed=e, ephemeral=True)

    @app_commands.command(name="unsubscribe")
    async def unsubscribe(self, interaction: discord.Interaction) -> None:
        """Stop your weekly reminder DMs."""
        assert interaction.guild_id is not None
        was = await self.reminders.unsubscribe(interaction.guild_id, interaction.user.id)
        await self.bot.scheduler.reschedule(interaction.guild_id, interaction.user.id)
        text = "Reminder DMs stopped." if was else "You were not subscribed: nothing to stop."
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="status")
    async def status(self, interaction: discord.Interaction) -> None:
        """Show whether and when you get reminder DMs."""
        assert interaction.guild_id is not None
        status = await self.reminders.status(interaction.guild_id, interaction.user.id)
        await interaction.response.send_message(
            embed=status_embed(status, "Your reminders"), ephemeral=True
        )
