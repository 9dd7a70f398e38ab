"""Data model of the fake Discord: snowflakes, guilds, channels, roles, members."""

from __future__ import annotations

import datetime as _dt
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import discord

DISCORD_EPOCH_MS = 1420070400000

# Permission bits (see discord.Permissions)
ADMINISTRATOR = 1 << 3
MANAGE_ROLES = 1 << 28
ALL_PERMISSIONS = discord.Permissions.all().value
#: Roughly what a fresh guild's @everyone role gets on real Discord.
DEFAULT_EVERYONE_PERMISSIONS = discord.Permissions(
    create_instant_invite=True,
    change_nickname=True,
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    create_private_threads=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    use_external_emojis=True,
    use_external_stickers=True,
    read_message_history=True,
    use_application_commands=True,
    connect=True,
    speak=True,
    stream=True,
    use_voice_activation=True,
).value


class SnowflakeFactory:
    """Strictly increasing, time-based snowflakes (so ``created_at`` is sane)."""

    def __init__(self) -> None:
        self._last = 0
        self._counter = itertools.count()

    def __call__(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (ms << 22) | (next(self._counter) & 0xFFF)
        if value <= self._last:
            value = self._last + 1
        self._last = value
        return value


def iso_now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat()


def user_payload(
    user_id: int,
    name: str,
    *,
    bot: bool = False,
    global_name: str | None = None,
    avatar: str | None = None,
) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": global_name if global_name is not None else (None if bot else name),
        "discriminator": "0",
        "avatar": avatar,
        "bot": bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
    }


@dataclass
class FakeRole:
    id: int
    guild_id: int
    name: str
    position: int = 0
    permissions: int = 0
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    managed: bool = False
    bot_id: int | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class FakeChannel:
    id: int
    name: str
    type: int = 0  # 0 text, 1 DM, 2 voice, 4 category, 5 news, 15 forum
    guild_id: int | None = None
    position: int = 0
    topic: str | None = None
    parent_id: int | None = None
    recipient_id: int | None = None  # DM channels only
    nsfw: bool = False

    def payload(self, fake_users: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
        if self.type == 1:
            recipients = []
            if (
                self.recipient_id is not None
                and fake_users is not None
                and self.recipient_id in fake_users
            ):
                recipients = [fake_users[self.recipient_id]]
            return {
                "id": str(self.id),
                "type": 1,
                "last_message_id": None,
                "recipients": recipients,
                "flags": 0,
            }
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "nsfw": self.nsfw,
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "topic": self.topic,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        return data


@dataclass
class FakeMember:
    """A user, and (if ``guild_id`` is set) their membership in one guild."""

    id: int
    name: str
    guild_id: int | None = None
    roles: set[int] = field(default_factory=set)
    #: explicit ``member.permissions`` carried by interactions (None: computed from roles)
    permissions: int | None = None
    nick: str | None = None
    bot: bool = False
    joined_at: str = field(default_factory=iso_now)
    #: the hash of the user's avatar (None: Discord's default one); see ``FakeDiscord.set_avatar``
    avatar: str | None = None

    @property
    def user(self) -> dict[str, Any]:
        return user_payload(self.id, self.name, bot=self.bot, avatar=self.avatar)

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self, *, with_user: bool = True, permissions: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in sorted(self.roles)],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
            "avatar_decoration_data": None,
        }
        if with_user:
            data["user"] = self.user
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    preferred_locale: str = "en-US"

    @property
    def everyone(self) -> FakeRole:
        return self.roles[self.id]

    @property
    def default_channel(self) -> FakeChannel:
        return next(c for c in self.channels.values() if c.type == 0)

    def base_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "preferred_locale": self.preferred_locale,
            "features": [],
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "max_members": 500000,
            "max_video_channel_users": 25,
            "application_id": None,
            "widget_enabled": False,
            "widget_channel_id": None,
        }


@dataclass
class FakeFile:
    """A file part of a multipart request."""

    name: str  # form field name, e.g. "files[0]"
    filename: str
    content_type: str | None
    data: bytes


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the /api/v10 prefix, e.g. "/channels/1/messages"
    query: dict[str, str]
    json: Any
    files: list[FakeFile] = field(default_factory=list)
    status: int = 0  # status the fake answered with
    token: str | None = None  # the bot token it carried (Authorization: Bot ...), if any

    def __repr__(self) -> str:  # compact, for assertion messages
        return f"<{self.method} {self.path} -> {self.status}>"
