"""Every default and limit the bot's rules share, defined once.

Models, services, cogs (option ranges and help text) and `/config show` read them from here.
"""

from __future__ import annotations

import datetime as dt

LEVEL_COUNT = 5
"""Levels above the starting point (level 0); the roadmap data must have exactly these."""

LEVEL_THRESHOLD = 100
"""Share (percent) of each level's checklist needed to reach it, unless a server lowers it."""

HOURS_IN_WEEK = 168

CHECKIN_OPEN_HOURS = 48
"""How long a weekly check-in stays open unless the server chose otherwise."""

CHECKIN_MAX_OPEN_HOURS = HOURS_IN_WEEK
"""A check-in closes before the next one opens."""

NUDGE_LEAD = dt.timedelta(hours=12)
"""The check-in nudge goes out this long before the close (at most half the window)."""

REMINDER_WEEKDAY = 0
"""A member's reminder DM goes out on Mondays unless they chose a day."""

REMINDER_TIME = dt.time(9, 0)
"""... at 09:00 in their timezone unless they chose a time."""

REMINDER_WINDOW = dt.timedelta(hours=24)
"""A reminder (channel post or DM) that is late by more than this is skipped."""

TIMEZONE = "UTC"
"""The timezone of a server or member that has not set one."""

REVIEW_CLAIM = dt.timedelta(hours=48)
"""A reviewer's claim on a submission lapses after this: it is back in the queue."""

REVIEW_STATS_DAYS = 30
"""Review waits (in /review stats and on submitting) are measured over this many days."""

STOP_GRACE = 7.0
"""Seconds a stop waits for interactions and scheduled runs in flight before cutting them off.

Closing the gateway and the database follows; Docker kills a container 10 s after SIGTERM.
"""

AUTO_DEFER_AFTER = 1.5
"""Seconds an interaction's handler may take before it is deferred (Discord allows 3)."""

UNHANDLED_AFTER = 0.5
"""Seconds after which a click or form no handler took is answered as expired."""

AUTOCOMPLETE_WAIT = 1.0
"""Seconds autocomplete waits for the database before answering from the roadmap alone."""

SCHEDULE_RECONCILE_EVERY = dt.timedelta(minutes=5)
"""How often the scheduler compares its planned runs with the database and repairs them."""

ASSESS_EVERY_WEEKS = 4
"""A member is reminded of `/assess rate` when their last self-assessment is this many weeks
old (0: never), unless the server chose otherwise."""

ASSESS_EVERY_MAX_WEEKS = 52

INACTIVE_AFTER = dt.timedelta(weeks=4)
"""`/config insights` counts members with no completion and no check-in answer for this long."""

INSIGHT_CYCLES = 12
"""`/config insights` shows the participation of this many latest check-ins."""

CARDS = True
"""Pictures (progress and leaderboard cards, check-in charts) are on for servers and members
that have not turned them off."""

ACTIVITY_DAYS = 364
"""The progress card's heatmap covers this many days up to today: 52 weeks."""

CHART_CYCLES = 12
"""The check-in summary's participation chart shows this many cycles."""

CHART_WEEKS = 26
"""A member's hours chart in `/checkin history` shows this many answered weeks at most."""
