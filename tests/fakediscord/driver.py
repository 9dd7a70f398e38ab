"""The test-driving API: what a person does in the Discord client, sent to the bot.

Slash commands, autocomplete, button clicks, selects, modal submissions, context menus and plain
messages become INTERACTION_CREATE or MESSAGE_CREATE events; each interaction returns an
:class:`~.interaction.InteractionResult` that records the bot's responses.
"""

from __future__ import annotations

import copy
import logging
import secrets
from typing import Any

import discord

from .gateway import Gateway
from .interaction import InteractionResult
from .models import ADMINISTRATOR, FakeChannel, FakeFile, FakeGuild, FakeMember, FakeRole, iso_now
from .wire import (
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    _id_of,
    _opt_id,
)

log = logging.getLogger("fakediscord")

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

GuildRef = int | FakeGuild
UserRef = int | FakeMember
ChannelRef = int | FakeChannel


class CommandNotAllowedError(AssertionError):
    """Real Discord would not let this user invoke this command here (permissions/contexts)."""


class Driver(Gateway):
    """Acts as the people in the fake's servers: commands, clicks, modals, messages."""

    #: seconds an interaction or message waits for a client to hold its guild's shard
    delivery_timeout: float = 5.0

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
        # Like Discord, an interaction goes to the connection of its guild's shard (shard 0
        # in DMs); when no client holds that shard, it raises ShardNotConnectedError.
        guild_id = int(payload["guild_id"]) if payload.get("guild_id") else None
        await self.wait_until_connected(self.delivery_timeout, guild_id=guild_id, any_shard=False)
        conn = self._primary_conn(guild_id)
        res = InteractionResult(payload, description)
        res.shard, res.client_token = conn.shard, conn.token
        self.interactions.append(res)
        self._by_token[res.token] = res
        self._by_id[res.id] = res
        conn.dispatch("INTERACTION_CREATE", copy.deepcopy(payload))
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
                raise CommandNotAllowedError(f"/{name} cannot be used in DMs")
            return
        guild = self.guild(gid)
        if cmd.get("contexts") is not None and 0 not in cmd["contexts"]:
            raise CommandNotAllowedError(f"/{name} cannot be used in guilds")
        required = cmd.get("default_member_permissions")
        if required is None:
            return
        member = self.member(gid, _id_of(user_ref))
        perms = self._member_permissions(guild, member)
        if perms & ADMINISTRATOR or member.id == guild.owner_id:
            return
        if int(required) == 0 or perms & int(required) != int(required):
            raise CommandNotAllowedError(
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
        gid = _opt_id(guild_id)
        await self.wait_until_connected(self.delivery_timeout, guild_id=gid, any_shard=False)
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
            if not (conn.holds(gid) and conn.intents & intent):
                continue
            data = copy.deepcopy(msg)
            if not (conn.intents & INTENT_MESSAGE_CONTENT or guild is None or data["mentions"]):
                data["content"] = ""
            conn.dispatch("MESSAGE_CREATE", data)
        return msg
