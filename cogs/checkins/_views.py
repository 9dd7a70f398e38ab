"""The check-in's prompt, summary, form and its persistent Answer button."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import discord

from bot.errors import UserError
from bot.roadmap import Roadmap
from bot.services.checkins import Answers, CycleSummary, HistoryEntry
from bot.text import clean_text
from bot.ui.render import clip, embed, level_name, lines_field, when
from bot.ui.replies import SafeModal, SafeView, handle_error

ANSWER_ID = "checkin:answer"


@dataclass(frozen=True)
class Question:
    """One question of the weekly check-in: shown in the prompt, asked in the form."""

    key: str
    emoji: str
    text: str
    required: bool = False
    paragraph: bool = True
    max_length: int = 1000
    placeholder: str | None = None


QUESTIONS = (
    Question("learned", "📚", "What did you learn this week?", required=True),
    Question("built", "🛠️", "What did you build or experiment with?"),
    Question("milestones", "🏁", "Which milestones moved?"),
    Question("feedback", "💬", "Where do you want feedback?"),
    Question(
        "hours",
        "⏱️",
        "How many hours did you spend learning?",
        required=True,
        paragraph=False,
        max_length=6,
        placeholder="a number, e.g. 4 or 2.5",
    ),
)


def prompt_embed(closes_at: dt.datetime) -> discord.Embed:
    """The weekly check-in prompt."""
    return embed(
        "Weekly check-in",
        "Continuous learning works best with a weekly look back. Take two minutes:\n\n"
        + "\n".join(f"{q.emoji} {q.text}" for q in QUESTIONS)
        + f"\n\nOpen until {when(closes_at)} ({when(closes_at, 'R')}). "
        "Press **Answer** (or use `/checkin answer`); you can edit your answer until then.",
    )


def summary_embed(roadmap: Roadmap, summary: CycleSummary) -> discord.Embed:
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
        ups = [f"<@{u.user_id}> reached {level_name(roadmap, u.level)}" for u in summary.level_ups]
        more = summary.level_up_count - len(summary.level_ups)
        if more > 0:
            ups.append(f"… and {more} more")
        e.add_field(name="Moved up a level", value=lines_field(ups), inline=False)
    return e


SubmitAnswers = Callable[[discord.Interaction, Answers], Awaitable[None]]


class CheckinForm(SafeModal, title="Weekly check-in"):
    """The check-in questions, pre-filled with the member's earlier answer."""

    def __init__(self, submit: SubmitAnswers, previous: HistoryEntry | None) -> None:
        super().__init__()
        self.submit = submit
        self.inputs: dict[str, discord.ui.TextInput[CheckinForm]] = {}
        for q in QUESTIONS:
            field: discord.ui.TextInput[CheckinForm] = discord.ui.TextInput(
                label=q.text,
                style=discord.TextStyle.paragraph if q.paragraph else discord.TextStyle.short,
                max_length=q.max_length,
                required=q.required,
                placeholder=q.placeholder,
                custom_id=f"checkin:{q.key}",
            )
            if previous is not None:
                value = getattr(previous, q.key)
                field.default = f"{value:g}" if isinstance(value, float) else value
            self.inputs[q.key] = field
            self.add_item(field)

    def answers(self) -> Answers:
        """What the member typed."""
        return Answers(**{key: field.value for key, field in self.inputs.items()})

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.submit(interaction, self.answers())

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception
    ) -> None:
        if isinstance(error, UserError):
            # Nothing is lost: the text they typed is echoed back so they can paste it again.
            typed = [clean_text(f.value) for key, f in self.inputs.items() if key != "hours"]
            text = f"{error.message}\n\nYour answer was not saved. What you wrote:\n" + clip(
                "\n".join(f"> {v}" for v in typed if v), 1500
            )
            await interaction.response.send_message(clip(text, 2000), ephemeral=True)
            return
        await handle_error(interaction, error, "check-in form")


class AnswerButton(SafeView):
    """The persistent "Answer" button under each check-in prompt (works after restarts)."""

    def __init__(self, open_form: Callable[[discord.Interaction], Awaitable[None]]) -> None:
        super().__init__(timeout=None)
        self.open_form = open_form

    @discord.ui.button(label="Answer", style=discord.ButtonStyle.primary, custom_id=ANSWER_ID)
    async def answer(
        self, interaction: discord.Interaction, _: discord.ui.Button[AnswerButton]
    ) -> None:
        await self.open_form(interaction)
