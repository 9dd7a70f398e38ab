"""`/config sync-roles` as a job: its state in the database, and members' levels in batches.

A run walks the server's members in user id order, a batch at a time: each batch recomputes
the levels (with the threshold of the moment) in one unit of work, then the Discord side
(`bot.rolesync`) fixes those members' roles, then the run records how far it got. A restart
resumes after the last recorded member; a batch redone is harmless (its levels are already
right, and roles are compared with what Discord shows).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import BigInteger, Table, Text, bindparam, func, select, update

from bot.clock import Clock, SystemClock
from bot.db import Database, Executes, insert_for, prepared
from bot.db.models import Member, RoleSync, TZDateTime
from bot.roadmap import Roadmap
from bot.services import insights
from bot.services import prepared as sql
from bot.services.guilds import guild_basics
from bot.services.progress import done_item_ids, level_from_done

BATCH = 100  # members a step: one gateway lookup asks for at most 100 ids
SCAN = 500  # members a unit of work looks at, at most (it holds the write lock)
RUNNING, DONE, FAILED = "running", "done", "failed"

_m = Member.__table__.c
_NEXT_MEMBERS = (
    select(_m.user_id, _m.level)
    .where(_m.guild_id == bindparam("guild"), _m.user_id > bindparam("after"))
    .order_by(_m.user_id)
    .limit(BATCH)
)


@dataclass(frozen=True)
class RoleSyncState:
    """Where a server's role sync stands."""

    guild_id: int
    status: str
    requested_by: int
    after_user_id: int
    total: int
    checked: int
    changed_levels: int
    given: int
    taken: int
    gone: int
    failed: int
    last_error: str | None
    started_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None

    @property
    def running(self) -> bool:
        """Whether the run is under way (or was, when the bot stopped)."""
        return self.status == RUNNING


@dataclass(frozen=True)
class Batch:
    """The next members of a run: (user, level before, level now), in user id order."""

    members: tuple[tuple[int, int, int], ...]

    @property
    def last_user_id(self) -> int:
        """The last member of the batch (where the run goes on from)."""
        return self.members[-1][0] if self.members else 0


@dataclass
class Tally:
    """What the Discord side did for one batch."""

    given: int = 0
    taken: int = 0
    gone: int = 0
    failed: int = 0


_ROLE_SYNCS = cast(Table, RoleSync.__table__)
_rs = _ROLE_SYNCS.c
_STATE = select(*RoleSync.__table__.columns).where(_rs.guild_id == bindparam("guild"))
_UNFINISHED = select(*RoleSync.__table__.columns).where(_rs.status == RUNNING)
_COUNT_MEMBERS = select(func.count()).where(_m.guild_id == bindparam("guild"))
_FIELDS = [c.key for c in RoleSync.__table__.columns if c.key != "guild_id"]
_begin = prepared(
    lambda d: (
        lambda stmt: stmt.on_conflict_do_update(
            index_elements=["guild_id"], set_={k: stmt.excluded[k] for k in _FIELDS}
        )
    )(
        insert_for(d, RoleSync).values(
            guild_id=bindparam("guild", type_=BigInteger()),
            **{k: bindparam(f"v_{k}", type_=RoleSync.__table__.c[k].type) for k in _FIELDS},
        )
    )
)
_advance = prepared(
    lambda d: (
        update(_ROLE_SYNCS)
        .where(_rs.guild_id == bindparam("guild"))
        .values(
            after_user_id=bindparam("v_after"),
            checked=_rs.checked + bindparam("v_checked"),
            changed_levels=_rs.changed_levels + bindparam("v_changed"),
            given=_rs.given + bindparam("v_given"),
            taken=_rs.taken + bindparam("v_taken"),
            gone=_rs.gone + bindparam("v_gone"),
            failed=_rs.failed + bindparam("v_failed"),
            updated_at=bindparam("v_at", type_=TZDateTime()),
        )
    )
)
_end = prepared(
    lambda d: (
        update(_ROLE_SYNCS)
        .where(_rs.guild_id == bindparam("guild"))
        .values(
            status=bindparam("v_status"),
            requested_by=func.coalesce(bindparam("v_by", type_=BigInteger()), _rs.requested_by),
            last_error=bindparam("v_error", type_=Text()),
            updated_at=bindparam("v_at", type_=TZDateTime()),
            finished_at=bindparam("v_finished", type_=TZDateTime()),
        )
    )
)


def _read_state(s: Executes, guild_id: int) -> RoleSyncState | None:
    row = s.execute(_STATE, {"guild": guild_id}).one_or_none()
    return RoleSyncState(*row) if row is not None else None


