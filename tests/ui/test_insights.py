"""The insights embeds stay inside Discord's limits, whatever the numbers."""

from __future__ import annotations

import datetime as dt

from bot.roadmap import Roadmap
from bot.services.insights import (
    Insights,
    ItemShare,
    LevelTimes,
    MetricAverage,
    Participation,
)
from bot.ui.insights import insights_embeds


def test_the_biggest_numbers_fit_one_message(roadmap: Roadmap) -> None:
    big = 10_000_000
    data = Insights(
        members=big,
        hidden=big,
        per_level=(big,) * 6,
        checklists=tuple(
            (lvl.number, tuple(ItemShare(i, big) for i in lvl.checklist)) for lvl in roadmap.levels
        ),
        projects=tuple(ItemShare(p, big) for p in roadmap.projects),
        inactive=big,
        inactive_shown=big,
        inactive_since=dt.date(2030, 1, 1),
        level_times=tuple(LevelTimes(n, big, 120, "36+ months") for n in range(1, 6)),
        participation=tuple(
            Participation(dt.datetime(2030, 1, 1, tzinfo=dt.UTC), big) for _ in range(12)
        ),
        metrics=tuple(MetricAverage(m, big, 4.25) for m in roadmap.metrics),
    )
    embeds = insights_embeds(roadmap, "x" * 100, data)
    assert len(embeds) <= 10
    total = 0
    for e in embeds:
        assert len(e.fields) <= 25
        assert all(len(f.value or "") <= 1024 and len(f.name or "") <= 256 for f in e.fields)
        total += len(e.title or "") + len(e.description or "")
        total += sum(len(f.name or "") + len(f.value or "") for f in e.fields)
        total += len(e.footer.text or "")
    assert total <= 6000
    text = str([e.to_dict() for e in embeds])
    assert "… and" not in text  # nothing was cut
