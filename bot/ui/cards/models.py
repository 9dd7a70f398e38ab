"""What each card shows: plain frozen dataclasses, filled by the cogs from the services' results.

Nothing here knows Discord or the database: ids are ints, avatars are image bytes (or None
for the generated default), dates are already in the member's or the server's timezone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

WEEKS = 52  # the progress card's heatmap: a year of weeks, ending with this one


def first_day(today: dt.date) -> dt.date:
    """The Monday that starts the heatmap: 52 columns end with the week of `today`."""
    return today - dt.timedelta(days=today.weekday(), weeks=WEEKS - 1)


def window(activity: Mapping[dt.date, int], today: dt.date) -> dict[dt.date, int]:
    """The days of `activity` the heatmap shows, with positive counts only."""
    start = first_day(today)
    return {d: n for d, n in activity.items() if start <= d <= today and n > 0}


@dataclass(frozen=True)
class LevelBar:
    """One level's two bars on the progress card."""

    number: int
    title: str
    checklist_done: int
    checklist_total: int
    milestones_done: int
    milestones_total: int
    reached: bool


@dataclass(frozen=True)
class ProgressCard:
    """The `/progress` picture.

    `activity` maps a day (in the member's timezone) to what they did that day: completions
    plus check-in answers. Days outside the last 52 weeks are ignored. `rank` is None when the
    member is not ranked yet; `rank_hidden` wins over it (the member hid themselves).
    """

    user_id: int
    display_name: str
    avatar: bytes | None
    level: int
    level_title: str
    levels: tuple[LevelBar, ...]
    completed: int
    total: int
    rank: int | None
    streak: int
    today: dt.date
    activity: Mapping[dt.date, int] = field(default_factory=dict)
    rank_hidden: bool = False
    ranked_members: int | None = None  # "of 100,000" under the rank, when known


@dataclass(frozen=True)
class LeaderboardRow:
    """One member on a leaderboard page."""

    rank: int
    user_id: int
    display_name: str
    completed: int
    level: int
    avatar: bytes | None = None


@dataclass(frozen=True)
class LeaderboardCard:
    """One `/leaderboard` page (at most 10 rows).

    `page` counts from 0, like `leaderboard.Page.page`; the card shows it from 1. `period` is
    the label to show, e.g. "All time", "This month", "This week"; `since` the period's first
    day in the server's timezone (None for all time).
    """

    period: str
    page: int
    pages: int
    total_members: int
    rows: tuple[LeaderboardRow, ...]
    since: dt.date | None = None
    server_name: str | None = None


@dataclass(frozen=True)
class CycleBar:
    """One check-in cycle on the participation chart."""

    opens_on: dt.date
    answered: int


@dataclass(frozen=True)
class ParticipationChart:
    """Answers per cycle over the last cycles (the chart shows the last 12)."""

    cycles: tuple[CycleBar, ...]
    server_name: str | None = None


@dataclass(frozen=True)
class HoursChart:
    """A member's hours spent learning, one bar per check-in week."""

    user_id: int
    display_name: str
    weeks: tuple[tuple[dt.date, float], ...]


@dataclass(frozen=True)
class AssessmentChart:
    """A member's self-assessment ratings (1 to 5) over time, one small chart per metric.

    `metrics` maps a metric's name to its ratings as (day, rating); order is kept.
    """

    user_id: int
    display_name: str
    metrics: Mapping[str, Sequence[tuple[dt.date, int]]]
