"""Render cards off the event loop, with a cache so the same picture is drawn once.

    renderer = CardRenderer()          # one per bot, built in setup_hook
    png = await renderer.progress(card)  # raises CardError when it cannot be drawn
    ...
    renderer.close()                   # in Bot.close

A card is drawn in a worker process (or thread) and cached by what it shows:
(kind, member, day, a hash of the card's content). A second `/progress` the same day with the
same figures gets the same bytes without drawing; the next day's heatmap is a new picture.
Two identical requests at once share one drawing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import logging
import multiprocessing
import multiprocessing.process
import os
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from bot.ui.cards.models import (
    AssessmentChart,
    HoursChart,
    LeaderboardCard,
    ParticipationChart,
    ProgressCard,
    window,
)

log = logging.getLogger(__name__)

Kind = Literal["progress", "leaderboard", "participation", "hours", "assessment"]
MAX_BYTES = 8 * 1024 * 1024  # under Discord's 10 MiB attachment limit of unboosted servers


class CardError(Exception):
    """A card could not be drawn (an error, a timeout, a broken worker): send the embed alone."""


@dataclass(frozen=True)
class CacheStats:
    """How the cache has done since the renderer was made."""

    hits: int
    misses: int
    size: int
    capacity: int


def warm_up() -> None:
    """In a worker: load the drawing modules, fonts and cmaps so the first card is not slow.

    The bot's own process never imports the drawing side (`draw`, Pillow): only workers do.
    """
    from bot.ui.cards.draw import warm_up as load_fonts

    load_fonts()


def _start_worker() -> None:
    """In each worker process: leave stopping to the bot, end with it, then warm up.

    A Ctrl-C in a terminal or a service manager's SIGTERM reaches the whole process group:
    the worker ignores them, so the bot's graceful stop can still draw the cards it waits
    for, and ends the worker itself (`close`). A bot that dies without closing (kill -9)
    takes its worker with it: nothing else would end a worker waiting for work.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_end_with, args=(parent,), name="cards-parent", daemon=True).start()
    warm_up()


