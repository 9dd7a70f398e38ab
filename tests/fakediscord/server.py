"""A fake Discord (REST API + gateway) on loopback for end-to-end tests of discord.py bots.

Usage (see tests/fakediscord/test_fake.py for a full example)::

    fake = FakeDiscord()
    await fake.start()
    fake.install()
    guild = fake.add_guild(name="Test Guild")
    alice = fake.add_member(guild.id, name="alice")
    bot = MyBot(..., guild_ready_timeout=0.1)
    task = asyncio.create_task(bot.start("fake-token"))
    await asyncio.wait_for(bot.wait_until_ready(), 5)
    await bot.tree.sync()
    res = await fake.slash(guild.id, alice.id, "ping")
    assert "pong" in (await res.final())["content"]
    ...
    await bot.close(); await task
    await fake.close(); fake.uninstall()

One class, :class:`FakeDiscord`, made of four parts: :class:`~.state.State` (the in-memory
store and its helpers), :class:`~.rest.Rest` (the REST API), :class:`~.gateway.Gateway` (the
websocket gateway) and :class:`~.driver.Driver` (the test-driving API: ``slash``, ``click``,
``submit_modal``, ...). This module starts and stops the one aiohttp server they share.

Paths used in :meth:`FakeDiscord.fail` and :attr:`RecordedRequest.path` are relative to the API
base, e.g. ``/channels/123/messages``; the CDN's start with ``/cdn``, e.g.
``/cdn/avatars/123/abc.png`` (:meth:`~.state.State.set_avatar` gives a user an avatar there).
"""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import discord.asset
import discord.gateway
import discord.http
import yarl
from aiohttp import web

from .cdn import CDN_PREFIX
from .driver import Driver
from .rest import Rest
from .wire import API_PREFIX


class FakeDiscord(Driver, Rest):
    """In-process fake of the Discord REST API and gateway (one aiohttp server on 127.0.0.1)."""

    def __init__(
        self,
        *,
        bot_id: int | None = None,
        bot_name: str = "FakeBot",
        enforce_permissions: bool = True,
        heartbeat_interval_ms: int = 41250,
        shards: int = 1,
        interaction_deadline: float | None = 3.0,
    ) -> None:
        super().__init__(
            bot_id=bot_id,
            bot_name=bot_name,
            enforce_permissions=enforce_permissions,
            interaction_deadline=interaction_deadline,
            heartbeat_interval_ms=heartbeat_interval_ms,
            shards=shards,
        )
        self._runner: web.AppRunner | None = None
        self._saved: tuple[str, yarl.URL, str] | None = None
        self._bg: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/", self._root_handler)
        app.router.add_route("*", "/{tail:.*}", self._http_handler)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api_base = f"{self.base_url}{API_PREFIX}"
        self.gateway_url = f"ws://127.0.0.1:{self.port}/"
        self.cdn_base = f"{self.base_url}{CDN_PREFIX}"

    async def _root_handler(self, request: web.Request) -> web.StreamResponse:
        """``/`` is the gateway for a websocket upgrade, a REST path otherwise."""
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return await self._http_handler(request)
        return await self._ws_handler(request)

    def install(self) -> None:
        """Point discord.py (REST, gateway and CDN) at this fake. Undo with :meth:`uninstall`."""
        if not self.port:
            raise RuntimeError("call `await fake.start()` before install()")
        if self._saved is None:
            self._saved = (
                discord.http.Route.BASE,
                discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
                discord.asset.Asset.BASE,
            )
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        discord.asset.Asset.BASE = self.cdn_base

    def uninstall(self) -> None:
        if self._saved is not None:
            (
                discord.http.Route.BASE,
                discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
                discord.asset.Asset.BASE,
            ) = self._saved
            self._saved = None

    async def close(self) -> None:
        await self.refuse_gateway(False)  # Hung handshakes end; none waits for the shutdown.
        await self._close_connections()
        for task in list(self._bg):
            task.cancel()
        if self._bg:
            await asyncio.gather(*self._bg, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        self.install()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
        self.uninstall()
