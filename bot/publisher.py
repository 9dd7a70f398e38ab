"""The Discord side of the scheduler: prompts, summaries, reminders and DMs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.scheduling import PublishError
from bot.services.checkins import CycleInfo, CycleSummary
from bot.services.reminders import ChannelReminder, MemberReminder
from bot.ui.render import embed, level_name, lines_field, when
from bot.ui.replies import SafeView

if TYPE_CHECKING:
    from bot.bot import MilestoneBot

log = logging.getLogger(__name__)

ANSWER_ID = "checkin:answer"
DMS_CLOSED = 50007
QUESTIONS = (
    "📚 What did you learn this week?",
    "🛠️ What did you build or experiment with?",
    "🏁 Which milestones moved?",
    "💬 Where do you want feedback?",
    "⏱️ How many hours did you spend learning?",
)


class AnswerButton(SafeView):
    """The persistent "Answer" button under each check-in prompt (works after restarts)."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Answer", style=discord.ButtonStyle.primary, custom_id=ANSWER_ID)
    async def answer(
        self, interaction: discord.Interaction, _: discord.ui.Button[AnswerButton]
    ) -> None:
        cog = interaction.client.get_cog("Checkins")  # type: ignore[attr-defined]
        await cog.open_form(interaction)


def prompt_embed(cycle: CycleInfo) -> discord.Embed:
    """The weekly check-in prompt."""
    e = embed(
        "Weekly check-in",
        "Continuous learning works best with a weekly look back. Take two minutes:\n\n"
        + "\n".join(QUESTIONS)
        + f"\n\nOpen until {when(cycle.closes_at)} ({when(cycle.closes_at, 'R')}). "
        "Press **Answer** (or use `/checkin answer`); you can edit your answer until then.",
    )
    return e


def summary_embed(bot: MilestoneBot, summary: CycleSummary) -> discord.Embed:
    """The summary posted when a cycle closes."""
    e = embed(
        "Check-in closed: the week in numbers",
        f"**{summary.answered}** member(s) answered · "
        f"**{summary.total_hours:g} h** spent learning (avg {summary.average_hours:.1f} h) · "
        f"**{summary.milestones_completed}** milestone(s) completed",
    )
    if summary.top_streaks:
        e.add_field(
            name="Streaks",
            value=lines_field(
                [f"<@{s.user_id}> · {s.streak} week(s)" for s in summary.top_streaks]
            ),
            inline=False,
        )
    if summary.level_ups:
        ups = [
            f"<@{u.user_id}> reached {level_name(bot.roadmap, u.level)}" for u in summary.level_ups
        ]
        more = summary.level_up_count - len(summary.level_ups)
        if more > 0:
            ups.append(f"… and {more} more")
        e.add_field(name="Moved up a level", value=lines_field(ups), inline=False)
    return e


def _reason(exc: discord.HTTPException) -> str:
    if isinstance(exc, discord.Forbidden):
        return f"Missing Permissions ({exc.status})"
    if isinstance(exc, discord.NotFound):
        return f"the channel no longer exists ({exc.status})"
    return f"Discord answered {exc.status}: {exc.text or 'error'}"


class DiscordPublisher:
    """Implements the scheduler's Publisher with the bot's REST client."""

    def __init__(self, bot: MilestoneBot) -> None:
        self.bot = bot

    async def _post(
        self,
        channel_id: int,
        guild_id: int,
        *,
        embed: discord.Embed,
        content: str | None = None,
        view: discord.ui.View | None = None,
        mention: list[discord.Object] | None = None,
    ) -> discord.Message:
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        allowed = (
            discord.AllowedMentions(users=mention) if mention else discord.AllowedMentions.none()
        )
        try:
            if view is None:
                return await channel.send(content, embed=embed, allowed_mentions=allowed)
            return await channel.send(content, embed=embed, view=view, allowed_mentions=allowed)
        except discord.HTTPException as exc:
            raise PublishError(_reason(exc)) from exc

    async def _dm(self, user_id: int, embed: discord.Embed) -> bool:
        try:
            channel = await self.bot.create_dm(discord.Object(user_id))
            await channel.send(embed=embed)
        except discord.Forbidden as exc:
            if exc.code == DMS_CLOSED:
                return False
            raise PublishError(_reason(exc)) from exc
        except discord.HTTPException as exc:
            raise PublishError(_reason(exc)) from exc
        return True

    async def post_checkin_prompt(
        self, guild_id: int, channel_id: int, cycle: CycleInfo
    ) -> int | None:
        message = await self._post(
            channel_id, guild_id, embed=prompt_embed(cycle), view=AnswerButton()
        )
        return message.id

    async def post_checkin_summary(
        self, guild_id: int, channel_id: int, summary: CycleSummary
    ) -> None:
        await self._post(channel_id, guild_id, embed=summary_embed(self.bot, summary))

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
        return await self._dm(user_id, e)

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
            content = (
                " ".join(f"<@{u.id}>" for u in users)
                + ": I could not DM you your weekly reminder. Allow direct messages from server "
                "members (Server menu → Privacy Settings), then run `/reminders subscribe` again."
            )
        await self._post(channel_id, guild_id, embed=e, content=content, mention=users)

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
        e.set_footer(text="Stop these with /reminders unsubscribe in the server.")
        return await self._dm(user_id, e)
