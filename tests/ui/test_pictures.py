"""Pictures in answers, offline: avatar paths, the avatar cache and its failures, drawing that
fails into "no picture", charts made from the services' results."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import aiohttp
import discord
import pytest

from bot.roadmap import Roadmap
from bot.services.assessments import MetricRatings, Rating
from bot.ui.cards import CardError
from bot.ui.pictures import Avatars, assessment_chart, attach, avatar_path, draw, files

PNG = b"\x89PNG fake avatar"


def user(avatar: str | None, user_id: int = 123) -> discord.User:
    data = {"id": str(user_id), "username": "ada", "discriminator": "0", "avatar": avatar}
    return discord.User(state=None, data=data)  # type: ignore[arg-type]


def test_avatar_path_is_the_cdn_path_of_a_png_without_base_or_size() -> None:
    assert avatar_path(user("abc")) == "avatars/123/abc.png"
    assert avatar_path(user("a_def")) == "avatars/123/a_def.png"  # animated: its first frame
    assert avatar_path(user(None)) == ""  # Discord's default: the card draws its own


class Cdn:
    """A stand-in for `http.get_from_cdn`: records the URLs, answers from a script."""

    def __init__(self, answer: object = PNG, delay: float = 0) -> None:
        self.urls: list[str] = []
        self.answer = answer
        self.delay = delay

    async def __call__(self, url: str) -> bytes:
        self.urls.append(url)
        await asyncio.sleep(self.delay)
        if isinstance(self.answer, BaseException):
            raise self.answer
        assert isinstance(self.answer, bytes)
        return self.answer


async def test_an_avatar_is_fetched_small_once_and_shared() -> None:
    cdn = Cdn(delay=0.01)
    avatars = Avatars(cdn, size=64)
    got = await asyncio.gather(*(avatars.fetch("avatars/1/a.png") for _ in range(3)))
    assert got == [PNG] * 3
    assert cdn.urls == [f"{discord.Asset.BASE}/avatars/1/a.png?size=64"]
    assert await avatars.of(user("a", 1)) == PNG and len(cdn.urls) == 1
    assert await avatars.fetch(None) is None and await avatars.fetch("") is None
    assert await avatars.fetch_many(["avatars/1/a.png", None]) == [PNG, None]
    assert len(cdn.urls) == 1


@pytest.mark.parametrize(
    "answer",
    [aiohttp.ClientConnectionError("refused"), b"", b"x" * (1024 * 1024 + 1)],
    ids=["error", "empty", "too big"],
)
async def test_a_failed_avatar_is_none_and_not_asked_for_again_soon(answer: object) -> None:
    cdn = Cdn(answer)
    avatars = Avatars(cdn, retry=60)
    assert await avatars.fetch("avatars/1/a.png") is None
    assert await avatars.fetch("avatars/1/a.png") is None
    assert len(cdn.urls) == 1
    cdn.answer = PNG
    assert await avatars.fetch("avatars/1/b.png") == PNG  # another avatar (a new hash): asked


async def test_a_slow_cdn_times_out_and_is_retried_after_the_pause() -> None:
    cdn = Cdn(delay=5)
    avatars = Avatars(cdn, timeout=0.01, retry=0)
    assert await avatars.fetch("avatars/1/a.png") is None
    cdn.delay = 0
    assert await avatars.fetch("avatars/1/a.png") == PNG  # retry=0: asked again at once
    assert len(cdn.urls) == 2


async def test_the_cache_keeps_the_latest_avatars() -> None:
    cdn = Cdn()
    avatars = Avatars(cdn, capacity=2)
    for name in ("a", "b", "a", "c", "a", "b"):
        await avatars.fetch(f"avatars/1/{name}.png")
    # a, b fetched; a from the cache; c pushes out b (the least recent); a cached; b again.
    assert [url.split("/")[-1].split("?")[0] for url in cdn.urls] == [
        "a.png",
        "b.png",
        "c.png",
        "b.png",
    ]


async def test_drawing_that_fails_is_no_picture(caplog: pytest.LogCaptureFixture) -> None:
    async def fails(exc: Exception) -> bytes:
        raise exc

    assert await draw(fails(CardError("timed out"))) is None
    assert not caplog.records  # the renderer logged it already
    with caplog.at_level(logging.ERROR):
        assert await draw(fails(RuntimeError("bug"))) is None
    assert any(r.exc_info for r in caplog.records)

    embed = discord.Embed(title="t")
    assert attach(embed, None, "x.png") is None and embed.image.url is None
    assert files(None) == []
    file = attach(embed, b"png", "x.png")
    assert file is not None and embed.image.url == "attachment://x.png"
    assert files(file) == [file] and file.fp.read() == b"png"


def test_the_assessment_chart_has_the_rated_metrics_in_roadmap_order(roadmap: Roadmap) -> None:
    first, second, third = roadmap.metrics[:3]
    day1, day2 = dt.date(2030, 1, 5), dt.date(2030, 2, 4)
    chart = assessment_chart(
        7,
        "Ana",
        (
            MetricRatings(first, (Rating(2, day1), Rating(4, day2))),
            MetricRatings(second, ()),  # never rated: no chart of it
            MetricRatings(third, (Rating(3, day2),)),
        ),
    )
    assert (chart.user_id, chart.display_name) == (7, "Ana")
    assert list(chart.metrics.items()) == [
        (first.name, ((day1, 2), (day2, 4))),
        (third.name, ((day2, 3),)),
    ]
