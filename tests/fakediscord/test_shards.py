"""Self-tests of the fake's sharding: GET /gateway/bot, IDENTIFY's shard, events per shard."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
from discord.ext import commands

from tests.fakediscord import FakeDiscord, FakeGuild, ShardNotConnectedError, shard_of


class ShardedBot(commands.AutoShardedBot):
    """A tiny auto-sharded bot whose /where tells which shard got the interaction."""

    def __init__(self, **options: object) -> None:
        super().__init__(
            command_prefix="!",
            intents=discord.Intents.default(),
            guild_ready_timeout=0.1,
            **options,  # type: ignore[arg-type]
        )

        @self.tree.command(name="where", description="Which shard am I on?")
        async def where(interaction: discord.Interaction) -> None:
            shard = interaction.guild.shard_id if interaction.guild else "dm"
            await interaction.response.send_message(f"shard {shard}")

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5 s pause between IDENTIFYs: the fake does not rate-limit them."""


def guild_on(fake: FakeDiscord, shard: int, count: int, name: str) -> FakeGuild:
    """A guild whose id puts it on `shard` of `count`."""
    guild_id = fake.snowflake()
    while shard_of(guild_id, count) != shard:
        guild_id = fake.snowflake()
    return fake.add_guild(name=name, guild_id=guild_id)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(shards=2)
    await server.start()
    server.install()
    try:
        yield server
    finally:
        await server.close()
        server.uninstall()
    assert not server.unknown_requests, server.unknown_requests


async def start(bot: ShardedBot) -> asyncio.Task[None]:
    task = asyncio.create_task(bot.start("fake-token"))
    await asyncio.wait_for(bot.wait_until_ready(), 10)
    return task


async def stop(bot: ShardedBot, task: asyncio.Task[None]) -> None:
    await bot.close()
    await asyncio.wait_for(task, 10)


def test_guild_shard_is_discords_formula() -> None:
    assert shard_of(41771983423143937, 1) == 0
    assert shard_of(41771983423143937, 2) == (41771983423143937 >> 22) % 2
    assert shard_of(None, 4) == 0  # direct messages: shard 0


async def test_gateway_bot_recommends_shards_and_counts_session_starts(fake: FakeDiscord) -> None:
    async def gateway_bot() -> dict[str, object]:
        headers = {"Authorization": "Bot fake-token"}
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{fake.api_base}/gateway/bot", headers=headers) as response,
        ):
            return dict(await response.json())

    before = await gateway_bot()
    assert before["shards"] == 2
    assert before["url"] == fake.gateway_url.rstrip("/")
    limit = before["session_start_limit"]
    assert isinstance(limit, dict)
    assert limit["max_concurrency"] == 1
    assert limit["remaining"] == limit["total"]
    bot = ShardedBot()
    task = await start(bot)
    try:
        after = await gateway_bot()
        assert isinstance(after["session_start_limit"], dict)
        assert after["session_start_limit"]["remaining"] == limit["total"] - 2
    finally:
        await stop(bot, task)
    async with aiohttp.ClientSession() as http, http.get(f"{fake.api_base}/gateway") as response:
        assert "shards" not in await response.json()  # only /gateway/bot recommends


async def test_an_auto_sharded_bot_identifies_each_recommended_shard(fake: FakeDiscord) -> None:
    zero = guild_on(fake, 0, 2, "Zero")
    one = guild_on(fake, 1, 2, "One")
    alice = fake.add_member(zero.id, name="alice")
    bob = fake.add_member(one.id, name="bob")
    bot = ShardedBot()
    task = await start(bot)
    try:
        await bot.tree.sync()
        assert bot.shard_count == 2
        assert sorted(p["shard"] for p in fake.identify_payloads) == [[0, 2], [1, 2]]
        assert fake.connected_shards() == {(0, 2), (1, 2)}
        for guild, member, shard in ((zero, alice, 0), (one, bob, 1)):
            cached = bot.get_guild(guild.id)
            assert cached is not None and cached.shard_id == shard
            res = await fake.slash(guild.id, member.id, "where")
            await res.final()
            assert res.text() == f"shard {shard}"
            assert res.shard == (shard, 2)
    finally:
        await stop(bot, task)


async def test_each_process_gets_only_its_shards_guilds_and_events(fake: FakeDiscord) -> None:
    zero = guild_on(fake, 0, 2, "Zero")
    one = guild_on(fake, 1, 2, "One")
    alice = fake.add_member(zero.id, name="alice")
    bob = fake.add_member(one.id, name="bob")
    first = ShardedBot(shard_count=2, shard_ids=[0])
    second = ShardedBot(shard_count=2, shard_ids=[1])
    first_task = await start(first)
    second_task = await start(second)
    try:
        await first.tree.sync()
        assert [g.id for g in first.guilds] == [zero.id]
        assert [g.id for g in second.guilds] == [one.id]
        ready = [p for p in fake.identify_payloads if p["shard"] == [1, 2]]
        assert len(ready) == 1

        # Events go to the guild's shard only.
        channel = fake.add_channel(one.id, name="news")
        for _ in range(200):
            if second.get_channel(channel.id) is not None:
                break
            await asyncio.sleep(0.01)
        assert second.get_channel(channel.id) is not None
        assert first.get_channel(channel.id) is None

        # Interactions too; direct messages are on shard 0.
        res = await fake.slash(one.id, bob.id, "where")
        await res.final()
        assert (res.text(), res.shard) == ("shard 1", (1, 2))
        dm = await fake.slash(None, alice.id, "where")
        await dm.final()
        assert (dm.text(), dm.shard) == ("shard dm", (0, 2))

        # With shard 1's process gone, its guild gets nothing; shard 0 carries on.
        await stop(second, second_task)
        assert not fake.shard_connected(one.id) and fake.shard_connected(zero.id)
        fake.delivery_timeout = 0.2
        with pytest.raises(ShardNotConnectedError, match=r"shard 1 of 2"):
            await fake.slash(one.id, bob.id, "where")
        res = await fake.slash(zero.id, alice.id, "where")
        await res.final()
        assert res.text() == "shard 0"
    finally:
        await stop(first, first_task)
        if not second.is_closed():
            await stop(second, second_task)


async def test_an_out_of_range_shard_is_closed_with_4010(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(fake.gateway_url) as ws:
        hello = json.loads((await ws.receive()).data)
        assert hello["op"] == 10
        identify = {"token": "fake-token", "intents": 0, "properties": {}, "shard": [2, 2]}
        await ws.send_str(json.dumps({"op": 2, "d": identify}))
        message = await ws.receive()
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 4010


async def test_rest_requests_record_the_token_they_carry(fake: FakeDiscord) -> None:
    guild = fake.add_guild(name="Solo")
    bot = ShardedBot()
    task = await start(bot)
    try:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        await channel.send("hello")
        posts = fake.requests_to("POST", f"/channels/{channel.id}/messages")
        assert [r.token for r in posts] == ["fake-token"]
    finally:
        await stop(bot, task)
