"""End to end: every one of the seed's 200 items is reachable through a command.

Milestones and checklist items in `/level`, the role-transition focus and activities in
`/roadmap`, the 15 metrics in `/assess rate`, the 15 projects in `/projects`, the five
principles in the weekly reminder posts. The seed's items are read by the shared coverage
tool, so this checks the bot's answers against the source document itself.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from tests.e2e.harness import World, button_id, select_of
from tests.e2e.test_checkins import admin_run, run_due, titles
from tests.fakediscord.interaction import message_text

SHARED = Path(__file__).resolve().parents[3] / "shared"
TOOL = SHARED / "tools" / "roadmap_coverage.py"
SEED = SHARED / "seeds" / "000_cac6f4791a9cfb11.txt"
MONDAY_10 = dt.datetime(2030, 3, 4, 10, 0, tzinfo=dt.UTC)


def coverage_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("roadmap_coverage", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def assess_pages(world: World) -> list[str]:
    """Every page of `/assess rate`, walked by skipping each metric, and its review."""
    res, text = await world.run(world.alice, "assess rate")
    assert res.message is not None
    message, pages = res.message, [text]
    for _ in world.roadmap.metrics:
        select = select_of(message)
        picked = await world.fake.select(
            world.guild.id, world.alice.id, message, select["custom_id"], ["skip"]
        )
        await picked.final()
        assert picked.message is not None
        message = picked.message
        pages.append(picked.text())
    cancel = await world.fake.click(
        world.guild.id, world.alice.id, message, button_id(message, "Cancel")
    )
    await cancel.final()
    return pages


async def reminder_posts(world: World) -> list[str]:
    """Five weeks of the channel's continuous-learning post: every principle comes round."""
    world.clock.set(MONDAY_10 - dt.timedelta(days=1))
    await admin_run(world, "config reminders", channel=world.channel.id, day=0, time="10:00")
    for week in range(5):
        await run_due(world, MONDAY_10 + dt.timedelta(weeks=week))
    posts = [
        message_text(m)
        for m in world.fake.channel_messages(world.channel.id)
        if any(t.startswith("Keep learning") for t in titles(m))
    ]
    assert len(posts) == 5
    return posts


@pytest.mark.skipif(not (TOOL.exists() and SEED.exists()), reason="the seed or tool is absent")
async def test_every_seed_item_is_reachable_through_a_command(world: World) -> None:
    tool = coverage_tool()
    answers: dict[str, list[str]] = {"/level": [], "/roadmap": [], "/projects": []}
    for level in range(1, 6):
        _, text = await world.run(world.alice, "level", level=level)
        answers["/level"].append(text)
    _, text = await world.run(world.alice, "roadmap")
    answers["/roadmap"].append(text)
    _, text = await world.run(world.alice, "projects")
    answers["/projects"].append(text)
    answers["/assess rate"] = await assess_pages(world)
    answers["reminder posts"] = await reminder_posts(world)

    where = {
        "checklist": "/level",
        "roadmap activity": "/roadmap",
        "roadmap focus": "/roadmap",
        "metric name": "/assess rate",
        "metric description": "/assess rate",
        "principle name": "reminder posts",
        "principle description": "reminder posts",
    }
    corpus = {name: tool.normalize(" ".join(texts)) for name, texts in answers.items()}
    items = tool.source_items(SEED.read_text(encoding="utf-8"))
    assert len(items) == 200
    missing = []
    for kind, text in items:
        place = where.get(kind, "/level")  # the four milestone categories
        if tool.normalize(text) not in corpus[place]:
            missing.append(f"{kind} not in {place}: {text}")
    assert missing == []
    # Each metric has a page of its own, and each project its line in /projects.
    for metric in world.roadmap.metrics:
        assert sum(f"**{metric.name}**:" in page for page in answers["/assess rate"]) == 1
    for project in world.roadmap.projects:
        line = f"**{project.number}** · {project.name} · level {project.level}"
        assert line in answers["/projects"][0]
