"""Time helpers and the scheduler of weekly check-ins and reminders.

The database is the source of truth. APScheduler (in-memory jobs only) decides *when* to
wake up; every wake-up asks the database what is due and claims each run by inserting a
`JobRun` row whose key is `(job_key, due_at)`. A conflicting insert means another process
or an earlier run already did it, so "once" holds across restarts and processes.
Claims are taken before the work: a run is done at most once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import CursorResult, delete, or_, select

from bot.db import Database, upsert
from bot.db.models import CheckinCycle, GuildSettings, JobRun, Member
from bot.errors import UserError
from bot.services.guilds import save_settings

if TYPE_CHECKING:
    from bot.roadmap import Roadmap
    from bot.services.checkins import CheckinService, CycleInfo, CycleSummary
    from bot.services.reminders import ChannelReminder, MemberReminder, ReminderService

log = logging.getLogger(__name__)

T = TypeVar("T")

UTC = dt.UTC
WEEKDAYS: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
DEFAULT_REMINDER_WEEKDAY = 0
DEFAULT_REMINDER_TIME = "09:00"
REMINDER_WINDOW = dt.timedelta(hours=24)
NUDGE_LEAD = dt.timedelta(hours=12)
JOB_RUN_RETENTION = dt.timedelta(days=35)


# --- clocks -------------------------------------------------------------------------------


class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> dt.datetime:
        """Return the current time, aware, in UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        """Return the current time, aware, in UTC."""
        return dt.datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to (for tests)."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = _aware(start)

    def now(self) -> dt.datetime:
        """Return the fake current time."""
        return self._now

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        """Move the clock forward and return the new time."""
        self._now += delta
        return self._now

    def set(self, when: dt.datetime) -> dt.datetime:
        """Move the clock to `when` and return it."""
        self._now = _aware(when)
        return self._now


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: give an aware datetime (UTC)")
    return value.astimezone(UTC)


# --- weekly times -------------------------------------------------------------------------

_HHMM = re.compile(r"^\s*(\d{1,2})[:.h](\d{2})\s*$")


def _hour_minute(hhmm: str) -> tuple[int, int]:
    hour, minute = hhmm.split(":")
    return int(hour), int(minute)


def local_to_utc(day: dt.date, hhmm: str, tz_name: str) -> dt.datetime:
    """Return the UTC instant of wall time `hhmm` on `day` in `tz_name`.

    A time inside a spring-forward gap moves forward by the gap (02:30 becomes 03:30);
    an ambiguous fall-back time takes its first occurrence (fold=0 does both).
    """
    hour, minute = _hour_minute(hhmm)
    naive = dt.datetime.combine(day, dt.time(hour, minute))
    return naive.replace(tzinfo=ZoneInfo(tz_name), fold=0).astimezone(UTC)


def _weekly_candidates(
    ref: dt.datetime, weekday: int, hhmm: str, tz_name: str
) -> list[dt.datetime]:
    local_day = _aware(ref).astimezone(ZoneInfo(tz_name)).date()
    base = local_day + dt.timedelta(days=(weekday - local_day.weekday()) % 7)
    return [local_to_utc(base + dt.timedelta(weeks=k), hhmm, tz_name) for k in (-2, -1, 0, 1)]


def next_weekly(after: dt.datetime, weekday: int, hhmm: str, tz_name: str) -> dt.datetime:
    """Return the first weekly due time strictly after `after` (UTC)."""
    after = _aware(after)
    return min(c for c in _weekly_candidates(after, weekday, hhmm, tz_name) if c > after)


def previous_weekly(
    at_or_before: dt.datetime, weekday: int, hhmm: str, tz_name: str
) -> dt.datetime:
    """Return the last weekly due time at or before `at_or_before` (UTC)."""
    at = _aware(at_or_before)
    return max(c for c in _weekly_candidates(at, weekday, hhmm, tz_name) if c <= at)


def safe_timezone(name: str | None) -> str:
    """Return `name` if it is a known timezone, else "UTC" (for stored values)."""
    if not name:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def format_when(when: dt.datetime, tz_name: str | None) -> str:
    """Format an instant for people, in a timezone: "Mon 4 Mar 2024 18:00 (Europe/Berlin)"."""
    zone = safe_timezone(tz_name)
    local = _aware(when).astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} ({zone})"


