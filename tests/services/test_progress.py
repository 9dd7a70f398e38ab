"""ProgressService against a real, migrated SQLite file: completions, levels, threshold."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import insert

from bot.db import Database
from bot.db.models import CheckinAnswer, CheckinCycle
from bot.errors import NotFoundError, UserError
from bot.roadmap import Roadmap
from bot.services.guilds import GuildService
from bot.services.leaderboard import LeaderboardService, Period
from bot.services.progress import MAX_EVIDENCE, ProgressService, level_from_done
from tests.support.fakes import FakeClock

G1, G2 = 1001, 2002
ALICE, BOB, ADMIN = 11, 22, 99
T0 = dt.datetime(2025, 3, 3, 12, 0, tzinfo=dt.UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture
def svc(db: Database, roadmap: Roadmap, clock: FakeClock) -> ProgressService:
    return ProgressService(db, roadmap, clock)


def check_ids(roadmap: Roadmap, level: int) -> list[str]:
    return [i.id for i in roadmap.checklist(level)]


def milestone_ids(roadmap: Roadmap, level: int) -> list[str]:
    lvl = roadmap.level(level)
    return [i.id for items in lvl.milestones.values() for i in items]


async def complete_all(svc: ProgressService, guild: int, user: int, ids: list[str]):
    change = None
    for n, item_id in enumerate(ids):
        svc.clock.set(at(n))
        change = await svc.complete(guild, user, item_id)
    return change


# --- completing and undoing -------------------------------------------------------------


async def test_complete_marks_item_done_and_counts(svc: ProgressService, roadmap: Roadmap):
    item_id = check_ids(roadmap, 1)[0]
    change = await svc.complete(G1, ALICE, item_id, display_name="Alice", evidence="a link")
    assert change.changed is True
    assert change.item.id == item_id
    assert change.completed_count == 1
    assert await svc.done_ids(G1, ALICE) == {item_id}
    progress = await svc.member_progress(G1, ALICE)
    assert progress.completed == 1
    assert progress.display_name == "Alice"
    assert progress.recent[0].item.id == item_id
    assert progress.recent[0].evidence == "a link"
    assert progress.total == len(roadmap.items)


async def test_complete_twice_is_a_noop(svc: ProgressService, roadmap: Roadmap):
    item_id = check_ids(roadmap, 1)[0]
    svc.clock.set(at(0))
    first = await svc.complete(G1, ALICE, item_id, evidence="first")
    svc.clock.set(at(5))
    second = await svc.complete(G1, ALICE, item_id, evidence="second")
    assert first.changed is True
    assert second.changed is False
    assert second.completed_count == 1
    assert second.announce == ()
    progress = await svc.member_progress(G1, ALICE)
    assert progress.completed == 1
    # the original completion is kept: its evidence and time
    assert progress.recent[0].evidence == "first"
    assert progress.recent[0].completed_at == at(0)


async def test_undo_not_done_is_a_noop(svc: ProgressService, roadmap: Roadmap):
    change = await svc.undo(G1, ALICE, check_ids(roadmap, 1)[0])
    assert change.changed is False
    assert change.completed_count == 0
    assert change.old_level == change.new_level == 0
    await svc.complete(G1, ALICE, check_ids(roadmap, 1)[1])
    change = await svc.undo(G1, ALICE, check_ids(roadmap, 1)[0])
    assert change.changed is False
    assert change.completed_count == 1


async def test_undo_removes_completion(svc: ProgressService, roadmap: Roadmap):
    a, b = milestone_ids(roadmap, 1)[:2]
    svc.clock.set(at(0))
    await svc.complete(G1, ALICE, a)
    svc.clock.set(at(1))
    await svc.complete(G1, ALICE, b)
    change = await svc.undo(G1, ALICE, a)
    assert change.changed is True
    assert change.completed_count == 1
    assert await svc.done_ids(G1, ALICE) == {b}


async def test_unknown_id_raises_not_found_with_advice(svc: ProgressService):
    with pytest.raises(NotFoundError) as info:
        await svc.complete(G1, ALICE, "l9.nothing.here")
    assert "l9.nothing.here" in info.value.message
    assert "/milestone list" in info.value.message
    with pytest.raises(NotFoundError):
        await svc.undo(G1, ALICE, "l9.nothing.here")
    # nothing was written for the failed attempt
    progress = await svc.member_progress(G1, ALICE)
    assert progress.completed == 0


async def test_id_with_surrounding_spaces_resolves(svc: ProgressService, roadmap: Roadmap):
    item_id = check_ids(roadmap, 1)[0]
    change = await svc.complete(G1, ALICE, f"  {item_id} ")
    assert change.changed and change.item.id == item_id


async def test_evidence_limit(svc: ProgressService, roadmap: Roadmap):
    ids = check_ids(roadmap, 1)
    with pytest.raises(UserError) as info:
        await svc.complete(G1, ALICE, ids[0], evidence="x" * (MAX_EVIDENCE + 1))
    assert str(MAX_EVIDENCE) in info.value.message
    assert await svc.done_ids(G1, ALICE) == set()
    ok = await svc.complete(G1, ALICE, ids[0], evidence="y" * MAX_EVIDENCE)
    assert ok.changed
    # blank evidence is stored as none; inner whitespace is collapsed
    svc.clock.set(at(10))
    await svc.complete(G1, ALICE, ids[1], evidence="   ")
    svc.clock.set(at(20))
    await svc.complete(G1, ALICE, ids[2], evidence="  see \n  repo  ")
    recent = {d.item.id: d.evidence for d in (await svc.member_progress(G1, ALICE)).recent}
    assert recent[ids[1]] is None
    assert recent[ids[2]] == "see repo"


# --- levels -----------------------------------------------------------------------------


async def test_last_checklist_item_reaches_level_and_announces_once(
    svc: ProgressService, roadmap: Roadmap
):
    ids = check_ids(roadmap, 1)
    for n, item_id in enumerate(ids[:-1]):
        svc.clock.set(at(n))
        change = await svc.complete(G1, ALICE, item_id)
        assert change.new_level == 0
        assert change.announce == ()
    svc.clock.set(at(50))
    change = await svc.complete(G1, ALICE, ids[-1])
    assert (change.old_level, change.new_level) == (0, 1)
    assert change.levels_gained == (1,)
    assert change.announce == (1,)

    svc.clock.set(at(60))
    undo = await svc.undo(G1, ALICE, ids[-1])
    assert (undo.old_level, undo.new_level) == (1, 0)
    assert undo.levels_lost == (1,)
    assert undo.announce == ()
    assert (await svc.member_progress(G1, ALICE)).level == 0

    svc.clock.set(at(70))
    redo = await svc.complete(G1, ALICE, ids[-1])
    assert (redo.old_level, redo.new_level) == (0, 1)
    assert redo.levels_gained == (1,)
    assert redo.announce == ()  # never announced twice
    assert (await svc.member_progress(G1, ALICE)).level == 1


async def test_higher_checklist_does_not_skip_lower_level(svc: ProgressService, roadmap: Roadmap):
    change = await complete_all(svc, G1, ALICE, check_ids(roadmap, 2))
    assert change.new_level == 0
    assert change.announce == ()
    l1 = check_ids(roadmap, 1)
    await complete_all(svc, G1, ALICE, l1[:-1])
    svc.clock.set(at(100))
    change = await svc.complete(G1, ALICE, l1[-1])
    assert (change.old_level, change.new_level) == (0, 2)
    assert change.levels_gained == (1, 2)
    assert change.announce == (1, 2)
    progress = await svc.member_progress(G1, ALICE)
    assert progress.level == 2
    assert [lp.reached for lp in progress.levels] == [True, True, False, False, False]
    # undoing a level-1 item drops both levels
    undo = await svc.undo(G1, ALICE, l1[0])
    assert undo.levels_lost == (1, 2)


async def test_milestones_count_but_never_change_level(
    svc: ProgressService, roadmap: Roadmap, clock: FakeClock
):
    ms = milestone_ids(roadmap, 1)[:6] + milestone_ids(roadmap, 2)[:4]
    change = await complete_all(svc, G1, ALICE, ms)
    assert change.new_level == 0
    assert change.announce == ()
    assert change.completed_count == len(ms)
    progress = await svc.member_progress(G1, ALICE)
    assert progress.level == 0
    assert progress.completed == len(ms)
    assert progress.levels[0].milestones_done == 6
    assert progress.levels[1].milestones_done == 4
    assert progress.levels[0].checklist_done == 0
    board = await LeaderboardService(svc.db, clock).page(G1, Period.ALL)
    assert board.entries[0].completed == len(ms)

    # at level 1, completing and undoing milestones leaves the level alone
    await complete_all(svc, G1, ALICE, check_ids(roadmap, 1))
    undo = await svc.undo(G1, ALICE, ms[0])
    assert undo.changed and (undo.old_level, undo.new_level) == (1, 1)


async def test_member_progress_per_level_counts(svc: ProgressService, roadmap: Roadmap):
    await complete_all(svc, G1, ALICE, check_ids(roadmap, 3)[:2] + milestone_ids(roadmap, 3)[:3])
    progress = await svc.member_progress(G1, ALICE, recent=2)
    lvl3 = progress.levels[2]
    assert lvl3.number == 3
    assert (lvl3.checklist_done, lvl3.checklist_total) == (2, len(check_ids(roadmap, 3)))
    assert (lvl3.milestones_done, lvl3.milestones_total) == (3, len(milestone_ids(roadmap, 3)))
    assert len(progress.recent) == 2
    # newest first
    assert progress.recent[0].completed_at > progress.recent[1].completed_at


async def test_unknown_member_progress_is_empty(svc: ProgressService):
    progress = await svc.member_progress(G1, 424242)
    assert progress.level == 0
    assert progress.completed == 0
    assert progress.recent == ()
    assert progress.hidden is False


# --- threshold --------------------------------------------------------------------------


def test_level_from_done_threshold(roadmap: Roadmap):
    l1 = check_ids(roadmap, 1)
    assert len(l1) == 7
    assert level_from_done(roadmap, l1[:4], 50) == 1  # ceil(3.5) = 4
    assert level_from_done(roadmap, l1[:3], 50) == 0
    assert level_from_done(roadmap, l1[:6], 100) == 0
    assert level_from_done(roadmap, l1, 100) == 1
    assert level_from_done(roadmap, l1[:1], 1) == 1
    assert level_from_done(roadmap, [], 1) == 0


async def test_threshold_applies_at_next_change(
    svc: ProgressService, db: Database, roadmap: Roadmap, clock: FakeClock
):
    guilds = GuildService(db, clock)
    l1 = check_ids(roadmap, 1)
    await complete_all(svc, G1, ALICE, l1[:4])
    assert (await svc.member_progress(G1, ALICE)).level == 0
    await guilds.set_threshold(G1, 50)
    # not applied yet: the change has not happened
    assert (await svc.member_progress(G1, ALICE)).level == 0
    svc.clock.set(at(30))
    change = await svc.complete(G1, ALICE, l1[4])
    assert (change.old_level, change.new_level) == (0, 1)
    assert change.announce == (1,)


async def test_lowered_threshold_applies_at_next_change_of_any_item(
    svc: ProgressService, db: Database, roadmap: Roadmap, clock: FakeClock
):
    await complete_all(svc, G1, ALICE, check_ids(roadmap, 1)[:4])
    await GuildService(db, clock).set_threshold(G1, 50)
    # a no-op is not a change
    svc.clock.set(at(30))
    again = await svc.complete(G1, ALICE, check_ids(roadmap, 1)[0])
    assert (again.changed, again.new_level) == (False, 0)
    svc.clock.set(at(31))
    change = await svc.complete(G1, ALICE, milestone_ids(roadmap, 1)[0])
    assert (change.old_level, change.new_level) == (0, 1)
    assert change.announce == (1,)


async def test_threshold_50_reaches_level_with_four_of_seven(
    svc: ProgressService, db: Database, roadmap: Roadmap, clock: FakeClock
):
    await GuildService(db, clock).set_threshold(G1, 50)
    l1 = check_ids(roadmap, 1)
    change = await complete_all(svc, G1, ALICE, l1[:3])
    assert change.new_level == 0
    svc.clock.set(at(40))
    change = await svc.complete(G1, ALICE, l1[3])
    assert (change.old_level, change.new_level) == (0, 1)
    assert change.announce == (1,)
    # another server keeps the default 100%
    change = await complete_all(svc, G2, ALICE, l1[:4])
    assert change.new_level == 0


@pytest.mark.parametrize("bad", [0, -5, 101, 1000])
async def test_threshold_out_of_range(db: Database, bad: int, clock: FakeClock):
    guilds = GuildService(db, clock)
    with pytest.raises(UserError) as info:
        await guilds.set_threshold(G1, bad)
    assert "1 to 100" in info.value.message
    assert (await guilds.config(G1)).level_threshold == 100


# --- admin corrections ------------------------------------------------------------------


async def test_grant_and_revoke_write_audit_newest_first(
    svc: ProgressService, db: Database, roadmap: Roadmap, clock: FakeClock
):
    item_id = check_ids(roadmap, 1)[0]
    svc.clock.set(at(0))
    grant = await svc.complete(G1, ALICE, item_id, actor_id=ADMIN)
    assert grant.changed
    svc.clock.set(at(1))
    noop = await svc.complete(G1, ALICE, item_id, actor_id=ADMIN)
    assert not noop.changed
    svc.clock.set(at(2))
    revoke = await svc.undo(G1, ALICE, item_id, actor_id=ADMIN)
    assert revoke.changed
    svc.clock.set(at(3))
    noop = await svc.undo(G1, ALICE, item_id, actor_id=ADMIN)
    assert not noop.changed
    # a member's own completion writes nothing to the audit log
    svc.clock.set(at(4))
    await svc.complete(G1, ALICE, item_id)

    audit = (await GuildService(db, clock).config(G1)).recent_audit
    assert [(a.action, a.actor_id, a.member_id, a.item_id) for a in audit] == [
        ("revoke", ADMIN, ALICE, item_id),
        ("grant", ADMIN, ALICE, item_id),
    ]
    assert audit[0].created_at == at(2)
    assert audit[1].created_at == at(0)
    assert (await GuildService(db, clock).config(G2)).recent_audit == ()


async def test_grant_keeps_granted_by(
    svc: ProgressService, db: Database, roadmap: Roadmap, clock: FakeClock
):
    from bot.services.mydata import MyDataService

    item_id = check_ids(roadmap, 1)[0]
    await svc.complete(G1, ALICE, item_id, actor_id=ADMIN)
    exported = await MyDataService(db, clock).export(G1, ALICE)
    assert exported["completions"][0]["granted_by"] == ADMIN  # type: ignore[index]


# --- isolation and concurrency ----------------------------------------------------------


async def test_servers_are_isolated(svc: ProgressService, roadmap: Roadmap):
    l1 = check_ids(roadmap, 1)
    await complete_all(svc, G1, ALICE, l1)
    await svc.complete(G2, ALICE, milestone_ids(roadmap, 1)[0])
    p1, p2 = await svc.member_progress(G1, ALICE), await svc.member_progress(G2, ALICE)
    assert (p1.level, p1.completed) == (1, 7)
    assert (p2.level, p2.completed) == (0, 1)
    # completing the same item in the other server is a new completion, with its own announce
    change = await complete_all(svc, G2, ALICE, l1)
    assert change.announce == (1,)
    await svc.undo(G2, ALICE, l1[0])
    assert (await svc.member_progress(G1, ALICE)).level == 1


async def test_concurrent_completes_of_different_items(
    svc: ProgressService, roadmap: Roadmap, clock: FakeClock
):
    ids = milestone_ids(roadmap, 1)[:4] + check_ids(roadmap, 1)[:4]
    changes = await asyncio.gather(*(svc.complete(G1, ALICE, i, display_name="A") for i in ids))
    assert all(c.changed for c in changes)
    assert sorted(c.completed_count for c in changes) == list(range(1, 9))
    progress = await svc.member_progress(G1, ALICE)
    assert progress.completed == 8
    assert await LeaderboardService(svc.db, clock).rank(G1, ALICE) == 1
    board = await LeaderboardService(svc.db, clock).page(G1, Period.ALL)
    assert board.entries[0].completed == 8


async def test_concurrent_completes_of_same_item(
    svc: ProgressService, roadmap: Roadmap, clock: FakeClock
):
    item_id = check_ids(roadmap, 1)[0]
    changes = await asyncio.gather(
        svc.complete(G1, ALICE, item_id), svc.complete(G1, ALICE, item_id)
    )
    assert sorted(c.changed for c in changes) == [False, True]
    assert (await svc.member_progress(G1, ALICE)).completed == 1
    board = await LeaderboardService(svc.db, clock).page(G1, Period.ALL)
    assert board.entries[0].completed == 1


async def test_concurrent_level_up_announces_once(svc: ProgressService, roadmap: Roadmap):
    l1 = check_ids(roadmap, 1)
    await complete_all(svc, G1, ALICE, l1[:-1])
    changes = await asyncio.gather(*(svc.complete(G1, ALICE, l1[-1]) for _ in range(3)))
    assert sum(c.announce == (1,) for c in changes) == 1
    assert sum(c.changed for c in changes) == 1


async def test_concurrent_mixed_writes_never_lock(
    svc: ProgressService, db: Database, roadmap: Roadmap, clock: FakeClock
):
    from bot.services.mydata import MyDataService
    from bot.services.rolesync import RoleSyncService

    ms = milestone_ids(roadmap, 1)
    await complete_all(svc, G1, BOB, ms[:3])
    jobs = [svc.complete(G1, ALICE, i) for i in ms[:6]]
    syncs = RoleSyncService(db, roadmap, clock)
    jobs += [syncs.next_levels(G1, 0) for _ in range(4)]
    jobs += [MyDataService(db, clock).delete(G1, BOB)]
    jobs += [GuildService(db, clock).set_threshold(G1, 80) for _ in range(2)]
    await asyncio.gather(*jobs)
    assert (await svc.member_progress(G1, ALICE)).completed == 6
    assert (await svc.member_progress(G1, BOB)).completed == 0


# --- a whole checklist at once ------------------------------------------------------------


async def test_checklist_saves_completions_and_undos_with_one_level_settlement(
    svc: ProgressService, roadmap: Roadmap
):
    level_one = check_ids(roadmap, 1)
    projects = [p.id for p in roadmap.projects_of("l1.check.foundation-1-2")]
    first = await svc.set_checklist(G1, ALICE, 1, level_one, display_name="Alice")
    assert [i.id for i in first.completed] == level_one and first.undone == ()
    assert (first.old_level, first.new_level, first.announce) == (0, 1, (1,))
    assert first.done_ids == frozenset(level_one + projects)  # the item brings its projects
    # Deselecting one item and selecting nothing new loses the level in the same save.
    second = await svc.set_checklist(G1, ALICE, 1, level_one[1:])
    assert [i.id for i in second.undone] == level_one[:1] and second.completed == ()
    assert (second.old_level, second.new_level, second.announce) == (1, 0, ())
    # Re-reaching the level is not announced again; saving the same choice changes nothing.
    third = await svc.set_checklist(G1, ALICE, 1, level_one)
    assert (third.new_level, third.announce) == (1, ())
    unchanged = await svc.set_checklist(G1, ALICE, 1, level_one)
    assert not unchanged.changed and unchanged.old_level == unchanged.new_level == 1
    assert (await svc.member_progress(G1, ALICE)).completed == len(level_one)
    assert (await LeaderboardService(svc.db).page(G1, Period.ALL)).entries[0].completed == len(
        level_one + projects
    )


async def test_checklist_failing_half_way_saves_nothing(
    svc: ProgressService, roadmap: Roadmap, monkeypatch: pytest.MonkeyPatch
):
    from bot.services import scores

    calls = 0
    real = scores.add_completions

    def fail_on_third(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(scores, "add_completions", fail_on_third)
    with pytest.raises(RuntimeError):
        await svc.set_checklist(G1, ALICE, 1, check_ids(roadmap, 1))
    assert await svc.done_ids(G1, ALICE) == set()
    assert (await svc.member_progress(G1, ALICE)).level == 0


async def test_checklist_refuses_items_of_another_level(svc: ProgressService, roadmap: Roadmap):
    with pytest.raises(NotFoundError, match="not on the level 1 checklist"):
        await svc.set_checklist(G1, ALICE, 1, check_ids(roadmap, 2)[:1])
    assert await svc.done_ids(G1, ALICE) == set()


async def test_control_characters_are_cleaned_from_evidence_and_names(
    svc: ProgressService, roadmap: Roadmap
):
    ids = check_ids(roadmap, 1)
    await svc.complete(G1, ALICE, ids[0], display_name="Al\x00ice\x1b", evidence="see\x00 \x07it")
    progress = await svc.member_progress(G1, ALICE)
    assert progress.display_name == "Alice"
    assert progress.recent[0].evidence == "see it"
    # Evidence made only of control characters is no evidence.
    await svc.complete(G1, ALICE, ids[1], evidence="\x00\x01")
    progress = await svc.member_progress(G1, ALICE)
    assert progress.recent[0].evidence is None


# --- a checklist item and the projects it names -----------------------------------------


FOUNDATION = "l1.check.foundation-1-2"
P1, P2 = "l1.project.foundation-1", "l1.project.foundation-2"


async def test_completing_the_item_completes_its_projects(svc: ProgressService):
    change = await svc.complete(G1, ALICE, FOUNDATION)
    assert [i.id for i in change.linked] == [P1, P2]
    assert change.completed_count == 3
    assert await svc.done_ids(G1, ALICE) == {FOUNDATION, P1, P2}
    progress = await svc.member_progress(G1, ALICE)
    assert (progress.completed, progress.projects_done, progress.projects_total) == (1, 2, 15)


async def test_completing_the_last_project_completes_the_item(
    svc: ProgressService, roadmap: Roadmap
):
    first = await svc.complete(G1, ALICE, P1)
    assert first.linked == () and await svc.done_ids(G1, ALICE) == {P1}
    # The item is the last of the level 1 checklist still missing: the project levels up.
    for item_id in check_ids(roadmap, 1):
        if item_id != FOUNDATION:
            await svc.complete(G1, ALICE, item_id)
    last = await svc.complete(G1, ALICE, P2)
    assert [i.id for i in last.linked] == [FOUNDATION]
    assert (last.old_level, last.new_level, last.announce) == (0, 1, (1,))
    assert {FOUNDATION, P1, P2} <= await svc.done_ids(G1, ALICE)


async def test_undoing_a_project_undoes_the_item_only(svc: ProgressService, roadmap: Roadmap):
    for item_id in check_ids(roadmap, 1):
        await svc.complete(G1, ALICE, item_id)
    change = await svc.undo(G1, ALICE, P2)
    assert [i.id for i in change.linked] == [FOUNDATION]
    assert (change.old_level, change.new_level) == (1, 0)
    done = await svc.done_ids(G1, ALICE)
    assert P1 in done and P2 not in done and FOUNDATION not in done
    # Completing P2 again brings the item (and the level) back, announced once only.
    again = await svc.complete(G1, ALICE, P2)
    assert [i.id for i in again.linked] == [FOUNDATION]
    assert (again.new_level, again.announce) == (1, ())


async def test_undoing_the_item_undoes_its_projects(svc: ProgressService):
    await svc.complete(G1, ALICE, FOUNDATION)
    change = await svc.undo(G1, ALICE, FOUNDATION)
    assert [i.id for i in change.linked] == [P1, P2]
    assert change.completed_count == 0
    assert await svc.done_ids(G1, ALICE) == set()


async def test_the_checklist_menu_and_admin_corrections_follow_the_links(
    svc: ProgressService, roadmap: Roadmap
):
    level_two = check_ids(roadmap, 2)
    saved = await svc.set_checklist(G1, ALICE, 2, [level_two[-1]])
    projects = {p.id for p in roadmap.projects_of(level_two[-1])}
    assert saved.done_ids == {level_two[-1], *projects}
    cleared = await svc.set_checklist(G1, ALICE, 2, [])
    assert cleared.done_ids == frozenset()
    granted = await svc.complete(G1, BOB, FOUNDATION, actor_id=ADMIN)
    assert [i.id for i in granted.linked] == [P1, P2]
    audit = (await GuildService(svc.db, svc.clock).config(G1)).recent_audit
    assert sorted(a.item_id for a in audit) == sorted([FOUNDATION, P1, P2])


async def test_projects_count_on_the_leaderboard_like_any_item(svc: ProgressService):
    await svc.complete(G1, ALICE, FOUNDATION)
    await svc.complete(G1, BOB, P1)
    board = await LeaderboardService(svc.db, svc.clock).page(G1, Period.ALL)
    assert [(e.user_id, e.completed) for e in board.entries] == [(ALICE, 3), (BOB, 1)]


async def test_activity_counts_completions_and_answers_per_local_day(
    db: Database, svc: ProgressService, roadmap: Roadmap, clock: FakeClock
) -> None:
    items = [i.id for i in roadmap.items]
    late = dt.datetime(2025, 3, 1, 23, 30, tzinfo=dt.UTC)  # Sunday 2 March in Tokyo
    for minutes, item in ((0, items[0]), (5, items[1])):
        clock.set(late + dt.timedelta(minutes=minutes))
        await svc.complete(G1, ALICE, item)
    clock.set(late - dt.timedelta(days=364))  # outside the 364 days in UTC and in Tokyo
    await svc.complete(G1, ALICE, items[2])
    clock.set(late)
    await svc.complete(G2, ALICE, items[3])  # another server
    await svc.complete(G1, BOB, items[3])  # another member
    async with db.write.begin() as s:
        cycle = (
            await s.execute(
                insert(CheckinCycle)
                .values(guild_id=G1, channel_id=1, opens_at=late, closes_at=late)
                .returning(CheckinCycle.id)
            )
        ).scalar_one()
        await s.execute(
            insert(CheckinAnswer).values(
                cycle_id=cycle, user_id=ALICE, guild_id=G1, submitted_at=T0, updated_at=T0
            )
        )
    clock.set(T0)  # Monday 3 March, 12:00 UTC (21:00 in Tokyo)

    utc = await svc.activity(G1, ALICE, None)
    assert utc.today == dt.date(2025, 3, 3) and utc.first == dt.date(2024, 3, 5)
    assert dict(utc.days) == {dt.date(2025, 3, 1): 2, dt.date(2025, 3, 3): 1}
    tokyo = await svc.activity(G1, ALICE, "Asia/Tokyo")
    assert dict(tokyo.days) == {dt.date(2025, 3, 2): 2, dt.date(2025, 3, 3): 1}
    assert await svc.activity(G1, 12345, "Asia/Tokyo") == type(tokyo)(tokyo.today, tokyo.first, {})
