"""AssessmentService against a real database: dated assessments, replacing, trends, cadence."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.db import Database
from bot.errors import NotFoundError, UserError
from bot.roadmap import Roadmap
from bot.services.assessments import AssessmentService, assessment_due
from bot.services.insights import InsightsService
from bot.services.members import MemberService
from tests.support.fakes import FakeClock

G1, G2 = 1001, 2002
ALICE, BOB = 11, 22
T0 = dt.datetime(2025, 3, 3, 12, 0, tzinfo=dt.UTC)
SKILLS, CERTS = "technical.skill-assessments", "technical.certifications"


@pytest.fixture
def svc(db: Database, roadmap: Roadmap, clock: FakeClock) -> AssessmentService:
    return AssessmentService(db, roadmap, clock)


def group_ids(roadmap: Roadmap, group: str) -> list[str]:
    return [m.id for m in roadmap.metrics if m.group == group]


async def averages(db: Database, roadmap: Roadmap, clock: FakeClock) -> dict[str, tuple]:
    overview = await InsightsService(db, roadmap, clock).overview(G1)
    return {a.metric.id: (a.members, a.average) for a in overview.metrics if a.members}


async def test_save_records_a_dated_assessment_and_the_same_day_replaces_it(
    svc: AssessmentService, clock: FakeClock
):
    clock.set(T0)
    first = await svc.save(G1, ALICE, {SKILLS: 2, CERTS: 1}, display_name="Alice")
    assert (first.taken_on, first.replaced, first.rated) == (T0.date(), False, 2)
    clock.set(T0 + dt.timedelta(hours=3))
    again = await svc.save(G1, ALICE, {SKILLS: 3})
    assert (again.taken_on, again.replaced, again.rated) == (T0.date(), True, 1)
    history = await svc.history(G1, ALICE)
    assert history.assessments == 1
    trends = {t.metric.id: t for t in history.trends}
    assert trends[SKILLS].latest is not None and trends[SKILLS].latest.rating == 3
    assert trends[SKILLS].previous is None
    assert trends[CERTS].latest is None  # the replacement left it out: it is gone for that day


async def test_the_day_is_the_members_own(svc: AssessmentService, db: Database, clock: FakeClock):
    await MemberService(db, clock).update_profile(G1, ALICE, timezone="Asia/Tokyo")
    clock.set(dt.datetime(2025, 3, 3, 23, 30, tzinfo=dt.UTC))  # already the 4th in Tokyo
    saved = await svc.save(G1, ALICE, {SKILLS: 4})
    assert saved.taken_on == dt.date(2025, 3, 4)
    bob = await svc.save(G1, BOB, {SKILLS: 4})
    assert bob.taken_on == dt.date(2025, 3, 3)


async def test_trend_latest_previous_and_first(svc: AssessmentService, clock: FakeClock):
    for days, rating in ((0, 2), (30, 3), (60, 4), (90, 3)):
        clock.set(T0 + dt.timedelta(days=days))
        await svc.save(G1, ALICE, {SKILLS: rating})
    [trend] = [t for t in (await svc.history(G1, ALICE)).trends if t.metric.id == SKILLS]
    assert trend.latest is not None and trend.previous is not None and trend.first is not None
    assert (trend.latest.rating, trend.previous.rating, trend.first.rating) == (3, 4, 2)
    assert trend.first.taken_on == T0.date()
    history = await svc.history(G1, ALICE)
    assert (history.assessments, history.first_on) == (4, T0.date())
    assert history.last_on == (T0 + dt.timedelta(days=90)).date()


async def test_ratings_of_each_metric_over_time(svc: AssessmentService, clock: FakeClock):
    assert all(m.ratings == () for m in await svc.ratings(G1, ALICE))  # none yet
    for days, ratings in ((0, {SKILLS: 2, CERTS: 1}), (30, {SKILLS: 3}), (60, {SKILLS: 4})):
        clock.set(T0 + dt.timedelta(days=days))
        await svc.save(G1, ALICE, ratings)
    clock.set(T0 + dt.timedelta(days=60, hours=2))
    await svc.save(G1, ALICE, {SKILLS: 5, CERTS: 2})  # replaces that day's
    await svc.save(G1, BOB, {SKILLS: 1})  # another member: not hers
    series = await svc.ratings(G1, ALICE)
    assert [m.metric.id for m in series] == [m.id for m in svc.roadmap.metrics]
    by_id = {m.metric.id: [(r.taken_on, r.rating) for r in m.ratings] for m in series}
    day = [(T0 + dt.timedelta(days=d)).date() for d in (0, 30, 60)]
    assert by_id[SKILLS] == [(day[0], 2), (day[1], 3), (day[2], 5)]
    assert by_id[CERTS] == [(day[0], 1), (day[2], 2)]  # a day left out is no point
    assert sum(1 for points in by_id.values() if points) == 2
    assert all(m.ratings == () for m in await svc.ratings(G2, ALICE))  # another server


async def test_a_group_left_out_is_reported_missing_and_never_copied(
    svc: AssessmentService, roadmap: Roadmap, db: Database, clock: FakeClock
):
    everything = {m.id: 3 for m in roadmap.metrics}
    clock.set(T0)
    await svc.save(G1, ALICE, everything)
    clock.set(T0 + dt.timedelta(days=28))
    technical = group_ids(roadmap, "Technical Competency")
    saved = await svc.save(G1, ALICE, dict.fromkeys(technical, 4))
    assert saved.missing_groups == ("Professional Growth", "Impact")
    assert {m.id for m in saved.missing} == set(everything) - set(technical)
    export = (await svc.history(G1, ALICE)).trends
    leadership = next(t for t in export if t.metric.id == "professional.leadership-scope")
    # Its latest rating is still the one given on the first day, shown with that day.
    assert leadership.latest is not None
    assert (leadership.latest.rating, leadership.latest.taken_on) == (3, T0.date())
    assert leadership.previous is None
    # The server average reads each member's latest rating of each metric.
    avg = await averages(db, roadmap, clock)
    assert avg[technical[0]] == (1, 4.0)
    assert avg["professional.leadership-scope"] == (1, 3.0)


async def test_averages_follow_replacements_and_members(
    svc: AssessmentService, roadmap: Roadmap, db: Database, clock: FakeClock
):
    clock.set(T0)
    await svc.save(G1, ALICE, {SKILLS: 2, CERTS: 5})
    await svc.save(G1, BOB, {SKILLS: 4})
    await svc.save(G2, BOB, {SKILLS: 1})  # another server: not counted here
    assert (await averages(db, roadmap, clock))[SKILLS] == (2, 3.0)
    clock.set(T0 + dt.timedelta(days=7))
    await svc.save(G1, ALICE, {SKILLS: 5})
    assert await averages(db, roadmap, clock) == {SKILLS: (2, 4.5), CERTS: (1, 5.0)}
    # Replacing that day without SKILLS falls back to Alice's earlier rating of it.
    await svc.save(G1, ALICE, {CERTS: 4})
    assert await averages(db, roadmap, clock) == {SKILLS: (2, 3.0), CERTS: (1, 4.0)}


async def test_bad_ratings_are_refused_and_save_nothing(svc: AssessmentService):
    with pytest.raises(UserError, match="at least one metric"):
        await svc.save(G1, ALICE, {})
    with pytest.raises(UserError, match="from 1 to 5"):
        await svc.save(G1, ALICE, {SKILLS: 6})
    with pytest.raises(NotFoundError, match="no metric"):
        await svc.save(G1, ALICE, {"technical.cobol": 3})
    assert (await svc.history(G1, ALICE)).assessments == 0


async def test_cadence_default_change_and_limits(svc: AssessmentService):
    assert await svc.cadence(G1) == 4
    assert await svc.set_cadence(G1, 0) == 0
    assert await svc.cadence(G1) == 0
    assert await svc.cadence(G2) == 4
    with pytest.raises(UserError, match="0 \\(never\\) to 52"):
        await svc.set_cadence(G1, 53)


@pytest.mark.parametrize(
    ("last", "weeks", "due"),
    [
        (None, 4, True),
        (dt.date(2025, 2, 3), 4, True),  # exactly four weeks ago
        (dt.date(2025, 2, 4), 4, False),
        (None, 0, False),
        (dt.date(2020, 1, 1), 0, False),
    ],
)
def test_assessment_due(last: dt.date | None, weeks: int, due: bool):
    assert assessment_due(last, dt.date(2025, 3, 3), weeks) is due