class RoleSyncService:
    """Starts, advances and finishes a server's role sync, and recomputes levels.

    Every step is one unit of work on the database's own threads (`run_read`,
    `run_fast_write`): a run stopped between two steps leaves no transaction behind.
    """

    def __init__(self, db: Database, roadmap: Roadmap, clock: Clock | None = None) -> None:
        self.db = db
        self.roadmap = roadmap
        self.clock: Clock = clock or SystemClock()

    async def start(self, guild_id: int, admin_id: int) -> tuple[RoleSyncState, bool]:
        """Start a run (or resume one that failed); return it and whether this call started it.

        A run already under way is returned as it is (False): one run per server at a time.
        """
        return await self.db.run_fast_write(self._start, guild_id, admin_id, self.clock.now())

    def _start(
        self, s: Executes, guild_id: int, admin_id: int, now: dt.datetime
    ) -> tuple[RoleSyncState, bool]:
        found = _read_state(s, guild_id)
        if found is not None and found.running:
            return found, False
        if found is not None and found.status == FAILED:  # go on from where it stopped
            values = {"v_status": RUNNING, "v_by": admin_id, "v_error": None, "v_at": now}
            s.execute(_end(s), {"guild": guild_id, **values, "v_finished": None})
        else:
            total = s.execute(_COUNT_MEMBERS, {"guild": guild_id}).scalar() or 0
            fresh = {
                "status": RUNNING,
                "requested_by": admin_id,
                "after_user_id": 0,
                "total": int(total),
                "checked": 0,
                "changed_levels": 0,
                "given": 0,
                "taken": 0,
                "gone": 0,
                "failed": 0,
                "last_error": None,
                "started_at": now,
                "updated_at": now,
                "finished_at": None,
            }
            s.execute(_begin(s), {"guild": guild_id, **{f"v_{k}": v for k, v in fresh.items()}})
        state = _read_state(s, guild_id)
        assert state is not None
        return state, True

    async def state(self, guild_id: int) -> RoleSyncState | None:
        """The server's current or last run, if any."""
        return await self.db.run_fast_read(_read_state, guild_id)

    async def unfinished(self) -> list[RoleSyncState]:
        """Runs under way when the bot stopped: to resume."""
        return await self.db.run_fast_read(
            lambda s: [RoleSyncState(*row) for row in s.execute(_UNFINISHED, {}).all()]
        )

    async def next_levels(self, guild_id: int, after_user_id: int, concerned: int = BATCH) -> Batch:
        """Recompute the levels of the members after `after_user_id`, in one unit of work.

        It stops at the `concerned`-th member above level 0 (before or after), so a lookup
        of those is full, or after `SCAN` members.
        """
        return await self.db.run_fast_write(self._levels, guild_id, after_user_id, concerned)

    def _levels(self, s: Executes, guild_id: int, after_user_id: int, concerned: int) -> Batch:
        _, threshold = guild_basics(s, guild_id)
        members: list[tuple[int, int, int]] = []
        found = 0
        after = after_user_id
        while len(members) < SCAN:
            rows = s.execute(_NEXT_MEMBERS, {"guild": guild_id, "after": after}).all()
            for user_id, old in rows:
                done = done_item_ids(s, guild_id, user_id)
                new = level_from_done(self.roadmap, done, threshold)
                if new != old:
                    values = {"guild": guild_id, "user": user_id, "new_level": new}
                    s.execute(sql.set_level(s), values)
                members.append((user_id, old, new))
                found += 1 if old or new else 0
                if found >= concerned:
                    break
            if found >= concerned or len(rows) < BATCH:
                break
            after = rows[-1][0]
        # The per-level counters of /config insights move with the levels, in this unit.
        insights.levels_changed(s, guild_id, [(old, new) for _, old, new in members if old != new])
        return Batch(tuple(members))

    async def record(self, guild_id: int, batch: Batch, tally: Tally) -> RoleSyncState:
        """Count a batch done: the run goes on after its last member."""
        changed = sum(1 for _, old, new in batch.members if old != new)
        values = {
            "v_after": batch.last_user_id,
            "v_checked": len(batch.members),
            "v_changed": changed,
            "v_given": tally.given,
            "v_taken": tally.taken,
            "v_gone": tally.gone,
            "v_failed": tally.failed,
            "v_at": self.clock.now(),
        }
        return await self.db.run_fast_write(self._update, _advance, guild_id, values)

    async def finish(self, guild_id: int, status: str, error: str | None = None) -> RoleSyncState:
        """End the run: done, or failed with why (running the command again resumes it)."""
        now = self.clock.now()
        values = {
            "v_status": status,
            "v_by": None,
            "v_error": error[:500] if error else None,
            "v_at": now,
            "v_finished": now if status == DONE else None,
        }
        return await self.db.run_fast_write(self._update, _end, guild_id, values)

    def _update(
        self, s: Executes, statement: Any, guild_id: int, values: dict[str, Any]
    ) -> RoleSyncState:
        s.execute(statement(s), {"guild": guild_id, **values})
        state = _read_state(s, guild_id)
        assert state is not None
        return state
