"""Completing items, levels and a member's progress."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, union_all

from bot.clock import Clock, SystemClock
from bot.db import Database, Executes
from bot.db.dialect import Spaced
from bot.db.models import (
    CheckinAnswer,
    Completion,
    Member,
    TZDateTime,
)
from bot.defaults import ACTIVITY_DAYS
from bot.errors import NotFoundError, UserError
from bot.roadmap import Item, Roadmap
from bot.services import insights, scores
from bot.services import prepared as sql
from bot.services.guilds import server_basics
from bot.text import clean_text
from bot.weekly import local_to_utc, local_today, safe_timezone

MAX_EVIDENCE = 500

# The hot reads, built once (see `Database.run_fast_read`): plain Core statements on tables.
_members = Member.__table__.c
_completions = Completion.__table__.c
_answers = CheckinAnswer.__table__.c
_MINE = (_completions.guild_id == bindparam("guild"), _completions.user_id == bindparam("user"))
_DONE_IDS = select(_completions.item_id).where(*_MINE)
# What a member's progress shows of their row (other reads add columns to it: `overview`),
# with the ids of what they have done (one statement: a round trip less on PostgreSQL).
MEMBER_ROW = select(
    _members.display_name,
    _members.level,
    _members.started_on,
    _members.timezone,
    _members.hidden,
    _members.completed_count,
    _members.last_completed_at,
    _members.avatar_path,
    # Space-separated: an item id never has one (the roadmap's ids are checked).
    select(Spaced(_completions.item_id)).where(*_MINE).scalar_subquery().label("done_ids"),
).where(_members.guild_id == bindparam("guild"), _members.user_id == bindparam("user"))
_RECENT = (
    select(_completions.item_id, _completions.completed_at, _completions.evidence)
    .where(*_MINE)
    # A checklist item and its projects share a time: the id breaks the tie.
    .order_by(_completions.completed_at.desc(), _completions.item_id)
    .limit(bindparam("limit"))
)
_SINCE = bindparam("since", type_=TZDateTime())
_MOMENTS = union_all(
    select(_completions.completed_at.label("at")).where(
        _completions.guild_id == bindparam("guild"),
        _completions.user_id == bindparam("user"),
        _completions.completed_at >= _SINCE,
    ),
    select(_answers.submitted_at.label("at")).where(
        _answers.guild_id == bindparam("guild"),
        _answers.user_id == bindparam("user"),
        _answers.submitted_at >= _SINCE,
    ),
)


@dataclass(frozen=True)
class ProgressChange:
    """What one complete/undo did."""

    item: Item
    changed: bool
    old_level: int
    new_level: int
    announce: tuple[int, ...]  # levels reached for the first time ever: announce these
    completed_count: int
    # Changed with `item`, the same way: a checklist item's projects, or the checklist item
    # naming a project (an item and its projects never disagree).
    linked: tuple[Item, ...] = ()

    @property
    def levels_gained(self) -> tuple[int, ...]:
        """The levels reached by this change."""
        return tuple(range(self.old_level + 1, self.new_level + 1))

    @property
    def levels_lost(self) -> tuple[int, ...]:
        """The levels lost by this change."""
        return tuple(range(self.new_level + 1, self.old_level + 1))


@dataclass(frozen=True)
class ChecklistChange:
    """What saving a level's checklist from the menu did, as one unit of work."""

    level: int
    completed: tuple[Item, ...]
    undone: tuple[Item, ...]
    done_ids: frozenset[str]
    old_level: int
    new_level: int
    announce: tuple[int, ...]

    @property
    def changed(self) -> bool:
        """Whether any item changed."""
        return bool(self.completed or self.undone)


@dataclass(frozen=True)
class DoneItem:
    """An item a member completed."""

    item: Item
    completed_at: dt.datetime
    evidence: str | None


@dataclass(frozen=True)
class LevelProgress:
    """A member's standing on one level."""

    number: int
    title: str
    milestones_done: int
    milestones_total: int
    checklist_done: int
    checklist_total: int
    reached: bool


