"""Reviews: items a server wants checked are submitted with evidence and count once approved.

A submission is open until a decision (approved, changes, rejected) or the member's
withdrawal. A reviewer's claim lapses after `REVIEW_CLAIM`; that is computed on read (a claim
older than that is no claim), so nothing has to run for a claim to return to the queue.
Deciding is one conditional UPDATE on an open submission: of two reviewers deciding at once,
exactly one changes the row, and the other is told it was already decided.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from bot.clock import Clock, SystemClock
from bot.db import Database, Executes, upsert
from bot.db.models import AuditEntry, Completion, ReviewerRole, ReviewSettings, ReviewSubmission
from bot.defaults import LEVEL_COUNT, REVIEW_CLAIM, REVIEW_STATS_DAYS
from bot.errors import NotFoundError, UserError
from bot.roadmap import Item, Roadmap
from bot.services.progress import ProgressChange, ProgressService, clean_evidence, touch_member
from bot.services.untold import UntoldMembers

APPROVED, CHANGES, REJECTED, WITHDRAWN = "approved", "changes", "rejected", "withdrawn"
DECISIONS = (APPROVED, CHANGES, REJECTED)
DECISION_LABELS = {
    APPROVED: "approved",
    CHANGES: "changes requested",
    REJECTED: "rejected",
    WITHDRAWN: "withdrawn by the member",
}
AUDIT_ACTIONS = {APPROVED: "approve", CHANGES: "changes", REJECTED: "reject"}
"""The audit log's action for each decision (next to the admins' "grant" and "revoke")."""

REVIEW_CATEGORIES = {"projects": "projects", "professional": "professional", "checklist": "check"}
"""The categories a server can put under review, by option name, with the item category."""

MAX_NOTE = 1000

Sub = ReviewSubmission


@dataclass(frozen=True)
class ReviewPolicy:
    """What needs review in a server, who reviews, and where submissions are posted."""

    guild_id: int
    categories: frozenset[str]  # item categories: "projects", "professional", "check"
    from_level: int | None
    channel_id: int | None
    role_ids: tuple[int, ...]

    @property
    def active(self) -> bool:
        """Whether anything needs review at all."""
        return bool(self.categories) or self.from_level is not None

    def covers(self, item: Item) -> bool:
        """Whether completing this item needs a reviewer's approval."""
        if not self.active:
            return False
        # A project goes with the checklist item naming it (they are done together).
        category = "check" if item.is_project else item.category
        if self.categories and category not in self.categories:
            return False
        return self.from_level is None or item.level >= self.from_level


@dataclass(frozen=True)
class Submission:
    """A submission and, once made, the decision on it."""

    id: int
    guild_id: int
    user_id: int
    item: Item
    evidence: str
    channel_id: int | None
    submitted_at: dt.datetime
    updated_at: dt.datetime
    claimed_by: int | None  # only a claim still in force
    claimed_at: dt.datetime | None
    post_channel_id: int | None
    post_message_id: int | None
    decision: str | None
    decided_by: int | None
    decided_at: dt.datetime | None
    note: str | None

    @property
    def open(self) -> bool:
        """Whether it still waits for a decision."""
        return self.decided_at is None

    @property
    def claim_ends_at(self) -> dt.datetime | None:
        """When a claim in force lapses and the submission is back in the queue."""
        return self.claimed_at + REVIEW_CLAIM if self.claimed_at and self.claimed_by else None


@dataclass(frozen=True)
class Submitted:
    """What submitting did: a new submission or new evidence for the open one."""

    submission: Submission
    replaced: bool
    typical_wait: dt.timedelta | None  # median wait of the last days, None without history
    review_channel_id: int | None


@dataclass(frozen=True)
class Decision:
    """A decision made; `change` is the completion an approval made."""

    submission: Submission
    change: ProgressChange | None


