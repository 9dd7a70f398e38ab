"""What a feature hands the scheduler: kinds of job, planned runs, and their outcomes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.weekly import WeeklyTime

log = logging.getLogger(__name__)

T = TypeVar("T")

Scope = tuple[int, int | None]
"""(guild_id, None) for a server's own runs, (guild_id, user_id) for a member's."""


@dataclass(frozen=True)
class PlannedRun:
    """One run of a job at one due time; `window` is how late it may still run (None: any).

    `key` names the schedule ("checkin-open:123"): together with `due_at` it is what the
    database claim makes unique. `target` is the kind's own reference (say, a cycle id).
    """

    kind: str
    key: str
    due_at: dt.datetime
    window: dt.timedelta | None
    guild_id: int
    user_id: int | None = None
    target: int | None = None

    @property
    def scope(self) -> Scope:
        """The scope whose jobs this run belongs to."""
        return (self.guild_id, self.user_id)


@dataclass(frozen=True)
class RunResult:
    """What happened to one run: "done", "skipped" (claimed before) or "failed"."""

    kind: str
    key: str
    due_at: dt.datetime
    guild_id: int
    status: str
    error: str | None = None


@dataclass(frozen=True)
class RunContext:
    """Given to a running job: the time of the pass, and a way to run another run once."""

    now: dt.datetime
    execute: Callable[[PlannedRun], Awaitable[RunResult]]


Planner = Callable[[Scope | None, dt.datetime, bool], Awaitable[list[PlannedRun]]]
"""plan(scope, now, due): with due=True the runs due at `now` and still inside their window;
with due=False the next future run of each schedule. `scope` None means every scope."""

Runner = Callable[[PlannedRun, RunContext], Awaitable[None]]


@dataclass(frozen=True)
class JobKind:
    """A kind of scheduled job, registered by the feature it belongs to.

    Runs due together go in registration order (a check-in closes before the next opens).
    `skip_past`: when its schedule changes, the latest past occurrence counts as done, so a
    schedule set up in the middle of its window does not fire late at the next start.
    `run_now`: an optional "do it now" (an admin's check-in now) for one server.
    """

    name: str
    label: str
    plan: Planner
    run: Runner
    skip_past: bool = False
    run_now: Callable[[int], Awaitable[object]] | None = None


class JobError(Exception):
    """A run failed with a text an admin can read in `/config show`."""


class PublishError(Exception):
    """Discord refused a post, with a short readable reason: "Missing Permissions (403)"."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def weekly_run(
    template: PlannedRun, schedule: WeeklyTime, now: dt.datetime, due: bool
) -> list[PlannedRun]:
    """The run of a weekly schedule: the next one, or the last one if still in its window."""
    if not due:
        return [dataclasses.replace(template, due_at=schedule.next_after(now))]
    last = schedule.last_at_or_before(now)
    window = template.window or dt.timedelta(0)
    return [dataclasses.replace(template, due_at=last)] if now - last < window else []


async def publish(action: str, awaitable: Awaitable[T]) -> T:
    """Await a post to Discord; turn its failure into a JobError that says what failed."""
    try:
        return await awaitable
    except PublishError as exc:
        raise JobError(f"{action}: {exc.message}") from exc
    except Exception as exc:
        log.exception("%s", action)
        raise JobError(f"{action}: unexpected {type(exc).__name__}") from exc