@dataclass(frozen=True)
class MemberProgress:
    """Everything `/progress` shows (apart from check-in streaks)."""

    user_id: int
    display_name: str
    level: int
    levels: tuple[LevelProgress, ...]
    completed: int
    total: int
    recent: tuple[DoneItem, ...]
    started_on: dt.date | None
    timezone: str | None
    hidden: bool
    projects_done: int = 0
    projects_total: int = 0
    completed_count: int = 0  # the stored counter the rankings use
    last_completed_at: dt.datetime | None = None
    avatar_path: str | None = None  # the avatar's CDN path last stored


@dataclass(frozen=True)
class Activity:
    """What a member did per day: completions plus check-in answers, by day in their timezone.

    `days` holds only days with something done, from `first` to `today`.
    """

    today: dt.date
    first: dt.date
    days: Mapping[dt.date, int]


def level_from_done(roadmap: Roadmap, done: Iterable[str], threshold: int) -> int:
    """Return the highest level whose checklist, and every one below it, is done enough."""
    done_set = set(done)
    level = 0
    for lvl in roadmap.levels:
        checklist = roadmap.checklist(lvl.number)
        needed = math.ceil(len(checklist) * threshold / 100)
        if sum(1 for item in checklist if item.id in done_set) < needed:
            break
        level = lvl.number
    return level


MAX_NAME = 100


def clean_evidence(evidence: str | None) -> str | None:
    """Clean and trim evidence; reject what would not fit."""
    if evidence is None:
        return None
    evidence = " ".join(clean_text(evidence).split())
    if not evidence:
        return None
    if len(evidence) > MAX_EVIDENCE:
        raise UserError(
            f"Evidence is limited to {MAX_EVIDENCE} characters (yours has {len(evidence)}): "
            "give a link or a shorter note."
        )
    return evidence


