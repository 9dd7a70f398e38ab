"""CardRenderer: off the loop, cached by day and content, failures as CardError."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.ui.cards import CardError, CardRenderer
from bot.ui.cards import samples as s
from bot.ui.cards.renderer import digest
from tests.ui.golden import decode


@pytest.fixture
async def renderer() -> AsyncIterator[CardRenderer]:
    r = CardRenderer(workers=2, processes=False)
    yield r
    r.close()


def explode(_data: Any) -> bytes:
    raise RuntimeError("the font file is gone")


def die(_data: Any) -> bytes:
    """Kill the worker process, as a crash in native code would."""
    os._exit(1)


async def test_progress_is_drawn_off_the_event_loop(renderer: CardRenderer) -> None:
    threads: list[str] = []

    def spy(data: Any) -> bytes:
        threads.append(threading.current_thread().name)
        from bot.ui.cards.draw import render_progress

        return render_progress(data)

    spying = CardRenderer(processes=False, renderers={"progress": spy})
    try:
        png = await spying.progress(s.sample_progress())
    finally:
        spying.close()
    assert decode(png).size == (1200, 630)
    assert threads and threads[0] != threading.main_thread().name


async def test_the_same_day_reuses_the_picture_and_the_next_day_does_not(
    renderer: CardRenderer,
) -> None:
    card = s.sample_progress(avatar=s.sample_avatar())
    first = await renderer.progress(card)
    again = await renderer.progress(dataclasses.replace(card))  # equal, not the same object
    assert again is first
    assert renderer.stats().hits == 1 and renderer.stats().misses == 1

    tomorrow = dataclasses.replace(card, today=card.today + dt.timedelta(days=1))
    later = await renderer.progress(tomorrow)
    assert later != first
    assert renderer.stats().misses == 2


async def test_any_change_of_content_is_a_new_picture(renderer: CardRenderer) -> None:
    card = s.sample_progress()
    first = await renderer.progress(card)
    more = dict(card.activity)
    more[card.today] = more.get(card.today, 0) + 1
    assert await renderer.progress(dataclasses.replace(card, activity=more)) != first
    assert await renderer.progress(dataclasses.replace(card, rank=1)) != first
    assert await renderer.progress(dataclasses.replace(card, avatar=s.sample_avatar())) != first


async def test_days_outside_the_heatmap_do_not_change_the_cache_key(
    renderer: CardRenderer,
) -> None:
    card = s.sample_progress()
    first = await renderer.progress(card)
    old = {**card.activity, card.today - dt.timedelta(days=800): 4}
    assert await renderer.progress(dataclasses.replace(card, activity=old)) is first


async def test_identical_requests_at_once_share_one_drawing() -> None:
    calls = 0

    def counting(data: Any) -> bytes:
        nonlocal calls
        calls += 1
        from bot.ui.cards.draw import render_leaderboard

        return render_leaderboard(data)

    r = CardRenderer(processes=False, renderers={"leaderboard": counting})
    try:
        pages = await asyncio.gather(*(r.leaderboard(s.sample_leaderboard()) for _ in range(5)))
    finally:
        r.close()
    assert calls == 1
    assert all(p is pages[0] for p in pages)


async def test_a_render_failure_raises_card_error_and_is_not_cached() -> None:
    r = CardRenderer(processes=False, renderers={"progress": explode})
    try:
        with pytest.raises(CardError, match="progress") as caught:
            await r.progress(s.sample_progress())
        assert isinstance(caught.value.__cause__, RuntimeError)
        with pytest.raises(CardError):
            await r.progress(s.sample_progress())
        assert r.stats().size == 0 and r.stats().misses == 2
    finally:
        r.close()


async def test_bad_data_raises_card_error(renderer: CardRenderer) -> None:
    broken = dataclasses.replace(s.sample_progress(), levels=(None,))  # type: ignore[arg-type]
    with pytest.raises(CardError):
        await renderer.progress(broken)


async def test_a_card_that_takes_too_long_raises_card_error() -> None:
    release = threading.Event()

    def stuck(_data: Any) -> bytes:
        release.wait(5)
        return b""

    r = CardRenderer(processes=False, renderers={"hours": stuck}, timeout=0.05)
    try:
        with pytest.raises(CardError, match="took over"):
            await r.hours(s.sample_hours())
    finally:
        release.set()
        r.close()


async def test_an_oversized_picture_raises_card_error() -> None:
    r = CardRenderer(processes=False, max_bytes=1000)
    try:
        with pytest.raises(CardError, match="over 1000"):
            await r.participation(s.sample_participation())
    finally:
        r.close()


async def test_a_cancelled_caller_does_not_cancel_a_shared_drawing(
    renderer: CardRenderer,
) -> None:
    card = s.sample_assessment()
    first = asyncio.ensure_future(renderer.assessment(card))
    second = asyncio.ensure_future(renderer.assessment(card))
    await asyncio.sleep(0)
    first.cancel()
    assert decode(await second).width == 1200
    assert renderer.stats().size == 1


async def test_process_workers_draw_the_same_picture() -> None:
    card = s.sample_participation()
    r = CardRenderer()  # the default: one worker process
    try:
        await r.start()
        from_process = await r.participation(card)
    finally:
        r.close()
    threaded = CardRenderer(processes=False)
    try:
        assert from_process == await threaded.participation(card)
    finally:
        threaded.close()


async def test_a_dead_worker_process_raises_card_error_and_is_replaced() -> None:
    r = CardRenderer(renderers={"hours": die})
    try:
        with pytest.raises(CardError, match="died"):
            await r.hours(s.sample_hours())
        assert decode(await r.participation(s.sample_participation())).width == 1200
    finally:
        r.close()


def test_digest_is_stable_and_order_free() -> None:
    card = s.sample_progress()
    reordered = dataclasses.replace(card, activity=dict(reversed(list(card.activity.items()))))
    assert digest(card) == digest(reordered)
    assert digest(card) != digest(dataclasses.replace(card, streak=card.streak + 1))


WORKER_SCRIPT = """
import asyncio, os, signal
from bot.ui.cards import CardRenderer
from bot.ui.cards import samples as s