# --- admin input --------------------------------------------------------------------------


def parse_hhmm(text: str) -> str:
    """Parse a 24-hour time such as "18:30" or "9:05" into "HH:MM"."""
    match = _HHMM.match(text or "")
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour < 24 and minute < 60:
            return f"{hour:02d}:{minute:02d}"
    raise UserError(f"Invalid time `{(text or '')[:20]}`: use 24-hour HH:MM, for example 18:30.")


def parse_weekday(value: str | int) -> int:
    """Parse "monday", "mon" or "0" (0 = Monday ... 6 = Sunday) into 0..6."""
    text = str(value).strip().lower()
    if text.isdigit() and int(text) < 7:
        return int(text)
    for number, name in enumerate(WEEKDAYS):
        if text == name or (len(text) >= 3 and name.startswith(text)):
            return number
    raise UserError(
        f"Unknown day `{text[:20]}`: use a weekday such as monday or mon, "
        "or a number from 0 (Monday) to 6 (Sunday)."
    )


@functools.cache
def _timezones() -> tuple[tuple[str, str], ...]:
    names = sorted(available_timezones() - {"localtime", "Factory"})
    return tuple((name.lower(), name) for name in names)


@functools.cache
def _timezones_by_lower() -> dict[str, str]:
    return dict(_timezones())


def validate_timezone(name: str) -> str:
    """Return the canonical IANA name for `name` (case-insensitive) or explain the mistake."""
    cleaned = (name or "").strip()
    canonical = _timezones_by_lower().get(cleaned.lower())
    if canonical is None:
        raise UserError(
            f"Unknown timezone '{cleaned[:64]}': pick one from the list, e.g. Europe/Berlin"
        )
    return canonical


def timezone_choices(query: str, limit: int = 25) -> list[str]:
    """Return up to `limit` (at most 25) timezone names containing `query`, prefixes first."""
    limit = max(0, min(limit, 25))
    needle = (query or "").strip().lower().replace(" ", "_")
    prefix: list[str] = []
    inside: list[str] = []
    for lower, name in _timezones():
        if not needle or lower.startswith(needle) or lower.split("/")[-1].startswith(needle):
            prefix.append(name)
            if len(prefix) >= limit:
                break
        elif needle in lower and len(inside) < limit:
            inside.append(name)
    return (prefix + inside)[:limit]


# --- the Discord side, injected ---------------------------------------------------------


class PublishError(Exception):
    """A publisher failure with a short readable reason, e.g. "Missing Permissions (403)"."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Publisher(Protocol):
    """What the scheduler needs from Discord; the bot implements it.

    Raise `PublishError` with a readable reason when Discord refuses (deleted channel, 403);
    any other exception is logged and recorded with its type name.
    """

    async def post_checkin_prompt(
        self, guild_id: int, channel_id: int, cycle: CycleInfo
    ) -> int | None:
        """Post the check-in prompt with its Answer button; return the message id."""
        ...

    async def post_checkin_summary(
        self, guild_id: int, channel_id: int, summary: CycleSummary
    ) -> None:
        """Post the summary of a closed cycle."""
        ...

    async def send_nudge(self, guild_id: int, user_id: int, cycle: CycleInfo) -> bool:
        """DM a check-in nudge; return False if the member's DMs are closed."""
        ...

    async def post_reminder(
        self, guild_id: int, channel_id: int, reminder: ChannelReminder
    ) -> None:
        """Post the weekly continuous-learning reminder in a channel."""
        ...

    async def send_reminder_dm(self, guild_id: int, user_id: int, reminder: MemberReminder) -> bool:
        """DM a member's weekly reminder; return False if the member's DMs are closed."""
        ...


# --- runs ---------------------------------------------------------------------------------

KIND_CLOSE = "checkin-close"
KIND_OPEN = "checkin-open"
KIND_NUDGE = "checkin-nudge"
KIND_REMINDER = "reminder"
KIND_MEMBER_REMINDER = "member-reminder"
_KIND_ORDER = {
    KIND_CLOSE: 0,
    KIND_OPEN: 1,
    KIND_NUDGE: 2,
    KIND_REMINDER: 3,
    KIND_MEMBER_REMINDER: 4,
}

Scope = tuple[int, int | None]
"""(guild_id, None) for a server's own runs, (guild_id, user_id) for a member's reminder."""


