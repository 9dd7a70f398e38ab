"""The `/assess rate` flow: one metric at a time, group by group, then a review to save.

Nothing is written until Save: cancelling, or leaving the flow half-way (it times out),
saves nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import discord

from bot.roadmap import Metric
from bot.services.assessments import HIGHEST, LOWEST, History, MetricTrend, Rating, Saved
from bot.ui.render import clip, embed, lines_field
from bot.ui.views import OwnedView

SKIP = "skip"
SaveRatings = Callable[[dict[str, int]], Awaitable[Saved]]


def rating_label(metric: Metric, rating: int) -> str:
    """A select option's label: the anchors of 1 and 5 are spelt out."""
    if rating == LOWEST:
        return clip(f"{rating} · {metric.low}", 100)
    if rating == HIGHEST:
        return clip(f"{rating} · {metric.high}", 100)
    return str(rating)


class RatingSelect(discord.ui.Select["AssessmentFlow"]):
    """Rate one metric from 1 to 5, or skip it."""

    def __init__(self, metric: Metric, chosen: int | None) -> None:
        options = [
            discord.SelectOption(label=rating_label(metric, r), value=str(r), default=chosen == r)
            for r in range(LOWEST, HIGHEST + 1)
        ]
        options.append(
            discord.SelectOption(
                label="Skip this metric", value=SKIP, description="Leave it unrated this time"
            )
        )
        super().__init__(placeholder=clip(f"Rate {metric.name}", 150), options=options)

    async def callback(self, interaction: discord.Interaction) -> None:
        assert self.view is not None
        await self.view.choose(interaction, self.values[0])


def _button(
    label: str,
    style: discord.ButtonStyle,
    action: Callable[[discord.Interaction], Coroutine[Any, Any, None]],
    *,
    disabled: bool = False,
) -> discord.ui.Button[AssessmentFlow]:
    button: discord.ui.Button[AssessmentFlow] = discord.ui.Button(
        label=label, style=style, disabled=disabled
    )
    button.callback = action  # type: ignore[method-assign, assignment]
    return button


