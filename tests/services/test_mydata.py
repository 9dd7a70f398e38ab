"""MyDataService and catalog search against real data: export, delete, autocomplete."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.db import Database
from bot.roadmap import Roadmap
from bot.services.assessments import AssessmentService
from bot.services.catalog import MAX_CHOICES, choice_label, search
from bot.services.guilds import GuildService
from bot.services.leaderboard import LeaderboardService, Period
from bot.services.members import MemberService
from bot.services.mydata import MyDataService
from bot.services.progress import ProgressService
from tests.support.fakes import FakeClock

G1, G2 = 1001, 2002
ME, OTHER, ADMIN = 5, 6, 99
T0 = dt.datetime(2025, 3, 3, 12, 0, tzinfo=dt.UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture
async def filled(db: Database, roadmap: Roadmap, clock: FakeClock) -> dict[str, list[str]]:
    """ME has level 1 and a granted item in G1, other things in G2; OTHER has data in G1."""
    progress = ProgressService(db, roadmap, clock)
    l1 = [i.id for i in roadmap.checklist(1)]
    ms = [i.id for i in roadmap.items if not i.is_checklist]
    for n, item_id in enumerate(l1):
        progress.clock.set(at(n))
        await progress.complete(G1, ME, item_id, display_name="Me", evidence=f"e{n}")
    progress.clock.set(at(20))
    await progress.complete(G1, ME, ms[0], actor_id=ADMIN)
    progress.clock.set(at(21))
    await progress.complete(G1, ME, ms[1], actor_id=ADMIN)
    progress.clock.set(at(22))
    await progress.undo(G1, ME, ms[1], actor_id=ADMIN)
    await MemberService(db, clock).update_profile(
        G1, ME, started_on=dt.date(2025, 1, 2), timezone="Europe/Berlin"
    )
    # the same member in another server
    progress.clock.set(at(30))
    await progress.complete(G2, ME, ms[5], display_name="Me there")
    progress.clock.set(at(31))
    await progress.complete(G2, ME, ms[6], actor_id=ADMIN)
    # another member of the same server, corrected by ME acting as an admin
    progress.clock.set(at(40))
    await progress.complete(G1, OTHER, ms[0], actor_id=ME)
    return {"l1": l1, "ms": ms}


async def test_export_has_this_member_in_this_server_only(
    db: Database, filled: dict[str, list[str]], clock: FakeClock
):
    data = await MyDataService(db, clock).export(G1, ME)
    json.dumps(data)  # JSON-ready
    assert data["guild_id"] == str(G1)
    assert data["user_id"] == str(ME)
    profile = data["profile"]
    assert isinstance(profile, dict)
    assert profile["display_name"] == "Me"
    assert profile["started_on"] == "2025-01-02"
    assert profile["timezone"] == "Europe/Berlin"
    assert profile["level"] == 1
    assert profile["completed_count"] == 10  # the level 1 checklist brought projects 1 and 2

    completions = data["completions"]
    assert isinstance(completions, list)
    ids = [c["item_id"] for c in completions]
    projects = ["l1.project.foundation-1", "l1.project.foundation-2"]
    # Oldest first (the projects came with the last checklist item), G2 items absent.
    assert ids[:6] == filled["l1"][:6] and ids[-1] == filled["ms"][0]
    assert sorted(ids[6:9]) == sorted([filled["l1"][6], *projects])
    assert completions[0]["evidence"] == "e0"
    assert completions[0]["completed_at"].startswith("2025-03-03T12:00")
    assert completions[-1]["granted_by"] == ADMIN
    assert all("guild_id" not in c and "user_id" not in c for c in completions)

    assert [x["level"] for x in data["levels_reached"]] == [1]  # type: ignore[union-attr]
    corrections = data["admin_corrections"]
    assert [(a["action"], a["item_id"], a["member_id"]) for a in corrections] == [
        ("grant", filled["ms"][0], ME),
        ("grant", filled["ms"][1], ME),
        ("revoke", filled["ms"][1], ME),
    ]
    assert data["checkin_answers"] == []


async def test_export_other_server(db: Database, filled: dict[str, list[str]], clock: FakeClock):
    data = await MyDataService(db, clock).export(G2, ME)
    assert [c["item_id"] for c in data["completions"]] == filled["ms"][5:7]  # type: ignore[union-attr]
    assert data["profile"]["display_name"] == "Me there"  # type: ignore[index]
    assert data["profile"]["started_on"] is None  # type: ignore[index]
    assert [a["item_id"] for a in data["admin_corrections"]] == [filled["ms"][6]]  # type: ignore[union-attr]
    assert data["levels_reached"] == []


async def test_export_of_unknown_member(db: Database, clock: FakeClock):
    data = await MyDataService(db, clock).export(G1, 12345)
    assert data["profile"] is None
    assert data["completions"] == data["admin_corrections"] == data["levels_reached"] == []


async def test_delete_removes_member_data_in_this_server_only(
    db: Database, roadmap: Roadmap, filled: dict[str, list[str]], clock: FakeClock
):
    mydata = MyDataService(db, clock)
    board = LeaderboardService(db, clock)
    progress = ProgressService(db, roadmap, clock)
    assert await board.rank(G1, ME) == 1

    deleted = await mydata.delete(G1, ME)
    assert deleted.completions == 10
    assert deleted.checkin_answers == 0
    assert deleted.level == 1

    assert await board.rank(G1, ME) is None
    assert ME not in [e.user_id for e in (await board.page(G1, Period.ALL)).entries]
    mp = await progress.member_progress(G1, ME)
    assert (mp.level, mp.completed, mp.recent, mp.started_on) == (0, 0, (), None)
    data = await mydata.export(G1, ME)
    assert data["profile"] is None
    assert data["completions"] == data["admin_corrections"] == data["levels_reached"] == []
    # audit list of the server no longer names the member
    audit = (await GuildService(db, clock).config(G1, audit_limit=50)).recent_audit
    assert all(a.member_id != ME for a in audit)

    # the other server and the other member are untouched
    there = await mydata.export(G2, ME)
    assert len(there["completions"]) == 2  # type: ignore[arg-type]
    assert len(there["admin_corrections"]) == 1  # type: ignore[arg-type]
    assert len((await GuildService(db, clock).config(G2)).recent_audit) == 1
    assert await board.rank(G2, ME) == 1
    assert await board.rank(G1, OTHER) == 1
    assert (await progress.member_progress(G1, OTHER)).completed == 1

    # deleting twice is harmless
    again = await mydata.delete(G1, ME)
    assert (again.completions, again.checkin_answers, again.level) == (0, 0, 0)


async def test_after_delete_member_starts_afresh(
    db: Database, roadmap: Roadmap, filled: dict[str, list[str]], clock: FakeClock
):
    await MyDataService(db, clock).delete(G1, ME)
    progress = ProgressService(db, roadmap, clock)
    progress.clock.set(at(100))
    change = await progress.complete(G1, ME, filled["l1"][0])
    assert change.changed and change.completed_count == 1
    assert change.new_level == 0
    assert await LeaderboardService(db, clock).rank(G1, ME) == 2


# --- catalog search (autocomplete) --------------------------------------------------------


def test_search_by_title_words_in_any_order(roadmap: Roadmap):
    target = roadmap.item("l2.check.spark-job")
    assert target is not None
    words = target.title.lower().split()
    assert len(words) >= 2
    forward = search(roadmap, " ".join(words[:2]))
    backward = search(roadmap, " ".join(reversed(words[:2])))
    assert target in forward
    assert target in backward
    # case does not matter
    assert target in search(roadmap, " ".join(words[:2]).upper())


def test_search_by_id_puts_exact_match_first(roadmap: Roadmap):
    results = search(roadmap, "l2.check.spark-job")
    assert results[0].id == "l2.check.spark-job"
    partial = search(roadmap, "spark")
    assert partial
    assert all("spark" in f"{i.id} {i.title}".lower() for i in partial)


def test_search_every_result_matches_every_word(roadmap: Roadmap):
    for query in ("data pipeline", "cloud", "l3 check", "python"):
        words = query.split()
        for item in search(roadmap, query):
            haystack = f"{item.id} {item.title}".lower()
            assert all(w in haystack for w in words), (query, item.id)


def test_search_respects_keep_filter(roadmap: Roadmap):
    only_checklist = search(roadmap, "", keep=lambda i: i.is_checklist, limit=1000)
    assert len(only_checklist) == sum(1 for i in roadmap.items if i.is_checklist) == 38
    done = {"l2.check.spark-job"}
    results = search(roadmap, "l2.check.spark-job", keep=lambda i: i.id not in done)
    assert all(i.id not in done for i in results)
    assert search(roadmap, "", keep=lambda i: i.level == 4 and i.category == "projects")
    assert all(i.level == 4 for i in search(roadmap, "", keep=lambda i: i.level == 4, limit=1000))


def test_search_caps_results(roadmap: Roadmap):
    assert MAX_CHOICES == 25
    assert len(search(roadmap, "")) == 25
    assert len(search(roadmap, "l")) == 25
    assert len(search(roadmap, "", limit=5)) == 5
    assert search(roadmap, "no such words zzz") == []
    # checklist items first within a level, lower levels first
    first = search(roadmap, "")
    assert first[0].level == 1 and first[0].is_checklist


def test_choice_labels_at_most_100_chars(roadmap: Roadmap):
    for item in roadmap.items:
        label = choice_label(item)
        assert len(label) <= 100, item.id
        assert label.startswith(f"L{item.level} ")
    long = roadmap.items[0].model_copy(update={"title": "word " * 60})
    label = choice_label(long)
    assert len(label) == 100
    assert label.endswith("…")


async def test_export_and_delete_cover_assessments_and_projects(
    db: Database, roadmap: Roadmap, clock: FakeClock
):
    progress = ProgressService(db, roadmap, clock)
    assessments = AssessmentService(db, roadmap, clock)
    await progress.complete(G1, ME, "l1.project.foundation-1")
    await assessments.save(G1, ME, {"technical.certifications": 2, "impact.innovation": 4})
    await assessments.save(G1, OTHER, {"technical.certifications": 5})
    data = await MyDataService(db, clock).export(G1, ME)
    assert data["projects"] == [
        {"project_id": "l1.project.foundation-1", "completed_at": clock.now().isoformat()}
    ]
    [assessment] = data["assessments"]  # type: ignore[misc]
    assert assessment["taken_on"] == clock.now().date().isoformat()
    assert assessment["ratings"] == {"technical.certifications": 2, "impact.innovation": 4}

    deleted = await MyDataService(db, clock).delete(G1, ME)
    assert (deleted.completions, deleted.assessments) == (1, 1)
    again = await MyDataService(db, clock).export(G1, ME)
    assert again["assessments"] == again["projects"] == []
    assert (await assessments.history(G1, OTHER)).assessments == 1


def test_search_finds_projects_too(roadmap: Roadmap):
    found = [i for i in search(roadmap, "foundation project") if i.is_project]
    assert [i.id for i in found] == [
        "l1.project.foundation-1",
        "l1.project.foundation-2",
        "l2.project.foundation-3",
    ]
    assert choice_label(found[0]) == "L1 Project · Foundation Project 1"
    assert search(roadmap, "l5.project.cutting-edge-15")[0].id == "l5.project.cutting-edge-15"
