"""The fake's in-memory Discord: guilds, channels, roles, members, messages and commands.

The public helpers set a scene up (``add_guild``, ``add_member``, ...) and read what the bot did
(``channel_messages``, ``dms``, ``bot_permissions``, ...). Changes are announced through the event
hooks at the bottom, which :class:`~.gateway.Gateway` turns into gateway events.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from .cdn import solid_png
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
    SnowflakeFactory,
    iso_now,
    user_payload,
)
from .wire import (
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    FakeHTTPError,
    Snowflakeish,
    _id_of,
)

log = logging.getLogger("fakediscord")

#: IDENTIFY's default large_threshold (discord.py sends 250)
LARGE_THRESHOLD = 250


class State:
    """The objects a Discord server holds, and what the bot posted."""

    def __init__(
        self,
        *,
        bot_id: int | None = None,
        bot_name: str = "FakeBot",
        enforce_permissions: bool = True,
        shards: int = 1,
        interaction_deadline: float | None = 3.0,
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
        #: seconds an interaction's first response may take (Discord: 3); None: no limit
        self.interaction_deadline = interaction_deadline

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
        #: avatar hash -> the PNG the fake's CDN serves for it
        self.avatar_images: dict[str, bytes] = {}

        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.command_sync_count = 0
        self._command_ids: dict[tuple[int | None, int, str], int] = {}

        self.interactions: list[InteractionResult] = []
        self._by_token: dict[str, InteractionResult] = {}
        self._by_id: dict[int, InteractionResult] = {}
        self._modals: dict[str, tuple[dict[str, Any], InteractionResult]] = {}

        #: the shard count GET /gateway/bot recommends
        self.recommended_shards = shards
        #: IDENTIFYs so far (GET /gateway/bot's session_start_limit counts them down)
        self.session_starts = 0

        #: where the server listens, set by start()
        self.port = 0
        self.base_url = ""
        self.api_base = ""
        self.gateway_url = ""
        self.cdn_base = ""

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

    def set_avatar(
        self,
        user: Snowflakeish,
        png: bytes | None = None,
        *,
        colour: tuple[int, int, int] = (200, 40, 40),
    ) -> str:
        """Give a user a custom avatar (a new hash), served by the fake's CDN; return the hash.

        ``png`` is what the CDN serves (default: a 128 by 128 square of ``colour``). Interactions
        and member payloads carry the hash from now on, as after an avatar change on Discord.
        """
        uid = _id_of(user)
        digest = f"{self.snowflake():x}{len(self.avatar_images):04x}"
        self.avatar_images[digest] = png if png is not None else solid_png(128, 128, colour)
        people = [self.users.get(uid)] + [g.members.get(uid) for g in self.guilds.values()]
        for person in people:
            if person is not None:
                person.avatar = digest
        return digest

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

    def dm_channel(self, user_id: int) -> FakeChannel:
        """The (fake) DM channel between the bot and a user, created on first use."""
        uid = int(user_id)
        ch = self.dm_channels.get(uid)
        if ch is None:
            ch = FakeChannel(id=self.snowflake(), name="", type=1, recipient_id=uid)
            self.dm_channels[uid] = ch
            self.channels[ch.id] = ch
        return ch

    # ------------------------------------------------------------------ payloads
    def _channel_payload(self, ch: FakeChannel) -> dict[str, Any]:
        users: dict[int, dict[str, Any]] = {}
        if ch.recipient_id is not None and ch.recipient_id in self.users:
            users[ch.recipient_id] = self.users[ch.recipient_id].user
        return ch.payload(users)

    def _guild_create_payload(
        self, guild: FakeGuild, large_threshold: int = LARGE_THRESHOLD
    ) -> dict[str, Any]:
        # Like Discord, a guild above the client's large_threshold comes without its member
        # list (but the bot's own member): a client asks for members when it needs them.
        large = len(guild.members) > large_threshold
        members = [guild.members[self.bot_id]] if large else list(guild.members.values())
        data = guild.base_payload()
        data.update(
            {
                "unavailable": False,
                "joined_at": iso_now(),
                "large": large,
                "member_count": len(guild.members),
                "channels": [c.payload() for c in guild.channels.values()],
                "members": [m.payload() for m in members],
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

    # ------------------------------------------------------------------ events
    # What the store tells connected clients. A bare store has none: Gateway overrides these.
    def _any_intent(self, intent: int) -> bool:
        """Whether a connected client asked for ``intent``."""
        return False

    def _dispatch_all(self, event: str, data: Any, *, intent: int | None = None) -> None:
        """Send a gateway event to every identified client (with ``intent``, if given)."""

    def _member_updated(self, guild: FakeGuild, member: FakeMember) -> None:
        """Tell clients a member changed (roles, nick)."""