@dataclass(frozen=True)
class QueuePage:
    """One page of open submissions, oldest first."""

    entries: tuple[Submission, ...]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class ReviewerCount:
    """Decisions of one reviewer (None: reviewers who deleted their data)."""

    reviewer_id: int | None
    approved: int
    changes: int
    rejected: int

    @property
    def total(self) -> int:
        """All their decisions."""
        return self.approved + self.changes + self.rejected


@dataclass(frozen=True)
class ReviewStats:
    """Open submissions, waits and decisions per reviewer over the last `days` days."""

    days: int
    open: int
    claimed: int
    oldest_open_at: dt.datetime | None
    decided: int
    median_wait: dt.timedelta | None
    p90_wait: dt.timedelta | None
    reviewers: tuple[ReviewerCount, ...]


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of sorted values, interpolated between neighbours."""
    position = q * (len(values) - 1)
    low, high = math.floor(position), math.ceil(position)
    return values[low] + (values[high] - values[low]) * (position - low)


def clean_note(note: str | None, *, required: bool) -> str | None:
    """Trim a reviewer's note; ask for one where the member needs to know what to change."""
    note = (note or "").strip()
    if not note:
        if required:
            raise UserError("Write a note for the member: what to change, or why not.")
        return None
    if len(note) > MAX_NOTE:
        raise UserError(f"The note is limited to {MAX_NOTE} characters (yours has {len(note)}).")
    return note


def _open(guild_id: int) -> tuple[ColumnElement[bool], ...]:
    return (Sub.guild_id == guild_id, Sub.decided_at.is_(None))


def _free_for(reviewer_id: int, now: dt.datetime) -> ColumnElement[bool]:
    """Not claimed, claimed by this reviewer, or claimed too long ago."""
    return or_(
        Sub.claimed_by.is_(None),
        Sub.claimed_by == reviewer_id,
        Sub.claimed_at <= now - REVIEW_CLAIM,
    )


