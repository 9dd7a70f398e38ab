"""`/milestone list|complete|undo|checklist`: ticking items off the roadmap."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import MilestoneBot
from bot.defaults import AUTOCOMPLETE_WAIT, LEVEL_COUNT
from bot.errors import UserError
from bot.levelups import apply_change
from bot.roadmap import CATEGORIES, CATEGORY_LABELS, Item
from bot.services.catalog import choice_label, search
from bot.services.reviews import Submitted
from bot.ui.deferral import within
from bot.ui.options import LevelOption
from bot.ui.render import SUBMITTED, embed, item_line, level_name, lines_field
from bot.ui.texts import wait_text
from bot.ui.views import OwnedView, send_paginated, sent_message

PER_PAGE = 15


def level_note(bot: MilestoneBot, old: int, new: int) -> str:
    """A line about a level change, or nothing."""
    if new > old:
        return f"\n🎉 You reached **{level_name(bot.roadmap, new)}**!"
    if new < old:
        return f"\nYou are now at **{level_name(bot.roadmap, new)}**."
    return ""


def submitted_text(result: Submitted) -> str:
    """What a member sees on submitting an item for review."""
    title = result.submission.item.title
    if result.replaced:
        text = f"{SUBMITTED} New evidence for **{title}**: it keeps its place in the review queue."
    else:
        text = (
            f"{SUBMITTED} Submitted for review: **{title}**. It counts once a reviewer approves "
            "it; I will DM you the decision."
        )
    if result.typical_wait is not None:
        text += f" Reviews here take {wait_text(result.typical_wait)}."
    return text


def linked_note(items: tuple[Item, ...], label: str) -> str:
    """A line naming the projects (or the checklist item) that changed with an item."""
    if not items:
        return ""
    return f"\n{label}: " + ", ".join(f"**{i.title}**" for i in items)


class ChecklistSelect(discord.ui.Select["ChecklistView"]):
    """A multi-select of one level's checklist with the done items pre-selected."""

    def __init__(
        self, items: tuple[Item, ...], done: set[str], locked: frozenset[str] = frozenset()
    ) -> None:
        super().__init__(
            placeholder="Select what you have done",
            min_values=0,
            max_values=len(items),
        )
        self.items = items
        self.locked = locked
        self.mark(done)

    def mark(self, done: set[str] | frozenset[str]) -> None:
        """Pre-select the done items (in place: the menu keeps its custom_id, so a choice
        already on its way is still this menu's)."""
        self.options = [
            discord.SelectOption(
                label=i.title[:100],
                value=i.id,
                default=i.id in done,
                description="Needs a reviewer: /milestone complete with evidence"
                if i.id in self.locked
                else None,
            )
            for i in self.items
        ]

    async def callback(self, interaction: discord.Interaction) -> None:
        assert self.view is not None
        await self.view.save(interaction, set(self.values))


