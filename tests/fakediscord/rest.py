"""The fake's REST API: the routes discord.py calls, with Discord's errors and limits.

Every request is recorded (:attr:`Rest.requests`); :meth:`Rest.fail` injects errors; a route the
fake does not know answers 404 and is kept in :attr:`Rest.unknown_requests`. Interaction
callbacks and the interaction webhooks (followups, edits of the original response) live here.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from .cdn import AVATAR_PATH, CDN_PREFIX, DEFAULT_AVATAR_COLOUR, DEFAULT_AVATAR_PATH, solid_png
from .interaction import EPHEMERAL, LOADING, InteractionResult
from .models import MANAGE_ROLES, FakeChannel, FakeFile, FakeGuild, FakeMember, RecordedRequest
from .state import State
from .wire import API_PREFIX, SESSION_STARTS_PER_DAY, FakeHTTPError

log = logging.getLogger("fakediscord")


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


class Rest(State):
    """Serves the REST API on the store."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.requests: list[RecordedRequest] = []
        self.unknown_requests: list[RecordedRequest] = []
        self.failures: list[FailureRule] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._register_routes()

    # ------------------------------------------------------------------ failures and records
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

    def requests_to(self, method: str, path_pattern: str) -> list[RecordedRequest]:
        pat = re.compile(path_pattern)
        return [r for r in self.requests if r.method == method.upper() and pat.fullmatch(r.path)]

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
        auth = request.headers.get("Authorization", "")
        rec = RecordedRequest(
            method=method,
            path=path,
            query=dict(request.query),
            json=body,
            files=files,
            token=auth.removeprefix("Bot ") if auth else None,
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

        if full_path.startswith(CDN_PREFIX + "/") and method == "GET":
            return self._cdn(rec, full_path[len(CDN_PREFIX) :])
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

    def _cdn(self, rec: RecordedRequest, path: str) -> web.Response:
        """An avatar from the CDN: 404 for a hash the fake never handed out, like Discord's."""
        png: bytes | None = None
        if m := AVATAR_PATH.fullmatch(path):
            png = self.avatar_images.get(m.group("hash"))
        elif DEFAULT_AVATAR_PATH.fullmatch(path):
            png = solid_png(128, 128, DEFAULT_AVATAR_COLOUR)
        rec.status = 200 if png is not None else 404
        if png is None:
            return web.Response(status=404, text="404: Not Found")
        return web.Response(body=png, content_type="image/png")

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
        r("GET", "/gateway/bot", self._get_bot_gateway)
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

    def _req_message(self, mid: int, cid: int | None = None) -> dict[str, Any]:
        msg = self.messages.get(mid)
        if msg is None or (cid is not None and int(msg["channel_id"]) != cid):
            raise FakeHTTPError(404, 10008, "Unknown Message")
        return msg

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
        return _json_response({"url": self.gateway_url.rstrip("/")})

    async def _get_bot_gateway(self, req: _Request) -> web.Response:
        """The gateway, the recommended shard count and the IDENTIFYs left (Discord: 1000 a
        day; one IDENTIFY per 5 s per max_concurrency bucket)."""
        total = SESSION_STARTS_PER_DAY
        return _json_response(
            {
                "url": self.gateway_url.rstrip("/"),
                "shards": self.recommended_shards,
                "session_start_limit": {
                    "total": total,
                    "remaining": max(total - self.session_starts, 0),
                    "reset_after": 86_400_000,
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
        elapsed = asyncio.get_running_loop().time() - res.dispatched_at
        if self.interaction_deadline is not None and elapsed > self.interaction_deadline:
            # Like Discord: the first response must come within 3 s, or the token is dead.
            res.late_callbacks += 1
            log.warning("fakediscord: %s answered after %.2fs: refused", res.description, elapsed)
            await res._notify()
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
        res.answered_after = elapsed
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
        loading = orig is not None and not res.deleted and int(orig["flags"]) & LOADING
        if res.callback["type"] == 5 and loading:
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
