"""Completing items, levels and a member's progress."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update

from bot.clock import Clock, SystemClock
from bot.db import Database, Executes
from bot.db.models import Completion, Member
from bot.errors import NotFound, UserError
from bot.roadmap import Item, Roadmap
from bot.services import prepared as sql
from bot.services import scores
from bot.services.guilds import guild_basics

MAX_EVIDENCE = 500

# The hot reads, built once (see bot.db.prepared): plain Core statements on the tables.
_members = Member.__table__.c
_completions = Completion.__table__.c
_MEMBER_ROW = select(
    _members.display_name,
    _members.level,
    _members.started_on,
    _members.timezone,
    _members.hidden,
    _members.completed_count,
    _members.last_completed_at,
).where(_members.guild_id == bindparam("guild"), _members.user_id == bindparam("user"))
_DONE_IDS = select(_completions.item_id).where(
    _completions.guild_id == bindparam("guild"), _completions.user_id == bindparam("user")
)
_RECENT = (
    select(_completions.item_id, _completions.completed_at, _completions.evidence)
    .where(_completions.guild_id == bindparam("guild"), _completions.user_id == bindparam("user"))
    .order_by(_completions.completed_at.desc(), _completions.item_id)
    .limit(bindparam("limit"))
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
    completed_count: int = 0  # the stored counter the rankings use
    last_completed_at: dt.datetime | None = None


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


def clean_evidence(evidence: str | None) -> str | None:
    """Trim evidence; reject what would not fit."""
    if evidence is None or not evidence.strip():
        return None
    evidence = " ".join(evidence.split())
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

    def resolve(self, item_id: str) -> Item:
        """Return the roadmap item for an id, or explain how to find one."""
        item = self.roadmap.item(item_id.strip())
        if item is None:
            raise NotFound(
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
            raise NotFound(
                f"`{sorted(unknown)[0][:80]}` is not on the level {level} checklist: "
                "run `/milestone checklist` again."
            )
        return await self.db.run_fast_write(
            self._set_checklist, guild_id, user_id, items, wanted, display_name, self.clock.now()
        )

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
        key = {"guild": guild_id, "user": user_id}
        inserted = s.execute(
            sql.insert_completion(s),
            {**key, "item": item.id, "at": now, "evidence": evidence, "actor": actor_id},
        )
        if inserted.rowcount != 1:
            return self._unchanged(s, guild_id, user_id, item, display_name, now)
        upsert_member = sql.member_completed_named if display_name else sql.member_completed
        member = s.execute(
            upsert_member(s), {**key, "name": (display_name or "")[:100], "at": now}
        ).one()
        tz, threshold = guild_basics(s, guild_id)
        if not member.hidden:
            scores.move_bucket(s, guild_id, member.completed_count - 1, member.completed_count)
        scores.add_completion(s, guild_id, user_id, now, member.hidden, tz)
        if actor_id is not None:
            _audit(s, guild_id, actor_id, user_id, item.id, "grant", now)
        if not settle:
            return ProgressChange(
                item, True, member.level, member.level, (), member.completed_count
            )
        new_level, announce = self._settle(s, guild_id, user_id, member.level, threshold, now)
        return ProgressChange(item, True, member.level, new_level, announce, member.completed_count)

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
        key = {"guild": guild_id, "user": user_id}
        completed_at = s.execute(
            sql.delete_completion(s), {**key, "item": item.id}
        ).scalar_one_or_none()
        if completed_at is None:
            return self._unchanged(s, guild_id, user_id, item, display_name, now)
        update_member = sql.member_undone_named if display_name else sql.member_undone
        member = s.execute(update_member(s), {**key, "name": (display_name or "")[:100]}).one()
        tz, threshold = guild_basics(s, guild_id)
        if not member.hidden:
            scores.move_bucket(s, guild_id, member.completed_count + 1, member.completed_count)
        scores.remove_completion(s, guild_id, user_id, completed_at, member.hidden, tz)
        if actor_id is not None:
            _audit(s, guild_id, actor_id, user_id, item.id, "revoke", now)
        if not settle:
            return ProgressChange(
                item, True, member.level, member.level, (), member.completed_count
            )
        new_level, announce = self._settle(s, guild_id, user_id, member.level, threshold, now)
        return ProgressChange(item, True, member.level, new_level, announce, member.completed_count)

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
            _, threshold = guild_basics(s, guild_id)
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
        if new_level != old_level:
            s.execute(sql.set_level(s), {**key, "new_level": new_level})
        for level in range(old_level + 1, new_level + 1):
            result = s.execute(sql.announce_level(s), {**key, "level": level, "at": now})
            if result.rowcount == 1:
                announce.append(level)
        return new_level, tuple(announce)

    async def done_ids(self, guild_id: int, user_id: int) -> set[str]:
        """Ids of the items a member has done."""
        return await self.db.run_read(_done_ids, guild_id, user_id)

    async def member_progress(
        self, guild_id: int, user_id: int, *, recent: int = 5
    ) -> MemberProgress:
        """A member's level, per-level counts, totals and latest completions."""
        return await self.db.run_read(self.read_progress, guild_id, user_id, recent)

    def read_progress(
        self, s: Executes, guild_id: int, user_id: int, recent: int = 5
    ) -> MemberProgress:
        """`member_progress` as plain synchronous code, for a unit of work (one hop)."""
        key = {"guild": guild_id, "user": user_id}
        member = s.execute(_MEMBER_ROW, key).one_or_none()
        done = {i for i in _done_ids(s, guild_id, user_id) if self.roadmap.item(i) is not None}
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
                milestones_done=sum(
                    1 for items in lvl.milestones.values() for i in items if i.id in done
                ),
                milestones_total=sum(len(items) for items in lvl.milestones.values()),
                checklist_done=sum(1 for i in lvl.checklist if i.id in done),
                checklist_total=len(lvl.checklist),
                reached=lvl.number <= level,
            )
            for lvl in self.roadmap.levels
        )
        return MemberProgress(
            user_id=user_id,
            display_name=member.display_name if member else "",
            level=level,
            levels=levels,
            completed=len(done),
            total=len(self.roadmap.items),
            recent=tuple(done_items[:recent]),
            started_on=member.started_on if member else None,
            timezone=member.timezone if member else None,
            hidden=member.hidden if member else False,
            completed_count=member.completed_count if member else 0,
            last_completed_at=member.last_completed_at if member else None,
        )

    async def recompute_levels(self, guild_id: int) -> dict[int, tuple[int, int]]:
        """Recompute every member's level with today's threshold: {user: (old, new)}."""
        checklist_ids = [i.id for lvl in self.roadmap.levels for i in lvl.checklist]
        async with self.db.write.begin() as s:
            _, threshold = await s.run_sync(guild_basics, guild_id)
            levels = dict(
                (
                    await s.execute(
                        select(Member.user_id, Member.level).where(Member.guild_id == guild_id)
                    )
                ).all()
            )
            done: dict[int, set[str]] = {user: set() for user in levels}
            rows = await s.execute(
                select(Completion.user_id, Completion.item_id).where(
                    Completion.guild_id == guild_id, Completion.item_id.in_(checklist_ids)
                )
            )
            for user, item_id in rows.all():
                done.setdefault(user, set()).add(item_id)
            changes: dict[int, tuple[int, int]] = {}
            for user, items in done.items():
                new = level_from_done(self.roadmap, items, threshold)
                old = levels.get(user, 0)
                changes[user] = (old, new)
                if new != old:
                    await s.execute(
                        update(Member)
                        .where(Member.guild_id == guild_id, Member.user_id == user)
                        .values(level=new)
                    )
        return changes


def touch_member(
    s: Executes, guild_id: int, user_id: int, display_name: str | None, now: dt.datetime
) -> None:
    """Create the member row if needed and remember the name Discord showed us."""
    stmt = sql.touch_named if display_name else sql.touch_unnamed
    s.execute(
        stmt(s),
        {"guild": guild_id, "user": user_id, "name": (display_name or "")[:100], "at": now},
    )


def _done_ids(s: Executes, guild_id: int, user_id: int) -> set[str]:
    return set(s.execute(_DONE_IDS, {"guild": guild_id, "user": user_id}).scalars().all())


done_item_ids = _done_ids  # for other units of work: what counts as done is decided here


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