def _end_with(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()  # Returns once the bot's process is gone.
    os._exit(0)


_PLAIN = frozenset({int, float, str, bool, dt.date, dt.datetime})


def digest(value: object) -> str:
    """A stable hash of a card's content: dataclasses, mappings, sequences, bytes, dates."""
    h = hashlib.blake2b(digest_size=16)
    _feed(h, value)
    return h.hexdigest()


def _feed(h: Any, value: object) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        h.update(type(value).__name__.encode() + b"(")
        for f in dataclasses.fields(value):
            h.update(f.name.encode() + b"=")
            _feed(h, getattr(value, f.name))
        h.update(b")")
    elif isinstance(value, Mapping):
        try:
            items = sorted(value.items())
        except TypeError:
            items = sorted(value.items(), key=lambda kv: repr(kv[0]))
        if all(type(k) in _PLAIN and type(v) in _PLAIN for k, v in items):
            # A heatmap's {date: count}: one repr instead of a call per day (this runs on
            # the event loop, for every request).
            h.update(b"{" + repr(items).encode() + b"}")
        else:
            h.update(b"{")
            for key, item in items:
                _feed(h, key)
                h.update(b":")
                _feed(h, item)
            h.update(b"}")
    elif isinstance(value, list | tuple):
        h.update(b"[")
        for item in value:
            _feed(h, item)
            h.update(b",")
        h.update(b"]")
    elif isinstance(value, bytes | bytearray | memoryview):
        h.update(b"b" + hashlib.blake2b(value, digest_size=16).digest())
    elif isinstance(value, dt.date | dt.datetime):
        h.update(b"d" + value.isoformat().encode())
    else:
        h.update(type(value).__name__.encode() + repr(value).encode())
    h.update(b";")


def _run(kind: str, data: object, render: Callable[[Any], bytes] | None) -> tuple[bytes, float]:
    """In the worker: draw, and say how long it took (for logs and metrics)."""
    if render is None:
        from bot.ui.cards.draw import RENDERERS

        render = RENDERERS[kind]
    started = time.perf_counter()
    png = render(data)
    return png, time.perf_counter() - started


class CardRenderer:
    """Draws cards in a worker pool and caches them; every method is safe on the event loop.

    By default one worker process (started with "spawn", so nothing of the bot's threads or
    sockets is forked): drawing never holds the bot's GIL, and on two cores one stays free for
    the event loop. Measured on the 2-core machine, under the same load, against one worker
    thread: the same card latency, and the loop's 1 ms ticker late by 3.0 ms at p90 and
    11.9 ms at p99 instead of 4.7 and 17.2 (benchmarks/bench_cards.py). `processes=False`
    draws in threads instead (tests: no process start). `renderers` replaces drawing
    functions by kind (tests simulate failures with it); with processes they must be
    module-level functions.
    """

    def __init__(
        self,
        *,
        workers: int = 1,
        processes: bool = True,
        cache_size: int = 512,
        timeout: float = 10.0,
        max_bytes: int = MAX_BYTES,
        executor: Executor | None = None,
        renderers: Mapping[str, Callable[[Any], bytes]] | None = None,
    ) -> None:
        self.workers = workers
        self.processes = processes
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._own_executor = executor is None
        self._executor = executor or self._new_executor()
        self._renderers = dict(renderers or {})
        self._cache: OrderedDict[Hashable, bytes] = OrderedDict()
        self._capacity = cache_size
        self._inflight: dict[Hashable, asyncio.Future[bytes]] = {}
        self._hits = self._misses = 0

    def _new_executor(self) -> Executor:
        if self.processes:
            return ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
            )
        return ThreadPoolExecutor(self.workers, thread_name_prefix="cards")

    async def start(self) -> None:
        """Start and warm the workers (fonts, cmaps) so the first card is not slow.

        Optional. A failure is logged, not raised: the bot starts anyway, and each card that
        cannot be drawn raises `CardError` later.
        """
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                asyncio.gather(
                    *(loop.run_in_executor(self._executor, warm_up) for _ in range(self.workers))
                ),
                self.timeout,
            )
        except BrokenExecutor:
            log.warning("card workers failed to start; will try again for the next card")
            self._replace_executor()
        except Exception:
            log.warning("card workers failed to warm up", exc_info=True)

    async def progress(self, card: ProgressCard) -> bytes:
        """The `/progress` card as PNG bytes."""
        # Only the heatmap's window counts: older days change nothing on the picture.
        shown = dataclasses.replace(card, activity=window(card.activity, card.today))
        return await self.render("progress", shown, member=card.user_id, day=card.today)

    async def leaderboard(self, card: LeaderboardCard) -> bytes:
        """One leaderboard page as PNG bytes."""
        return await self.render("leaderboard", card)

    async def participation(self, chart: ParticipationChart) -> bytes:
        """The check-in participation chart as PNG bytes."""
        return await self.render("participation", chart)

    async def hours(self, chart: HoursChart) -> bytes:
        """A member's hours-per-week chart as PNG bytes."""
        return await self.render("hours", chart, member=chart.user_id)

    async def assessment(self, chart: AssessmentChart) -> bytes:
        """A member's self-assessment chart as PNG bytes."""
        return await self.render("assessment", chart, member=chart.user_id)

    async def render(
        self, kind: Kind, data: object, member: int | None = None, day: dt.date | None = None
    ) -> bytes:
        """Draw `data` with the renderer of `kind`, or return the cached picture."""
        key = (kind, member, day, digest(data))
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            self._hits += 1
            return cached
        task = self._inflight.get(key)
        if task is None:
            self._misses += 1
            # Its own task: a caller that gives up (a cancelled interaction) does not cancel
            # the drawing that others may be waiting for.
            task = asyncio.ensure_future(self._draw(kind, data))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settle(key, done))
        else:
            self._hits += 1
        return await asyncio.shield(task)

    def _settle(self, key: Hashable, task: asyncio.Future[bytes]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled() and task.exception() is None:
            self._store(key, task.result())

    async def _draw(self, kind: str, data: object) -> bytes:
        loop = asyncio.get_running_loop()
        render = self._renderers.get(kind)
        try:
            work = loop.run_in_executor(self._executor, _run, kind, data, render)
            png, took = await asyncio.wait_for(work, self.timeout)
        except TimeoutError:
            raise CardError(f"the {kind} card took over {self.timeout:g} s") from None
        except BrokenExecutor as exc:
            self._replace_executor()
            raise CardError(f"the {kind} card's worker died") from exc
        except Exception as exc:
            log.exception("could not draw the %s card", kind)
            raise CardError(f"could not draw the {kind} card: {exc}") from exc
        if len(png) > self.max_bytes:
            raise CardError(f"the {kind} card is {len(png)} bytes, over {self.max_bytes}")
        log.debug("drew the %s card in %.1f ms (%d bytes)", kind, took * 1000, len(png))
        return png

    def _replace_executor(self) -> None:
        if self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()

    def _store(self, key: Hashable, png: bytes) -> None:
        self._cache[key] = png
        self._cache.move_to_end(key)
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)

    def stats(self) -> CacheStats:
        """Cache hits, misses and size so far."""
        return CacheStats(self._hits, self._misses, len(self._cache), self._capacity)

    def clear(self) -> None:
        """Forget every cached picture."""
        self._cache.clear()

    def close(self) -> None:
        """Stop the workers (when the renderer made them); waits for cards being drawn."""
        if self._own_executor:
            self._executor.shutdown(wait=True, cancel_futures=True)
