"""Prometheus metrics and a health check, served over HTTP when METRICS_PORT is set.

Knows nothing of discord.py or of the Bot class: the bot hands in plain callables. Wiring,
for the Bot (a sketch; `settings.metrics_port` is None when metrics are off):

    self.metrics = Metrics()
    self.metrics.watch_gateway(lambda: self.latencies)           # AutoShardedBot: [(id, s)]
    self.metrics.watch_pool(pool_checked_out(db.engine))
    check = make_health_check(
        shards=lambda: {sid: not info.is_closed() for sid, info in self.shards.items()},
        database=lambda: ping_database(db.engine),
    )
    self.health = HealthServer(self.metrics, check, host=settings.metrics_host,
                               port=settings.metrics_port)
    await self.health.start()                                    # in setup_hook
    await self.health.stop()                                     # in close

    self.metrics.record_interaction("milestone complete", "ok", seconds)
    self.metrics.record_run("checkin-open", ok=True)

Each `Metrics` owns its registry (not prometheus_client's global one), so a process, or a
test, can build as many as it likes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

NAMESPACE = "milestone_bot"
DEADLINE_SECONDS = 3.0  # Discord's limit for an interaction's first response.
OUTCOMES = ("ok", "user_error", "error", "late")
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
CHECK_TIMEOUT = 2.0

HealthCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


class Metrics:
    """The bot's counters and histograms, in a registry of their own.

    Outcomes of an interaction: `ok` (answered), `user_error` (answered with an error the
    user can fix), `error` (an unexpected exception, logged), `late` (the answer could not
    be delivered because the 3 s token had expired). `seconds` is the time from the
    interaction's arrival to its first response (the reply or the defer); any above 3 s also
    counts as a missed deadline, whatever the outcome.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.interactions = Counter(
            "interactions",
            "Interactions handled, by command and outcome (ok, user_error, error, late).",
            ["command", "outcome"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.interaction_seconds = Histogram(
            "interaction_seconds",
            "Seconds from an interaction's arrival to its first response.",
            ["command"],
            namespace=NAMESPACE,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.missed_deadlines = Counter(
            "missed_deadlines",
            f"Interactions first answered after Discord's {DEADLINE_SECONDS:g} s limit.",
            ["command"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.scheduled_runs = Counter(
            "scheduled_runs",
            "Scheduled jobs run (whatever their result), by kind.",
            ["kind"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.scheduled_failures = Counter(
            "scheduled_failures",
            "Scheduled jobs that raised, by kind.",
            ["kind"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self._gateway: Callable[[], Iterable[tuple[int | None, float]]] | None = None
        self._pool: Callable[[], int] | None = None
        self.registry.register(_Callbacks(self))

    def record_interaction(self, command: str, outcome: str, seconds: float) -> None:
        """Count one interaction; `outcome` is one of OUTCOMES (ValueError otherwise)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}: use one of {', '.join(OUTCOMES)}")
        self.interactions.labels(command, outcome).inc()
        self.interaction_seconds.labels(command).observe(seconds)
        if seconds > DEADLINE_SECONDS:
            self.missed_deadlines.labels(command).inc()

    def record_run(self, kind: str, ok: bool) -> None:
        """Count one scheduled run of a job kind (`checkin-open`, `reminder`, ...)."""
        self.scheduled_runs.labels(kind).inc()
        if not ok:
            self.scheduled_failures.labels(kind).inc()

    def watch_gateway(self, latencies: Callable[[], Iterable[tuple[int | None, float]]]) -> None:
        """Read (shard id, heartbeat latency in seconds) pairs at each scrape.

        discord.py: `lambda: bot.latencies` on an AutoShardedBot, `lambda: [(bot.shard_id,
        bot.latency)]` on a Bot. A shard not yet acknowledged reports inf; it is shown so.
        """
        self._gateway = latencies

    def watch_pool(self, in_use: Callable[[], int]) -> None:
        """Read the database connections checked out of the pool at each scrape."""
        self._pool = in_use

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """Every metric, and its content type, in the format a scraper's Accept header asks
        for (Prometheus text 0.0.4 by default, OpenMetrics when asked)."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type


class _Callbacks(Collector):
    """Gauges read from the bot at scrape time; a failing callback is logged and skipped."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                f"{NAMESPACE}_gateway_latency_seconds",
                "Heartbeat latency of each gateway shard of this process.",
                labels=["shard"],
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_db_connections_in_use",
                "Database connections checked out of the pool.",
            ),
        )

    def describe(self) -> Iterator[Metric]:
        return iter(self._families())

    def collect(self) -> Iterator[Metric]:
        gateway, pool = self._families()
        if self.metrics._gateway is not None:
            try:
                for shard, latency in self.metrics._gateway():
                    gateway.add_metric([str(shard if shard is not None else 0)], float(latency))
            except Exception:
                log.exception("reading the gateway latency for /metrics failed")
            yield gateway
        if self.metrics._pool is not None:
            try:
                pool.add_metric([], float(self.metrics._pool()))
            except Exception:
                log.exception("reading the database pool for /metrics failed")
            else:
                yield pool


def pool_checked_out(*engines: Any) -> Callable[[], int]:
    """A `watch_pool` callback: connections in use across these (async or sync) engines."""

    def in_use() -> int:
        total = 0
        for engine in engines:
            checkedout = getattr(engine.pool, "checkedout", None)
            total += int(checkedout()) if checkedout is not None else 0
        return total

    return in_use


async def ping_database(engine: AsyncEngine) -> None:
    """`SELECT 1` on a pooled connection (raises when the database does not answer)."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def make_health_check(
    shards: Callable[[], Mapping[int, bool]],
    database: Callable[[], Awaitable[object]],
    *,
    timeout: float = CHECK_TIMEOUT,
) -> HealthCheck:
    """A health check from two plain callables: healthy when every shard is connected (and
    there is at least one) and `database()` returns within `timeout` seconds."""

    async def check() -> tuple[bool, dict[str, Any]]:
        states = dict(shards())
        ok = bool(states) and all(states.values())
        details: dict[str, Any] = {
            "shards": {
                str(k): "connected" if v else "disconnected" for k, v in sorted(states.items())
            }
        }
        try:
            await asyncio.wait_for(database(), timeout)
        except Exception as exc:
            ok = False
            details["database"] = f"error: {_describe(exc)}"
        else:
            details["database"] = "ok"
        return ok, details

    return check


class HealthServer:
    """`/metrics` (Prometheus text) and `/healthz` (200 or 503, JSON) on the bot's loop.

    `port=0` picks a free port; `port` holds the real one after `start()`.
    """

    def __init__(
        self,
        metrics: Metrics | None,
        health_check: HealthCheck,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        check_timeout: float = CHECK_TIMEOUT,
    ) -> None:
        self.metrics = metrics
        self.health_check = health_check
        self.host = host
        self.port = port
        self.check_timeout = check_timeout
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Listen; raises OSError when the address is taken."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self.port = int(address[1])
        log.info("metrics and health at %s/metrics and /healthz", self.url)

    async def stop(self) -> None:
        """Stop listening (idempotent)."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        if self.metrics is None:
            raise web.HTTPNotFound(text="metrics are not collected in this process")
        body, content_type = self.metrics.render(request.headers.get("Accept"))
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _healthz(self, _request: web.Request) -> web.Response:
        try:
            ok, details = await asyncio.wait_for(self.health_check(), self.check_timeout)
        except TimeoutError:
            ok, details = False, {"error": f"health check took over {self.check_timeout:g} s"}
        except Exception as exc:
            log.exception("health check failed")
            ok, details = False, {"error": _describe(exc)}
        body = {"status": "ok" if ok else "unhealthy", **details}
        return web.Response(
            status=200 if ok else 503,
            text=json.dumps(body, default=str, allow_nan=True),
            content_type="application/json",
        )


def _describe(exc: BaseException) -> str:
    first = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


__all__ = [
    "DEADLINE_SECONDS",
    "OUTCOMES",
    "HealthCheck",
    "HealthServer",
    "Metrics",
    "make_health_check",
    "ping_database",
    "pool_checked_out",
]
