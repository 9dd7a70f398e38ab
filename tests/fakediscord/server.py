"""A fake Discord (REST API + gateway) on loopback for end-to-end tests of discord.py bots.

Usage (see tests/test_fakediscord.py for a full example)::

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

Paths used in :meth:`FakeDiscord.fail` and :attr:`RecordedRequest.path` are relative to the API
base, e.g. ``/channels/123/messages``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import web

from .interaction import EPHEMERAL, LOADING, InteractionResult
from .models import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    MANAGE_ROLES,
    FakeChannel,
    FakeFile,
    FakeGuild,
    FakeMember,
    FakeRole,
    RecordedRequest,
    SnowflakeFactory,
    iso_now,
    user_payload,
)

log = logging.getLogger("fakediscord")

API_PREFIX = "/api/v10"

# gateway intents bits
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

# app command option types
OPT_SUB_COMMAND = 1
OPT_SUB_COMMAND_GROUP = 2
OPT_STRING = 3
OPT_INTEGER = 4
OPT_BOOLEAN = 5
OPT_USER = 6
OPT_CHANNEL = 7
OPT_ROLE = 8
OPT_MENTIONABLE = 9
OPT_NUMBER = 10
OPT_ATTACHMENT = 11

Snowflakeish = int | str | FakeMember | FakeRole | FakeChannel | FakeGuild | dict[str, Any]
GuildRef = int | FakeGuild
UserRef = int | FakeMember
ChannelRef = int | FakeChannel


def _opt_id(obj: Snowflakeish | None) -> int | None:
    return None if obj is None else _id_of(obj)


class CommandNotAllowed(AssertionError):
    """Real Discord would not let this user invoke this command here (permissions/contexts)."""


def _id_of(obj: Snowflakeish) -> int:
    if isinstance(obj, (FakeMember, FakeRole, FakeChannel, FakeGuild)):
        return obj.id
    if isinstance(obj, dict):
        return int(obj["id"])
    return int(obj)


class FakeHTTPError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass
class FailureRule:
    method: str
    pattern: re.Pattern[str]
    status: int
    code: int
    message: str
    times: int | None  # None: forever

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        return (self.method in ("*", method)) and self.pattern.fullmatch(path) is not None


@dataclass
class _Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    files: list[FakeFile]
    headers: dict[str, str]

    def param(self, name: str) -> int:
        return int(self.params[name])


Handler = Callable[[_Request], Awaitable[web.StreamResponse]]


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


def _json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    hdrs = {"Content-Type": "application/json"}
    if headers:
        hdrs.update(headers)
    return web.Response(status=status, body=json.dumps(data).encode(), headers=hdrs)


def _no_content() -> web.Response:
    # No Content-Type: discord.py would try to json-decode the empty body of a 204.
    return web.Response(status=204)


def _error(status: int, code: int, message: str) -> web.Response:
    data: dict[str, Any] = {"message": message, "code": code}
    headers: dict[str, str] = {}
    if status == 429:
        data.update({"retry_after": 0.01, "global": False})
        headers = {"Via": "1.1 google", "Retry-After": "0"}
    return _json_response(data, status, headers)


class FakeDiscord:
    """In-process fake of the Discord REST API and gateway (one aiohttp server on 127.0.0.1)."""

    def __init__(
        self,
        *,
        bot_id: int | None = None,
        bot_name: str = "FakeBot",
        enforce_permissions: bool = True,
        heartbeat_interval_ms: int = 41250,
    ) -> None:
        self.snowflake = SnowflakeFactory()
        bid = bot_id if bot_id is not None else self.snowflake()
        #: the bot user's payload (application id == bot user id)
        self.bot_user: dict[str, Any] = user_payload(bid, bot_name, bot=True)
        self.bot_user.update(
            {"verified": True, "mfa_enabled": False, "email": None, "locale": "en-US"}
        )
        self.bot_id = bid
        self.application_id = bid
        self.owner = FakeMember(id=self.snowflake(), name="app-owner")
        #: when True, role management checks MANAGE_ROLES + hierarchy like Discord (403/50013)
        self.enforce_permissions = enforce_permissions
        self.heartbeat_interval_ms = heartbeat_interval_ms

        self.guilds: dict[int, FakeGuild] = {}
        self.users: dict[int, FakeMember] = {bid: FakeMember(id=bid, name=bot_name, bot=True)}
        self.users[self.owner.id] = self.owner
        self.channels: dict[int, FakeChannel] = {}
        self.dm_channels: dict[int, FakeChannel] = {}  # user id -> DM channel
        self.closed_dms: set[int] = set()
        self.messages: dict[int, dict[str, Any]] = {}
        self._channel_message_ids: dict[int, list[int]] = {}
        self._deleted_message_ids: set[int] = set()
        self.attachment_store: dict[int, bytes] = {}

        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.command_sync_count = 0
        self._command_ids: dict[tuple[int | None, int, str], int] = {}

        self.requests: list[RecordedRequest] = []
        self.unknown_requests: list[RecordedRequest] = []
        self.failures: list[FailureRule] = []
        self.identify_payloads: list[dict[str, Any]] = []

        self.interactions: list[InteractionResult] = []
        self._by_token: dict[str, InteractionResult] = {}
        self._by_id: dict[int, InteractionResult] = {}
        self._modals: dict[str, tuple[dict[str, Any], InteractionResult]] = {}

        self._conns: list[_GatewayConn] = []
        self._identified = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._saved: tuple[str, yarl.URL] | None = None
        self._bg: set[asyncio.Task[Any]] = set()
        self.port = 0
        self.base_url = ""
        self.api_base = ""
        self.gateway_url = ""
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._register_routes()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/", self._ws_handler)
        app.router.add_route("*", "/{tail:.*}", self._http_handler)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api_base = f"{self.base_url}{API_PREFIX}"
        self.gateway_url = f"ws://127.0.0.1:{self.port}/"

    def install(self) -> None:
        """Point discord.py (REST + gateway) at this fake. Undo with :meth:`uninstall`."""
        if not self.port:
            raise RuntimeError("call `await fake.start()` before install()")
        if self._saved is None:
            self._saved = (
                discord.http.Route.BASE,
                discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
            )
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)

    def uninstall(self) -> None:
        if self._saved is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None

    async def close(self) -> None:
        for conn in list(self._conns):
            conn.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001)
            if conn.sender is not None:
                conn.sender.cancel()
                with contextlib.suppress(BaseException):
                    await conn.sender
        self._conns.clear()
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

    @property
    def connected(self) -> bool:
        return any(c.identified and not c.ws.closed for c in self._conns)

    async def wait_until_connected(self, timeout: float = 5) -> None:  # noqa: ASYNC109
        """Wait until a client has IDENTIFYed on the gateway."""
        if self.connected:
            return
        await asyncio.wait_for(self._identified.wait(), timeout)

    # ------------------------------------------------------------------ state setup
    def add_guild(
        self,
        name: str = "Test Guild",
        owner_id: int | None = None,
        *,
        guild_id: int | None = None,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
        channel_name: str = "general",
    ) -> FakeGuild:
        """Create a guild: @everyone role (id == guild id), a text channel, the bot as member.

        ``owner_id`` defaults to the application owner (a non-bot user, also added as a member).
        """
        gid = guild_id if guild_id is not None else self.snowflake()
        owner = owner_id if owner_id is not None else self.owner.id
        guild = FakeGuild(id=gid, name=name, owner_id=owner)
        guild.roles[gid] = FakeRole(
            id=gid, guild_id=gid, name="@everyone", position=0, permissions=everyone_permissions
        )
        self.guilds[gid] = guild
        self.add_channel(gid, channel_name, _announce=False)
        guild.members[self.bot_id] = FakeMember(
            id=self.bot_id, name=self.bot_user["username"], guild_id=gid, bot=True
        )
        if owner not in guild.members:
            ou = self.users.get(owner)
            guild.members[owner] = FakeMember(
                id=owner, name=ou.name if ou else f"owner{owner}", guild_id=gid
            )
            self.users.setdefault(owner, FakeMember(id=owner, name=guild.members[owner].name))
        self._dispatch_all("GUILD_CREATE", self._guild_create_payload(guild))
        return guild

    def guild(self, guild_id: int) -> FakeGuild:
        try:
            return self.guilds[int(guild_id)]
        except KeyError:
            raise KeyError(f"fake has no guild {guild_id}; use fake.add_guild()") from None

    def add_channel(
        self,
        guild_id: int,
        name: str = "general",
        *,
        type: int = 0,
        topic: str | None = None,
        parent_id: int | None = None,
        channel_id: int | None = None,
        _announce: bool = True,
    ) -> FakeChannel:
        guild = self.guild(guild_id)
        cid = channel_id if channel_id is not None else self.snowflake()
        ch = FakeChannel(
            id=cid,
            name=name,
            type=type,
            guild_id=guild.id,
            position=len(guild.channels),
            topic=topic,
            parent_id=parent_id,
        )
        guild.channels[cid] = ch
        self.channels[cid] = ch
        if _announce:
            self._dispatch_all("CHANNEL_CREATE", ch.payload())
        return ch

    def add_role(
        self,
        guild_id: int,
        name: str,
        position: int | None = None,
        permissions: int = 0,
        *,
        color: int = 0,
        hoist: bool = False,
        mentionable: bool = False,
        managed: bool = False,
        role_id: int | None = None,
    ) -> FakeRole:
        """Add a role. ``position`` defaults to the top of the current role stack."""
        guild = self.guild(guild_id)
        if position is None:
            position = max((r.position for r in guild.roles.values()), default=0) + 1
        role = FakeRole(
            id=role_id if role_id is not None else self.snowflake(),
            guild_id=guild.id,
            name=name,
            position=position,
            permissions=int(permissions),
            color=color,
            hoist=hoist,
            mentionable=mentionable,
            managed=managed,
        )
        guild.roles[role.id] = role
        self._dispatch_all("GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.payload()})
        return role

    def set_bot_roles(self, guild_id: int, role_ids: list[int] | list[FakeRole]) -> None:
        guild = self.guild(guild_id)
        member = guild.members[self.bot_id]
        member.roles = {_id_of(r) for r in role_ids}
        self._member_updated(guild, member)

    def give_bot_permissions(
        self, guild_id: int, permissions: int, *, position: int = 1000
    ) -> FakeRole:
        """Convenience: a managed bot role at the top of the stack holding ``permissions``."""
        role = self.add_role(
            guild_id,
            self.bot_user["username"],
            position=position,
            permissions=permissions,
            managed=True,
        )
        role.bot_id = self.bot_id
        guild = self.guild(guild_id)
        self.set_bot_roles(guild_id, [*guild.members[self.bot_id].roles, role.id])
        return role

    def add_user(self, name: str, user_id: int | None = None, *, bot: bool = False) -> FakeMember:
        """A user known to the fake but not in any guild (e.g. for DM interactions)."""
        uid = user_id if user_id is not None else self.snowflake()
        user = FakeMember(id=uid, name=name, bot=bot)
        self.users[uid] = user
        return user

    def add_member(
        self,
        guild_id: int,
        user_id: int | None = None,
        name: str | None = None,
        permissions: int | None = None,
        roles: list[int] | list[FakeRole] | None = None,
        *,
        nick: str | None = None,
        bot: bool = False,
    ) -> FakeMember:
        """Add a member. ``permissions`` (if given) is what interactions carry as
        ``member.permissions``;
        otherwise it is computed from the member's roles."""
        guild = self.guild(guild_id)
        uid = user_id if user_id is not None else self.snowflake()
        if uid in self.users:
            uname = name or self.users[uid].name
            self.users[uid].name = uname
        else:
            uname = name or f"user{uid}"
            self.users[uid] = FakeMember(id=uid, name=uname, bot=bot)
        member = FakeMember(
            id=uid,
            name=uname,
            guild_id=guild.id,
            roles={_id_of(r) for r in roles or []},
            permissions=permissions,
            nick=nick,
            bot=bot,
        )
        guild.members[uid] = member
        if self._any_intent(INTENT_GUILD_MEMBERS):
            self._dispatch_all(
                "GUILD_MEMBER_ADD",
                {**member.payload(), "guild_id": str(guild.id)},
                intent=INTENT_GUILD_MEMBERS,
            )
        return member

    def member(self, guild_id: int, user_id: int) -> FakeMember:
        guild = self.guild(guild_id)
        try:
            return guild.members[int(user_id)]
        except KeyError:
            raise KeyError(
                f"user {user_id} is not a member of fake guild {guild_id}; use fake.add_member()"
            ) from None

    def member_roles(self, guild_id: int, user_id: int) -> set[int]:
        return set(self.member(guild_id, user_id).roles)

    def close_dms(self, user_id: int, closed: bool = True) -> None:
        """Make (or stop making) DMs to this user fail with 403 / 50007 like closed DMs."""
        if closed:
            self.closed_dms.add(int(user_id))
        else:
            self.closed_dms.discard(int(user_id))

    def fail(
        self,
        method: str,
        path_pattern: str,
        status: int,
        code: int = 0,
        message: str = "Injected failure",
        times: int | None = None,
    ) -> FailureRule:
        """Inject an error for requests whose path (relative to /api/v10) fullmatches
        ``path_pattern``.

        ``method`` may be ``"*"``. ``times=None`` fails forever; rules are checked newest first.
        Example: ``fake.fail("POST", r"/channels/\\d+/messages", 403, 50013, "Missing Access")``.
        """
        if path_pattern.startswith(API_PREFIX):
            path_pattern = path_pattern[len(API_PREFIX) :]
        rule = FailureRule(method.upper(), re.compile(path_pattern), status, code, message, times)
        self.failures.insert(0, rule)
        return rule

    def clear_failures(self) -> None:
        self.failures.clear()

    # ------------------------------------------------------------------ queries
    def channel_messages(
        self, channel_id: int, *, include_interactions: bool = False
    ) -> list[dict[str, Any]]:
        """Messages posted by the bot in a channel (current state after edits; minus deleted).

        By default only messages created with ``POST /channels/{id}/messages`` (``channel.send``);
        ``include_interactions=True`` adds interaction responses/followups posted there.
        """
        out = []
        for mid in self._channel_message_ids.get(int(channel_id), []):
            msg = self.messages.get(mid)
            if msg is None or msg["author"]["id"] != self.bot_user["id"]:
                continue
            if not include_interactions and (
                msg.get("webhook_id") or msg.get("interaction_metadata")
            ):
                continue
            out.append(msg)
        return out

    def dms(self, user_id: int) -> list[dict[str, Any]]:
        """DM messages the bot sent to a user (via ``POST /channels/{dm}/messages``)."""
        ch = self.dm_channels.get(int(user_id))
        return [] if ch is None else self.channel_messages(ch.id)

    def commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        if guild_id is None:
            return list(self.global_commands)
        return list(self.guild_commands.get(int(guild_id), []))

    def requests_to(self, method: str, path_pattern: str) -> list[RecordedRequest]:
        pat = re.compile(path_pattern)
        return [r for r in self.requests if r.method == method.upper() and pat.fullmatch(r.path)]

    def attachment_bytes(self, attachment: dict[str, Any] | int) -> bytes:
        """Bytes of an uploaded attachment (give the attachment dict from a message, or its id)."""
        return self.attachment_store[_id_of(attachment)]

    def bot_permissions(self, guild_id: int) -> int:
        guild = self.guild(guild_id)
        return self._member_permissions(guild, guild.members[self.bot_id], explicit=False)

    # ------------------------------------------------------------------ permissions
    def _member_permissions(
        self, guild: FakeGuild, member: FakeMember, *, explicit: bool = True
    ) -> int:
        if explicit and member.permissions is not None:
            return int(member.permissions)
        if member.id == guild.owner_id:
            return ALL_PERMISSIONS
        perms = guild.everyone.permissions
        for rid in member.roles:
            role = guild.roles.get(rid)
            if role is not None:
                perms |= role.permissions
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    def _top_position(self, guild: FakeGuild, member: FakeMember) -> int:
        return max((guild.roles[r].position for r in member.roles if r in guild.roles), default=0)

    def _check_can_manage_role(self, guild: FakeGuild, role: FakeRole) -> None:
        if not self.enforce_permissions:
            return
        bot = guild.members[self.bot_id]
        if bot.id == guild.owner_id:
            return
        perms = self._member_permissions(guild, bot, explicit=False)
        if not perms & MANAGE_ROLES:
            log.warning(
                "fakediscord: bot lacks MANAGE_ROLES in guild %s "
                "(use fake.set_bot_roles/give_bot_permissions)",
                guild.id,
            )
            raise FakeHTTPError(403, 50013, "Missing Permissions")
        if role.managed or role.id == guild.id or role.position >= self._top_position(guild, bot):
            log.warning(
                "fakediscord: role %r (position %s) is not below the bot's top role (position %s)",
                role.name,
                role.position,
                self._top_position(guild, bot),
            )
            raise FakeHTTPError(403, 50013, "Missing Permissions")

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

    def _guild_create_payload(self, guild: FakeGuild) -> dict[str, Any]:
        data = guild.base_payload()
        data.update(
            {
                "unavailable": False,
                "joined_at": iso_now(),
                "large": False,
                "member_count": len(guild.members),
                "channels": [c.payload() for c in guild.channels.values()],
                "members": [m.payload() for m in guild.members.values()],
                "threads": [],
                "presences": [],
                "voice_states": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
                "embedded_activities": [],
            }
        )
        return data

    def _member_updated(self, guild: FakeGuild, member: FakeMember) -> None:
        data = {**member.payload(), "guild_id": str(guild.id)}
        for conn in self._conns:
            if conn.identified and (
                member.id == self.bot_id or conn.intents & INTENT_GUILD_MEMBERS
            ):
                conn.dispatch("GUILD_MEMBER_UPDATE", copy.deepcopy(data))

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return await self._http_handler(request)
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
            for guild in self.guilds.values():
                conn.dispatch("GUILD_CREATE", self._guild_create_payload(guild))
            self._identified.set()
        elif op == 6:  # resume: not supported -> invalid session, client re-identifies
            conn.send({"op": 9, "d": False})
        elif op == 8:  # request guild members
            gid = int(d["guild_id"])
            req_guild = self.guilds.get(gid)
            members = [m.payload() for m in req_guild.members.values()] if req_guild else []
            chunk: dict[str, Any] = {
                "guild_id": str(gid),
                "members": members,
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
            }
            if d.get("nonce"):
                chunk["nonce"] = d["nonce"]
            conn.dispatch("GUILD_MEMBERS_CHUNK", chunk)
        elif op in (3, 4):  # presence / voice state updates: ignore
            pass
        else:
            log.warning("fakediscord: unhandled gateway op %s: %r", op, payload)

    # ------------------------------------------------------------------ HTTP plumbing
    def _route(self, method: str, template: str, handler: Handler) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        self._routes.append((method, re.compile(regex), handler))

    async def _read_body(self, request: web.Request) -> tuple[Any, list[FakeFile]]:
        ctype = request.content_type
        files: list[FakeFile] = []
        body: Any = None
        if ctype.startswith("multipart/"):
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, aiohttp.BodyPartReader):
                    continue
                data = await part.read(decode=False)
                if part.name == "payload_json":
                    body = json.loads(data.decode())
                elif part.filename is not None or (part.name or "").startswith("file"):
                    files.append(
                        FakeFile(
                            name=part.name or "",
                            filename=part.filename or part.name or "file",
                            content_type=part.headers.get("Content-Type"),
                            data=bytes(data),
                        )
                    )
                else:
                    log.debug("fakediscord: ignoring multipart field %s", part.name)
        else:
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw.decode())
                except ValueError:
                    body = raw.decode(errors="replace")
        return body, files

    async def _http_handler(self, request: web.Request) -> web.StreamResponse:
        full_path = request.path
        m = re.fullmatch(r"/attachments/(\d+)/[^/]+", full_path)
        if m and request.method == "GET":
            blob = self.attachment_store.get(int(m.group(1)))
            if blob is None:
                return web.Response(status=404)
            return web.Response(body=blob, content_type="application/octet-stream")

        path = full_path[len(API_PREFIX) :] if full_path.startswith(API_PREFIX) else full_path
        method = request.method.upper()
        body, files = await self._read_body(request)
        rec = RecordedRequest(
            method=method, path=path, query=dict(request.query), json=body, files=files
        )
        self.requests.append(rec)

        for rule in self.failures:
            if rule.matches(method, path):
                if rule.times is not None:
                    rule.times -= 1
                rec.status = rule.status
                log.info(
                    "fakediscord: injected %s %s for %s %s", rule.status, rule.code, method, path
                )
                return _error(rule.status, rule.code, rule.message)

        if not full_path.startswith(API_PREFIX):
            return self._unknown(rec)
        for rmethod, regex, handler in self._routes:
            if rmethod != method:
                continue
            mm = regex.fullmatch(path)
            if mm is None:
                continue
            req = _Request(
                method,
                path,
                mm.groupdict(),
                dict(request.query),
                body,
                files,
                dict(request.headers),
            )
            try:
                resp = await handler(req)
            except FakeHTTPError as exc:
                resp = _error(exc.status, exc.code, exc.message)
            except Exception:
                log.exception("fakediscord: handler for %s %s crashed", method, path)
                resp = _error(500, 0, "fakediscord handler crashed (see log)")
            rec.status = resp.status
            return resp
        return self._unknown(rec)

    def _unknown(self, rec: RecordedRequest) -> web.Response:
        rec.status = 404
        self.unknown_requests.append(rec)
        log.error(
            "fakediscord: UNKNOWN ROUTE %s %s (json=%r) -> 404; add it to tests/fakediscord",
            rec.method,
            rec.path,
            rec.json,
        )
        return _error(404, 0, "Unknown route")

    def _register_routes(self) -> None:
        r = self._route
        r("GET", "/users/@me", self._get_me)
        r("GET", "/oauth2/applications/@me", self._get_app)
        r("GET", "/applications/@me", self._get_app)
        r("GET", "/gateway", self._get_gateway)
        r("GET", "/gateway/bot", self._get_gateway)
        r("GET", "/applications/{app}/commands", self._get_commands)
        r("PUT", "/applications/{app}/commands", self._put_commands)
        r("GET", "/applications/{app}/guilds/{guild}/commands", self._get_commands)
        r("PUT", "/applications/{app}/guilds/{guild}/commands", self._put_commands)
        r("POST", "/interactions/{iid}/{token}/callback", self._interaction_callback)
        r("POST", "/webhooks/{app}/{token}", self._webhook_execute)
        r("GET", "/webhooks/{app}/{token}/messages/{mid}", self._webhook_get)
        r("PATCH", "/webhooks/{app}/{token}/messages/{mid}", self._webhook_edit)
        r("DELETE", "/webhooks/{app}/{token}/messages/{mid}", self._webhook_delete)
        r("GET", "/channels/{cid}", self._get_channel)
        r("POST", "/channels/{cid}/messages", self._post_message)
        r("GET", "/channels/{cid}/messages", self._get_messages)
        r("GET", "/channels/{cid}/messages/{mid}", self._get_message)
        r("PATCH", "/channels/{cid}/messages/{mid}", self._edit_message)
        r("DELETE", "/channels/{cid}/messages/{mid}", self._delete_message)
        r("POST", "/channels/{cid}/typing", self._no_content_route)
        r("PUT", "/channels/{cid}/messages/{mid}/reactions/{emoji}/@me", self._no_content_route)
        r("DELETE", "/channels/{cid}/messages/{mid}/reactions/{emoji}/@me", self._no_content_route)
        r("POST", "/users/@me/channels", self._create_dm)
        r("GET", "/users/{uid}", self._get_user)
        r("GET", "/guilds/{guild}", self._get_guild)
        r("GET", "/guilds/{guild}/roles", self._get_roles)
        r("POST", "/guilds/{guild}/roles", self._create_role)
        r("GET", "/guilds/{guild}/channels", self._get_guild_channels)
        r("GET", "/guilds/{guild}/members", self._get_members)
        r("GET", "/guilds/{guild}/members/{uid}", self._get_member)
        r("PATCH", "/guilds/{guild}/members/{uid}", self._patch_member)
        r("PUT", "/guilds/{guild}/members/{uid}/roles/{rid}", self._add_member_role)
        r("DELETE", "/guilds/{guild}/members/{uid}/roles/{rid}", self._remove_member_role)

    # ------------------------------------------------------------------ lookups (Discord errors)
    def _req_guild(self, gid: int) -> FakeGuild:
        g = self.guilds.get(gid)
        if g is None:
            raise FakeHTTPError(404, 10004, "Unknown Guild")
        return g

    def _req_member(self, guild: FakeGuild, uid: int) -> FakeMember:
        m = guild.members.get(uid)
        if m is None:
            raise FakeHTTPError(404, 10007, "Unknown Member")
        return m

    def _req_channel(self, cid: int) -> FakeChannel:
        ch = self.channels.get(cid)
        if ch is None:
            raise FakeHTTPError(404, 10003, "Unknown Channel")
        return ch

    def _req_interaction(self, token: str) -> InteractionResult:
        res = self._by_token.get(token)
        if res is None:
            raise FakeHTTPError(404, 10015, "Unknown Webhook")
        return res

    def _channel_payload(self, ch: FakeChannel) -> dict[str, Any]:
        users: dict[int, dict[str, Any]] = {}
        if ch.recipient_id is not None and ch.recipient_id in self.users:
            users[ch.recipient_id] = self.users[ch.recipient_id].user
        return ch.payload(users)

    # ------------------------------------------------------------------ simple routes
    async def _no_content_route(self, req: _Request) -> web.Response:
        return _no_content()

    async def _get_me(self, req: _Request) -> web.Response:
        return _json_response(self.bot_user)

    async def _get_app(self, req: _Request) -> web.Response:
        return _json_response(
            {
                "id": str(self.application_id),
                "name": self.bot_user["username"],
                "icon": None,
                "description": "fake application",
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "bot": self.bot_user,
                "owner": self.owner.user,
                "team": None,
                "summary": "",
                "verify_key": "0" * 64,
                "flags": 0,
                "tags": [],
                "install_params": None,
                "interactions_endpoint_url": None,
                "redirect_uris": [],
                "approximate_guild_count": len(self.guilds),
            }
        )

    async def _get_gateway(self, req: _Request) -> web.Response:
        return _json_response(
            {
                "url": self.gateway_url.rstrip("/"),
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def _get_user(self, req: _Request) -> web.Response:
        u = self.users.get(req.param("uid"))
        if u is None:
            raise FakeHTTPError(404, 10013, "Unknown User")
        return _json_response(u.user)

    # ------------------------------------------------------------------ commands
    async def _get_commands(self, req: _Request) -> web.Response:
        gid = req.params.get("guild")
        return _json_response(self.commands(int(gid) if gid else None))

    async def _put_commands(self, req: _Request) -> web.Response:
        gid = int(req.params["guild"]) if "guild" in req.params else None
        if gid is not None:
            self._req_guild(gid)
        self.command_sync_count += 1
        out = []
        for cmd in req.json or []:
            ctype = int(cmd.get("type", 1))
            key = (gid, ctype, cmd["name"])
            cid = self._command_ids.setdefault(key, self.snowflake())
            stored: dict[str, Any] = {
                "type": ctype,
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "dm_permission": True,
                "nsfw": False,
                **copy.deepcopy(cmd),
                "id": str(cid),
                "application_id": str(self.application_id),
                "version": str(self.snowflake()),
            }
            if gid is not None:
                stored["guild_id"] = str(gid)
            out.append(stored)
        if gid is None:
            self.global_commands = out
        else:
            self.guild_commands[gid] = out
        return _json_response(out)

    # ------------------------------------------------------------------ messages
    def _build_attachments(
        self,
        body: dict[str, Any],
        files: list[FakeFile],
        existing: list[dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        by_id = {str(a["id"]): a for a in existing or []}
        meta = body.get("attachments")
        out: list[dict[str, Any]] = []
        used: set[int] = set()
        if meta is not None:
            for a in meta:
                aid = str(a.get("id"))
                if aid in by_id:
                    out.append(by_id[aid])
                    continue
                idx = int(a["id"]) if str(a.get("id", "")).isdigit() else -1
                if 0 <= idx < len(files):
                    out.append(self._store_attachment(files[idx], a))
                    used.add(idx)
        for i, f in enumerate(files):
            if i not in used:
                out.append(self._store_attachment(f, {}))
        if meta is None and existing is not None and not files:
            return list(existing)
        return out

    def _store_attachment(self, f: FakeFile, meta: dict[str, Any]) -> dict[str, Any]:
        aid = self.snowflake()
        self.attachment_store[aid] = f.data
        filename = meta.get("filename") or f.filename
        url = f"{self.base_url}/attachments/{aid}/{filename}"
        att: dict[str, Any] = {
            "id": str(aid),
            "filename": filename,
            "size": len(f.data),
            "url": url,
            "proxy_url": url,
            "content_type": f.content_type,
        }
        if meta.get("description"):
            att["description"] = meta["description"]
        return att

    def _new_message(
        self,
        channel_id: int,
        body: dict[str, Any] | None,
        files: list[FakeFile],
        *,
        interaction: InteractionResult | None = None,
        flags: int = 0,
        msg_type: int | None = None,
    ) -> dict[str, Any]:
        body = body or {}
        mid = self.snowflake()
        ch = self.channels.get(channel_id)
        flags = (int(body.get("flags") or 0) & ~LOADING) | flags
        msg: dict[str, Any] = {
            "id": str(mid),
            "type": 0,
            "channel_id": str(channel_id),
            "author": dict(self.bot_user),
            "content": body.get("content") or "",
            "embeds": copy.deepcopy(body.get("embeds") or []),
            "components": copy.deepcopy(body.get("components") or []),
            "attachments": self._build_attachments(body, files),
            "flags": flags,
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts")),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "sticker_items": [],
            "reactions": [],
        }
        if body.get("poll"):
            msg["poll"] = copy.deepcopy(body["poll"])
        if ch is not None and ch.guild_id is not None:
            msg["guild_id"] = str(ch.guild_id)
        if body.get("message_reference"):
            ref = dict(body["message_reference"])
            ref.setdefault("channel_id", str(channel_id))
            msg["message_reference"] = ref
            msg["type"] = 19
        if interaction is not None:
            p = interaction.payload
            user = (p.get("member") or {}).get("user") or p.get("user")
            msg["webhook_id"] = str(self.application_id)
            msg["application_id"] = str(self.application_id)
            msg["interaction_metadata"] = {
                "id": p["id"],
                "type": p["type"],
                "user": user,
                "authorizing_integration_owners": p.get("authorizing_integration_owners", {}),
            }
            if msg_type is None:
                msg_type = 20 if p["type"] == 2 else 0
        if msg_type is not None:
            msg["type"] = msg_type
        self.messages[mid] = msg
        self._channel_message_ids.setdefault(channel_id, []).append(mid)
        if not flags & (EPHEMERAL | LOADING):
            self._announce_message("MESSAGE_CREATE", msg)
        return msg

    def _apply_edit(
        self, msg: dict[str, Any], body: dict[str, Any] | None, files: list[FakeFile]
    ) -> dict[str, Any]:
        body = body or {}
        for key in ("content", "embeds", "components", "poll"):
            if key in body:
                value = body[key]
                if value is None:
                    value = "" if key == "content" else []
                msg[key] = copy.deepcopy(value)
        if "attachments" in body or files:
            msg["attachments"] = self._build_attachments(body, files, msg.get("attachments") or [])
        if "flags" in body and body["flags"] is not None:
            keep = int(msg.get("flags") or 0) & EPHEMERAL
            msg["flags"] = (int(body["flags"]) & ~LOADING) | keep
        else:
            msg["flags"] = int(msg.get("flags") or 0) & ~LOADING
        msg["edited_timestamp"] = iso_now()
        if not int(msg["flags"]) & EPHEMERAL:
            self._announce_message("MESSAGE_UPDATE", msg)
        return msg

    def _announce_message(self, event: str, msg: dict[str, Any]) -> None:
        intent = INTENT_GUILD_MESSAGES if msg.get("guild_id") else INTENT_DIRECT_MESSAGES
        self._dispatch_all(event, msg, intent=intent)

    def _remove_message(self, mid: int) -> None:
        msg = self.messages.pop(mid, None)
        if msg is None:
            return
        self._deleted_message_ids.add(mid)
        data = {"id": msg["id"], "channel_id": msg["channel_id"]}
        if msg.get("guild_id"):
            data["guild_id"] = msg["guild_id"]
        if not int(msg.get("flags") or 0) & EPHEMERAL:
            self._announce_message("MESSAGE_DELETE", data)

    def _req_message(self, mid: int, cid: int | None = None) -> dict[str, Any]:
        msg = self.messages.get(mid)
        if msg is None or (cid is not None and int(msg["channel_id"]) != cid):
            raise FakeHTTPError(404, 10008, "Unknown Message")
        return msg

    async def _post_message(self, req: _Request) -> web.Response:
        cid = req.param("cid")
        ch = self._req_channel(cid)
        if ch.type == 1 and ch.recipient_id in self.closed_dms:
            raise FakeHTTPError(403, 50007, "Cannot send messages to this user")
        body = req.json if isinstance(req.json, dict) else {}
        if not (
            body.get("content")
            or body.get("embeds")
            or body.get("components")
            or req.files
            or body.get("poll")
        ):
            raise FakeHTTPError(400, 50006, "Cannot send an empty message")
        return _json_response(self._new_message(cid, body, req.files))

    async def _get_messages(self, req: _Request) -> web.Response:
        cid = req.param("cid")
        self._req_channel(cid)
        limit = int(req.query.get("limit", 50))
        msgs = [
            self.messages[m] for m in self._channel_message_ids.get(cid, []) if m in self.messages
        ]
        msgs = [m for m in msgs if not int(m.get("flags") or 0) & EPHEMERAL]
        return _json_response(list(reversed(msgs))[:limit])

    async def _get_message(self, req: _Request) -> web.Response:
        return _json_response(self._req_message(req.param("mid"), req.param("cid")))

    async def _edit_message(self, req: _Request) -> web.Response:
        msg = self._req_message(req.param("mid"), req.param("cid"))
        return _json_response(self._apply_edit(msg, req.json, req.files))

    async def _delete_message(self, req: _Request) -> web.Response:
        self._req_message(req.param("mid"), req.param("cid"))
        self._remove_message(req.param("mid"))
        return _no_content()

    async def _get_channel(self, req: _Request) -> web.Response:
        return _json_response(self._channel_payload(self._req_channel(req.param("cid"))))

    def dm_channel(self, user_id: int) -> FakeChannel:
        """The (fake) DM channel between the bot and a user, created on first use."""
        uid = int(user_id)
        ch = self.dm_channels.get(uid)
        if ch is None:
            ch = FakeChannel(id=self.snowflake(), name="", type=1, recipient_id=uid)
            self.dm_channels[uid] = ch
            self.channels[ch.id] = ch
        return ch

    async def _create_dm(self, req: _Request) -> web.Response:
        uid = int((req.json or {}).get("recipient_id", 0))
        if uid not in self.users:
            raise FakeHTTPError(400, 50033, "Invalid Recipient(s)")
        return _json_response(self._channel_payload(self.dm_channel(uid)))

    # ------------------------------------------------------------------ guild routes
    async def _get_guild(self, req: _Request) -> web.Response:
        guild = self._req_guild(req.param("guild"))
        data = guild.base_payload()
        data["approximate_member_count"] = len(guild.members)
        data["approximate_presence_count"] = 0
        return _json_response(data)

    async def _get_roles(self, req: _Request) -> web.Response:
        guild = self._req_guild(req.param("guild"))
        return _json_response([r.payload() for r in guild.roles.values()])

    async def _create_role(self, req: _Request) -> web.Response:
        guild = self._req_guild(req.param("guild"))
        body = req.json or {}
        perms = int(body.get("permissions") or 0)
        if (
            self.enforce_permissions
            and not self._member_permissions(guild, guild.members[self.bot_id], explicit=False)
            & MANAGE_ROLES
        ):
            raise FakeHTTPError(403, 50013, "Missing Permissions")
        role = self.add_role(
            guild.id,
            body.get("name") or "new role",
            position=1,
            permissions=perms,
            color=int(body.get("color") or 0),
            hoist=bool(body.get("hoist")),
            mentionable=bool(body.get("mentionable")),
        )
        return _json_response(role.payload())

    async def _get_guild_channels(self, req: _Request) -> web.Response:
        guild = self._req_guild(req.param("guild"))
        return _json_response([c.payload() for c in guild.channels.values()])

    async def _get_members(self, req: _Request) -> web.Response:
        guild = self._req_guild(req.param("guild"))
        limit = int(req.query.get("limit", 1))
        after = int(req.query.get("after", 0))
        members = sorted((m for m in guild.members.values() if m.id > after), key=lambda m: m.id)[
            :limit
        ]
        return _json_response([m.payload() for m in members])

    async def _get_member(self, req: _Request) -> web.Response:
        guild = self._req_guild(req.param("guild"))
        return _json_response(self._req_member(guild, req.param("uid")).payload())

    async def _patch_member(self, req: _Request) -> web.Response:
        guild = self._req_guild(req.param("guild"))
        member = self._req_member(guild, req.param("uid"))
        body = req.json or {}
        if "roles" in body:
            new = {int(r) for r in body["roles"] or []}
            for rid in new ^ member.roles:
                role = guild.roles.get(rid)
                if role is None:
                    raise FakeHTTPError(400, 50035, "Invalid Form Body")
                self._check_can_manage_role(guild, role)
            member.roles = new
        if "nick" in body:
            member.nick = body["nick"]
        self._member_updated(guild, member)
        return _json_response(member.payload())

    async def _add_member_role(self, req: _Request) -> web.Response:
        guild = self._req_guild(req.param("guild"))
        member = self._req_member(guild, req.param("uid"))
        role = guild.roles.get(req.param("rid"))
        if role is None:
            raise FakeHTTPError(404, 10011, "Unknown Role")
        self._check_can_manage_role(guild, role)
        if role.id not in member.roles:
            member.roles.add(role.id)
            self._member_updated(guild, member)
        return _no_content()

    async def _remove_member_role(self, req: _Request) -> web.Response:
        guild = self._req_guild(req.param("guild"))
        member = self._req_member(guild, req.param("uid"))
        role = guild.roles.get(req.param("rid"))
        if role is None:
            raise FakeHTTPError(404, 10011, "Unknown Role")
        self._check_can_manage_role(guild, role)
        if role.id in member.roles:
            member.roles.discard(role.id)
            self._member_updated(guild, member)
        return _no_content()

    # ------------------------------------------------------------------ interactions: REST side
    async def _interaction_callback(self, req: _Request) -> web.Response:
        res = self._by_id.get(req.param("iid"))
        if res is None or res.token != req.params["token"]:
            raise FakeHTTPError(404, 10062, "Unknown interaction")
        if res.callback is not None:
            raise FakeHTTPError(400, 40060, "Interaction has already been acknowledged.")
        body = req.json if isinstance(req.json, dict) else {}
        ctype = int(body.get("type", 0))
        data = body.get("data")
        p = res.payload
        channel_id = int(p["channel"]["id"])
        resource: dict[str, Any] = {"type": ctype}
        msg: dict[str, Any] | None = None
        loading = False
        if ctype == 4:
            msg = self._new_message(channel_id, data, req.files, interaction=res)
        elif ctype == 5:
            flags = (int((data or {}).get("flags") or 0) & EPHEMERAL) | LOADING
            msg = self._new_message(channel_id, {"content": ""}, [], interaction=res, flags=flags)
            loading = True
        elif ctype in (6, 7):
            if "message" not in p:
                raise FakeHTTPError(
                    400, 40004, "Interaction has no message to update (not a component interaction)"
                )
            target = self.messages.get(int(p["message"]["id"]))
            if target is None:
                raise FakeHTTPError(404, 10008, "Unknown Message")
            if ctype == 7:
                self._apply_edit(target, data, req.files)
            msg = target
        elif ctype == 9:
            modal = dict(data or {})
            self._modals[str(modal.get("custom_id"))] = (modal, res)
        elif ctype in (1, 8):
            pass
        else:
            log.warning("fakediscord: unsupported interaction callback type %s", ctype)
        res.callback = {"type": ctype, "data": copy.deepcopy(data)}
        if req.files:
            res.callback["files"] = req.files
        res.message = msg
        if msg is not None and ctype in (4, 7):
            resource["message"] = msg
        await res._notify()
        if "with_response" not in req.query:
            return _no_content()
        return _json_response(
            {
                "interaction": {
                    "id": str(res.id),
                    "type": p["type"],
                    "activity_instance_id": None,
                    "response_message_id": msg["id"] if msg is not None else None,
                    "response_message_loading": loading,
                    "response_message_ephemeral": bool(
                        msg is not None and int(msg["flags"]) & EPHEMERAL
                    ),
                },
                "resource": resource,
            }
        )

    async def _webhook_execute(self, req: _Request) -> web.Response:
        res = self._req_interaction(req.params["token"])
        body = req.json if isinstance(req.json, dict) else {}
        if res.callback is None:
            # Discord: the interaction was not acknowledged yet
            raise FakeHTTPError(404, 10015, "Unknown Webhook")
        channel_id = int(res.payload["channel"]["id"])
        orig = res.message
        if res.callback["type"] == 5 and orig is not None and int(orig["flags"]) & LOADING:
            # Like Discord: the first followup after a "thinking" defer replaces the loading
            # message.
            msg = self._apply_edit(orig, {k: v for k, v in body.items() if k != "flags"}, req.files)
        else:
            msg = self._new_message(channel_id, body, req.files, interaction=res, msg_type=0)
        res.followup_messages.append(msg)
        await res._notify()
        wait = str(req.query.get("wait", "false")).lower() in ("1", "true")
        return _json_response(msg) if wait else _no_content()

    def _webhook_target(self, res: InteractionResult, mid: str) -> dict[str, Any]:
        if mid == "@original":
            if res.message is None or res.deleted:
                raise FakeHTTPError(404, 10008, "Unknown Message")
            return res.message
        msg = self.messages.get(int(mid))
        if msg is None:
            raise FakeHTTPError(404, 10008, "Unknown Message")
        return msg

    async def _webhook_get(self, req: _Request) -> web.Response:
        res = self._req_interaction(req.params["token"])
        return _json_response(self._webhook_target(res, req.params["mid"]))

    async def _webhook_edit(self, req: _Request) -> web.Response:
        res = self._req_interaction(req.params["token"])
        msg = self._webhook_target(res, req.params["mid"])
        self._apply_edit(msg, req.json if isinstance(req.json, dict) else {}, req.files)
        if msg is res.message:
            res.original_edits += 1
        await res._notify()
        return _json_response(msg)

    async def _webhook_delete(self, req: _Request) -> web.Response:
        res = self._req_interaction(req.params["token"])
        msg = self._webhook_target(res, req.params["mid"])
        self._remove_message(int(msg["id"]))
        if msg is res.message:
            res.deleted = True
        await res._notify()
        return _no_content()

    # ------------------------------------------------------------------ interactions: gateway side
    def _find_command(
        self, guild_id: int | None, name: str, ctype: int = 1
    ) -> dict[str, Any] | None:
        pools = []
        if guild_id is not None:
            pools.append(self.guild_commands.get(guild_id, []))
        pools.append(self.global_commands)
        for pool in pools:
            for cmd in pool:
                if cmd["name"] == name and int(cmd.get("type", 1)) == ctype:
                    return cmd
        return None

    def _user_of(self, value: Any) -> FakeMember:
        uid = _id_of(value)
        user = self.users.get(uid)
        if user is None:
            raise KeyError(f"fake knows no user {uid}")
        return user

    def _option(
        self,
        guild: FakeGuild | None,
        name: str,
        value: Any,
        definition: dict[str, Any] | None,
        resolved: dict[str, dict[str, Any]],
        focused: bool,
    ) -> dict[str, Any]:
        if definition is not None:
            otype = int(definition["type"])
        elif isinstance(value, bool):
            otype = OPT_BOOLEAN
        elif isinstance(value, int):
            otype = OPT_INTEGER
        elif isinstance(value, float):
            otype = OPT_NUMBER
        elif isinstance(value, FakeMember):
            otype = OPT_USER
        elif isinstance(value, FakeRole):
            otype = OPT_ROLE
        elif isinstance(value, FakeChannel):
            otype = OPT_CHANNEL
        elif isinstance(value, FakeFile):
            otype = OPT_ATTACHMENT
        else:
            otype = OPT_STRING
        opt: dict[str, Any] = {"name": name, "type": otype}
        if focused:
            opt["value"] = value if isinstance(value, str) else str(value)
            opt["focused"] = True
            return opt
        if otype == OPT_STRING:
            opt["value"] = str(value)
        elif otype == OPT_INTEGER:
            opt["value"] = int(value)
        elif otype == OPT_NUMBER:
            opt["value"] = float(value)
        elif otype == OPT_BOOLEAN:
            opt["value"] = bool(value)
        elif otype in (OPT_USER, OPT_MENTIONABLE) and not (
            isinstance(value, FakeRole) or (guild is not None and _id_of(value) in guild.roles)
        ):
            user = self._user_of(value)
            opt["value"] = str(user.id)
            resolved.setdefault("users", {})[str(user.id)] = user.user
            if guild is not None and user.id in guild.members:
                gm = guild.members[user.id]
                resolved.setdefault("members", {})[str(user.id)] = gm.payload(
                    with_user=False, permissions=self._member_permissions(guild, gm)
                )
        elif otype in (OPT_ROLE, OPT_MENTIONABLE):
            if guild is None:
                raise ValueError("role options need a guild")
            role = guild.roles[_id_of(value)]
            opt["value"] = str(role.id)
            resolved.setdefault("roles", {})[str(role.id)] = role.payload()
        elif otype == OPT_CHANNEL:
            ch = self.channels[_id_of(value)]
            opt["value"] = str(ch.id)
            cdata = self._channel_payload(ch)
            cdata["permissions"] = (
                str(self._member_permissions(guild, guild.members[self.bot_id])) if guild else "0"
            )
            resolved.setdefault("channels", {})[str(ch.id)] = cdata
        elif otype == OPT_ATTACHMENT:
            if isinstance(value, tuple):
                value = FakeFile(name="file", filename=value[0], content_type=None, data=value[1])
            if not isinstance(value, FakeFile):
                raise TypeError("attachment options take a FakeFile or a (filename, bytes) tuple")
            att = self._store_attachment(value, {})
            opt["value"] = att["id"]
            resolved.setdefault("attachments", {})[att["id"]] = att
        else:
            opt["value"] = value
        return opt

    def _command_data(
        self,
        guild_ref: GuildRef | None,
        command: str,
        options: dict[str, Any] | None,
        focused: str | None,
    ) -> dict[str, Any]:
        guild_id = _opt_id(guild_ref)
        parts = command.split()
        if not parts:
            raise ValueError("empty command name")
        guild = self.guilds.get(guild_id) if guild_id is not None else None
        cmd = self._find_command(guild_id, parts[0])
        if cmd is None:
            synced = [c["name"] for c in self.commands(guild_id)] + [
                c["name"] for c in self.global_commands
            ]
            if self.command_sync_count:
                raise AssertionError(
                    f"command /{parts[0]} is not synced (synced: {sorted(set(synced))})"
                )
            log.warning(
                "fakediscord: /%s was never synced; inferring option types from Python values",
                parts[0],
            )
        resolved: dict[str, dict[str, Any]] = {}
        defs: list[dict[str, Any]] = list((cmd or {}).get("options") or [])

        def leaf_options() -> list[dict[str, Any]]:
            out = []
            by_name = {d["name"]: d for d in defs}
            if cmd is not None:
                unknown = set(options or {}) - set(by_name)
                if unknown:
                    raise AssertionError(
                        f"/{command}: unknown option(s) {sorted(unknown)}; known: {sorted(by_name)}"
                    )
                missing = [
                    d["name"]
                    for d in defs
                    if d.get("required") and d["name"] not in (options or {})
                ]
                if missing and focused is None:
                    raise AssertionError(f"/{command}: missing required option(s) {missing}")
            for name, value in (options or {}).items():
                out.append(
                    self._option(guild, name, value, by_name.get(name), resolved, focused == name)
                )
            return out

        top: list[dict[str, Any]]
        if len(parts) == 1:
            top = leaf_options()
        else:
            first = next((d for d in defs if d["name"] == parts[1]), None)
            if cmd is not None and first is None:
                raise AssertionError(
                    f"/{command}: no subcommand/group {parts[1]!r} in {[d['name'] for d in defs]}"
                )
            is_group = (
                len(parts) == 3 if first is None else int(first["type"]) == OPT_SUB_COMMAND_GROUP
            )
            if is_group:
                if len(parts) != 3:
                    raise ValueError(f"/{command}: {parts[1]!r} is a group; name a subcommand")
                group_defs = list((first or {}).get("options") or [])
                sub = next((d for d in group_defs if d["name"] == parts[2]), None)
                if first is not None and sub is None:
                    raise AssertionError(
                        f"/{command}: no subcommand {parts[2]!r} in group {parts[1]!r}"
                    )
                defs = list((sub or {}).get("options") or [])
                top = [
                    {
                        "name": parts[1],
                        "type": OPT_SUB_COMMAND_GROUP,
                        "options": [
                            {"name": parts[2], "type": OPT_SUB_COMMAND, "options": leaf_options()}
                        ],
                    }
                ]
            else:
                defs = list((first or {}).get("options") or [])
                top = [{"name": parts[1], "type": OPT_SUB_COMMAND, "options": leaf_options()}]
        data: dict[str, Any] = {
            "id": cmd["id"]
            if cmd
            else str(self._command_ids.setdefault((guild_id, 1, parts[0]), self.snowflake())),
            "name": parts[0],
            "type": 1,
            "options": top,
        }
        if cmd is not None and cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        if resolved:
            data["resolved"] = resolved
        return data

    def _interaction_payload(
        self,
        guild_ref: GuildRef | None,
        user_ref: UserRef,
        itype: int,
        data: dict[str, Any],
        *,
        channel_ref: ChannelRef | None = None,
        message: dict[str, Any] | None = None,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        guild_id, user_id, channel_id = _opt_id(guild_ref), _id_of(user_ref), _opt_id(channel_ref)
        iid = self.snowflake()
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "data": data,
            "token": f"fake-itoken-{iid}-{secrets.token_hex(8)}",
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild_id is not None:
            guild = self.guild(guild_id)
            member = self.member(guild.id, user_id)
            ch = self.channels[channel_id] if channel_id is not None else guild.default_channel
            if ch.guild_id != guild.id:
                raise ValueError(f"channel {ch.id} is not in guild {guild.id}")
            app_perms = self._member_permissions(guild, guild.members[self.bot_id], explicit=False)
            perms = self._member_permissions(guild, member)
            chan = ch.payload()
            chan["permissions"] = str(perms)
            payload.update(
                {
                    "guild_id": str(guild.id),
                    "guild": {
                        "id": str(guild.id),
                        "locale": guild.preferred_locale,
                        "features": [],
                    },
                    "guild_locale": guild.preferred_locale,
                    "channel_id": str(ch.id),
                    "channel": chan,
                    "member": member.payload(permissions=perms),
                    "app_permissions": str(app_perms),
                    "authorizing_integration_owners": {"0": str(guild.id)},
                    "context": 0,
                }
            )
        else:
            user = self._user_of(user_id)
            ch = self.dm_channel(user.id)
            chan = self._channel_payload(ch)
            payload.update(
                {
                    "channel_id": str(ch.id),
                    "channel": chan,
                    "user": user.user,
                    "app_permissions": str(discord.Permissions.text().value),
                    "authorizing_integration_owners": {"0": "0"},
                    "context": 1,
                }
            )
        if message is not None:
            payload["message"] = copy.deepcopy(message)
        return payload

    async def _send_interaction(
        self, payload: dict[str, Any], description: str
    ) -> InteractionResult:
        await self.wait_until_connected()
        res = InteractionResult(payload, description)
        self.interactions.append(res)
        self._by_token[res.token] = res
        self._by_id[res.id] = res
        self._primary_conn().dispatch("INTERACTION_CREATE", copy.deepcopy(payload))
        return res

    # ------------------------------------------------------------------ interactions: public API
    async def slash(
        self,
        guild_id: GuildRef | None,
        user_id: UserRef,
        command: str,
        options: dict[str, Any] | None = None,
        channel_id: ChannelRef | None = None,
        *,
        locale: str = "en-US",
    ) -> InteractionResult:
        """Invoke ``/command [group] [sub]`` as ``user_id``. Option types come from the synced
        definition; user/role/channel options take ids or FakeMember/FakeRole/FakeChannel."""
        data = self._command_data(guild_id, command, options, None)
        self._check_invocable(guild_id, user_id, command.split()[0], 1)
        payload = self._interaction_payload(
            guild_id, user_id, 2, data, channel_ref=channel_id, locale=locale
        )
        return await self._send_interaction(payload, f"/{command}")

    async def autocomplete(
        self,
        guild_id: GuildRef | None,
        user_id: UserRef,
        command: str,
        options: dict[str, Any],
        focused: str,
        channel_id: ChannelRef | None = None,
    ) -> InteractionResult:
        if focused not in options:
            raise ValueError(f"focused option {focused!r} must be in options")
        data = self._command_data(guild_id, command, options, focused)
        payload = self._interaction_payload(guild_id, user_id, 4, data, channel_ref=channel_id)
        return await self._send_interaction(payload, f"autocomplete /{command} [{focused}]")

    def _current_message(self, message: dict[str, Any]) -> dict[str, Any]:
        mid = int(message["id"])
        if mid in self._deleted_message_ids:
            raise AssertionError(f"message {mid} was deleted; it cannot be interacted with")
        return self.messages.get(mid, message)

    @staticmethod
    def _find_component(message: dict[str, Any], custom_id: str) -> dict[str, Any] | None:
        stack: list[Any] = list(message.get("components") or [])
        while stack:
            comp = stack.pop(0)
            if not isinstance(comp, dict):
                continue
            if comp.get("custom_id") == custom_id:
                return comp
            stack.extend(comp.get("components") or [])
            for key in ("accessory", "component"):
                if isinstance(comp.get(key), dict):
                    stack.append(comp[key])
        return None

    def _component_channel(self, guild_id: GuildRef | None, message: dict[str, Any]) -> int | None:
        cid = int(message["channel_id"])
        return cid if guild_id is not None else None

    async def click(
        self, guild_id: GuildRef | None, user_id: UserRef, message: dict[str, Any], custom_id: str
    ) -> InteractionResult:
        """Click a button (must exist and be enabled on the message's current version)."""
        msg = self._current_message(message)
        comp = self._find_component(msg, custom_id)
        if comp is None:
            raise AssertionError(
                f"no component {custom_id!r} on message {msg['id']}: {msg.get('components')}"
            )
        if comp.get("disabled"):
            raise AssertionError(f"button {custom_id!r} is disabled")
        data = {"custom_id": custom_id, "component_type": int(comp.get("type", 2))}
        payload = self._interaction_payload(
            guild_id,
            user_id,
            3,
            data,
            channel_ref=self._component_channel(guild_id, msg),
            message=msg,
        )
        return await self._send_interaction(payload, f"click {custom_id}")

    async def select(
        self,
        guild_id: GuildRef | None,
        user_id: UserRef,
        message: dict[str, Any],
        custom_id: str,
        values: list[str],
    ) -> InteractionResult:
        """Choose ``values`` in a select menu (string/user/role/mentionable/channel select)."""
        msg = self._current_message(message)
        comp = self._find_component(msg, custom_id)
        if comp is None:
            raise AssertionError(f"no component {custom_id!r} on message {msg['id']}")
        if comp.get("disabled"):
            raise AssertionError(f"select {custom_id!r} is disabled")
        ctype = int(comp.get("type", 3))
        if ctype == 3:
            allowed = {o["value"] for o in comp.get("options") or []}
            bad = [v for v in values if v not in allowed]
            if bad:
                raise AssertionError(
                    f"select {custom_id!r}: values {bad} not among options {sorted(allowed)}"
                )
        data: dict[str, Any] = {
            "custom_id": custom_id,
            "component_type": ctype,
            "values": [str(v) for v in values],
        }
        if ctype in (5, 6, 7, 8):
            data["resolved"] = self._resolve_select(guild_id, ctype, values)
            data["values"] = [str(_id_of(v)) for v in values]
        payload = self._interaction_payload(
            guild_id,
            user_id,
            3,
            data,
            channel_ref=self._component_channel(guild_id, msg),
            message=msg,
        )
        return await self._send_interaction(payload, f"select {custom_id}={values}")

    def _resolve_select(
        self, guild_id: GuildRef | None, ctype: int, values: list[Any]
    ) -> dict[str, Any]:
        gid = _opt_id(guild_id)
        guild = self.guilds.get(gid) if gid is not None else None
        resolved: dict[str, dict[str, Any]] = {}
        otype = {5: OPT_USER, 6: OPT_ROLE, 7: OPT_MENTIONABLE, 8: OPT_CHANNEL}[ctype]
        for v in values:
            self._option(guild, "x", v, {"type": otype}, resolved, False)
        return resolved

    async def submit_modal(
        self,
        guild_id: GuildRef | None,
        user_id: UserRef,
        custom_id: str,
        values: dict[str, Any],
        message: dict[str, Any] | None = None,
    ) -> InteractionResult:
        """Submit a modal. ``values``: input custom_id -> str (text input) or list[str] (select).

        If the bot opened this modal, the submitted components mirror its layout (action rows or
        labels) and unknown fields raise; the originating component message is attached
        automatically.
        """
        opened = self._modals.get(custom_id)
        components: list[dict[str, Any]] = []
        if opened is not None:
            modal, origin = opened
            seen: set[str] = set()

            def submit_comp(c: dict[str, Any]) -> dict[str, Any] | None:
                ct = int(c.get("type", 0))
                cid = c.get("custom_id")
                if cid is None:
                    return None
                seen.add(cid)
                if ct == 4:
                    return {
                        "type": 4,
                        "custom_id": cid,
                        "value": str(values.get(cid, c.get("value") or "")),
                    }
                val = values.get(cid, [])
                return {
                    "type": ct,
                    "custom_id": cid,
                    "values": [str(x) for x in (val if isinstance(val, list) else [val])],
                }

            for row in modal.get("components") or []:
                rt = int(row.get("type", 0))
                if rt == 1:
                    inner = [x for x in (submit_comp(c) for c in row.get("components") or []) if x]
                    components.append({"type": 1, "components": inner})
                elif rt == 18 and isinstance(row.get("component"), dict):
                    sc = submit_comp(row["component"])
                    if sc:
                        components.append({"type": 18, "id": row.get("id", 0), "component": sc})
            unknown = set(values) - seen
            if unknown:
                raise AssertionError(
                    f"modal {custom_id!r} has no field(s) {sorted(unknown)}; fields: {sorted(seen)}"
                )
            if message is None:
                message = origin.payload.get("message")
        else:
            log.warning(
                "fakediscord: modal %r was not opened by the bot; submitting plain action rows",
                custom_id,
            )
            for cid, val in values.items():
                components.append(
                    {"type": 1, "components": [{"type": 4, "custom_id": cid, "value": str(val)}]}
                )
        if message is not None:
            message = self._current_message(message)
        data = {"custom_id": custom_id, "components": components}
        channel_id = (
            int(message["channel_id"]) if (message is not None and guild_id is not None) else None
        )
        payload = self._interaction_payload(
            guild_id, user_id, 5, data, channel_ref=channel_id, message=message
        )
        return await self._send_interaction(payload, f"modal {custom_id}")

    # ------------------------------------------------------------------ more interaction kinds
    def _check_invocable(
        self, guild_ref: GuildRef | None, user_ref: UserRef, name: str, ctype: int
    ) -> None:
        """Refuse what the Discord client would not let a user do (when enforce_permissions)."""
        if not self.enforce_permissions:
            return
        gid = _opt_id(guild_ref)
        cmd = self._find_command(gid, name, ctype)
        if cmd is None:
            return
        if gid is None:
            contexts = cmd.get("contexts")
            if (
                cmd.get("guild_id")
                or cmd.get("dm_permission") is False
                or (contexts is not None and 1 not in contexts)
            ):
                raise CommandNotAllowed(f"/{name} cannot be used in DMs")
            return
        guild = self.guild(gid)
        if cmd.get("contexts") is not None and 0 not in cmd["contexts"]:
            raise CommandNotAllowed(f"/{name} cannot be used in guilds")
        required = cmd.get("default_member_permissions")
        if required is None:
            return
        member = self.member(gid, _id_of(user_ref))
        perms = self._member_permissions(guild, member)
        if perms & ADMINISTRATOR or member.id == guild.owner_id:
            return
        if int(required) == 0 or perms & int(required) != int(required):
            raise CommandNotAllowed(
                f"{member.name} lacks default_member_permissions={required} for /{name} "
                "(Discord hides the command); pass enforce_permissions=False to bypass"
            )

    async def user_command(
        self,
        guild_id: GuildRef | None,
        user_id: UserRef,
        name: str,
        target: UserRef,
        channel_id: ChannelRef | None = None,
    ) -> InteractionResult:
        """Invoke a user context-menu command (Apps > name) on ``target``."""
        gid = _opt_id(guild_id)
        guild = self.guilds.get(gid) if gid is not None else None
        resolved: dict[str, dict[str, Any]] = {}
        self._option(guild, "target", target, {"type": OPT_USER}, resolved, False)
        self._check_invocable(gid, user_id, name, 2)
        cmd = self._find_command(gid, name, 2)
        data: dict[str, Any] = {
            "id": cmd["id"] if cmd else str(self.snowflake()),
            "name": name,
            "type": 2,
            "target_id": str(_id_of(target)),
            "resolved": resolved,
        }
        if cmd is not None and cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        payload = self._interaction_payload(gid, user_id, 2, data, channel_ref=channel_id)
        return await self._send_interaction(payload, f"user command {name!r}")

    async def message_command(
        self,
        guild_id: GuildRef | None,
        user_id: UserRef,
        name: str,
        message: dict[str, Any],
    ) -> InteractionResult:
        """Invoke a message context-menu command on a (recorded or user) message."""
        gid = _opt_id(guild_id)
        msg = self.messages.get(int(message["id"]), message)
        self._check_invocable(gid, user_id, name, 3)
        cmd = self._find_command(gid, name, 3)
        data: dict[str, Any] = {
            "id": cmd["id"] if cmd else str(self.snowflake()),
            "name": name,
            "type": 3,
            "target_id": str(msg["id"]),
            "resolved": {"messages": {str(msg["id"]): copy.deepcopy(msg)}},
        }
        if cmd is not None and cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        channel = int(msg["channel_id"]) if gid is not None else None
        payload = self._interaction_payload(gid, user_id, 2, data, channel_ref=channel)
        return await self._send_interaction(payload, f"message command {name!r}")

    async def user_message(
        self,
        guild_id: GuildRef | None,
        user_id: UserRef,
        content: str,
        channel_id: ChannelRef | None = None,
    ) -> dict[str, Any]:
        """A user posts a message (MESSAGE_CREATE over the gateway, if the bot's intents get it).

        Like Discord, ``content`` is blanked unless the bot has the message_content intent, the
        message is a DM, or it mentions the bot. Returns the message payload.
        """
        await self.wait_until_connected()
        gid = _opt_id(guild_id)
        user = self._user_of(user_id)
        if gid is not None:
            guild = self.guild(gid)
            ch = (
                self.channels[_id_of(channel_id)]
                if channel_id is not None
                else guild.default_channel
            )
        else:
            guild = None
            ch = self.dm_channel(user.id)
        mid = self.snowflake()
        msg: dict[str, Any] = {
            "id": str(mid),
            "type": 0,
            "channel_id": str(ch.id),
            "author": user.user,
            "content": content,
            "embeds": [],
            "components": [],
            "attachments": [],
            "flags": 0,
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [self.bot_user] if f"<@{self.bot_id}>" in content else [],
            "mention_roles": [],
            "pinned": False,
        }
        if guild is not None:
            msg["guild_id"] = str(guild.id)
            member = guild.members[user.id]
            msg["member"] = member.payload(with_user=False)
        self.messages[mid] = msg
        self._channel_message_ids.setdefault(ch.id, []).append(mid)
        intent = INTENT_GUILD_MESSAGES if guild is not None else INTENT_DIRECT_MESSAGES
        for conn in self._conns:
            if not (conn.identified and conn.intents & intent):
                continue
            data = copy.deepcopy(msg)
            if not (conn.intents & INTENT_MESSAGE_CONTENT or guild is None or data["mentions"]):
                data["content"] = ""
            conn.dispatch("MESSAGE_CREATE", data)
        return msg
