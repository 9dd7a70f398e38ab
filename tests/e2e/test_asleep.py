"""End to end: the bot keeps running while its machine sleeps a week (a laptop lid, a paused
VM, an NTP step). What fell due runs late once if its window allows, is skipped and recorded
if not, and the next week's runs happen.

The bot's clock (a FakeClock) jumps; `oversleep` makes APScheduler, which runs on the real
clock, see its jobs as late as a sleeping machine would.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.weekly import WEEKDAYS
from tests.e2e.harness import World
from tests.e2e.test_checkins import prompts
from tests.e2e.test_reminders import reminder_posts
from tests.support.fakes import oversleep, settled

HOUR = dt.timedelta(hours=1)
WEEK = dt.timedelta(weeks=1)


def when(at: dt.datetime) -> dict[str, Any]:
    return {"day": at.weekday(), "time": at.strftime("%H:%M")}


def reminder_dms(world: World) -> list[dict[str, Any]]:
    return [
        m
        for m in world.fake.dms(world.alice.id)
        if any((e.get("title") or "").startswith("Your weekly nudge") for e in m["embeds"])
    ]


async def test_a_week_asleep_with_a_check_in_and_reminders_due(world: World) -> None:
    bot, clock, admin = world.bot, world.clock, world.admin
    assert bot is not None
    t0 = clock.now().replace(second=0, microsecond=0)
    wake = t0 + WEEK
    open_at = wake - 2 * HOUR  # the check-in stays open 48 h: it opens late
    post_at = wake - 30 * HOUR  # reminders are late by at most 24 h: skipped
    channel = world.channel.id
    _, text = await world.run(
        admin, "config checkins", channel=channel, timezone="UTC", **when(open_at)
    )
    assert "Weekly check-ins" in text, text
    _, text = await world.run(
        admin, "config reminders", channel=channel, timezone="UTC", **when(post_at)
    )
    assert WEEKDAYS[post_at.weekday()].capitalize() in text, text
    _, text = await world.run(world.alice, "reminders subscribe", **when(post_at))
    assert "Reminders on" in text, text

    clock.set(wake)
    woken = oversleep(bot.scheduler, clock)
    assert len(woken) == 3
    await settled(bot.scheduler)
    # The check-in opened late, once, with its window counted from when it was due.
    assert len(prompts(world)) == 1
    cycle = await bot.services.checkins.open_cycle_for(world.guild.id)
    assert cycle is not None and cycle.opens_at == open_at
    assert cycle.closes_at == open_at + 48 * HOUR
    # The reminder post and the DM were skipped; the admins can see why.
    assert reminder_posts(world) == [] and reminder_dms(world) == []
    _, text = await world.run(admin, "config show")
    assert f"The weekly reminder due {post_at:%Y-%m-%d %H:%M} UTC was skipped" in text
    assert f"next opens {(open_at + WEEK):%a} " in text

    # The next week happens, each run at its time: the nudge and the close of this cycle,
    # the post and the DM, the next opening.
    while (due := min(job.trigger.run_date for job in bot.scheduler.jobs())) <= open_at + WEEK:
        clock.set(due)
        oversleep(bot.scheduler, clock)
        await settled(bot.scheduler)
    assert len(reminder_posts(world)) == 1 and len(reminder_dms(world)) == 1
    assert len(prompts(world)) == 2
    closed = await bot.services.checkins.cycle(cycle.id)
    assert closed is not None and closed.closed_at is not None
    reopened = await bot.services.checkins.open_cycle_for(world.guild.id)
    assert reopened is not None and reopened.opens_at == open_at + WEEK
    assert world.fake.unknown_requests == []
