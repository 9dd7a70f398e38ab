"""The fake's gateway: the websocket a discord.py client connects to.

HELLO, IDENTIFY, READY and a GUILD_CREATE per guild, heartbeats, member lookups
(REQUEST_GUILD_MEMBERS by ids or name prefix, answered with GUILD_MEMBERS_CHUNK), and the events
the store announces (:meth:`Gateway._dispatch_all`), each sent to the clients whose intents ask
for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import secrets
from typing import Any

import aiohttp
from aiohttp import web

from .models import FakeGuild, FakeMember
from .state import LARGE_THRESHOLD, State
from .wire import INTENT_GUILD_MEMBERS

log = logging.getLogger("fakediscord")


class _GatewayConn:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.seq = 0
        self.identified = False
        self.intents = 0
        self.session_id = secrets.token_hex(16)
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.sender: asyncio.Task[None] | None = None

    def send(self, payload: dict[str, Any]) -> None:
        self.queue.put_nowait(payload)

    def dispatch(self, event: str, data: Any) -> None:
        self.send({"op": 0, "t": event, "d": data})

    async def run_sender(self) -> None:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            if item.get("op") == 0:
                self.seq += 1
                item["s"] = self.seq
            else:
                item.setdefault("s", None)
                item.setdefault("t", None)
            if self.ws.closed:
                return
            try:
                await self.ws.send_str(json.dumps(item))
            except (ConnectionError, RuntimeError, aiohttp.ClientError):
                return


class Gateway(State):
    """Serves the gateway websocket and sends the store's events to connected clients."""

    def __init__(self, *, heartbeat_interval_ms: int = 41250, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.identify_payloads: list[dict[str, Any]] = []
        #: the REQUEST_GUILD_MEMBERS payloads clients sent, in order
        self.member_requests: list[dict[str, Any]] = []
        self._conns: list[_GatewayConn] = []
        self._identified = asyncio.Event()

    @property
    def connected(self) -> bool:
        return any(c.identified and not c.ws.closed for c in self._conns)

    async def wait_until_connected(self, timeout: float = 5) -> None:  # noqa: ASYNC109
        """Wait until a client has IDENTIFYed on the gateway."""
        if self.connected:
            return
        await asyncio.wait_for(self._identified.wait(), timeout)

    async def _close_connections(self) -> None:
        for conn in list(self._conns):
            conn.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001)
            if conn.sender is not None:
                conn.sender.cancel()
                with contextlib.suppress(BaseException):
                    await conn.sender
        self._conns.clear()

    # ------------------------------------------------------------------ gateway
    def _any_intent(self, intent: int) -> bool:
        return any(c.identified and c.intents & intent for c in self._conns)

    def _dispatch_all(self, event: str, data: Any, *, intent: int | None = None) -> None:
        for conn in self._conns:
            if conn.identified and (intent is None or conn.intents & intent):
                conn.dispatch(event, copy.deepcopy(data))

    def _primary_conn(self) -> _GatewayConn:
        for conn in reversed(self._conns):
            if conn.identified and not conn.ws.closed:
                return conn
        raise RuntimeError(
            "no discord.py client is connected to the fake gateway (did the bot start?)"
        )

    def _member_updated(self, guild: FakeGuild, member: FakeMember) -> None:
        data = {**member.payload(), "guild_id": str(guild.id)}
        for conn in self._conns:
            if conn.identified and (
                member.id == self.bot_id or conn.intents & INTENT_GUILD_MEMBERS
            ):
                conn.dispatch("GUILD_MEMBER_UPDATE", copy.deepcopy(data))

    def _request_guild_members(self, conn: _GatewayConn, d: dict[str, Any]) -> None:
        """REQUEST_GUILD_MEMBERS, answered with GUILD_MEMBERS_CHUNK events as Discord does.

        By `user_ids` (at most 100; ids not in the guild come back in `not_found`) or by a
        `query` prefix of the username or nickname (at most `limit`, at most 100). The whole
        list (`query` "" and `limit` 0) needs the privileged GUILD_MEMBERS intent, which the
        client must have identified with; it comes in chunks of 1000 members.
        """
        self.member_requests.append(copy.deepcopy(d))
        guild = self.guilds.get(int(d["guild_id"]))
        members = list(guild.members.values()) if guild is not None else []
        not_found: list[str] = []
        user_ids = d.get("user_ids")
        query = d.get("query")
        limit = int(d.get("limit") or 0)
        if user_ids is not None:
            ids = [int(u) for u in (user_ids if isinstance(user_ids, list) else [user_ids])]
            if len(ids) > 100:
                log.error("fakediscord: REQUEST_GUILD_MEMBERS with %d user_ids (max 100)", len(ids))
                return
            by_id = guild.members if guild is not None else {}
            found = [by_id[u] for u in ids if u in by_id]
            not_found = [str(u) for u in ids if u not in by_id]
        elif query == "" and limit == 0:
            if not conn.intents & INTENT_GUILD_MEMBERS:
                log.error(
                    "fakediscord: REQUEST_GUILD_MEMBERS for the whole member list needs the "
                    "GUILD_MEMBERS intent"
                )
                return
            found = members
        else:
            prefix = str(query or "").lower()
            found = [
                m
                for m in members
                if m.name.lower().startswith(prefix) or (m.nick or "").lower().startswith(prefix)
            ][: min(max(limit, 1), 100)]
        chunks = [found[i : i + 1000] for i in range(0, len(found), 1000)] or [[]]
        for index, part in enumerate(chunks):
            chunk: dict[str, Any] = {
                "guild_id": str(d["guild_id"]),
                "members": [m.payload() for m in part],
                "chunk_index": index,
                "chunk_count": len(chunks),
            }
            if index == 0 and not_found:
                chunk["not_found"] = not_found
            if d.get("nonce"):
                chunk["nonce"] = d["nonce"]
            conn.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        conn = _GatewayConn(ws)
        self._conns.append(conn)
        conn.sender = asyncio.create_task(conn.run_sender())
        conn.send(
            {
                "op": 10,
                "d": {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fakediscord"]},
            }
        )
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    log.error("fakediscord: undecodable gateway frame %r", msg.data[:200])
                    continue
                await self._on_gateway_message(conn, payload)
        finally:
            conn.queue.put_nowait(None)
            if conn in self._conns:
                self._conns.remove(conn)
            if not self.connected:
                self._identified.clear()
        return ws

    async def _on_gateway_message(self, conn: _GatewayConn, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        d: Any = payload.get("d") or {}
        if op == 1:  # heartbeat
            conn.send({"op": 11})
        elif op == 2:  # identify
            self.identify_payloads.append(d)
            conn.intents = int(d.get("intents") or 0)
            conn.identified = True
            conn.dispatch(
                "READY",
                {
                    "v": 10,
                    "user": self.bot_user,
                    "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds],
                    "session_id": conn.session_id,
                    "resume_gateway_url": self.gateway_url,
                    "shard": (d.get("shard") or [0, 1]),
                    "application": {"id": str(self.application_id), "flags": 0},
                    "private_channels": [],
                    "relationships": [],
                    "presences": [],
                    "user_settings": {},
                    "guild_join_requests": [],
                    "geo_ordered_rtc_regions": [],
                    "_trace": ["fakediscord"],
                },
            )
            threshold = int(d.get("large_threshold") or LARGE_THRESHOLD)
            for guild in self.guilds.values():
                conn.dispatch("GUILD_CREATE", self._guild_create_payload(guild, threshold))
            self._identified.set()
        elif op == 6:  # resume: not supported -> invalid session, client re-identifies
            conn.send({"op": 9, "d": False})
        elif op == 8:  # request guild members
            self._request_guild_members(conn, d)
        elif op in (3, 4):  # presence / voice state updates: ignore
            pass
        else:
            log.warning("fakediscord: unhandled gateway op %s: %r", op, payload)
