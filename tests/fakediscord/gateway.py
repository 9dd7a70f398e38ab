"""The fake's gateway: the websocket a discord.py client connects to.

HELLO, IDENTIFY, READY and a GUILD_CREATE per guild, heartbeats, member lookups
(REQUEST_GUILD_MEMBERS by ids or name prefix, answered with GUILD_MEMBERS_CHUNK), and the events
the store announces (:meth:`Gateway._dispatch_all`), each sent to the clients whose intents ask
for it.

Sharded like Discord: an IDENTIFY may carry ``shard: [id, count]``; that connection then gets
the guilds with ``(guild_id >> 22) % count == id`` (in READY, as GUILD_CREATEs, their events and
their interactions) and, on shard 0, direct messages. Without ``shard`` it is ``[0, 1]``: all.
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


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """Discord's shard of a guild; direct messages (no guild) go to shard 0."""
    return 0 if guild_id is None else (guild_id >> 22) % shard_count


class ShardNotConnectedError(AssertionError):
    """No client holds the shard of this guild: Discord would not deliver the interaction."""


class _GatewayConn:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.seq = 0
        self.identified = False
        self.intents = 0
        self.shard: tuple[int, int] = (0, 1)
        self.token = ""
        self.session_id = secrets.token_hex(16)
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.sender: asyncio.Task[None] | None = None

    def send(self, payload: dict[str, Any]) -> None:
        self.queue.put_nowait(payload)

    def dispatch(self, event: str, data: Any) -> None:
        self.send({"op": 0, "t": event, "d": data})

    def holds(self, guild_id: int | None) -> bool:
        """Whether this connection is the shard that gets ``guild_id``'s events."""
        shard_id, shard_count = self.shard
        return self.identified and shard_of(guild_id, shard_count) == shard_id

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
        self._conns_changed = asyncio.Condition()
        self.gateway_refused = False
        self.gateway_refusals = 0
        self._gateway_hangs = False
        self._refusal_over = asyncio.Event()

    @property
    def connected(self) -> bool:
        return any(c.identified and not c.ws.closed for c in self._conns)

    def shard_connected(self, guild_id: int | None) -> bool:
        """Whether a client holds the shard that gets ``guild_id``'s events (None: DMs)."""
        return self._holder(guild_id) is not None

    def connected_shards(self) -> set[tuple[int, int]]:
        """The ``(shard id, shard count)`` of every connected client."""
        return {c.shard for c in self._conns if c.identified and not c.ws.closed}

    async def wait_until_connected(
        self,
        timeout: float = 5,  # noqa: ASYNC109
        *,
        guild_id: int | None = None,
        any_shard: bool = True,
    ) -> None:
        """Wait until a client has IDENTIFYed; with ``guild_id`` (or ``any_shard=False`` for
        DMs), until one holds that guild's shard. Raises ShardNotConnectedError on timeout."""

        def ready() -> bool:
            if guild_id is None and any_shard:
                return self.connected
            return self.shard_connected(guild_id)

        async def wait() -> None:
            async with self._conns_changed:
                await self._conns_changed.wait_for(ready)

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            where = "any shard" if guild_id is None and any_shard else self._shard_text(guild_id)
            raise ShardNotConnectedError(
                f"no discord.py client connected to the fake gateway for {where} "
                f"within {timeout}s (connected: {sorted(self.connected_shards())})"
            ) from None

    def _shard_text(self, guild_id: int | None) -> str:
        counts = {count for _, count in self.connected_shards()} or {1}
        target = "direct messages" if guild_id is None else f"guild {guild_id}"
        shards = ", ".join(f"shard {shard_of(guild_id, n)} of {n}" for n in sorted(counts))
        return f"{target} ({shards})"

    async def _conns_changed_notify(self) -> None:
        async with self._conns_changed:
            self._conns_changed.notify_all()

    async def refuse_gateway(self, refuse: bool = True, *, hang: bool = False) -> None:
        """Act as if Discord's gateway were down: drop the open connections and answer every
        new one with HTTP 503 (``refuse=False`` accepts connections again).

        With ``hang=True`` a new connection gets no answer at all until the refusal ends (or
        the fake closes), as behind a network that drops packets. REST keeps working, as in a
        real gateway outage; :attr:`gateway_refusals` counts the connections turned away.
        """
        self.gateway_refused = refuse
        self._gateway_hangs = refuse and hang
        if refuse:
            self._refusal_over.clear()
            await self._close_connections()
        else:
            self._refusal_over.set()

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
        guild_id = _event_guild(event, data)
        for conn in self._conns:
            if conn.holds(guild_id) and (intent is None or conn.intents & intent):
                conn.dispatch(event, copy.deepcopy(data))

    def _holder(self, guild_id: int | None) -> _GatewayConn | None:
        """The newest open connection that holds the shard of ``guild_id``."""
        for conn in reversed(self._conns):
            if conn.holds(guild_id) and not conn.ws.closed:
                return conn
        return None

    def _primary_conn(self, guild_id: int | None = None) -> _GatewayConn:
        conn = self._holder(guild_id)
        if conn is None:
            raise ShardNotConnectedError(
                "no discord.py client is connected to the fake gateway for "
                f"{self._shard_text(guild_id)} (did the bot start?)"
            )
        return conn

    def _member_updated(self, guild: FakeGuild, member: FakeMember) -> None:
        data = {**member.payload(), "guild_id": str(guild.id)}
        for conn in self._conns:
            if conn.holds(guild.id) and (
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
        if self.gateway_refused:
            self.gateway_refusals += 1
            if self._gateway_hangs:
                await self._refusal_over.wait()
            return web.Response(status=503, text="gateway unavailable (fakediscord)")
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
            await self._conns_changed_notify()
        return ws

    async def _on_gateway_message(self, conn: _GatewayConn, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        d: Any = payload.get("d") or {}
        if op == 1:  # heartbeat
            conn.send({"op": 11})
        elif op == 2:  # identify
            self.identify_payloads.append(d)
            shard = d.get("shard") or [0, 1]
            try:
                shard_id, shard_count = (int(x) for x in shard)
            except (TypeError, ValueError):
                shard_id, shard_count = -1, 0
            if not 0 <= shard_id < shard_count:
                await conn.ws.close(code=4010, message=b"Invalid shard")
                return
            conn.shard = (shard_id, shard_count)
            conn.token = str(d.get("token") or "")
            conn.intents = int(d.get("intents") or 0)
            conn.identified = True
            self.session_starts += 1
            held = [g for g in self.guilds.values() if conn.holds(g.id)]
            conn.dispatch(
                "READY",
                {
                    "v": 10,
                    "user": self.bot_user,
                    "guilds": [{"id": str(g.id), "unavailable": True} for g in held],
                    "session_id": conn.session_id,
                    "resume_gateway_url": self.gateway_url,
                    "shard": [shard_id, shard_count],
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
            for guild in held:
                conn.dispatch("GUILD_CREATE", self._guild_create_payload(guild, threshold))
            await self._conns_changed_notify()
        elif op == 6:  # resume: not supported -> invalid session, client re-identifies
            conn.send({"op": 9, "d": False})
        elif op == 8:  # request guild members
            self._request_guild_members(conn, d)
        elif op in (3, 4):  # presence / voice state updates: ignore
            pass
        else:
            log.warning("fakediscord: unhandled gateway op %s: %r", op, payload)


def _event_guild(event: str, data: Any) -> int | None:
    """The guild an event belongs to (None: a direct message, sent on shard 0)."""
    if not isinstance(data, dict):
        return None
    if event in {"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"}:
        return int(data["id"])
    guild_id = data.get("guild_id")
    return int(guild_id) if guild_id is not None else None