@dataclass(frozen=True)
class PlannedRun:
    """One run of a job at one due time; `window` is how late it may still run (None: any)."""

    kind: str
    key: str
    due_at: dt.datetime
    window: dt.timedelta | None
    guild_id: int
    user_id: int | None = None
    cycle_id: int | None = None
    channel_id: int | None = None

    @property
    def scope(self) -> Scope:
        """Return the scope whose jobs this run belongs to."""
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


class JobError(Exception):
    """A run failed with a readable text for `GuildSettings.last_error`."""


@dataclass
class _State:
    settings: list[GuildSettings]
    cycles: list[CheckinCycle]
    members: list[Member]


def nudge_time(opens_at: dt.datetime, closes_at: dt.datetime) -> dt.datetime:
    """Return when a cycle's nudge is due: 12 h before the close, at most half the window."""
    return closes_at - min(NUDGE_LEAD, (closes_at - opens_at) / 2)


class Scheduler:
    """Runs check-ins and reminders on time, once, from the database's settings."""

    def __init__(
        self,
        db: Database,
        publisher: Publisher,
        roadmap: Roadmap,
        *,
        clock: Clock | None = None,
        owns_guild: Callable[[int], bool] | None = None,
    ) -> None:
        # Imported here: the services import this module's time helpers.
        from bot.services.checkins import CheckinService
        from bot.services.reminders import ReminderService

        self.db = db
        self.publisher = publisher
        self.clock: Clock = clock or SystemClock()
        self.checkins: CheckinService = CheckinService(db)
        self.reminders: ReminderService = ReminderService(db, roadmap)
        self._owns = owns_guild or (lambda _guild_id: True)
        self._aps = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )
        self._job_ids: dict[Scope, set[str]] = {}

    # -- life cycle --

    async def start(self) -> None:
        """Run what fell due while down, schedule every next run, start APScheduler."""
        await self.catch_up()
        await self.rebuild()
        if not self._aps.running:
            self._aps.start()

    def shutdown(self) -> None:
        """Stop APScheduler without waiting for running jobs."""
        if self._aps.running:
            self._aps.shutdown(wait=False)

    def jobs(self) -> list[Any]:
        """Return APScheduler's jobs (for diagnostics and tests)."""
        return list(self._aps.get_jobs())

    # -- schedule --

    async def rebuild(self) -> int:
        """Schedule every next run from the database; return how many jobs there are."""
        now = self.clock.now()
        async with self.db.write.begin() as s:
            await s.execute(delete(JobRun).where(JobRun.due_at < now - JOB_RUN_RETENTION))
        for ids in self._job_ids.values():
            for job_id in ids:
                self._remove_job(job_id)
        self._job_ids.clear()
        runs = self._plan(await self._load(None), now, due=False)
        for run in runs:
            self._add_job(run)
        return len(runs)

    async def reschedule_guild(self, guild_id: int) -> None:
        """Apply a change of a server's check-in or reminder settings.

        The latest past occurrence of the changed schedules is marked done, so a schedule
        set up in the middle of its window does not fire late at the next restart.
        """
        await self._skip_past((guild_id, None))
        await self._replace_jobs((guild_id, None))

    async def reschedule_member(self, guild_id: int, user_id: int) -> None:
        """Apply a change of a member's subscription, day, time or timezone."""
        await self._skip_past((guild_id, user_id))
        await self._replace_jobs((guild_id, user_id))

    async def upcoming(self, scope: Scope | None = None) -> list[PlannedRun]:
        """Return the next run of every schedule (of one scope, or all)."""
        return self._plan(await self._load(scope), self.clock.now(), due=False)

    # -- running --

    async def catch_up(self) -> list[RunResult]:
        """Run, late and once, what fell due while the bot was down and is still in its window."""
        return await self.run_due(self.clock.now())

    async def run_due(self, now: dt.datetime, scope: Scope | None = None) -> list[RunResult]:
        """Execute every run due at `now` (the same path APScheduler's jobs take)."""
        runs = self._plan(await self._load(scope), now, due=True)
        return [await self._execute(run, now) for run in runs]

    async def open_now(self, guild_id: int) -> CycleInfo:
        """Open a check-in at once (an admin's "check-in now") and post its prompt."""
        now = self.clock.now()
        cycle = await self.checkins.open_cycle(guild_id, now)
        if cycle is None:
            raise UserError("A check-in was opened at this very moment: see /checkin status.")
        try:
            await self._post_prompt(cycle)
        except JobError as exc:
            await self._record_error(guild_id, str(exc), now)
            raise UserError(f"The check-in is open, but: {exc}") from None
        finally:
            await self._replace_jobs((guild_id, None))
        return cycle

    async def _fire(self, guild_id: int, user_id: int | None) -> None:
        scope: Scope = (guild_id, user_id)
        try:
            await self.run_due(self.clock.now(), scope)
        except Exception:
            log.exception("Scheduled run failed for guild %s (member %s)", guild_id, user_id)
        finally:
            await self._replace_jobs(scope)

    async def _execute(self, run: PlannedRun, now: dt.datetime) -> RunResult:
        if not await self._claim(run, now):
            return RunResult(run.kind, run.key, run.due_at, run.guild_id, "skipped")
        try:
            await self._handle(run, now)
        except Exception as exc:
            if isinstance(exc, JobError):
                text = str(exc)
                log.warning("Job %s for guild %s failed: %s", run.key, run.guild_id, text)
            else:
                text = f"The {_describe(run.kind)} failed: unexpected {type(exc).__name__}"
                log.exception("Job %s for guild %s failed", run.key, run.guild_id)
            try:
                await self._record_error(run.guild_id, text, now)
            except Exception:
                log.exception("Could not record the error of guild %s", run.guild_id)
            return RunResult(run.kind, run.key, run.due_at, run.guild_id, "failed", text)
        return RunResult(run.kind, run.key, run.due_at, run.guild_id, "done")

    async def _handle(self, run: PlannedRun, now: dt.datetime) -> None:
        if run.kind == KIND_CLOSE:
            await self._run_close(run, now)
        elif run.kind == KIND_OPEN:
            await self._run_open(run, now)
        elif run.kind == KIND_NUDGE:
            await self._run_nudge(run, now)
        elif run.kind == KIND_REMINDER:
            await self._run_reminder(run, now)
        elif run.kind == KIND_MEMBER_REMINDER:
            await self._run_member_reminder(run, now)

    async def _run_open(self, run: PlannedRun, now: dt.datetime) -> None:
        # A cycle still open from before (say, an admin's check-in now) closes first.
        for old in await self.checkins.unclosed_cycles(run.guild_id):
            if old.opens_at < run.due_at:
                await self._execute(_close_run(old.id, old.guild_id, old.closes_at), now)
        cycle = await self.checkins.open_cycle(run.guild_id, now, opens_at=run.due_at)
        if cycle is not None:
            await self._post_prompt(cycle)

    async def _post_prompt(self, cycle: CycleInfo) -> None:
        message_id = await _call(
            f"Could not post the check-in prompt in <#{cycle.channel_id}>",
            self.publisher.post_checkin_prompt(cycle.guild_id, cycle.channel_id, cycle),
        )
        if message_id is not None:
            await self.checkins.set_prompt_message(cycle.id, message_id)

    async def _run_close(self, run: PlannedRun, now: dt.datetime) -> None:
        assert run.cycle_id is not None
        summary = await self.checkins.close_cycle(run.cycle_id, now)
        if summary is None:
            return
        channel_id = summary.cycle.channel_id
        await _call(
            f"Could not post the check-in summary in <#{channel_id}>",
            self.publisher.post_checkin_summary(run.guild_id, channel_id, summary),
        )

    async def _run_nudge(self, run: PlannedRun, now: dt.datetime) -> None:
        assert run.cycle_id is not None
        cycle = await self.checkins.cycle(run.cycle_id)
        if cycle is None or cycle.closed_at is not None or cycle.closes_at <= now:
            return
        errors: list[str] = []
        for user_id in await self.checkins.nudge_targets(run.cycle_id, now):
            try:
                delivered = await _call(
                    f"Could not DM a check-in nudge to <@{user_id}>",
                    self.publisher.send_nudge(run.guild_id, user_id, cycle),
                )
            except JobError as exc:
                log.warning("Job %s for guild %s: %s", run.key, run.guild_id, exc)
                errors.append(str(exc))
                continue
            if not delivered:
                await self.reminders.record_dm_failure(run.guild_id, user_id, now)
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise JobError(errors[0] + more)

    async def _run_reminder(self, run: PlannedRun, now: dt.datetime) -> None:
        reminder = await self.reminders.channel_reminder(run.guild_id, now)
        if reminder is None:
            return
        await _call(
            f"Could not post the weekly reminder in <#{reminder.channel_id}>",
            self.publisher.post_reminder(run.guild_id, reminder.channel_id, reminder),
        )

    async def _run_member_reminder(self, run: PlannedRun, now: dt.datetime) -> None:
        assert run.user_id is not None
        reminder = await self.reminders.member_reminder(run.guild_id, run.user_id, now)
        if reminder is None:
            return
        delivered = await _call(
            f"Could not DM the weekly reminder to <@{run.user_id}>",
            self.publisher.send_reminder_dm(run.guild_id, run.user_id, reminder),
        )
        if not delivered:
            await self.reminders.record_dm_failure(run.guild_id, run.user_id, now)

    # -- database --

    async def _claim(self, run: PlannedRun, now: dt.datetime) -> bool:
        async with self.db.write.begin() as s:
            result = await s.execute(
                upsert(s, JobRun)
                .values(job_key=run.key, due_at=run.due_at, claimed_at=now)
                .on_conflict_do_nothing()
            )
        return cast(CursorResult[Any], result).rowcount == 1

    async def _record_error(self, guild_id: int, text: str, now: dt.datetime) -> None:
        async with self.db.write.begin() as s:
            await save_settings(s, guild_id, {"last_error": text[:500], "last_error_at": now}, now)

    async def _load(self, scope: Scope | None) -> _State:
        settings_q = select(GuildSettings).where(
            or_(GuildSettings.checkins_enabled.is_(True), GuildSettings.reminders_enabled.is_(True))
        )
        cycles_q = select(CheckinCycle).where(CheckinCycle.closed_at.is_(None))
        members_q = select(Member).where(
            Member.reminders_subscribed.is_(True), Member.dm_failed_at.is_(None)
        )
        async with self.db.read() as s:
            if scope is None or scope[1] is None:
                if scope is not None:
                    settings_q = settings_q.where(GuildSettings.guild_id == scope[0])
                    cycles_q = cycles_q.where(CheckinCycle.guild_id == scope[0])
                settings = list(await s.scalars(settings_q))
                cycles = list(await s.scalars(cycles_q))
            else:
                settings, cycles = [], []
            if scope is None or scope[1] is not None:
                if scope is not None:
                    members_q = members_q.where(
                        Member.guild_id == scope[0], Member.user_id == scope[1]
                    )
                members = list(await s.scalars(members_q))
            else:
                members = []
        return _State(settings, cycles, members)

    # -- planning --

    def _plan(self, state: _State, now: dt.datetime, *, due: bool) -> list[PlannedRun]:
        """Return the runs due at `now` (due=True) or the next run of each schedule."""
        runs: list[PlannedRun] = []
        for gs in state.settings:
            if not self._owns(gs.guild_id):
                continue
            if (
                gs.checkins_enabled
                and gs.checkin_channel_id is not None
                and gs.checkin_weekday is not None
                and gs.checkin_time
            ):
                open_run = PlannedRun(
                    KIND_OPEN,
                    f"{KIND_OPEN}:{gs.guild_id}",
                    now,
                    dt.timedelta(hours=gs.checkin_open_hours or 48),
                    gs.guild_id,
                    channel_id=gs.checkin_channel_id,
                )
                runs += _weekly(
                    open_run, gs.checkin_weekday, gs.checkin_time, gs.timezone, now, due
                )
            if (
                gs.reminders_enabled
                and gs.reminder_channel_id is not None
                and gs.reminder_weekday is not None
                and gs.reminder_time
            ):
                reminder_run = PlannedRun(
                    KIND_REMINDER,
                    f"{KIND_REMINDER}:{gs.guild_id}",
                    now,
                    REMINDER_WINDOW,
                    gs.guild_id,
                    channel_id=gs.reminder_channel_id,
                )
                tz = gs.reminder_timezone or gs.timezone
                runs += _weekly(reminder_run, gs.reminder_weekday, gs.reminder_time, tz, now, due)
        for cycle in state.cycles:
            if not self._owns(cycle.guild_id):
                continue
            if (cycle.closes_at <= now) == due:
                runs.append(_close_run(cycle.id, cycle.guild_id, cycle.closes_at))
            if cycle.nudged_at is None:
                nudge_at = nudge_time(cycle.opens_at, cycle.closes_at)
                if (due and nudge_at <= now < cycle.closes_at) or (not due and nudge_at > now):
                    runs.append(
                        PlannedRun(
                            KIND_NUDGE,
                            f"{KIND_NUDGE}:{cycle.id}",
                            nudge_at,
                            cycle.closes_at - nudge_at,
                            cycle.guild_id,
                            cycle_id=cycle.id,
                        )
                    )
        for member in state.members:
            if not self._owns(member.guild_id):
                continue
            member_run = PlannedRun(
                KIND_MEMBER_REMINDER,
                f"{KIND_MEMBER_REMINDER}:{member.guild_id}:{member.user_id}",
                now,
                REMINDER_WINDOW,
                member.guild_id,
                user_id=member.user_id,
            )
            weekday = (
                member.reminder_weekday
                if member.reminder_weekday is not None
                else DEFAULT_REMINDER_WEEKDAY
            )
            hhmm = member.reminder_time or DEFAULT_REMINDER_TIME
            runs += _weekly(member_run, weekday, hhmm, member.timezone, now, due)
        runs.sort(key=lambda run: (_KIND_ORDER[run.kind], run.due_at, run.key))
        return runs

    async def _skip_past(self, scope: Scope) -> None:
        now = self.clock.now()
        for run in self._plan(await self._load(scope), now, due=True):
            if run.kind in (KIND_OPEN, KIND_REMINDER, KIND_MEMBER_REMINDER):
                await self._claim(run, now)

    async def _replace_jobs(self, scope: Scope) -> None:
        for job_id in self._job_ids.pop(scope, set()):
            self._remove_job(job_id)
        for run in self._plan(await self._load(scope), self.clock.now(), due=False):
            self._add_job(run)

    def _add_job(self, run: PlannedRun) -> None:
        grace = None if run.window is None else max(1, int(run.window.total_seconds()))
        self._aps.add_job(
            self._fire,
            trigger=DateTrigger(run_date=run.due_at, timezone=UTC),
            args=[run.guild_id, run.user_id],
            id=run.key,
            name=run.key,
            replace_existing=True,
            misfire_grace_time=grace,
            coalesce=True,
            max_instances=1,
        )
        self._job_ids.setdefault(run.scope, set()).add(run.key)

    def _remove_job(self, job_id: str) -> None:
        if self._aps.get_job(job_id) is not None:
            self._aps.remove_job(job_id)


