"""/metrics and /healthz over real HTTP on a free loopback port, and `milestone-bot health`."""

from __future__ import annotations

import asyncio
import math
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.db import Database
from bot.metrics import (
    HealthServer,
    Metrics,
    make_health_check,
    ping_database,
    pool_checked_out,
)
from tests.test_cli import REPO, clean_env, run_cli


async def get(url: str, **headers: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, response.headers["Content-Type"], await response.text()


def healthy(ok: bool = True, **details: Any):  # type: ignore[no-untyped-def]
    async def check() -> tuple[bool, dict[str, Any]]:
        return ok, details

    return check


async def test_metrics_text_has_every_family() -> None:
    metrics = Metrics()
    metrics.record_interaction("levels", "ok", 0.02)
    metrics.record_interaction("levels", "ok", 0.2)
    metrics.record_interaction("milestone complete", "user_error", 0.05)
    metrics.record_interaction("leaderboard", "late", 3.4)
    metrics.record_run("checkin-open", ok=True)
    metrics.record_run("reminder", ok=False)
    metrics.watch_gateway(lambda: [(0, 0.042), (1, math.inf)])
    metrics.watch_pool(lambda: 3)
    server = HealthServer(metrics, healthy(), port=0)
    await server.start()
    try:
        status, content_type, body = await get(f"{server.url}/metrics")
    finally:
        await server.stop()
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    lines = set(body.splitlines())
    assert 'milestone_bot_interactions_total{command="levels",outcome="ok"} 2.0' in lines
    assert (
        'milestone_bot_interactions_total{command="milestone complete",outcome="user_error"} 1.0'
        in lines
    )
    assert 'milestone_bot_interaction_seconds_bucket{command="levels",le="0.025"} 1.0' in lines
    assert 'milestone_bot_interaction_seconds_count{command="levels"} 2.0' in lines
    assert 'milestone_bot_missed_deadlines_total{command="leaderboard"} 1.0' in lines
    assert 'milestone_bot_missed_deadlines_total{command="levels"} 1.0' not in lines
    assert 'milestone_bot_scheduled_runs_total{kind="reminder"} 1.0' in lines
    assert 'milestone_bot_scheduled_failures_total{kind="reminder"} 1.0' in lines
    assert 'milestone_bot_scheduled_runs_total{kind="checkin-open"} 1.0' in lines
    assert 'milestone_bot_gateway_latency_seconds{shard="0"} 0.042' in lines
    assert 'milestone_bot_gateway_latency_seconds{shard="1"} +Inf' in lines
    assert "milestone_bot_db_connections_in_use 3.0" in lines


async def test_metrics_speak_openmetrics_when_asked() -> None:
    metrics = Metrics()
    metrics.record_run("reminder", ok=True)
    server = HealthServer(metrics, healthy(), port=0)
    await server.start()
    try:
        accept = "application/openmetrics-text; version=1.0.0"
        status, content_type, body = await get(f"{server.url}/metrics", Accept=accept)
    finally:
        await server.stop()
    assert status == 200
    assert content_type.startswith("application/openmetrics-text")
    assert body.rstrip().endswith("# EOF")
    assert 'milestone_bot_scheduled_runs_total{kind="reminder"} 1.0' in body


def test_each_metrics_has_its_own_registry() -> None:
    one, two = Metrics(), Metrics()
    one.record_interaction("levels", "ok", 0.1)
    assert b'command="levels"' in one.render()[0]
    assert b'command="levels"' not in two.render()[0]
    with pytest.raises(ValueError, match="unknown outcome 'fine'"):
        one.record_interaction("levels", "fine", 0.1)


async def test_a_failing_callback_does_not_break_the_scrape(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    metrics.watch_gateway(lambda: 1 / 0)  # type: ignore[arg-type,return-value]
    metrics.watch_pool(lambda: 2)
    text = metrics.render()[0].decode()
    assert "milestone_bot_db_connections_in_use 2.0" in text
    assert "reading the gateway latency for /metrics failed" in caplog.text


@pytest.mark.parametrize(
    ("check", "status", "expected"),
    [
        (healthy(True, shards={"0": "connected"}), 200, '"status": "ok"'),
        (healthy(False, shards={"0": "disconnected"}), 503, '"status": "unhealthy"'),
    ],
)
async def test_healthz_answers_what_the_check_says(check: Any, status: int, expected: str) -> None:
    server = HealthServer(Metrics(), check, port=0)
    await server.start()
    try:
        got, content_type, body = await get(f"{server.url}/healthz")
    finally:
        await server.stop()
    assert got == status
    assert content_type.startswith("application/json")
    assert expected in body


async def test_healthz_is_503_when_the_check_raises_or_hangs() -> None:
    async def broken() -> tuple[bool, dict[str, Any]]:
        raise RuntimeError("no database")

    async def stuck() -> tuple[bool, dict[str, Any]]:
        await asyncio.Event().wait()
        return True, {}

    for check, error in ((broken, "RuntimeError: no database"), (stuck, "took over")):
        server = HealthServer(None, check, port=0, check_timeout=0.05)
        await server.start()
        try:
            status, _, body = await get(f"{server.url}/healthz")
        finally:
            await server.stop()
        assert status == 503
        assert error in body


async def test_health_check_of_shards_and_a_real_database(db: Database) -> None:
    shards = {0: True, 1: True}
    check = make_health_check(shards=lambda: shards, database=lambda: ping_database(db.engine))
    server = HealthServer(Metrics(), check, port=0)
    await server.start()
    try:
        status, _, body = await get(f"{server.url}/healthz")
        assert status == 200, body
        assert '"database": "ok"' in body and '"1": "connected"' in body
        shards[1] = False
        status, _, body = await get(f"{server.url}/healthz")
        assert status == 503
        assert '"1": "disconnected"' in body
        shards.clear()  # not connected yet: no shard at all is not healthy either
        assert (await get(f"{server.url}/healthz"))[0] == 503
    finally:
        await server.stop()

    async def down() -> None:
        raise ConnectionRefusedError("connection refused")

    ok, details = await make_health_check(shards=lambda: {0: True}, database=down)()
    assert not ok
    assert details["database"].startswith("error: ConnectionRefusedError")


async def test_pool_in_use_counts_checked_out_connections(db: Database) -> None:
    in_use = pool_checked_out(db.engine)
    assert in_use() == 0
    async with db.engine.connect():
        assert in_use() == 1
    assert in_use() == 0


async def test_a_taken_port_raises_and_stop_is_idempotent() -> None:
    first = HealthServer(None, healthy(), port=0)
    await first.start()
    try:
        second = HealthServer(None, healthy(), port=first.port)
        with pytest.raises(OSError):
            await second.start()
        await second.stop()
    finally:
        await first.stop()
        await first.stop()


# --- milestone-bot health, as a process ---------------------------------------------------


async def run_cli_async(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


async def serve(ok: bool) -> HealthServer:
    async def check() -> tuple[bool, dict[str, Any]]:
        return ok, {"shards": {"0": "connected" if ok else "disconnected"}}

    server = HealthServer(Metrics(), check, port=0)
    await server.start()
    return server


async def test_health_exits_0_on_200_and_1_on_503(tmp_path: Path) -> None:
    for ok, expected in ((True, 0), (False, 1)):
        server = await serve(ok)
        try:
            env = {**clean_env(), "METRICS_PORT": str(server.port)}
            status, out, err = await run_cli_async("health", env=env, cwd=tmp_path)
        finally:
            await server.stop()
        assert status == expected, err
        if ok:
            assert '"status": "ok"' in out
        else:
            line = one_line(err)
            assert f"127.0.0.1:{server.port}/healthz answered 503" in line
            assert "disconnected" in line


def test_health_with_nothing_listening_or_no_port(tmp_path: Path) -> None:
    result = run_cli("health", env={**clean_env(), "METRICS_PORT": "9"}, cwd=tmp_path)
    assert result.returncode == 1
    assert "no answer from http://127.0.0.1:9/healthz" in one_line(result.stderr)
    result = run_cli("health", env=clean_env(), cwd=tmp_path)
    assert result.returncode == 2
    assert "health needs METRICS_PORT" in one_line(result.stderr)
    result = run_cli("health", env={**clean_env(), "METRICS_PORT": "70000"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "METRICS_PORT" in one_line(result.stderr)