class ProgressService:
    """Marks items done or not done and keeps levels and counters in step."""

    def __init__(self, db: Database, roadmap: Roadmap, clock: Clock | None = None) -> None:
        self.db = db
        self.roadmap = roadmap
        self.clock: Clock = clock or SystemClock()
        # Each level with the ids of its milestones and of its checklist, counted by /progress.
        self._level_ids = tuple(
            (
                lvl,
                frozenset(i.id for items in lvl.milestones.values() for i in items),
                frozenset(i.id for i in lvl.checklist),
            )
            for lvl in roadmap.levels
        )

    def resolve(self, item_id: str) -> Item:
        """Return the roadmap item for an id, or explain how to find one."""
        item = self.roadmap.item(item_id.strip())
        if item is None:
            raise NotFoundError(
                f"There is no milestone `{item_id[:80]}`. Pick one from the suggestions, "
                "or see the ids with `/milestone list`."
            )
        return item

    async def complete(
        self,
        guild_id: int,
        user_id: int,
        item_id: str,
        *,
        display_name: str | None = None,
        evidence: str | None = None,
        actor_id: int | None = None,
    ) -> ProgressChange:
        """Mark an item done (a no-op when it already is)."""
        item = self.resolve(item_id)
        evidence = clean_evidence(evidence)
        return await self.db.run_fast_write(
            self._complete,
            guild_id,
            user_id,
            item,
            display_name,
            evidence,
            actor_id,
            self.clock.now(),
        )

    async def undo(
        self,
        guild_id: int,
        user_id: int,
        item_id: str,
        *,
        display_name: str | None = None,
        actor_id: int | None = None,
    ) -> ProgressChange:
        """Mark an item not done (a no-op when it is not done)."""
        item = self.resolve(item_id)
        return await self.db.run_fast_write(
            self._undo, guild_id, user_id, item, display_name, actor_id, self.clock.now()
        )

    async def set_checklist(
        self,
        guild_id: int,
        user_id: int,
        level: int,
        chosen: Iterable[str],
        *,
        display_name: str | None = None,
    ) -> ChecklistChange:
        """Make a level's checklist exactly `chosen`: complete the new, undo the others.

        One transaction and one level settlement, so a failure saves nothing and the level
        role and announcement follow the whole change.
        """
        items = self.roadmap.checklist(level)
        wanted = set(chosen)
        unknown = wanted - {item.id for item in items}
        if unknown:
            raise NotFoundError(
                f"`{sorted(unknown)[0][:80]}` is not on the level {level} checklist: "
                "run `/milestone checklist` again."
            )
        return await self.db.run_fast_write(
            self._set_checklist, guild_id, user_id, items, wanted, display_name, self.clock.now()
        )

    def complete_in(
        self,
        s: Executes,
        guild_id: int,
        user_id: int,
        item: Item,
        display_name: str | None,
        evidence: str | None,
        now: dt.datetime,
    ) -> ProgressChange:
        """Complete an item inside the caller's transaction: the unit of work of `complete`.

        For a caller that changes something else in the same transaction (a reviewer's
        approval decides the submission and completes the item, or does neither).
        """
        return self._complete(s, guild_id, user_id, item, display_name, evidence, None, now)

    def _complete(
        self,
        s: Executes,
        guild_id: int,
        user_id: int,
        item: Item,
        display_name: str | None,
        evidence: str | None,
        actor_id: int | None,
        now: dt.datetime,
        *,
        settle: bool = True,
    ) -> ProgressChange:
        # The member's row is locked before any completion row (an undo does the same): two
        # changes of one member then never wait for each other in a cycle.
        locked = lock_member(s, guild_id, user_id, display_name, now)
        if not self._record(s, guild_id, user_id, item, evidence, actor_id, now):
            return self._unchanged(s, guild_id, user_id, item, display_name, now)
        # Completing a checklist item completes the projects it names; completing the last
        # of those projects completes the item.
        targets: tuple[Item, ...] = self.roadmap.projects_of(item.id)
        checklist = self.roadmap.linked_checklist(item)
        if checklist is not None:
            done = _done_ids(s, guild_id, user_id)
            siblings = self.roadmap.projects_of(checklist.id)
            if checklist.id not in done and all(p.id in done for p in siblings):
                targets = (checklist,)
        linked = [t for t in targets if self._record(s, guild_id, user_id, t, None, actor_id, now)]
        member = self._count(s, guild_id, user_id, [item, *linked], display_name, now, locked)
        old_level, count = member.level, member.completed_count
        if not settle:
            return ProgressChange(item, True, old_level, old_level, (), count, tuple(linked))
        new_level, announce = self._settle(s, guild_id, user_id, old_level, locked.threshold, now)
        return ProgressChange(item, True, old_level, new_level, announce, count, tuple(linked))

    def _undo(
        self,
        s: Executes,
        guild_id: int,
        user_id: int,
        item: Item,
        display_name: str | None,
        actor_id: int | None,
        now: dt.datetime,
        *,
        settle: bool = True,
    ) -> ProgressChange:
        locked = lock_member(s, guild_id, user_id, display_name, now)
        tz, threshold = locked.timezone, locked.threshold
        last_completed = locked.last_completed_at
        member = self._delete(
            s, guild_id, user_id, item, display_name, actor_id, now, tz, last_completed
        )
        if member is None:
            return self._unchanged(s, guild_id, user_id, item, display_name, now)
        old_level = member.level
        # Undoing a project undoes the checklist item naming it; undoing that item undoes
        # its projects (it stands for all of them).
        checklist = self.roadmap.linked_checklist(item)
        targets = (checklist,) if checklist is not None else self.roadmap.projects_of(item.id)
        linked: list[Item] = []
        for target in targets:
            last = member.last_completed_at
            row = self._delete(s, guild_id, user_id, target, None, actor_id, now, tz, last)
            if row is not None:
                member, linked = row, [*linked, target]
        count = member.completed_count
        if not settle:
            return ProgressChange(item, True, old_level, old_level, (), count, tuple(linked))
        new_level, announce = self._settle(s, guild_id, user_id, old_level, threshold, now)
        return ProgressChange(item, True, old_level, new_level, announce, count, tuple(linked))

    def _record(
        self,
        s: Executes,
        guild_id: int,
        user_id: int,
        item: Item,
        evidence: str | None,
        actor_id: int | None,
        now: dt.datetime,
    ) -> bool:
        """Store one completion (counted by `_count`); False when it was done already."""
        values = {"guild": guild_id, "user": user_id, "item": item.id, "at": now}
        inserted = s.execute(
            sql.insert_completion(s), {**values, "evidence": evidence, "actor": actor_id}
        )
        if inserted.rowcount != 1:
            return False
        if actor_id is not None:
            _audit(s, guild_id, actor_id, user_id, item.id, "grant", now)
        return True

    def _count(
        self,
        s: Executes,
        guild_id: int,
        user_id: int,
        items: list[Item],
        display_name: str | None,
        now: dt.datetime,
        locked: Locked,
    ) -> Any:
        """Count the completions of `items` just stored, all at once, everywhere.

        `locked`: what the member's lock read before them. Returns the member's
        (completed_count, hidden, level, last_completed_at) after them.
        """
        key = {"guild": guild_id, "user": user_id}
        n = len(items)
        today = insights.utc_day(now)
        name = member_name(display_name)
        counted = sql.member_completed_named if name else sql.member_completed
        member = s.execute(
            counted(s), {**key, "at": now, "today": today, "name": name, "n": n}
        ).one()
        insights.moved_activity(s, guild_id, locked.last_active_on, today, member.hidden)
        insights.item_counted(s, guild_id, [i.id for i in items], +1)
        if not member.hidden:
            before = (member.completed_count - n, locked.last_completed_at)
            scores.move_bucket(s, guild_id, before, (member.completed_count, now))
        scores.add_completions(s, guild_id, user_id, now, member.hidden, locked.timezone, n)
        return member

    def _delete(
        self,
        s: Executes,
        guild_id: int,
        user_id: int,
        item: Item,
        display_name: str | None,
        actor_id: int | None,
        now: dt.datetime,
        tz: ZoneInfo,
        last_completed: dt.datetime | None,
    ) -> Any | None:
        """Remove one completion and uncount it; None when it was not done.

        `last_completed`: the member's last completion before it (their row is locked).
        Returns the member's (completed_count, hidden, level, last_completed_at) after it.
        """
        key = {"guild": guild_id, "user": user_id}
        completed_at = s.execute(
            sql.delete_completion(s), {**key, "item": item.id}
        ).scalar_one_or_none()
        if completed_at is None:
            return None
        name = member_name(display_name)
        uncounted = sql.member_undone_named if name else sql.member_undone
        member = s.execute(uncounted(s), {**key, "name": name}).one()
        insights.item_counted(s, guild_id, [item.id], -1)
        if not member.hidden:
            was = (member.completed_count + 1, last_completed)
            scores.move_bucket(s, guild_id, was, (member.completed_count, member.last_completed_at))
        scores.remove_completion(s, guild_id, user_id, completed_at, member.hidden, tz)
        if actor_id is not None:
            _audit(s, guild_id, actor_id, user_id, item.id, "revoke", now)
        return member

    def _unchanged(
        self,
        s: Executes,
        guild_id: int,
        user_id: int,
        item: Item,
        display_name: str | None,
        now: dt.datetime,
    ) -> ProgressChange:
        touch_member(s, guild_id, user_id, display_name, now)
        member = s.execute(sql.member_counters(s), {"guild": guild_id, "user": user_id}).one()
        return ProgressChange(item, False, member.level, member.level, (), member.completed_count)

    def _set_checklist(
        self,
        s: Executes,
        guild_id: int,
        user_id: int,
        items: tuple[Item, ...],
        wanted: set[str],
        display_name: str | None,
        now: dt.datetime,
    ) -> ChecklistChange:
        # Locked first, as each completion and undo below locks it: `done` stays true.
        threshold = lock_member(s, guild_id, user_id, display_name, now).threshold
        done = _done_ids(s, guild_id, user_id)
        completed: list[Item] = []
        undone: list[Item] = []
        old_level: int | None = None
        for item in items:
            if item.id in wanted and item.id not in done:
                change = self._complete(
                    s, guild_id, user_id, item, display_name, None, None, now, settle=False
                )
                completed.append(item)
            elif item.id not in wanted and item.id in done:
                change = self._undo(
                    s, guild_id, user_id, item, display_name, None, now, settle=False
                )
                undone.append(item)
            else:
                continue
            old_level = change.old_level if old_level is None else old_level
        if old_level is None:
            unchanged = self._unchanged(s, guild_id, user_id, items[0], display_name, now)
            old_level = new_level = unchanged.old_level
            announce: tuple[int, ...] = ()
        else:
            new_level, announce = self._settle(s, guild_id, user_id, old_level, threshold, now)
        return ChecklistChange(
            level=items[0].level,
            completed=tuple(completed),
            undone=tuple(undone),
            done_ids=frozenset(_done_ids(s, guild_id, user_id)),
            old_level=old_level,
            new_level=new_level,
            announce=announce,
        )

    def _settle(
        self,
        s: Executes,
        guild_id: int,
        user_id: int,
        old_level: int,
        threshold: int,
        now: dt.datetime,
    ) -> tuple[int, tuple[int, ...]]:
        """Store the member's level after a change; return it and the levels to announce."""
        # Any change re-checks the level: a lowered threshold applies at the member's next
        # change, whichever item it is.
        new_level = level_from_done(self.roadmap, _done_ids(s, guild_id, user_id), threshold)
        announce: list[int] = []
        key = {"guild": guild_id, "user": user_id}
        if new_level == old_level:
            return new_level, ()
        member = s.execute(sql.set_level(s), {**key, "new_level": new_level}).one()
        insights.levels_changed(s, guild_id, [(old_level, new_level)])
        for level in range(old_level + 1, new_level + 1):
            result = s.execute(sql.announce_level(s), {**key, "level": level, "at": now})
            if result.rowcount == 1:
                announce.append(level)
                insights.level_reached(s, guild_id, level, now, insights.journey_start(member))
        return new_level, tuple(announce)

    async def done_ids(self, guild_id: int, user_id: int) -> set[str]:
        """Ids of the items a member has done."""
        return await self.db.run_fast_read(_done_ids, guild_id, user_id)

    async def member_progress(
        self, guild_id: int, user_id: int, *, recent: int = 5
    ) -> MemberProgress:
        """A member's level, per-level counts, totals and latest completions."""
        return await self.db.run_fast_read(self.read_progress, guild_id, user_id, recent)

    def read_progress(
        self, s: Executes, guild_id: int, user_id: int, recent: int = 5
    ) -> MemberProgress:
        """`member_progress` as plain synchronous code, for a unit of work (one hop)."""
        member = s.execute(MEMBER_ROW, {"guild": guild_id, "user": user_id}).one_or_none()
        return self.progress_of(s, guild_id, user_id, member, recent)

    def progress_of(
        self, s: Executes, guild_id: int, user_id: int, member: Any | None, recent: int = 5
    ) -> MemberProgress:
        """`read_progress` with the member's row (`MEMBER_ROW`, None: no row) read already."""
        key = {"guild": guild_id, "user": user_id}
        ids = (member.done_ids or "").split() if member else _done_ids(s, guild_id, user_id)
        known = [self.roadmap.item(i) for i in ids]
        done = {i.id for i in known if i is not None}
        projects_done = sum(1 for i in known if i is not None and i.is_project)
        latest = s.execute(_RECENT, {**key, "limit": recent}).all() if recent > 0 else []
        done_items = [
            DoneItem(item, row.completed_at, row.evidence)
            for row in latest
            if (item := self.roadmap.item(row.item_id)) is not None
        ]
        level = member.level if member else 0
        levels = tuple(
            LevelProgress(
                number=lvl.number,
                title=lvl.title,
                milestones_done=len(milestones & done),
                milestones_total=len(milestones),
                checklist_done=len(checklist & done),
                checklist_total=len(checklist),
                reached=lvl.number <= level,
            )
            for lvl, milestones, checklist in self._level_ids
        )
        return MemberProgress(
            user_id=user_id,
            display_name=member.display_name if member else "",
            level=level,
            levels=levels,
            completed=len(done) - projects_done,
            total=len(self.roadmap.items),
            recent=tuple(done_items),
            started_on=member.started_on if member else None,
            timezone=member.timezone if member else None,
            hidden=member.hidden if member else False,
            projects_done=projects_done,
            projects_total=len(self.roadmap.projects),
            completed_count=member.completed_count if member else 0,
            last_completed_at=member.last_completed_at if member else None,
            avatar_path=member.avatar_path if member else None,
        )

    async def activity(
        self, guild_id: int, user_id: int, timezone: str | None, *, days: int = ACTIVITY_DAYS
    ) -> Activity:
        """Completions plus check-in answers per day over the last `days` days up to today.

        Days are the member's (`timezone`, UTC when unset); one round trip to the database.
        """
        zone = safe_timezone(timezone)
        today = local_today(self.clock.now(), zone)
        first = today - dt.timedelta(days=days - 1)
        since = local_to_utc(first, dt.time(0, 0), zone)
        key = {"guild": guild_id, "user": user_id, "since": since}
        rows = await self.db.run_fast_read(_moments, key)
        counts: dict[dt.date, int] = {}
        for moment in rows:
            day = local_today(moment, zone)
            if first <= day <= today:  # a later moment: a clock that moved back
                counts[day] = counts.get(day, 0) + 1
        return Activity(today, first, counts)


