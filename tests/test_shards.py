"""Shard settings and which servers' scheduled work a process owns (no gateway here)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.bot import MilestoneBot
from bot.config import ConfigError, load_settings
from bot.db import Database
from bot.roadmap import Roadmap

SHARD_ENV = ("SHARD_COUNT", "SHARD_IDS")


def on_shard(shard: int, count: int, n: int = 1) -> int:
    """A guild id that Discord puts on `shard` of `count` (its `n`th such id)."""
    return ((n * count + shard) << 22) | 1234


@pytest.fixture
def settings_from(monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    def load(**env: str) -> object:
        for name in SHARD_ENV:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return load_settings(DISCORD_TOKEN="x", _env_file=None)

    return load


@pytest.mark.parametrize(
    ("env", "count", "ids"),
    [
        ({}, None, None),
        ({"SHARD_COUNT": "4"}, 4, None),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "1"}, 2, (1,)),
        ({"SHARD_COUNT": "8", "SHARD_IDS": " 0, 3 ,7"}, 8, (0, 3, 7)),
        ({"SHARD_COUNT": "2", "SHARD_IDS": ""}, 2, None),  # empty: all of them
    ],
)
def test_shard_settings(
    settings_from: Callable[..., object],
    env: dict[str, str],
    count: int | None,
    ids: tuple[int, ...] | None,
) -> None:
    settings = settings_from(**env)
    assert (settings.shard_count, settings.shard_ids) == (count, ids)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SHARD_IDS": "0"}, "SHARD_IDS needs SHARD_COUNT"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "2"}, "the ids run from 0 to 1"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "0,0"}, "lists a shard twice"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "0-1"}, "use comma-separated numbers"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "-1"}, "use comma-separated numbers"),
        ({"SHARD_COUNT": "0"}, "SHARD_COUNT: Input should be greater than or equal to 1"),
        ({"SHARD_COUNT": "two"}, "SHARD_COUNT: Input should be a valid integer"),
    ],
)
def test_a_shard_mistake_is_one_clear_line(
    settings_from: Callable[..., object], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from(**env)
    text = str(caught.value)
    assert message in text and "\n" not in text


@pytest.fixture
async def make_bot(
    roadmap: Roadmap, db_url: str, settings_from: Callable[..., object]
) -> AsyncIterator[Callable[..., MilestoneBot]]:
    made: list[MilestoneBot] = []

    def make(**env: str) -> MilestoneBot:
        bot = MilestoneBot(settings_from(DATABASE_URL=db_url, **env), Database(db_url), roadmap)  # type: ignore[arg-type]
        made.append(bot)
        return bot

    yield make
    for bot in made:
        await bot.db.dispose()


def test_guild_ids_of_the_helper_are_on_their_shards() -> None:
    assert [(on_shard(s, 4) >> 22) % 4 for s in range(4)] == [0, 1, 2, 3]


async def test_a_process_owns_the_servers_of_its_shards(
    make_bot: Callable[..., MilestoneBot],
) -> None:
    bot = make_bot(SHARD_COUNT="4", SHARD_IDS="1,3")
    assert (bot.shard_count, bot.shard_ids) == (4, [1, 3])
    owned = {shard: bot.owns_guild(on_shard(shard, 4)) for shard in range(4)}
    assert owned == {0: False, 1: True, 2: False, 3: True}
    # Not connected yet: both of its shards are reported, as down.
    assert bot._shards_connected() == {1: False, 3: False}


async def test_one_process_of_all_shards_owns_every_server(
    make_bot: Callable[..., MilestoneBot],
) -> None:
    for bot in (make_bot(), make_bot(SHARD_COUNT="3")):
        assert bot.shard_ids is None
        assert all(bot.owns_guild(on_shard(s, 3)) for s in range(3))
    auto = make_bot()
    assert auto.shard_count is None  # Discord says how many, at connect
    assert auto._shards_connected() == {}  # so nothing is connected, and /healthz says 503
