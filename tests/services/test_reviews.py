"""ReviewService against a real database: what needs review, submitting, claims, decisions."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select

from bot.db import Database
from bot.db.models import ReviewSubmission
from bot.defaults import REVIEW_CLAIM
from bot.errors import UserError
from bot.roadmap import Roadmap
from bot.services.container import Services, build
from bot.services.leaderboard import Period
from bot.services.progress import ProgressChange
from bot.services.reviews import (
    APPROVED,
    CHANGES,
    REJECTED,
    ReviewPolicy,
    Submitted,
    percentile,
)
from tests.support.fakes import FakeClock

G1, G2 = 1001, 2002
ALICE, BOB, REVIEWER, OTHER_REVIEWER = 11, 22, 33, 44
REVIEWER_ROLE = 500


@pytest.fixture
def services(db: Database, roadmap: Roadmap, clock: FakeClock) -> Services:
    return build(db, roadmap, clock)


def check_ids(roadmap: Roadmap, level: int) -> list[str]:
    return [i.id for i in roadmap.checklist(level)]


async def review_checklist(services: Services) -> None:
    await services.reviews.configure(G1, categories={"checklist": True}, add_role=REVIEWER_ROLE)


async def submit(
    services: Services, user: int, item_id: str, evidence: str = "a link"
) -> Submitted:
    result = await services.reviews.complete_or_submit(G1, user, item_id, evidence=evidence)
    assert isinstance(result, Submitted)
    return result


# --- what needs review --------------------------------------------------------------------


def test_policy_by_category_by_level_and_both(roadmap: Roadmap) -> None:
    l1_check = roadmap.checklist(1)[0]
    l3_check = roadmap.checklist(3)[0]
    l3_project = roadmap.level(3).milestones["projects"][0]
    l1_knowledge = roadmap.level(1).milestones["knowledge"][0]
    nothing = ReviewPolicy(G1, frozenset(), None, None, ())
    checklist = ReviewPolicy(G1, frozenset({"check"}), None, None, ())
    from_3 = ReviewPolicy(G1, frozenset(), 3, None, ())
    both = ReviewPolicy(G1, frozenset({"check", "projects"}), 3, None, ())
    assert not any(nothing.covers(i) for i in roadmap.items)
    assert checklist.covers(l1_check) and checklist.covers(l3_check)
    assert not checklist.covers(l3_project)
    assert from_3.covers(l3_project) and from_3.covers(l3_check)
    assert not from_3.covers(l1_check) and not from_3.covers(l1_knowledge)
    assert both.covers(l3_check) and both.covers(l3_project)
    assert not both.covers(l1_check)
    assert not both.covers(roadmap.level(3).milestones["knowledge"][0])


async def test_nothing_needs_review_by_default(services: Services, roadmap: Roadmap) -> None:
    item_id = check_ids(roadmap, 1)[0]
    result = await services.reviews.complete_or_submit(G1, ALICE, item_id)
    assert isinstance(result, ProgressChange) and result.changed
    policy = await services.reviews.policy(G1)
    assert not policy.active and policy.role_ids == ()


async def test_configure_changes_only_what_is_given(services: Services) -> None:
    policy = await services.reviews.configure(
        G1, categories={"projects": True, "checklist": True}, from_level=2, channel_id=77
    )
    assert policy.categories == {"projects", "check"} and policy.from_level == 2
    policy = await services.reviews.configure(G1, categories={"projects": False}, add_role=5)
    assert policy.categories == {"check"} and policy.from_level == 2
    assert policy.channel_id == 77 and policy.role_ids == (5,)
    policy = await services.reviews.configure(G1, from_level=0, clear_channel=True, remove_role=5)
    assert policy.from_level is None and policy.channel_id is None and policy.role_ids == ()
    assert (await services.reviews.policy(G2)).active is False


async def test_may_review_needs_a_reviewer_role_or_manage_server(services: Services) -> None:
    await review_checklist(services)
    reviews = services.reviews
    assert await reviews.may_review(G1, [1, REVIEWER_ROLE], is_admin=False)
    assert not await reviews.may_review(G1, [1, 2], is_admin=False)
    assert not await reviews.may_review(G1, [], is_admin=False)
    assert await reviews.may_review(G1, [], is_admin=True)
    assert not await reviews.may_review(G2, [REVIEWER_ROLE], is_admin=False)


# --- submitting ---------------------------------------------------------------------------


async def test_submitting_needs_evidence_and_does_not_count(
    services: Services, roadmap: Roadmap
) -> None:
    await review_checklist(services)
    item_id = check_ids(roadmap, 1)[0]
    with pytest.raises(UserError, match="evidence"):
        await services.reviews.complete_or_submit(G1, ALICE, item_id)
    result = await submit(services, ALICE, item_id, "https://github.com/alice/etl")
    assert not result.replaced and result.typical_wait is None
    assert result.submission.evidence == "https://github.com/alice/etl"
    assert await services.progress.done_ids(G1, ALICE) == set()
    assert [p.item.id for p in await services.reviews.pending(G1, ALICE)] == [item_id]
    progress = await services.progress.member_progress(G1, ALICE)
    assert progress.completed == 0 and progress.level == 0
    board = await services.leaderboard.page(G1, Period.ALL, 0)
    assert board.total == 0
    # Items outside the review settings complete as before.
    other = roadmap.level(1).milestones["knowledge"][0].id
    assert isinstance(await services.reviews.complete_or_submit(G1, ALICE, other), ProgressChange)


async def test_submitting_again_replaces_the_evidence_and_keeps_the_place(
    services: Services, roadmap: Roadmap, clock: FakeClock
) -> None:
    await review_checklist(services)
    item_id = check_ids(roadmap, 1)[0]
    first = await submit(services, ALICE, item_id, "first try")
    clock.advance(dt.timedelta(hours=3))
    second = await submit(services, ALICE, item_id, "better link")
    assert second.replaced
    assert second.submission.id == first.submission.id
    assert second.submission.evidence == "better link"
    assert second.submission.submitted_at == first.submission.submitted_at
    assert second.submission.updated_at > first.submission.updated_at
    page = await services.reviews.queue(G1)
    assert page.total == 1 and page.entries[0].evidence == "better link"


async def test_items_done_before_review_stay_done(services: Services, roadmap: Roadmap) -> None:
    done = check_ids(roadmap, 1)[:3]
    for item_id in done:
        await services.progress.complete(G1, ALICE, item_id)
    await review_checklist(services)
    assert await services.progress.done_ids(G1, ALICE) == set(done)
    again = await services.reviews.complete_or_submit(G1, ALICE, done[0], evidence="x")
    assert isinstance(again, ProgressChange) and not again.changed
    assert await services.reviews.pending(G1, ALICE) == ()
    await services.reviews.configure(G1, categories={"checklist": False}, from_level=1)
    assert await services.progress.done_ids(G1, ALICE) == set(done)


async def test_withdraw(services: Services, roadmap: Roadmap) -> None:
    await review_checklist(services)
    item_id = check_ids(roadmap, 1)[0]
    await submit(services, ALICE, item_id)
    withdrawn = await services.reviews.withdraw(G1, ALICE, item_id)
    assert withdrawn is not None and withdrawn.decision == "withdrawn"
    assert await services.reviews.withdraw(G1, ALICE, item_id) is None
    assert (await services.reviews.queue(G1)).total == 0


# --- the queue and claims -----------------------------------------------------------------


async def test_queue_is_oldest_first_and_paged(
    services: Services, roadmap: Roadmap, clock: FakeClock
) -> None:
    await review_checklist(services)
    ids = check_ids(roadmap, 1) + check_ids(roadmap, 2)
    for item_id in ids[:7]:
        clock.advance(dt.timedelta(minutes=1))
        await submit(services, ALICE, item_id)
    first = await services.reviews.queue(G1, 0, per_page=5)
    second = await services.reviews.queue(G1, 1, per_page=5)
    assert (first.total, first.pages, second.page) == (7, 2, 1)
    assert [e.item.id for e in first.entries + second.entries] == ids[:7]
    assert (await services.reviews.queue(G1, 9, per_page=5)).page == 1
    assert (await services.reviews.queue(G2)).total == 0


async def test_claim_takes_the_oldest_free_one_never_your_own(
    services: Services, roadmap: Roadmap, clock: FakeClock
) -> None:
    await review_checklist(services)
    items = check_ids(roadmap, 1)
    own = await submit(services, REVIEWER, items[0])
    clock.advance(dt.timedelta(minutes=1))
    a = await submit(services, ALICE, items[1])
    clock.advance(dt.timedelta(minutes=1))
    b = await submit(services, BOB, items[2])
    claimed = await services.reviews.claim(G1, REVIEWER)
    assert claimed.id == a.submission.id and claimed.claimed_by == REVIEWER
    # The other reviewer gets the oldest free one (the first reviewer's own), not the claimed
    # one; each asking again gets back what they hold.
    other = await services.reviews.claim(G1, OTHER_REVIEWER)
    assert other.id == own.submission.id
    assert (await services.reviews.claim(G1, OTHER_REVIEWER)).id == own.submission.id
    assert (await services.reviews.claim(G1, REVIEWER)).id == a.submission.id
    with pytest.raises(UserError, match="Nothing to take"):
        await services.reviews.claim(G1, BOB)  # b is Bob's own; the others are claimed
    assert (await services.reviews.claim(G1, ALICE)).id == b.submission.id
    with pytest.raises(UserError, match="Another reviewer has claimed"):
        await services.reviews.claim(G1, OTHER_REVIEWER, a.submission.id)
    with pytest.raises(UserError, match="your own submission"):
        await services.reviews.claim(G1, REVIEWER, own.submission.id)
    with pytest.raises(UserError, match="your own submission"):
        await services.reviews.decide(G1, own.submission.id, REVIEWER, APPROVED, None)
    with pytest.raises(UserError, match="no submission #999"):
        await services.reviews.claim(G1, REVIEWER, 999)


async def test_a_claim_returns_to_the_queue_after_48_hours(
    services: Services, roadmap: Roadmap, clock: FakeClock
) -> None:
    await review_checklist(services)
    sub = (await submit(services, ALICE, check_ids(roadmap, 1)[0])).submission
    await services.reviews.claim(G1, REVIEWER)
    with pytest.raises(UserError, match="Nothing to take"):
        await services.reviews.claim(G1, OTHER_REVIEWER)
    with pytest.raises(UserError, match="Another reviewer"):
        await services.reviews.decide(G1, sub.id, OTHER_REVIEWER, APPROVED, None)
    clock.advance(REVIEW_CLAIM - dt.timedelta(minutes=1))
    assert (await services.reviews.queue(G1)).entries[0].claimed_by == REVIEWER
    clock.advance(dt.timedelta(minutes=1))
    assert (await services.reviews.queue(G1)).entries[0].claimed_by is None
    taken = await services.reviews.claim(G1, OTHER_REVIEWER)
    assert taken.id == sub.id and taken.claimed_by == OTHER_REVIEWER
    with pytest.raises(UserError, match="Another reviewer"):
        await services.reviews.decide(G1, sub.id, REVIEWER, APPROVED, None)


async def test_release_gives_the_claim_back(services: Services, roadmap: Roadmap) -> None:
    await review_checklist(services)
    sub = (await submit(services, ALICE, check_ids(roadmap, 1)[0])).submission
    await services.reviews.claim(G1, REVIEWER)
    assert not await services.reviews.release(G1, OTHER_REVIEWER, sub.id)
    assert await services.reviews.release(G1, REVIEWER, sub.id)
    assert (await services.reviews.claim(G1, OTHER_REVIEWER)).id == sub.id


# --- decisions ----------------------------------------------------------------------------


async def test_approval_completes_the_item_with_level_and_announcement_once(
    services: Services, roadmap: Roadmap
) -> None:
    items = check_ids(roadmap, 1)
    for item_id in items[:-1]:
        await services.progress.complete(G1, ALICE, item_id)
    await review_checklist(services)
    sub = (await submit(services, ALICE, items[-1], "my repo")).submission
    decision = await services.reviews.decide(G1, sub.id, REVIEWER, APPROVED, None)
    change = decision.change
    assert change is not None and change.changed
    assert (change.old_level, change.new_level, change.announce) == (0, 1, (1,))
    assert decision.submission.decision == APPROVED and decision.submission.decided_by == REVIEWER
    progress = await services.progress.member_progress(G1, ALICE)
    assert progress.level == 1 and progress.completed == 7
    [approved] = [d for d in progress.recent if d.item.id == items[-1]]
    assert approved.evidence == "my repo"
    # The approved item names projects 1-2: they come with it, and count like any item.
    assert (await services.leaderboard.page(G1, Period.ALL, 0)).entries[0].completed == 9
    config = await services.guilds.config(G1)
    assert [(a.action, a.actor_id, a.member_id) for a in config.recent_audit] == [
        ("approve", REVIEWER, ALICE)
    ]
    with pytest.raises(UserError, match="already decided"):
        await services.reviews.decide(G1, sub.id, OTHER_REVIEWER, REJECTED, "no")
    # Undo and a new approval never announce again.
    await services.progress.undo(G1, ALICE, items[-1])
    sub = (await submit(services, ALICE, items[-1])).submission
    again = await services.reviews.decide(G1, sub.id, REVIEWER, APPROVED, None)
    assert again.change is not None and again.change.new_level == 1 and again.change.announce == ()


async def test_projects_go_under_review_with_the_checklist_item_naming_them(
    services: Services, roadmap: Roadmap
) -> None:
    await review_checklist(services)
    first, second = roadmap.projects_of("l1.check.foundation-1-2")
    policy = await services.reviews.policy(G1)
    assert policy.covers(first) and policy.covers(second)
    assert not policy.covers(roadmap.level(1).milestones["projects"][0])
    for project in (first, second):
        sub = (await submit(services, ALICE, project.id)).submission
        assert await services.progress.done_ids(G1, ALICE) <= {first.id}
        decision = await services.reviews.decide(G1, sub.id, REVIEWER, APPROVED, None)
        assert decision.change is not None
    # Approving the last project completes the item it names: no way around the review.
    assert [i.id for i in decision.change.linked] == ["l1.check.foundation-1-2"]
    assert {first.id, second.id, "l1.check.foundation-1-2"} <= await services.progress.done_ids(
        G1, ALICE
    )


async def test_changes_and_reject_need_a_note_and_allow_a_new_submission(
    services: Services, roadmap: Roadmap
) -> None:
    await review_checklist(services)
    item_id = check_ids(roadmap, 1)[0]
    sub = (await submit(services, ALICE, item_id, "v1")).submission
    with pytest.raises(UserError, match="Write a note"):
        await services.reviews.decide(G1, sub.id, REVIEWER, CHANGES, "  ")
    decision = await services.reviews.decide(G1, sub.id, REVIEWER, CHANGES, "Add the tests")
    assert decision.change is None and decision.submission.note == "Add the tests"
    assert await services.progress.done_ids(G1, ALICE) == set()
    resubmitted = await submit(services, ALICE, item_id, "v2")
    assert not resubmitted.replaced and resubmitted.submission.id != sub.id
    rejected = await services.reviews.decide(
        G1, resubmitted.submission.id, REVIEWER, REJECTED, "Not this item"
    )
    assert rejected.change is None
    history = await services.reviews.history(G1, ALICE, item_id)
    assert [h.decision for h in history] == [REJECTED, CHANGES]
    actions = [a.action for a in (await services.guilds.config(G1)).recent_audit]
    assert actions == ["reject", "changes"]


async def test_two_reviewers_deciding_at_once_make_one_decision(
    services: Services, roadmap: Roadmap
) -> None:
    await review_checklist(services)
    sub = (await submit(services, ALICE, check_ids(roadmap, 1)[0])).submission
    results = await asyncio.gather(
        services.reviews.decide(G1, sub.id, REVIEWER, APPROVED, None),
        services.reviews.decide(G1, sub.id, OTHER_REVIEWER, REJECTED, "no"),
        return_exceptions=True,
    )
    decided = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, UserError)]
    assert len(decided) == 1 and len(refused) == 1
    assert "already decided" in refused[0].message
    assert len((await services.guilds.config(G1)).recent_audit) == 1


async def test_notices_for_closed_dms_are_taken_once(services: Services, roadmap: Roadmap) -> None:
    await review_checklist(services)
    sub = (await submit(services, ALICE, check_ids(roadmap, 1)[0])).submission
    await services.reviews.decide(G1, sub.id, REVIEWER, CHANGES, "More detail")
    assert await services.reviews.take_notices(G1, ALICE) == ()
    await services.reviews.mark_undelivered(sub.id)
    [notice] = await services.reviews.take_notices(G1, ALICE)
    assert notice.id == sub.id and notice.note == "More detail"
    assert await services.reviews.take_notices(G1, ALICE) == ()


async def test_the_untold_members_kept_in_memory_agree_with_the_database(
    services: Services, db: Database, roadmap: Roadmap, clock: FakeClock
) -> None:
    """The service keeps each server's members with untold decisions between commands: after
    every step it answers as a service reading the database afresh would."""
    from bot.services.mydata import MyDataService

    await review_checklist(services)
    items = check_ids(roadmap, 1)

    async def untold(user: int) -> tuple[int, ...]:
        async with db.read() as s:
            ids = await s.scalars(
                select(ReviewSubmission.id)
                .where(
                    ReviewSubmission.guild_id == G1,
                    ReviewSubmission.user_id == user,
                    ReviewSubmission.notice_pending.is_(True),
                )
                .order_by(ReviewSubmission.decided_at)
            )
            return tuple(ids)

    async def agree(user: int) -> tuple[int, ...]:
        expected = await untold(user)
        got = tuple(n.id for n in await services.reviews.take_notices(G1, user))
        assert got == expected and await untold(user) == ()
        return got

    assert await agree(ALICE) == ()  # loads the server's (none)
    first = (await submit(services, ALICE, items[0])).submission
    second = (await submit(services, BOB, items[1])).submission
    await services.reviews.decide(G1, first.id, REVIEWER, CHANGES, "More")
    await services.reviews.decide(G1, second.id, REVIEWER, REJECTED, "No")
    await services.reviews.mark_undelivered(first.id)  # marked after the load: still seen
    await services.reviews.mark_undelivered(second.id)
    assert await agree(ALICE) == (first.id,)
    assert await agree(ALICE) == ()
    await MyDataService(db, clock).delete(G1, BOB)  # bob's submissions are gone
    assert await agree(BOB) == ()


# --- numbers ------------------------------------------------------------------------------


def test_percentile_interpolates() -> None:
    assert percentile([1.0, 3.0], 0.5) == 2.0
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([float(n) for n in range(1, 11)], 0.9) == pytest.approx(9.1)


async def test_stats_and_typical_wait(
    services: Services, roadmap: Roadmap, clock: FakeClock
) -> None:
    await review_checklist(services)
    items = check_ids(roadmap, 1)
    for n, hours in enumerate((24, 48, 72)):
        sub = (await submit(services, ALICE, items[n])).submission
        clock.advance(dt.timedelta(hours=hours))
        reviewer = REVIEWER if n < 2 else OTHER_REVIEWER
        decision = (APPROVED, CHANGES, REJECTED)[n]
        await services.reviews.decide(G1, sub.id, reviewer, decision, "note")
    result = await submit(services, BOB, items[0])
    assert result.typical_wait == dt.timedelta(hours=48)
    await services.reviews.claim(G1, REVIEWER)
    stats = await services.reviews.stats(G1)
    assert (stats.open, stats.claimed, stats.decided) == (1, 1, 3)
    assert stats.oldest_open_at == result.submission.submitted_at
    assert stats.median_wait == dt.timedelta(hours=48)
    assert stats.p90_wait == dt.timedelta(hours=67, minutes=12)
    counts = [(r.reviewer_id, r.approved, r.changes, r.rejected) for r in stats.reviewers]
    assert counts == [(REVIEWER, 1, 1, 0), (OTHER_REVIEWER, 0, 0, 1)]
    # Decisions older than the window are left out.
    clock.advance(dt.timedelta(days=31))
    stats = await services.reviews.stats(G1)
    assert stats.decided == 0 and stats.median_wait is None and stats.open == 1


# --- a member's data ----------------------------------------------------------------------


async def test_mydata_exports_and_deletes_submissions_and_keeps_decisions_anonymous(
    services: Services, roadmap: Roadmap
) -> None:
    await review_checklist(services)
    items = check_ids(roadmap, 1)
    mine = (await submit(services, ALICE, items[0], "alice's work")).submission
    await services.reviews.decide(G1, mine.id, REVIEWER, CHANGES, "more")
    await submit(services, ALICE, items[0], "alice again")
    # Alice reviews Bob's submission too.
    bobs = (await submit(services, BOB, items[1], "bob's work")).submission
    await services.reviews.decide(G1, bobs.id, ALICE, APPROVED, "good")

    data = await services.mydata.export(G1, ALICE)
    submissions = data["review_submissions"]
    assert isinstance(submissions, list)
    assert [(s["evidence"], s["decision"], s["note"]) for s in submissions] == [
        ("alice's work", CHANGES, "more"),
        ("alice again", None, None),
    ]
    assert data["reviews_made"] == [
        {
            "submission_id": bobs.id,
            "item_id": items[1],
            "decision": APPROVED,
            "decided_at": data["reviews_made"][0]["decided_at"],  # type: ignore[index]
            "note": "good",
        }
    ]

    deleted = await services.mydata.delete(G1, ALICE)
    assert deleted.review_submissions == 2
    assert await services.reviews.pending(G1, ALICE) == ()
    assert (await services.mydata.export(G1, ALICE))["review_submissions"] == []
    # Bob's approval stands, without Alice's name, in the submission and the audit log.
    bob_history = await services.reviews.history(G1, BOB, items[1])
    assert bob_history[0].decision == APPROVED and bob_history[0].decided_by is None
    assert items[1] in await services.progress.done_ids(G1, BOB)
    audit = (await services.guilds.config(G1)).recent_audit
    assert [(a.action, a.actor_id, a.member_id) for a in audit] == [("approve", None, BOB)]
    stats = await services.reviews.stats(G1)
    assert [(r.reviewer_id, r.total) for r in stats.reviewers] == [(None, 1)]
