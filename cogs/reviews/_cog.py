"""`/review queue|open|stats` for reviewers, and the review channel's posts."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import MilestoneBot
from bot.scheduler import PublishError
from bot.services.reviews import Submission, Submitted
from bot.ui.posting import post
from bot.ui.render import clip, embed, lines_field, when
from bot.ui.texts import wait_text
from bot.ui.views import send_paginated
from cogs.reviews._views import (
    DecisionButton,
    decision_view,
    require_reviewer,
    submission_embed,
    update_post,
)

PER_PAGE = 5


@app_commands.guild_only()
class Reviews(commands.GroupCog, group_name="review"):
    """For reviewers: the submissions waiting, taking one, waits and decisions."""

    def __init__(self, bot: MilestoneBot) -> None:
        self.bot = bot
        self.reviews = bot.services.reviews
        super().__init__()

    async def cog_load(self) -> None:
        # Decision buttons posted before a restart keep working.
        self.bot.add_dynamic_items(DecisionButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(DecisionButton)

    @app_commands.command(name="queue")
    async def queue(self, interaction: discord.Interaction) -> None:
        """List the submissions waiting for review, oldest first."""
        await require_reviewer(interaction)
        assert interaction.guild_id is not None
        guild_id = interaction.guild_id

        async def render(page: int) -> tuple[discord.Embed, int]:
            queue = await self.reviews.queue(guild_id, page, PER_PAGE)
            e = embed(
                "Review queue",
                None if queue.entries else "Nothing is waiting for review. 🎉",
            )
            for sub in queue.entries:
                value = f"<@{sub.user_id}> · submitted {when(sub.submitted_at, 'R')}"
                if sub.claimed_by is not None:
                    value += f" · claimed by <@{sub.claimed_by}>"
                value += f"\n> {clip(sub.evidence, 300)}"
                e.add_field(
                    name=clip(f"#{sub.id} · {sub.item.title}", 256), value=value, inline=False
                )
            e.set_footer(
                text=f"{queue.total} waiting · page {queue.page + 1}/{queue.pages} · "
                "/review open takes the oldest free one"
            )
            return e, queue.pages

        await send_paginated(interaction, render, ephemeral=True)

    @app_commands.command(name="open")
    @app_commands.describe(submission="Which submission (default: the oldest nobody has taken)")
    async def open(self, interaction: discord.Interaction, submission: int | None = None) -> None:
        """Take a submission to review: the oldest unclaimed one, or the one you name."""
        await require_reviewer(interaction)
        assert interaction.guild_id is not None
        sub = await self.reviews.claim(interaction.guild_id, interaction.user.id, submission)
        history = await self.reviews.history(interaction.guild_id, sub.user_id, sub.item.id)
        ends = sub.claim_ends_at
        await interaction.response.send_message(
            "It is yours to decide"
            + (
                f" until {when(ends)} ({when(ends, 'R')}); then it goes back to the queue."
                if ends
                else "."
            ),
            embed=submission_embed(sub, history),
            view=decision_view(sub.id, release=True),
            ephemeral=True,
        )

    @open.autocomplete("submission")
    async def open_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None:
            return []
        queue = await self.reviews.queue(interaction.guild_id, 0, 25)
        words = current.lower().split()
        return [
            app_commands.Choice(name=clip(f"#{s.id} · {s.item.title}", 100), value=s.id)
            for s in queue.entries
            if all(w.lstrip("#") in f"{s.id} {s.item.title}".lower() for w in words)
        ]

    @app_commands.command(name="stats")
    async def stats(self, interaction: discord.Interaction) -> None:
        """Show open submissions, how long reviews take, and decisions per reviewer."""
        await require_reviewer(interaction)
        assert interaction.guild_id is not None
        st = await self.reviews.stats(interaction.guild_id)
        waiting = f"**{st.open}** waiting, {st.claimed} of them claimed"
        if st.oldest_open_at is not None:
            waiting += f"; the oldest was submitted {when(st.oldest_open_at, 'R')}"
        e = embed("Reviews", waiting + ".")
        if st.median_wait is not None and st.p90_wait is not None:
            waits = (
                f"median {wait_text(st.median_wait)} · 90th percentile "
                f"{wait_text(st.p90_wait)} ({st.decided} decision(s))"
            )
        else:
            waits = "no decisions yet"
        e.add_field(name=f"Wait over the last {st.days} days", value=waits, inline=False)
        reviewers = [
            f"{f'<@{r.reviewer_id}>' if r.reviewer_id else 'former reviewers'}: {r.total} "
            f"({r.approved} approved, {r.changes} changes requested, {r.rejected} rejected)"
            for r in st.reviewers
        ]
        e.add_field(
            name=f"Decisions per reviewer, last {st.days} days",
            value=lines_field(reviewers) if reviewers else "none yet",
            inline=False,
        )
        await interaction.response.send_message(embed=e, ephemeral=True)

    # -- the review channel: posted by `/milestone complete` through events --

    @commands.Cog.listener()
    async def on_review_submitted(self, result: Submitted) -> None:
        """Post a new submission in the review channel, or update the post with new evidence."""
        sub = result.submission
        if sub.post_message_id is not None:
            await update_post(self.bot, sub)
            return
        channel_id = result.review_channel_id
        if channel_id is None:
            return
        try:
            message = await post(
                self.bot,
                channel_id,
                sub.guild_id,
                embed=submission_embed(sub),
                view=decision_view(sub.id),
            )
        except PublishError as exc:
            await self.bot.services.guilds.record_error(
                sub.guild_id, f"Could not post a submission in <#{channel_id}>: {exc.message}"
            )
            return
        await self.reviews.set_post(sub.id, channel_id, message.id)

    @commands.Cog.listener()
    async def on_review_withdrawn(self, sub: Submission) -> None:
        """Show a withdrawn submission as such in the review channel."""
        await update_post(self.bot, sub)