def create_member(
    s: Executes, guild_id: int, user_id: int, display_name: str | None, now: dt.datetime
) -> bool:
    """Create the member row (and count the member) unless it exists; tell which."""
    today = insights.utc_day(now)
    result = s.execute(
        sql.create_member(s),
        {
            "guild": guild_id,
            "user": user_id,
            "name": member_name(display_name),
            "at": now,
            "today": today,
        },
    )
    created = result.rowcount == 1
    if created:
        insights.member_added(s, guild_id, today)
    return bool(created)


def touch_member(
    s: Executes, guild_id: int, user_id: int, display_name: str | None, now: dt.datetime
) -> None:
    """Create the member row if needed and remember the name Discord showed us."""
    name = member_name(display_name)
    if not create_member(s, guild_id, user_id, display_name, now) and name:
        s.execute(sql.rename_member(s), {"guild": guild_id, "user": user_id, "name": name})


class Locked(NamedTuple):
    """What a change of a member reads as it locks their row."""

    last_active_on: dt.date | None
    last_completed_at: dt.datetime | None
    timezone: ZoneInfo  # the server's
    threshold: int  # the server's level threshold


def lock_member(
    s: Executes, guild_id: int, user_id: int, display_name: str | None, now: dt.datetime
) -> Locked:
    """Lock the member's row (creating it first if needed); return their last active day
    and last completion, with the server's timezone and level threshold."""
    key = {"guild": guild_id, "user": user_id}
    row = s.execute(sql.lock_member(s), key).one_or_none()
    if row is None:
        create_member(s, guild_id, user_id, display_name, now)
        row = s.execute(sql.lock_member(s), key).one()
    tz, threshold = server_basics(row.timezone, row.level_threshold)
    return Locked(row.last_active_on, row.last_completed_at, tz, threshold)


