"""End to end: with no shard settings, one process runs every shard Discord recommends.

(Several shard processes on one database: tests/e2e/test_shard_processes.py.)
"""

from __future__ import annotations

import json
import socket

import aiohttp

from tests.e2e.harness import World
from tests.fakediscord import shard_of


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def test_an_auto_sharded_bot_serves_every_recommended_shard(world: World) -> None:
    fake = world.fake
    fake.recommended_shards = 2  # what GET /gateway/bot will say
    home = shard_of(world.guild.id, 2)
    guild_id = fake.snowflake()
    while shard_of(guild_id, 2) == home:
        guild_id = fake.snowflake()
    other = fake.add_guild(name="Other Shard", guild_id=guild_id)
    carol = fake.add_member(other.id, name="carol")
    port = free_port()

    # The second shard's IDENTIFY waits 5 s, as discord.py does against the real Discord.
    bot = await world.restart_with(METRICS_PORT=str(port))

    assert (bot.shard_count, bot.shard_ids) == (2, None)
    assert fake.connected_shards() == {(0, 2), (1, 2)}
    for guild, member in ((world.guild, world.alice), (other, carol)):
        res = await fake.slash(guild.id, member.id, "levels", {}, guild.default_channel.id)
        await res.final()
        assert "Senior Data Analyst" in res.text()
        assert res.shard == (shard_of(guild.id, 2), 2)
        assert bot.owns_guild(guild.id)  # every shard runs here, so every server's schedule

    status, metrics = await get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    for shard in ("0", "1"):
        assert f'milestone_bot_gateway_latency_seconds{{shard="{shard}"}}' in metrics
    status, body = await get(f"http://127.0.0.1:{port}/healthz")
    assert status == 200, body
    assert json.loads(body)["shards"] == {"0": "connected", "1": "connected"}