class ReviewService:
    """Review settings, submissions, claims, decisions and their numbers."""

    def __init__(
        self,
        db: Database,
        roadmap: Roadmap,
        progress: ProgressService,
        clock: Clock | None = None,
    ) -> None:
        # Per server, read on first use: members with a decision they were not told of.
        self._untold = UntoldMembers(self._load_untold)
        self.db = db
        self.roadmap = roadmap
        self.progress = progress
        self.clock: Clock = clock or SystemClock()

    # -- settings --

    async def policy(self, guild_id: int) -> ReviewPolicy:
        """What needs review in a server and who reviews."""
        async with self.db.read() as s:
            return await s.run_sync(_policy, guild_id)

    async def configure(
        self,
        guild_id: int,
        *,
        categories: dict[str, bool] | None = None,
        from_level: int | None = None,
        channel_id: int | None = None,
        clear_channel: bool = False,
        add_role: int | None = None,
        remove_role: int | None = None,
    ) -> ReviewPolicy:
        """Change what needs review (only what is given); return the new settings.

        `categories` maps option names of REVIEW_CATEGORIES to on/off; `from_level` 0 removes
        the level rule. Nothing already done changes: the settings apply to what comes next.
        """
        values: dict[str, Any] = {}
        for name, on in (categories or {}).items():
            if name not in REVIEW_CATEGORIES:
                raise UserError(f"`{name}` is not a category that can need review.")
            values[name] = on
        if from_level is not None:
            if not 0 <= from_level <= LEVEL_COUNT:
                raise UserError(f"The level is 1 to {LEVEL_COUNT}, or 0 for no level rule.")
            values["from_level"] = from_level or None
        if clear_channel:
            values["channel_id"] = None
        elif channel_id is not None:
            values["channel_id"] = channel_id
        now = self.clock.now()
        async with self.db.write.begin() as s:
            await s.execute(
                upsert(s, ReviewSettings)
                .values(guild_id=guild_id, updated_at=now, **values)
                .on_conflict_do_update(
                    index_elements=["guild_id"], set_={**values, "updated_at": now}
                )
            )
            if add_role is not None:
                await s.execute(
                    upsert(s, ReviewerRole)
                    .values(guild_id=guild_id, role_id=add_role)
                    .on_conflict_do_nothing()
                )
            if remove_role is not None:
                await s.execute(
                    delete(ReviewerRole).where(
                        ReviewerRole.guild_id == guild_id, ReviewerRole.role_id == remove_role
                    )
                )
            return await s.run_sync(_policy, guild_id)

    async def may_review(self, guild_id: int, role_ids: Iterable[int], *, is_admin: bool) -> bool:
        """Admins (Manage Server) and members with a reviewer role may review."""
        if is_admin:
            return True
        roles = set(role_ids)
        if not roles:
            return False
        async with self.db.read() as s:
            found = await s.scalar(
                select(ReviewerRole.role_id).where(
                    ReviewerRole.guild_id == guild_id, ReviewerRole.role_id.in_(roles)
                )
            )
        return found is not None

    # -- members: submitting --

    async def complete_or_submit(
        self,
        guild_id: int,
        user_id: int,
        item_id: str,
        *,
        display_name: str | None = None,
        evidence: str | None = None,
        channel_id: int | None = None,
    ) -> ProgressChange | Submitted:
        """Complete an item, or submit it for review where the server wants that.

        One unit of work: the server's settings are read in the transaction that completes or
        submits. An item already done stays done and nothing changes (whatever the settings).
        """
        item = self.progress.resolve(item_id)
        evidence = clean_evidence(evidence)
        now = self.clock.now()
        # Most items need no review: those complete on the fast path in one unit of work.
        change = await self.db.run_fast_write(
            self._complete_unless_reviewed, guild_id, user_id, item, display_name, evidence, now
        )
        if change is not None:
            return change
        return await self.db.run_write(
            self._complete_or_submit,
            guild_id,
            user_id,
            item,
            display_name,
            evidence,
            channel_id,
            now,
        )

    def _complete_unless_reviewed(
        self,
        s: Executes,
        guild_id: int,
        user_id: int,
        item: Item,
        display_name: str | None,
        evidence: str | None,
        now: dt.datetime,
    ) -> ProgressChange | None:
        """Complete the item unless it needs review (None: submit it instead)."""
        settings = s.execute(_SETTINGS, {"guild": guild_id}).one_or_none()
        if _policy_of(guild_id, settings).covers(item) and not _is_done(s, guild_id, user_id, item):
            return None
        return self.progress.complete_in(s, guild_id, user_id, item, display_name, evidence, now)

    def _complete_or_submit(
        self,
        s: Session,
        guild_id: int,
        user_id: int,
        item: Item,
        display_name: str | None,
        evidence: str | None,
        channel_id: int | None,
        now: dt.datetime,
    ) -> ProgressChange | Submitted:
        # The roles are not needed here: one read of the settings row.
        policy = _policy_of(guild_id, s.get(ReviewSettings, guild_id))
        if not policy.covers(item) or _is_done(s, guild_id, user_id, item):
            return self.progress.complete_in(
                s, guild_id, user_id, item, display_name, evidence, now
            )
        if evidence is None:
            raise UserError(
                f"**{item.title}** needs a reviewer's approval in this server: run "
                "`/milestone complete` again with `evidence:` a link or a short note that "
                "shows the work."
            )
        touch_member(s, guild_id, user_id, display_name, now)
        inserted = s.execute(
            upsert(s, Sub)
            .values(
                guild_id=guild_id,
                user_id=user_id,
                item_id=item.id,
                evidence=evidence,
                channel_id=channel_id,
                submitted_at=now,
                updated_at=now,
                notice_pending=False,
            )
            .on_conflict_do_nothing(
                index_elements=["guild_id", "user_id", "item_id"],
                index_where=Sub.decided_at.is_(None),
            )
        )
        replaced = inserted.rowcount != 1  # type: ignore[attr-defined]
        mine = (*_open(guild_id), Sub.user_id == user_id, Sub.item_id == item.id)
        if replaced:
            # The queue keeps its place: `submitted_at` stays, the evidence is new.
            s.execute(
                update(Sub)
                .where(*mine)
                .values(evidence=evidence, updated_at=now, channel_id=channel_id)
            )
        row = s.execute(select(Sub).where(*mine)).scalar_one()
        return Submitted(
            submission=self._submission(row, now),
            replaced=replaced,
            typical_wait=_waits(s, guild_id, now)[0],
            review_channel_id=policy.channel_id,
        )

    async def withdraw(self, guild_id: int, user_id: int, item_id: str) -> Submission | None:
        """Withdraw the member's open submission of an item; None when there is none."""
        item = self.progress.resolve(item_id)
        now = self.clock.now()
        async with self.db.write.begin() as s:
            where = (*_open(guild_id), Sub.user_id == user_id, Sub.item_id == item.id)
            row = await s.scalar(select(Sub).where(*where))
            if row is None:
                return None
            await s.execute(
                update(Sub).where(Sub.id == row.id).values(decision=WITHDRAWN, decided_at=now)
            )
            await s.refresh(row)
            return self._submission(row, now)

    async def pending(self, guild_id: int, user_id: int) -> tuple[Submission, ...]:
        """The member's submissions waiting for a decision, oldest first."""
        return await self.db.run_fast_read(self.read_pending, guild_id, user_id)

    def read_pending(self, s: Executes, guild_id: int, user_id: int) -> tuple[Submission, ...]:
        """`pending` inside a unit of work (one statement), for reads that want more."""
        rows = _all_rows(s, _PENDING, {"guild": guild_id, "user": user_id})
        now = self.clock.now()
        return tuple(self._submission(r, now) for r in rows)

    # -- reviewers: queue, claims, decisions --

    async def queue(self, guild_id: int, page: int = 0, per_page: int = 5) -> QueuePage:
        """Open submissions, oldest first, one page of them."""
        now = self.clock.now()
        async with self.db.read() as s:
            total = int(await s.scalar(select(func.count()).where(*_open(guild_id))) or 0)
            pages = max(1, -(-total // per_page))
            page = min(max(page, 0), pages - 1)
            rows = (
                await s.scalars(
                    select(Sub)
                    .where(*_open(guild_id))
                    .order_by(Sub.submitted_at, Sub.id)
                    .offset(page * per_page)
                    .limit(per_page)
                )
            ).all()
        entries = tuple(self._submission(r, now) for r in rows)
        return QueuePage(entries, total, page, pages)

    async def get(self, guild_id: int, submission_id: int) -> Submission:
        """One submission of this server."""
        async with self.db.read() as s:
            row = await s.get(Sub, submission_id)
        if row is None or row.guild_id != guild_id:
            raise NotFoundError(
                f"There is no submission #{submission_id} here: see `/review queue`."
            )
        return self._submission(row, self.clock.now())

    async def history(self, guild_id: int, user_id: int, item_id: str) -> tuple[Submission, ...]:
        """Earlier decided submissions of the member for the item, newest first."""
        now = self.clock.now()
        async with self.db.read() as s:
            rows = (
                await s.scalars(
                    select(Sub)
                    .where(
                        Sub.guild_id == guild_id,
                        Sub.user_id == user_id,
                        Sub.item_id == item_id,
                        Sub.decided_at.is_not(None),
                    )
                    .order_by(Sub.decided_at.desc())
                    .limit(5)
                )
            ).all()
        return tuple(self._submission(r, now) for r in rows)

    async def claim(
        self, guild_id: int, reviewer_id: int, submission_id: int | None = None
    ) -> Submission:
        """Take a submission to review: the given one, or the oldest free one."""
        return await self.db.run_write(
            self._claim, guild_id, reviewer_id, submission_id, self.clock.now()
        )

    def _claim(
        self,
        s: Session,
        guild_id: int,
        reviewer_id: int,
        submission_id: int | None,
        now: dt.datetime,
    ) -> Submission:
        claimable = (*_open(guild_id), Sub.user_id != reviewer_id, _free_for(reviewer_id, now))
        if submission_id is not None:
            candidates = [submission_id]
        else:
            candidates = list(
                s.scalars(
                    select(Sub.id).where(*claimable).order_by(Sub.submitted_at, Sub.id).limit(5)
                )
            )
            if not candidates:
                raise UserError(
                    "Nothing to take: the queue is empty, or what is in it is yours or claimed "
                    "by other reviewers. See `/review queue`."
                )
        for candidate in candidates:
            # Conditional: of two reviewers taking the same one at once, one gets it.
            taken = s.execute(
                update(Sub)
                .where(Sub.id == candidate, *claimable)
                .values(claimed_by=reviewer_id, claimed_at=now)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return self._submission(
                    s.execute(select(Sub).where(Sub.id == candidate)).scalar_one(), now
                )
        if submission_id is not None:
            raise UserError(
                _refusal(s.get(Sub, submission_id), guild_id, submission_id, reviewer_id)
            )
        raise UserError("Other reviewers took those at the same moment: run `/review open` again.")

    async def release(self, guild_id: int, reviewer_id: int, submission_id: int) -> bool:
        """Give a claimed submission back to the queue; False when it was not claimed by them."""
        async with self.db.write.begin() as s:
            result = await s.execute(
                update(Sub)
                .where(Sub.id == submission_id, *_open(guild_id), Sub.claimed_by == reviewer_id)
                .values(claimed_by=None, claimed_at=None)
            )
        return bool(getattr(result, "rowcount", 0))

    async def check_decidable(
        self, guild_id: int, submission_id: int, reviewer_id: int
    ) -> Submission:
        """The submission if this reviewer may decide it now; else a UserError saying why."""
        now = self.clock.now()
        async with self.db.read() as s:
            row = await s.get(Sub, submission_id)
            allowed = (
                row is not None
                and row.guild_id == guild_id
                and row.decided_at is None
                and row.user_id != reviewer_id
                and (
                    row.claimed_by in (None, reviewer_id)
                    or (row.claimed_at is not None and row.claimed_at <= now - REVIEW_CLAIM)
                )
            )
            if not allowed:
                raise UserError(_refusal(row, guild_id, submission_id, reviewer_id))
            assert row is not None
            return self._submission(row, now)

    async def decide(
        self,
        guild_id: int,
        submission_id: int,
        reviewer_id: int,
        decision: str,
        note: str | None,
    ) -> Decision:
        """Decide a submission; an approval completes the item in the same transaction."""
        if decision not in DECISIONS:
            raise ValueError(f"unknown decision {decision!r}")
        note = clean_note(note, required=decision != APPROVED)
        return await self.db.run_write(
            self._decide, guild_id, submission_id, reviewer_id, decision, note, self.clock.now()
        )

    def _decide(
        self,
        s: Session,
        guild_id: int,
        submission_id: int,
        reviewer_id: int,
        decision: str,
        note: str | None,
        now: dt.datetime,
    ) -> Decision:
        # One conditional UPDATE decides: a second reviewer at the same moment changes nothing
        # (on PostgreSQL it waits for the first and then finds the row decided).
        result = s.execute(
            update(Sub)
            .where(
                Sub.id == submission_id,
                *_open(guild_id),
                Sub.user_id != reviewer_id,
                _free_for(reviewer_id, now),
            )
            .values(decision=decision, decided_by=reviewer_id, decided_at=now, note=note)
        )
        row = s.execute(select(Sub).where(Sub.id == submission_id)).scalar_one_or_none()
        if result.rowcount != 1 or row is None:  # type: ignore[attr-defined]
            raise UserError(_refusal(row, guild_id, submission_id, reviewer_id))
        s.add(
            AuditEntry(
                guild_id=guild_id,
                actor_id=reviewer_id,
                member_id=row.user_id,
                item_id=row.item_id,
                action=AUDIT_ACTIONS[decision],
                created_at=now,
            )
        )
        change = None
        item = self.roadmap.item(row.item_id)
        if decision == APPROVED and item is not None:
            change = self.progress.complete_in(
                s, guild_id, row.user_id, item, None, row.evidence, now
            )
        return Decision(self._submission(row, now), change)

    async def set_post(self, submission_id: int, channel_id: int, message_id: int) -> None:
        """Remember the review channel's post of a submission, to update it later."""
        async with self.db.write.begin() as s:
            await s.execute(
                update(Sub)
                .where(Sub.id == submission_id)
                .values(post_channel_id=channel_id, post_message_id=message_id)
            )

    # -- telling the member when their DMs are closed --

    async def mark_undelivered(self, submission_id: int) -> None:
        """The decision's DM failed: tell the member after their next command."""
        async with self.db.write.begin() as s:
            row = (
                await s.execute(
                    update(Sub)
                    .where(Sub.id == submission_id)
                    .values(notice_pending=True)
                    .returning(Sub.guild_id, Sub.user_id)
                )
            ).one_or_none()
        if row is not None:
            self._untold.mark(*row)

    async def take_notices(self, guild_id: int, user_id: int) -> tuple[Submission, ...]:
        """Decisions the member was not told of by DM, each returned exactly once."""
        # Checked after every command: the server's untold members are known in memory, so
        # the common case reads nothing at all.
        token = await self._untold.pending(guild_id, user_id)
        if token is None:
            return ()
        mine = (Sub.guild_id == guild_id, Sub.user_id == user_id, Sub.notice_pending.is_(True))
        key = {"guild": guild_id, "user": user_id}
        ids = [row.id for row in await self.db.run_fast_read(_all_rows, _NOTICES, key)]
        self._untold.told(guild_id, user_id, token)
        if not ids:
            return ()
        now = self.clock.now()
        async with self.db.write.begin() as s:
            taken = set(
                await s.scalars(
                    update(Sub)
                    .where(Sub.id.in_(ids), *mine)
                    .values(notice_pending=False)
                    .returning(Sub.id)
                )
            )
            rows = (
                await s.scalars(select(Sub).where(Sub.id.in_(taken)).order_by(Sub.decided_at))
            ).all()
        return tuple(self._submission(r, now) for r in rows)

    async def _load_untold(self, guild_id: int) -> set[int]:
        """The server's members with a decision they were not told of."""
        rows = await self.db.run_fast_read(_all_rows, _UNTOLD, {"guild": guild_id})
        return {row.user_id for row in rows}

    # -- numbers --

    async def stats(self, guild_id: int) -> ReviewStats:
        """Open submissions, waits and decisions per reviewer over the last days."""
        now = self.clock.now()
        cut = now - REVIEW_CLAIM
        async with self.db.read() as s:
            open_count, claimed, oldest = (
                await s.execute(
                    select(
                        func.count(),
                        func.count(Sub.id).filter(
                            Sub.claimed_by.is_not(None), Sub.claimed_at > cut
                        ),
                        func.min(Sub.submitted_at),
                    ).where(*_open(guild_id))
                )
            ).one()
            median, p90, rows = await s.run_sync(_waits, guild_id, now)
        counts: dict[int | None, dict[str, int]] = {}
        for row in rows:
            counts.setdefault(row.decided_by, dict.fromkeys(DECISIONS, 0))[row.decision] += 1
        reviewers = sorted(
            (ReviewerCount(r, c[APPROVED], c[CHANGES], c[REJECTED]) for r, c in counts.items()),
            key=lambda r: (-r.total, r.reviewer_id is None, r.reviewer_id or 0),
        )
        return ReviewStats(
            days=REVIEW_STATS_DAYS,
            open=int(open_count or 0),
            claimed=int(claimed or 0),
            oldest_open_at=oldest,
            decided=len(rows),
            median_wait=median,
            p90_wait=p90,
            reviewers=tuple(reviewers),
        )

    def _submission(self, row: Any, now: dt.datetime) -> Submission:
        """A submission from its row (the ORM object or a Core row of all its columns)."""
        item = self.roadmap.item(row.item_id)
        assert item is not None, f"unknown roadmap id {row.item_id} in review_submissions"
        live = (
            row.claimed_by is not None
            and row.claimed_at is not None
            and row.claimed_at > now - REVIEW_CLAIM
            and row.decided_at is None
        )
        return Submission(
            id=row.id,
            guild_id=row.guild_id,
            user_id=row.user_id,
            item=item,
            evidence=row.evidence,
            channel_id=row.channel_id,
            submitted_at=row.submitted_at,
            updated_at=row.updated_at,
            claimed_by=row.claimed_by if live else None,
            claimed_at=row.claimed_at if live else None,
            post_channel_id=row.post_channel_id,
            post_message_id=row.post_message_id,
            decision=row.decision,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            note=row.note,
        )


def _policy(s: Session, guild_id: int) -> ReviewPolicy:
    roles = tuple(
        s.scalars(
            select(ReviewerRole.role_id)
            .where(ReviewerRole.guild_id == guild_id)
            .order_by(ReviewerRole.role_id)
        )
    )
    return _policy_of(guild_id, s.get(ReviewSettings, guild_id), roles)


def _policy_of(guild_id: int, settings: Any, roles: tuple[int, ...] = ()) -> ReviewPolicy:
    """The policy from a `review_settings` row (an ORM object or a Core row) or None."""
    if settings is None:
        return ReviewPolicy(guild_id, frozenset(), None, None, roles)
    return ReviewPolicy(
        guild_id=guild_id,
        categories=frozenset(
            category for name, category in REVIEW_CATEGORIES.items() if getattr(settings, name)
        ),
        from_level=settings.from_level,
        channel_id=settings.channel_id,
        role_ids=roles,
    )


_sub = ReviewSubmission.__table__
_MINE_PENDING = (
    _sub.c.guild_id == bindparam("guild"),
    _sub.c.decided_at.is_(None),
    _sub.c.user_id == bindparam("user"),
)
_PENDING = select(_sub).where(*_MINE_PENDING).order_by(_sub.c.submitted_at, _sub.c.id)
# Whether the member has a submission awaiting review (a column for other reads).
ANY_PENDING = exists().where(*_MINE_PENDING)
_UNTOLD = (
    select(_sub.c.user_id)
    .where(_sub.c.guild_id == bindparam("guild"), _sub.c.notice_pending.is_(True))
    .distinct()
)
_NOTICES = select(_sub.c.id).where(
    _sub.c.guild_id == bindparam("guild"),
    _sub.c.user_id == bindparam("user"),
    _sub.c.notice_pending.is_(True),
)


def _all_rows(s: Executes, statement: Any, key: dict[str, int]) -> list[Any]:
    return list(s.execute(statement, key).all())


_rs = ReviewSettings.__table__.c
_SETTINGS = select(
    _rs.projects, _rs.professional, _rs.checklist, _rs.from_level, _rs.channel_id
).where(_rs.guild_id == bindparam("guild"))
_c = Completion.__table__.c
_DONE = select(_c.item_id).where(
    _c.guild_id == bindparam("guild"),
    _c.user_id == bindparam("user"),
    _c.item_id == bindparam("item"),
)


def _is_done(s: Executes, guild_id: int, user_id: int, item: Item) -> bool:
    key = {"guild": guild_id, "user": user_id, "item": item.id}
    return s.execute(_DONE, key).first() is not None


def _waits(
    s: Session, guild_id: int, now: dt.datetime
) -> tuple[dt.timedelta | None, dt.timedelta | None, list[Any]]:
    """Median and 90th-percentile wait of the decisions of the last days, and those rows."""
    rows = list(
        s.execute(
            select(Sub.submitted_at, Sub.decided_at, Sub.decided_by, Sub.decision).where(
                Sub.guild_id == guild_id,
                Sub.decided_at >= now - dt.timedelta(days=REVIEW_STATS_DAYS),
                Sub.decision.in_(DECISIONS),
            )
        )
    )
    if not rows:
        return None, None, rows
    waits = sorted((r.decided_at - r.submitted_at).total_seconds() for r in rows)
    median = dt.timedelta(seconds=percentile(waits, 0.5))
    return median, dt.timedelta(seconds=percentile(waits, 0.9)), rows


def _refusal(
    row: ReviewSubmission | None, guild_id: int, submission_id: int, reviewer_id: int
) -> str:
    """Why a reviewer cannot take or decide a submission."""
    if row is None or row.guild_id != guild_id:
        return f"There is no submission #{submission_id} here: see `/review queue`."
    if row.decided_at is not None:
        label = DECISION_LABELS.get(row.decision or "", "decided")
        return f"Submission #{submission_id} was already decided ({label}): nothing changed."
    if row.user_id == reviewer_id:
        return "You cannot review your own submission: another reviewer will."
    hours = int(REVIEW_CLAIM.total_seconds() // 3600)
    return (
        f"Another reviewer has claimed submission #{submission_id}. If it is not decided "
        f"within {hours} hours of the claim, it is back in the queue."
    )


# -- a member's data (`/mydata`) --


def export_rows(s: Session, guild_id: int, user_id: int) -> dict[str, list[dict[str, object]]]:
    """The member's submissions with the decisions on them, and the decisions they made."""
    own = s.scalars(
        select(Sub)
        .where(Sub.guild_id == guild_id, Sub.user_id == user_id)
        .order_by(Sub.submitted_at, Sub.id)
    ).all()
    made = s.scalars(
        select(Sub)
        .where(Sub.guild_id == guild_id, Sub.decided_by == user_id, Sub.user_id != user_id)
        .order_by(Sub.decided_at, Sub.id)
    ).all()

    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "review_submissions": [
            {
                "id": r.id,
                "item_id": r.item_id,
                "evidence": r.evidence,
                "submitted_at": iso(r.submitted_at),
                "updated_at": iso(r.updated_at),
                "decision": r.decision,
                "decided_at": iso(r.decided_at),
                "note": r.note,
            }
            for r in own
        ],
        "reviews_made": [
            {
                "submission_id": r.id,
                "item_id": r.item_id,
                "decision": r.decision,
                "decided_at": iso(r.decided_at),
                "note": r.note,
            }
            for r in made
        ],
    }


def forget(s: Session, guild_id: int, user_id: int) -> tuple[int, list[tuple[int, int]]]:
    """Delete the member's submissions; keep their decisions as a reviewer, without their name.

    Returns how many submissions went, and the review channel posts of them to delete.
    """
    mine = (Sub.guild_id == guild_id, Sub.user_id == user_id)
    posts = [
        (r.post_channel_id, r.post_message_id)
        for r in s.execute(
            select(Sub.post_channel_id, Sub.post_message_id).where(
                *mine, Sub.post_message_id.is_not(None)
            )
        )
    ]
    deleted = s.execute(delete(Sub).where(*mine))
    s.execute(
        update(Sub)
        .where(Sub.guild_id == guild_id, Sub.decided_by == user_id)
        .values(decided_by=None)
    )
    s.execute(
        update(Sub)
        .where(Sub.guild_id == guild_id, Sub.claimed_by == user_id)
        .values(claimed_by=None, claimed_at=None)
    )
    s.execute(
        update(AuditEntry)
        .where(
            AuditEntry.guild_id == guild_id,
            AuditEntry.actor_id == user_id,
            AuditEntry.action.in_(AUDIT_ACTIONS.values()),
        )
        .values(actor_id=None)
    )
    return deleted.rowcount, posts  # type: ignore[attr-defined]