async def main():
    r = CardRenderer()
    await r.start()
    ctrl_c = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, ctrl_c.set)
    print("ready", flush=True)  # only once a Ctrl-C is this script's to handle
    await ctrl_c.wait()
    png = await r.participation(s.sample_participation())  # after the Ctrl-C
    print("drew", len(png) > 0, flush=True)
    os._exit(0)  # a bot that dies without closing its renderer

asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
def test_the_worker_outlives_a_ctrl_c_and_not_its_bot() -> None:
    root = Path(__file__).resolve().parents[2]
    bot = subprocess.Popen(
        [sys.executable, "-c", WORKER_SCRIPT],
        cwd=root,
        start_new_session=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert bot.stdout is not None and bot.stdout.readline().strip() == "ready"
        with open(f"/proc/{bot.pid}/task/{bot.pid}/children") as children:
            workers = [int(pid) for pid in children.read().split()]
        assert workers  # the worker (and multiprocessing's resource tracker)
        os.killpg(bot.pid, signal.SIGINT)  # a Ctrl-C reaches the whole process group
        assert bot.stdout.readline().strip() == "drew True"
        assert bot.wait(30) == 0
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in workers if _alive(pid)], "a worker outlived its bot"
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()


BOT_PROCESS_SCRIPT = """
import asyncio, datetime as dt, sys
import bot.bot, bot.cli, bot.ui.pictures  # everything the bot's own process loads
from bot.ui.cards import CardRenderer, CycleBar, ParticipationChart

async def main():
    r = CardRenderer()
    await r.start()
    chart = ParticipationChart((CycleBar(dt.date(2026, 11, 2), 7),))
    png = await r.participation(chart)
    r.close()
    print(png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", "PIL" in sys.modules, flush=True)

asyncio.run(main())
"""


def test_the_bot_process_draws_without_loading_pillow() -> None:
    # Pillow and the drawing modules are the worker's memory, not the bot's (about 10 MiB).
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", BOT_PROCESS_SCRIPT],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == ["True", "False"]