def claim_member(
    s: Executes, guild_id: int, user_id: int, display_name: str | None, now: dt.datetime
) -> None:
    """Lock the member's row (creating it if needed) and store the name Discord showed.

    The first thing a unit of work that changes a member's data does, as a completion does:
    two changes of one member take turns, and lock the rows they share in one order (the
    member's, then the rest), so they never wait for each other in a cycle.
    """
    lock_member(s, guild_id, user_id, display_name, now)
    touch_member(s, guild_id, user_id, display_name, now)


def member_name(display_name: str | None) -> str:
    """A display name as it is stored: cleaned and cut to the column's length."""
    return clean_text(display_name or "")[:MAX_NAME]


def _done_ids(s: Executes, guild_id: int, user_id: int) -> set[str]:
    return set(s.execute(_DONE_IDS, {"guild": guild_id, "user": user_id}).scalars().all())


done_item_ids = _done_ids  # for other units of work: what counts as done is decided here


def _moments(s: Executes, key: dict[str, Any]) -> list[dt.datetime]:
    return list(s.execute(_MOMENTS, key).scalars().all())


def _audit(
    s: Executes,
    guild_id: int,
    actor_id: int,
    member_id: int,
    item_id: str,
    action: str,
    now: dt.datetime,
) -> None:
    s.execute(
        sql.insert_audit(s),
        {
            "guild": guild_id,
            "actor": actor_id,
            "member": member_id,
            "item": item_id,
            "action": action,
            "at": now,
        },
    )
