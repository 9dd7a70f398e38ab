"""A running bot with METRICS_PORT serves Prometheus text at /metrics and its health."""

from __future__ import annotations

import socket

import aiohttp

from tests.e2e.harness import World


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def test_metrics_count_commands_and_health_follows_the_bot(world: World) -> None:
    port = free_port()
    await world.restart_with(METRICS_PORT=str(port))
    base = f"http://127.0.0.1:{port}"
    await world.run(world.alice, "levels")
    await world.run(world.alice, "milestone complete", milestone="no-such-item")
    status, text = await get(f"{base}/metrics")
    assert status == 200
    assert 'milestone_bot_interactions_total{command="levels",outcome="ok"} 1.0' in text
    assert (
        'milestone_bot_interactions_total{command="milestone complete",outcome="user_error"} 1.0'
        in text
    )
    assert 'milestone_bot_interaction_seconds_count{command="levels"} 1.0' in text
    assert "milestone_bot_gateway_latency_seconds" in text
    assert "milestone_bot_db_connections_in_use" in text
    status, body = await get(f"{base}/healthz")
    assert status == 200, body
    assert '"database"' in body
