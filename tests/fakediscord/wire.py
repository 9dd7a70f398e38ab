"""Discord's wire vocabulary shared by the fake's modules: paths, intents, ids, HTTP errors."""

from __future__ import annotations

from typing import Any

from .models import FakeChannel, FakeGuild, FakeMember, FakeRole

API_PREFIX = "/api/v10"
SESSION_STARTS_PER_DAY = 1000  # GET /gateway/bot's session_start_limit.total

# gateway intents bits
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

Snowflakeish = int | str | FakeMember | FakeRole | FakeChannel | FakeGuild | dict[str, Any]


def _opt_id(obj: Snowflakeish | None) -> int | None:
    return None if obj is None else _id_of(obj)


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
