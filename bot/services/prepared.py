"""The statements of the hot write paths, built once per dialect with bind parameters.

Building a SQLAlchemy statement costs several times more than running it; one built once is
found in the compiled cache every time after (see `bot.db.prepared`). Each name is called
with the session to get the statement, then executed with a dict of its parameters.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)

from bot.db import insert_for, prepared
from bot.db.models import (
    AuditEntry,
    Completion,
    LevelAnnouncement,
    Member,
    PeriodScore,
    TZDateTime,
)
from bot.services.guilds import SERVER_THRESHOLD, SERVER_TIMEZONE

MEMBERS = cast(Table, Member.__table__)
COMPLETIONS = cast(Table, Completion.__table__)
PERIOD_SCORES = cast(Table, PeriodScore.__table__)
_m = MEMBERS.c
_c = COMPLETIONS.c
_ps = PERIOD_SCORES.c


def _at(name: str) -> Any:
    return bindparam(name, type_=TZDateTime())


def _key(table: Any) -> tuple[Any, ...]:
    return (table.guild_id == bindparam("guild"), table.user_id == bindparam("user"))


# -- completions --------------------------------------------------------------------------

insert_completion = prepared(
    lambda d: (
        insert_for(d, Completion)
        .values(
            guild_id=bindparam("guild", type_=BigInteger()),
            user_id=bindparam("user", type_=BigInteger()),
            item_id=bindparam("item", type_=String()),
            completed_at=_at("at"),
            evidence=bindparam("evidence", type_=String()),
            granted_by=bindparam("actor", type_=BigInteger()),
        )
        .on_conflict_do_nothing()
    )
)

delete_completion = prepared(
    lambda d: (
        delete(COMPLETIONS)
        .where(*_key(_c), _c.item_id == bindparam("item"))
        .returning(_c.completed_at)
    )
)


insert_audit = prepared(
    lambda d: insert_for(d, AuditEntry).values(
        guild_id=bindparam("guild", type_=BigInteger()),
        actor_id=bindparam("actor", type_=BigInteger()),
        member_id=bindparam("member", type_=BigInteger()),
        item_id=bindparam("item", type_=String()),
        action=bindparam("action", type_=String()),
        created_at=_at("at"),
    )
)


# -- members ------------------------------------------------------------------------------


create_member = prepared(
    lambda d: (
        insert_for(d, Member)
        .values(
            guild_id=bindparam("guild", type_=BigInteger()),
            user_id=bindparam("user", type_=BigInteger()),
            display_name=bindparam("name", type_=String()),
            created_at=_at("at"),
            last_active_on=bindparam("today", type_=Date()),
        )
        .on_conflict_do_nothing()
    )
)

rename_member = prepared(
    lambda d: update(MEMBERS).where(*_key(_m)).values(display_name=bindparam("name"))
)

# The member's row is locked first (PostgreSQL; SQLite's write lock covers it already), and
# the server's settings a change needs come with it.
lock_member = prepared(
    lambda d: (
        select(
            _m.last_active_on,
            _m.last_completed_at,
            SERVER_TIMEZONE.label("timezone"),
            SERVER_THRESHOLD.label("level_threshold"),
        )
        .where(*_key(_m))
        .with_for_update(of=MEMBERS)
    )
)


def _member_counted(changes: dict[str, Any], named: bool) -> Any:
    """An update of the member's counters (and, `named`, the display name), returning
    what a completion or an undo goes on with."""
    if named:
        changes = {**changes, "display_name": bindparam("name", type_=String())}
    return (
        update(MEMBERS)
        .where(*_key(_m))
        .values(**changes)
        .returning(_m.completed_count, _m.hidden, _m.level, _m.last_completed_at)
    )


def _member_completed(named: bool) -> Any:
    changes = {
        "completed_count": _m.completed_count + bindparam("n", type_=Integer()),
        "last_completed_at": _at("at"),
        "last_active_on": bindparam("today", type_=Date()),
    }
    return _member_counted(changes, named)


member_completed = prepared(lambda d: _member_completed(False))
member_completed_named = prepared(lambda d: _member_completed(True))


def _member_undone(named: bool) -> Any:
    last = select(func.max(_c.completed_at)).where(*_key(_c)).scalar_subquery()
    return _member_counted(
        {"completed_count": _m.completed_count - 1, "last_completed_at": last}, named
    )


member_undone = prepared(lambda d: _member_undone(False))
member_undone_named = prepared(lambda d: _member_undone(True))

member_counters = prepared(lambda d: select(_m.level, _m.completed_count).where(*_key(_m)))

# With what a level reached for the first time is counted from (`insights.journey_start`).
set_level = prepared(
    lambda d: (
        update(MEMBERS)
        .where(*_key(_m))
        .values(level=bindparam("new_level"))
        .returning(_m.started_on, _m.created_at)
    )
)


announce_level = prepared(
    lambda d: (
        insert_for(d, LevelAnnouncement)
        .values(
            guild_id=bindparam("guild", type_=BigInteger()),
            user_id=bindparam("user", type_=BigInteger()),
            level=bindparam("level"),
            reached_at=_at("at"),
        )
        .on_conflict_do_nothing()
    )
)


# -- leaderboard counters -----------------------------------------------------------------


# Completions (`n`, made at once) count in their week and month: one statement for both rows.
count_completion = prepared(
    lambda d: (
        text(
            "INSERT INTO period_scores (guild_id, period, starts_on, user_id, n, last_at, hidden)"
            " VALUES (:guild, 'week', :week, :user, :n, :at, :hidden),"
            " (:guild, 'month', :month, :user, :n, :at, :hidden)"
            " ON CONFLICT (guild_id, period, starts_on, user_id)"
            " DO UPDATE SET n = period_scores.n + excluded.n, last_at = excluded.last_at"
            " RETURNING period, starts_on, n"
        )
        .bindparams(
            bindparam("guild", type_=BigInteger()),
            bindparam("user", type_=BigInteger()),
            bindparam("week", type_=Date()),
            bindparam("month", type_=Date()),
            bindparam("at", type_=TZDateTime()),
            bindparam("hidden", type_=Boolean()),
            bindparam("n", type_=Integer()),
        )
        .columns(period=String(), starts_on=Date(), n=Integer())
    )
)

_PERIOD_KEY = (
    _ps.guild_id == bindparam("guild"),
    _ps.period == bindparam("of_period"),
    _ps.starts_on == bindparam("of_start"),
    _ps.user_id == bindparam("user"),
)
drop_last_of_period = prepared(lambda d: delete(PERIOD_SCORES).where(*_PERIOD_KEY, _ps.n <= 1))


def _uncount_completion() -> Any:
    last = (
        select(func.max(_c.completed_at))
        .where(*_key(_c), _c.completed_at >= _at("start"), _c.completed_at < _at("end"))
        .scalar_subquery()
    )
    return update(PERIOD_SCORES).where(*_PERIOD_KEY).values(n=_ps.n - 1, last_at=last)


uncount_completion = prepared(lambda d: _uncount_completion())
