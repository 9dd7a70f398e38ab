"""Counter rows changed by a unit of work, summed and written once, just before it commits.

The counters behind the boards and insights (members per completed count, per day, per
week, per item...) are rows that many members' changes add to: a server's row for today is
written by every completion in that server. On PostgreSQL a transaction that writes such a
row holds its lock until COMMIT, and every concurrent completion queues behind it. Written
as they come, the first of them is held for the rest of the unit's round trips; collected
here and written last (in one statement on PostgreSQL, each table's rows in one statement
on SQLite), they are held for about one round trip. A row whose changes cancel out (a
member passing through a count on the way to the next) is not written at all.

Every transaction writes its counter rows in the same order (one statement shape, tables
and keys sorted), after everything else it locks, so two transactions never wait for each
other's counter rows in a cycle (a deadlock on PostgreSQL).

`bump(s, model, rows, *counts)` adds each row's `counts` to the stored row with the same
primary key. Inside a fast write unit (`Database.run_fast_write`) it goes to the unit's
tally; in a Session, to the session's, written when it commits (its `before_commit`); on
a bare Connection it is written at once. Nothing in a unit may read a counter it changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, event, text
from sqlalchemy.orm import Session, SessionTransaction

from bot.db.dialect import dialect_of

# What a group of rows is kept under: the counter table (its model) and the columns added to.
_Group = tuple[Any, tuple[str, ...]]
# By shape (tables, columns, rows): few, since a unit changes a handful of rows.
_STATEMENTS: dict[tuple[Any, ...], tuple[Any, list[str]]] = {}


class Tally:
    """Summed changes to counter rows, by table and primary key."""

    def __init__(self) -> None:
        self._groups: dict[_Group, dict[tuple[Any, ...], list[int]]] = {}

    def add(self, model: Any, counts: tuple[str, ...], row: dict[str, Any]) -> None:
        key = tuple([row[name] for name in _key_of(model)])
        sums = self._groups.setdefault((model, counts), {}).get(key)
        if sums is None:
            sums = self._groups[(model, counts)][key] = [0] * len(counts)
        for i, name in enumerate(counts):
            sums[i] += row[name]

    def flush(self, s: Any) -> None:
        """Write what was added (in key order, so concurrent units lock rows in one order),
        then forget it."""
        groups = []
        for (model, counts), rows in sorted(
            self._groups.items(), key=lambda g: g[0][0].__table__.name
        ):
            changed = sorted((key, sums) for key, sums in rows.items() if any(sums))
            if changed:
                groups.append((model, counts, changed))
        self._groups.clear()
        if not groups:
            return
        if dialect_of(s) == "postgresql":  # one round trip: data-modifying WITH queries
            _run(s, groups, combined=True)
        else:
            for group in groups:
                _run(s, [group], combined=False)


def bump(s: Any, model: Any, rows: Sequence[dict[str, Any]], *counts: str) -> None:
    """Add each row's `counts` to the counter row with the same key (created at zero).

    Each row holds the model's primary key columns and the `counts` columns.
    """
    tally: Tally | None = getattr(s, "tally", None)  # a fast unit's
    if tally is None and isinstance(s, Session):
        tally = s.info.get(_KEY)
        if tally is None:
            s.connection()  # in a transaction (begun if need be), whose end clears the tally
            tally = s.info[_KEY] = Tally()
    target = Tally() if tally is None else tally
    for row in rows:
        target.add(model, counts, row)
    if tally is None:  # a bare Connection: written at once
        target.flush(s)


_KEY = "bot.db.tally"  # where a Session keeps its tally (Session.info)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    tally = session.info.pop(_KEY, None)
    if tally is not None:
        tally.flush(session)


@event.listens_for(Session, "after_transaction_end")
def _forget_after_rollback(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the session's transaction ended (rolled back, if any left)
        session.info.pop(_KEY, None)


_KEYS: dict[Any, tuple[str, ...]] = {}


def _key_of(model: Any) -> tuple[str, ...]:
    """The names of a counter table's primary key columns."""
    found = _KEYS.get(model)
    if found is None:
        found = _KEYS[model] = tuple(c.key for c in model.__table__.primary_key.columns)
    return found


def _run(s: Any, groups: list[tuple[Any, tuple[str, ...], list[Any]]], combined: bool) -> None:
    shape = tuple((model, counts, len(rows)) for model, counts, rows in groups)
    found = _STATEMENTS.get((combined, shape))
    if found is None:
        found = _STATEMENTS[(combined, shape)] = _statement(shape, combined)
    statement, names = found
    values: list[Any] = []
    for _, _, rows in groups:
        for key, sums in rows:
            values += key
            values += sums
    s.execute(statement, dict(zip(names, values, strict=True)))


def _statement(
    shape: tuple[tuple[Any, tuple[str, ...], int], ...], combined: bool
) -> tuple[Any, list[str]]:
    """The upserts of `shape`, and their parameters' names in the order of the rows' keys
    and sums: one INSERT per table, each as a WITH query of one statement when `combined`
    (PostgreSQL; SQLite has no data-modifying WITH)."""
    upserts = []
    binds = []
    for g, (model, counts, n) in enumerate(shape):
        table = model.__table__
        key = _key_of(model)
        names = [*key, *counts]
        values = ", ".join(
            "(" + ", ".join(f":t{g}_{r}_{name}" for name in names) + ")" for r in range(n)
        )
        adds = ", ".join(f"{c} = {table.name}.{c} + excluded.{c}" for c in counts)
        upserts.append(
            f"INSERT INTO {table.name} ({', '.join(names)}) VALUES {values} "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {adds}"
        )
        binds += [
            bindparam(f"t{g}_{r}_{name}", type_=table.c[name].type)
            for r in range(n)
            for name in names
        ]
    if combined and len(upserts) > 1:
        # Every upsert a WITH query of a SELECT that reads none of them: PostgreSQL then runs
        # them one after another in an order set by their place alone, the same in every
        # statement (a main INSERT would run before them whichever table it is).
        sql = "WITH " + ", ".join(f"u{i} AS ({u})" for i, u in enumerate(upserts)) + " SELECT 1"
    else:
        assert len(upserts) == 1
        sql = upserts[0]
    return text(sql).bindparams(*binds), [b.key for b in binds]