class ChecklistView(OwnedView):
    """Ticks and unticks a level's checklist from one select menu."""

    def __init__(
        self,
        bot: MilestoneBot,
        owner_id: int,
        level: int,
        done: set[str],
        locked: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(owner_id)
        self.bot = bot
        self.level = level
        self.items = bot.roadmap.checklist(level)
        # Items that need review and are not done: the menu does not complete them.
        self.locked = locked
        self.menu = ChecklistSelect(self.items, done, locked)
        self.add_item(self.menu)
        self._saving = asyncio.Lock()

    async def save(self, interaction: discord.Interaction, chosen: set[str]) -> None:
        # Two quick choices are saved in turn; each is answered with the state it left.
        async with self._saving:
            await self._save(interaction, chosen)

    async def _save(self, interaction: discord.Interaction, chosen: set[str]) -> None:
        assert interaction.guild is not None
        user = interaction.user
        held = chosen & self.locked
        change = await self.bot.services.progress.set_checklist(
            interaction.guild.id,
            user.id,
            self.level,
            chosen - self.locked,
            display_name=user.display_name,
        )
        count = sum(1 for i in self.items if i.id in change.done_ids)
        tally = f"{count}/{len(self.items)} of the level {self.level} checklist done."
        if change.changed:
            text = f"Saved: {tally}" + level_note(self.bot, change.old_level, change.new_level)
        else:
            text = f"Nothing changed: {tally}"
        if held:
            text += (
                f"\n{SUBMITTED} {len(held)} item(s) need a reviewer here: submit each with "
                "`/milestone complete` and evidence."
            )
        self.menu.mark(change.done_ids)
        await interaction.response.edit_message(content=text, view=self)
        if change.changed:
            await apply_change(self.bot, interaction.guild, user, change, interaction.channel)  # type: ignore[arg-type]


@app_commands.guild_only()
class Milestones(commands.GroupCog, group_name="milestone"):
    """Tick roadmap items off, undo them, and list them."""

    def __init__(self, bot: MilestoneBot) -> None:
        self.bot = bot
        super().__init__()

    async def _choices(
        self, interaction: discord.Interaction, current: str, *, want_done: bool
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        # Autocomplete cannot be deferred: without the member's items in time, offer every
        # matching item of the roadmap (the command itself says when one is done already).
        guild_id, user_id = interaction.guild_id, interaction.user.id
        done = await within(self._marked(guild_id, user_id, want_done), AUTOCOMPLETE_WAIT, None)
        if done is None:
            items = search(self.bot.roadmap, current)
        else:
            items = search(self.bot.roadmap, current, lambda i: (i.id in done) == want_done)
        return [app_commands.Choice(name=choice_label(i), value=i.id) for i in items]

    async def _marked(self, guild_id: int, user_id: int, want_done: bool) -> set[str]:
        done = await self.bot.services.progress.done_ids(guild_id, user_id)
        if want_done:
            # Undo also withdraws a submission waiting for review.
            pending = await self.bot.services.reviews.pending(guild_id, user_id)
            done |= {p.item.id for p in pending}
        return done

    @app_commands.command(name="list")
    @app_commands.describe(
        level=f"Only this level (1 to {LEVEL_COUNT})",
        category="Only this category",
        member="Whose items to show (default: you)",
    )
    @app_commands.choices(
        category=[app_commands.Choice(name=CATEGORY_LABELS[c], value=c) for c in CATEGORIES]
    )
    async def list_(
        self,
        interaction: discord.Interaction,
        level: LevelOption | None = None,
        category: str | None = None,
        member: discord.Member | None = None,
    ) -> None:
        """List roadmap items with done and not-done marks."""
        assert interaction.guild_id is not None
        who = member or interaction.user
        done = await self.bot.services.progress.done_ids(interaction.guild_id, who.id)
        pending = await self.bot.services.reviews.pending(interaction.guild_id, who.id)
        submitted = {p.item.id for p in pending}
        items = [
            i
            for i in self.bot.roadmap.items
            if (level is None or i.level == level) and (category is None or i.category == category)
        ]
        items.sort(key=lambda i: (i.level, CATEGORIES.index(i.category)))
        pages = max(1, -(-len(items) // PER_PAGE))
        scope = " · ".join(
            part
            for part in (
                f"level {level}" if level else "all levels",
                CATEGORY_LABELS[category] if category else "",
            )
            if part
        )
        count = sum(1 for i in items if i.id in done)
        waiting = sum(1 for i in items if i.id in submitted)
        awaiting = f" · {SUBMITTED} {waiting} awaiting review" if waiting else ""

        async def render(page: int) -> tuple[discord.Embed, int]:
            page = min(max(page, 0), pages - 1)
            chunk = items[page * PER_PAGE : (page + 1) * PER_PAGE]
            lines = [item_line(i, done, with_id=True, submitted=submitted) for i in chunk]
            e = embed(f"Milestones of {who.display_name}: {scope}", lines_field(lines, 4000))
            e.set_footer(text=f"{count}/{len(items)} done{awaiting} · page {page + 1}/{pages}")
            return e, pages

        await send_paginated(interaction, render, ephemeral=True)

    @app_commands.command(name="complete")
    @app_commands.describe(
        milestone="The item you finished (type words of its title)",
        evidence="A link or a short note showing the work (needed where items are reviewed)",
    )
    async def complete(
        self,
        interaction: discord.Interaction,
        milestone: str,
        evidence: app_commands.Range[str, 1, 500] | None = None,
    ) -> None:
        """Mark a milestone or checklist item done (or submit it, where it needs review)."""
        assert interaction.guild is not None
        user = interaction.user
        change = await self.bot.services.reviews.complete_or_submit(
            interaction.guild.id,
            user.id,
            milestone,
            display_name=user.display_name,
            evidence=evidence,
            channel_id=interaction.channel_id,
        )
        if isinstance(change, Submitted):
            await interaction.response.send_message(submitted_text(change), ephemeral=True)
            self.bot.dispatch("review_submitted", change)
            return
        if not change.changed:
            text = f"**{change.item.title}** was already done. Nothing changed."
        else:
            text = f"✅ Done: **{change.item.title}**" + linked_note(change.linked, "Also done")
            text += level_note(self.bot, change.old_level, change.new_level)
        await interaction.response.send_message(text, ephemeral=True)
        await apply_change(self.bot, interaction.guild, user, change, interaction.channel)  # type: ignore[arg-type]

    @complete.autocomplete("milestone")
    async def complete_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._choices(interaction, current, want_done=False)

    @app_commands.command(name="undo")
    @app_commands.describe(milestone="The item to mark not done (or whose submission to withdraw)")
    async def undo(self, interaction: discord.Interaction, milestone: str) -> None:
        """Mark a milestone or checklist item not done."""
        assert interaction.guild is not None
        user = interaction.user
        change = await self.bot.services.progress.undo(
            interaction.guild.id, user.id, milestone, display_name=user.display_name
        )
        if not change.changed:
            withdrawn = await self.bot.services.reviews.withdraw(
                interaction.guild.id, user.id, milestone
            )
            if withdrawn is not None:
                await interaction.response.send_message(
                    f"↩️ Submission withdrawn: **{withdrawn.item.title}**.", ephemeral=True
                )
                self.bot.dispatch("review_withdrawn", withdrawn)
                return
            raise UserError(
                f"**{change.item.title}** is not marked done, so there is nothing to undo."
            )
        text = f"↩️ Not done any more: **{change.item.title}**"
        text += linked_note(change.linked, "Also not done any more")
        text += level_note(self.bot, change.old_level, change.new_level)
        await interaction.response.send_message(text, ephemeral=True)
        await apply_change(self.bot, interaction.guild, user, change, interaction.channel)  # type: ignore[arg-type]

    @undo.autocomplete("milestone")
    async def undo_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._choices(interaction, current, want_done=True)

    @app_commands.command(name="checklist")
    @app_commands.describe(level=f"Which level's checklist, 1 to {LEVEL_COUNT}")
    async def checklist(self, interaction: discord.Interaction, level: LevelOption) -> None:
        """Tick a level's checklist from a menu: selecting completes, deselecting undoes."""
        assert interaction.guild_id is not None
        done = await self.bot.services.progress.done_ids(interaction.guild_id, interaction.user.id)
        items = self.bot.roadmap.checklist(level)
        policy = await self.bot.services.reviews.policy(interaction.guild_id)
        locked = frozenset(i.id for i in items if policy.covers(i) and i.id not in done)
        view = ChecklistView(self.bot, interaction.user.id, level, done, locked)
        count = sum(1 for i in items if i.id in done)
        sent = await interaction.response.send_message(
            f"**{level_name(self.bot.roadmap, level)}** checklist: {count}/{len(items)} done. "
            "Select what you have done; deselect to undo.",
            view=view,
            ephemeral=True,
        )
        view.message = sent_message(sent)


async def setup(bot: MilestoneBot) -> None:
    """Load the cog."""
    await bot.add_cog(Milestones(bot))