def _close_run(cycle_id: int, guild_id: int, closes_at: dt.datetime) -> PlannedRun:
    """A close is never too late: an overdue close always runs."""
    return PlannedRun(
        KIND_CLOSE, f"{KIND_CLOSE}:{cycle_id}", closes_at, None, guild_id, cycle_id=cycle_id
    )


def _weekly(
    template: PlannedRun,
    weekday: int,
    hhmm: str,
    tz_name: str | None,
    now: dt.datetime,
    due: bool,
) -> list[PlannedRun]:
    tz = safe_timezone(tz_name)
    try:
        if not due:
            return [_at(template, next_weekly(now, weekday, hhmm, tz))]
        last = previous_weekly(now, weekday, hhmm, tz)
    except ValueError:
        log.warning("Bad weekly schedule %s: weekday=%r time=%r", template.key, weekday, hhmm)
        return []
    window = template.window or dt.timedelta(0)
    return [_at(template, last)] if now - last < window else []


def _at(template: PlannedRun, due_at: dt.datetime) -> PlannedRun:
    return dataclasses.replace(template, due_at=due_at)


def _describe(kind: str) -> str:
    return {
        KIND_CLOSE: "check-in close",
        KIND_OPEN: "check-in opening",
        KIND_NUDGE: "check-in nudge",
        KIND_REMINDER: "weekly reminder",
        KIND_MEMBER_REMINDER: "reminder DM",
    }.get(kind, kind)


async def _call(action: str, awaitable: Awaitable[T]) -> T:
    """Await a publisher call; turn its failure into a JobError with a readable text."""
    try:
        return await awaitable
    except PublishError as exc:
        raise JobError(f"{action}: {exc.message}") from exc
    except Exception as exc:
        log.exception("%s", action)
        raise JobError(f"{action}: unexpected {type(exc).__name__}") from exc
