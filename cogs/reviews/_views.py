"""A submission as an embed, its decision buttons (persistent), the note form, and deciding."""

from __future__ import annotations

import logging
import re
from typing import Any, cast

import discord

from bot.bot import MilestoneBot
from bot.errors import UserError
from bot.levelups import apply_change
from bot.scheduler import PublishError
from bot.services.reviews import (
    APPROVED,
    CHANGES,
    DECISION_LABELS,
    MAX_NOTE,
    REJECTED,
    Submission,
)
from bot.ui.deferral import watch
from bot.ui.posting import direct_message
from bot.ui.render import clip, embed, level_name, when
from bot.ui.replies import SafeModal, handle_error
from bot.ui.texts import decision_text

log = logging.getLogger(__name__)

DECISION_OF = {"approve": APPROVED, "changes": CHANGES, "reject": REJECTED}
LABELS = {
    "approve": "Approve",
    "changes": "Request changes",
    "reject": "Reject",
    "release": "Give back",
}
STYLES = {
    "approve": discord.ButtonStyle.success,
    "changes": discord.ButtonStyle.primary,
    "reject": discord.ButtonStyle.danger,
    "release": discord.ButtonStyle.secondary,
}
NOTE_ID = "review:note"
NOT_A_REVIEWER = (
    "Only reviewers can do this: members with a reviewer role (an admin sets them with "
    "`/config review reviewer_role:`) and admins with Manage Server."
)


def submission_embed(sub: Submission, history: tuple[Submission, ...] = ()) -> discord.Embed:
    """A submission with its evidence, its claim or decision, and earlier decisions."""
    item = sub.item
    when_text = f"submitted {when(sub.submitted_at, 'R')}"
    if sub.updated_at != sub.submitted_at:
        when_text += f", evidence updated {when(sub.updated_at, 'R')}"
    e = embed(
        f"Submission #{sub.id}: {item.title}",
        f"<@{sub.user_id}> · L{item.level} {item.category_label} · `{item.id}` · {when_text}",
    )
    e.add_field(name="Evidence", value=clip(sub.evidence, 1024), inline=False)
    if sub.decided_at is not None:
        by = f" by <@{sub.decided_by}>" if sub.decided_by else ""
        label = DECISION_LABELS.get(sub.decision or "", "decided")
        value = f"**{label}**{by} {when(sub.decided_at, 'R')}"
        if sub.note:
            value += "\n> " + clip(sub.note, 900).replace("\n", "\n> ")
        e.add_field(name="Decision", value=clip(value, 1024), inline=False)
    elif sub.claimed_by is not None and sub.claim_ends_at is not None:
        e.add_field(
            name="Claimed",
            value=f"by <@{sub.claimed_by}>; back in the queue {when(sub.claim_ends_at, 'R')} "
            "if not decided",
            inline=False,
        )
    if history:
        lines = [
            f"{when(h.decided_at, 'd')} {DECISION_LABELS.get(h.decision or '', '')}"
            + (f": {clip(' '.join(h.note.split()), 150)}" if h.note else "")
            for h in history
            if h.decided_at is not None
        ]
        e.add_field(name="Earlier decisions", value=clip("\n".join(lines), 1024), inline=False)
    return e


def decision_view(submission_id: int, *, release: bool = False) -> discord.ui.View:
    """Approve / request changes / reject (and, for the one who claimed it, give it back)."""
    view = discord.ui.View(timeout=None)
    for action in ("approve", "changes", "reject", *(("release",) if release else ())):
        view.add_item(DecisionButton(action, submission_id))
    return view


def bot_of(interaction: discord.Interaction) -> MilestoneBot:
    """The bot an interaction arrived at."""
    return cast(MilestoneBot, interaction.client)


async def require_reviewer(interaction: discord.Interaction) -> None:
    """Stop here with a clear message unless the member may review in this server."""
    if interaction.guild_id is None:
        raise UserError("Use this in a server.")
    roles = [r.id for r in getattr(interaction.user, "roles", [])]
    admin = interaction.permissions.manage_guild
    if not await bot_of(interaction).services.reviews.may_review(
        interaction.guild_id, roles, is_admin=admin
    ):
        raise UserError(NOT_A_REVIEWER)


class DecisionButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"review:(?P<action>approve|changes|reject|release):(?P<id>[0-9]+)",
):
    """A decision button that works wherever it is posted and after restarts.

    The submission id is in the custom_id; the registered class rebuilds the button from it.
    """

    def __init__(self, action: str, submission_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=LABELS[action],
                style=STYLES[action],
                custom_id=f"review:{action}:{submission_id}",
            )
        )
        self.action = action
        self.submission_id = submission_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> DecisionButton:
        return cls(match["action"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        watch(interaction)  # A dynamic item has no SafeView: it is answered in time here.
        # A dynamic item's errors go to a plain View's on_error, which only logs: answer here.
        try:
            await self._press(interaction)
        except Exception as exc:
            await handle_error(interaction, exc, f"component {self.item.custom_id}")

    async def _press(self, interaction: discord.Interaction) -> None:
        await require_reviewer(interaction)
        assert interaction.guild_id is not None
        reviews = bot_of(interaction).services.reviews
        if self.action == "release":
            released = await reviews.release(
                interaction.guild_id, interaction.user.id, self.submission_id
            )
            text = (
                f"Submission #{self.submission_id} is back in the queue."
                if released
                else f"You do not hold submission #{self.submission_id}: nothing to give back."
            )
            await interaction.response.send_message(text, ephemeral=True)
            return
        # A form cannot be deferred: only this one quick read comes before it.
        sub = await reviews.check_decidable(
            interaction.guild_id, self.submission_id, interaction.user.id
        )
        await interaction.response.send_modal(NoteForm(self.action, sub))


class NoteForm(SafeModal):
    """The reviewer's note for the member; needed for changes and rejections."""

    def __init__(self, action: str, sub: Submission) -> None:
        super().__init__(title=clip(f"{LABELS[action]}: {sub.item.title}", 45))
        self.action = action
        self.submission_id = sub.id
        required = action != "approve"
        self.note: discord.ui.TextInput[NoteForm] = discord.ui.TextInput(
            label="Note for the member" + ("" if required else " (optional)"),
            style=discord.TextStyle.paragraph,
            max_length=MAX_NOTE,
            required=required,
            placeholder="What to change, or why not" if required else "What was good",
            custom_id=NOTE_ID,
        )
        self.add_item(self.note)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await decide(interaction, self.action, self.submission_id, self.note.value)

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception
    ) -> None:
        await handle_error(interaction, error, f"review form #{self.submission_id}")


async def decide(
    interaction: discord.Interaction, action: str, submission_id: int, note: str
) -> None:
    """Record the decision, answer the reviewer, then tell the member and update the post."""
    bot = bot_of(interaction)
    guild = interaction.guild
    assert guild is not None
    result = await bot.services.reviews.decide(
        guild.id, submission_id, interaction.user.id, DECISION_OF[action], note
    )
    sub = result.submission
    decided = submission_embed(sub)
    # The message the button was on (the review channel's post, or a /review open answer)
    # shows the decision at once, without its buttons.
    origin = interaction.message
    if origin is not None:
        await interaction.response.edit_message(content=None, embed=decided, view=None)
    else:
        await interaction.response.send_message(embed=decided, ephemeral=True)
    notes: list[str] = []
    change = result.change
    if change is not None and change.changed:
        member = await _member(guild, sub.user_id)
        if member is not None:
            channel = guild.get_channel_or_thread(sub.channel_id) if sub.channel_id else None
            await apply_change(bot, guild, member, change, channel or interaction.channel)  # type: ignore[arg-type]
        if change.new_level > change.old_level:
            notes.append(f"They reached **{level_name(bot.roadmap, change.new_level)}**.")
    elif change is not None:
        notes.append("The item was already done (an admin's grant?): nothing else changed.")
    if await tell_member(bot, guild, sub):
        notes.append("I DMed them the decision.")
    else:
        notes.append("Their DMs are closed: they will see it after their next command.")
    if (
        sub.post_channel_id
        and sub.post_message_id
        and (origin is None or origin.id != sub.post_message_id)
    ):
        await update_post(bot, sub)
    label = DECISION_LABELS[sub.decision or ""]
    await interaction.followup.send(
        f"Submission #{sub.id}: {label}. " + " ".join(notes), ephemeral=True
    )


async def _member(guild: discord.Guild, user_id: int) -> discord.Member | None:
    try:
        return guild.get_member(user_id) or await guild.fetch_member(user_id)
    except discord.NotFound:
        return None  # They left: no roles to give, nobody to announce.


async def tell_member(bot: MilestoneBot, guild: discord.Guild, sub: Submission) -> bool:
    """DM the member the decision; when that fails, keep it for after their next command."""
    e = embed(f"Review in {guild.name}", decision_text(sub))
    try:
        delivered = await direct_message(bot, sub.user_id, e)
    except PublishError as exc:
        log.warning("review DM to %s in guild %s failed: %s", sub.user_id, guild.id, exc.message)
        delivered = False
    if not delivered:
        await bot.services.reviews.mark_undelivered(sub.id)
    return delivered


async def update_post(bot: MilestoneBot, sub: Submission) -> None:
    """Bring the review channel's post of a submission up to date (buttons only while open)."""
    if sub.post_channel_id is None or sub.post_message_id is None:
        return
    channel = bot.get_partial_messageable(sub.post_channel_id, guild_id=sub.guild_id)
    view = decision_view(sub.id) if sub.open else None
    try:
        await channel.get_partial_message(sub.post_message_id).edit(
            embed=submission_embed(sub), view=view
        )
    except discord.HTTPException as exc:
        # Deleted by a moderator, or the channel is gone: the queue still has it.
        log.info("could not update review post %s: %s", sub.post_message_id, exc)
