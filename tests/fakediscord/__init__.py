"""Fake Discord (REST + gateway) on loopback for end-to-end tests of the real discord.py client."""

from __future__ import annotations

from .driver import CommandNotAllowedError
from .gateway import ShardNotConnectedError, shard_of
from .interaction import InteractionResult, message_text
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
)
from .rest import FailureRule
from .server import FakeDiscord

FakeUser = FakeMember

__all__ = [
    "ADMINISTRATOR",
    "ALL_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "MANAGE_ROLES",
    "CommandNotAllowedError",
    "FailureRule",
    "FakeChannel",
    "FakeDiscord",
    "FakeFile",
    "FakeGuild",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "InteractionResult",
    "RecordedRequest",
    "ShardNotConnectedError",
    "message_text",
    "shard_of",
]