class AssessmentFlow(OwnedView):
    """Walks the member through the metrics; keeps the ratings until they press Save."""

    def __init__(
        self,
        owner_id: int,
        metrics: tuple[Metric, ...],
        previous: dict[str, Rating],
        save: SaveRatings,
    ) -> None:
        super().__init__(owner_id, timeout=900)
        self.metrics = metrics
        self.previous = previous
        self.save_ratings = save
        self.ratings: dict[str, int] = {}
        self.position = 0  # a metric's index; len(metrics) is the review page
        self._build()

    # -- pages --

    def page(self) -> discord.Embed:
        """The current page: a metric, or the review."""
        if self.position >= len(self.metrics):
            return self._review()
        metric = self.metrics[self.position]
        group = [m for m in self.metrics if m.group == metric.group]
        e = embed(
            f"Self-assessment · {metric.group} ({group.index(metric) + 1}/{len(group)})",
            f"**{metric.name}**: {metric.description}\n\n"
            f"**{LOWEST}** · {metric.low}\n**{HIGHEST}** · {metric.high}",
        )
        before = self.previous.get(metric.id)
        if before is not None:
            e.add_field(
                name="Last time", value=f"**{before.rating}** on {before.taken_on.isoformat()}"
            )
        e.set_footer(
            text=f"Metric {self.position + 1} of {len(self.metrics)} · "
            "nothing is saved until you press Save"
        )
        return e

    def _review(self) -> discord.Embed:
        e = embed(
            "Self-assessment · review",
            f"**{len(self.ratings)}** of {len(self.metrics)} metrics rated. Saving records "
            "them as today's assessment (replacing one saved earlier today). A metric or "
            "group left out is reported as missing from it: nothing earlier is copied in.",
        )
        groups: dict[str, list[Metric]] = {}
        for metric in self.metrics:
            groups.setdefault(metric.group, []).append(metric)
        for group, metrics in groups.items():
            rated = [m for m in metrics if m.id in self.ratings]
            lines = [
                f"{m.name}: **{self.ratings[m.id]}**" if m in rated else f"{m.name}: not rated"
                for m in metrics
            ]
            name = group if rated else f"{group} · left out"
            e.add_field(name=name, value=lines_field(lines), inline=False)
        if not self.ratings:
            e.set_footer(text="Rate at least one metric to save: press Back.")
        return e

    def _build(self) -> None:
        self.clear_items()
        if self.position < len(self.metrics):
            metric = self.metrics[self.position]
            self.add_item(RatingSelect(metric, self.ratings.get(metric.id)))
            self.add_item(
                _button(
                    "◀ Back",
                    discord.ButtonStyle.secondary,
                    self.back,
                    disabled=self.position == 0,
                )
            )
            self.add_item(
                _button(
                    f"Skip the rest of {metric.group}",
                    discord.ButtonStyle.secondary,
                    self.skip_group,
                )
            )
        else:
            self.add_item(
                _button("Save", discord.ButtonStyle.success, self.save, disabled=not self.ratings)
            )
            self.add_item(_button("◀ Back", discord.ButtonStyle.secondary, self.back))
        self.add_item(_button("Cancel", discord.ButtonStyle.danger, self.cancel))

    async def _show(self, interaction: discord.Interaction) -> None:
        self._build()
        await interaction.response.edit_message(embed=self.page(), view=self)

    # -- actions --

    async def choose(self, interaction: discord.Interaction, value: str) -> None:
        """A rating (or Skip) for the current metric: on to the next one."""
        metric = self.metrics[self.position]
        if value == SKIP:
            self.ratings.pop(metric.id, None)
        else:
            self.ratings[metric.id] = int(value)
        self.position += 1
        await self._show(interaction)

    async def back(self, interaction: discord.Interaction) -> None:
        """The previous metric."""
        self.position = max(0, self.position - 1)
        await self._show(interaction)

    async def skip_group(self, interaction: discord.Interaction) -> None:
        """On to the next group's first metric (or the review)."""
        group = self.metrics[self.position].group
        while self.position < len(self.metrics) and self.metrics[self.position].group == group:
            self.position += 1
        await self._show(interaction)

    async def cancel(self, interaction: discord.Interaction) -> None:
        """Leave without saving."""
        self.stop()
        await interaction.response.edit_message(
            content="Nothing was saved. Run `/assess rate` again whenever you like.",
            embed=None,
            view=None,
        )

    async def save(self, interaction: discord.Interaction) -> None:
        """Record the assessment."""
        saved = await self.save_ratings(dict(self.ratings))
        self.stop()
        text = (
            f"✅ Saved your assessment of {saved.taken_on.isoformat()}: {saved.rated} of "
            f"{len(self.metrics)} metrics rated"
            + (", replacing the one you saved earlier today." if saved.replaced else ".")
        )
        if saved.missing_groups:
            text += (
                f"\nMissing from it: {', '.join(saved.missing_groups)}. `/assess history` "
                "shows the last rating you gave each of their metrics, with its date."
            )
        text += "\nSee the trend with `/assess history`."
        await interaction.response.edit_message(content=text, embed=None, view=None)


def arrow(now: int, then: int) -> str:
    """↑, ↓ or → from `then` to `now`."""
    return "↑" if now > then else "↓" if now < then else "→"


def trend_line(trend: MetricTrend, last_on: object) -> str:
    """One metric in `/assess history`: latest, against the previous and the first rating."""
    latest, previous, first = trend.latest, trend.previous, trend.first
    if latest is None or first is None:
        return f"{trend.metric.name}: not rated"
    text = f"{trend.metric.name}: **{latest.rating}**"
    if latest.taken_on != last_on:
        text += f" (on {latest.taken_on.isoformat()})"
    if previous is None:
        return text + " · first rating"
    text += f" · {arrow(latest.rating, previous.rating)} from {previous.rating}"
    return text + f" · {arrow(latest.rating, first.rating)} from {first.rating} first"


def history_embed(title: str, history: History) -> discord.Embed:
    """`/assess history`: each metric's trend, by group."""
    if history.assessments == 0 or history.first_on is None or history.last_on is None:
        return embed(title, "No self-assessment yet: `/assess rate` takes a few minutes.")
    e = embed(
        title,
        f"{history.assessments} assessment(s), from {history.first_on.isoformat()} to "
        f"{history.last_on.isoformat()}. Latest rating of each metric, against the one "
        "before and the first one.",
    )
    groups: dict[str, list[MetricTrend]] = {}
    for trend in history.trends:
        groups.setdefault(trend.metric.group, []).append(trend)
    for group, trends in groups.items():
        e.add_field(
            name=group,
            value=lines_field([trend_line(t, history.last_on) for t in trends]),
            inline=False,
        )
    return e
