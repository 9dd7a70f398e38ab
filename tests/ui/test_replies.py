"""Every app-command error type gets an answer that says what to do; ERROR only for bugs."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import discord
import pytest
from discord import app_commands
from sqlalchemy.exc import OperationalError

from bot.errors import UserError
from bot.ui.replies import SORRY, handle_error, user_message


def forbidden() -> discord.Forbidden:
    response = SimpleNamespace(status=403, reason="Forbidden")
    return discord.Forbidden(response, {"code": 50013, "message": "Missing Permissions"})  # type: ignore[arg-type]


def invoke_error(exc: Exception) -> app_commands.CommandInvokeError:
    command = SimpleNamespace(name="x", qualified_name="x")
    return app_commands.CommandInvokeError(command, exc)  # type: ignore[arg-type]


def transformer_error(value: Any, kind: discord.AppCommandOptionType) -> Exception:
    transformer = SimpleNamespace(_error_display_name="Member")
    return app_commands.TransformerError(value, kind, transformer)  # type: ignore[arg-type]


LOCKED = OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (invoke_error(UserError("Pick a level.")), "Pick a level."),
        (
            transformer_error(
                SimpleNamespace(display_name="Gh*st"), discord.AppCommandOptionType.user
            ),
            "**Gh\\*st** is not a member of this server (any more): pick someone who is.",
        ),
        (
            transformer_error("42", discord.AppCommandOptionType.channel),
            "pick a text channel",
        ),
        (transformer_error("x\x00y", discord.AppCommandOptionType.string), "`xy` for that option"),
        (app_commands.NoPrivateMessage(), "Use this in a server"),
        (
            app_commands.MissingPermissions(["manage_guild"]),
            "You need the Manage Server permission for this: ask a server admin.",
        ),
        (
            app_commands.BotMissingPermissions(["embed_links", "manage_roles"]),
            "I need the Embed Links, Manage Roles permission here",
        ),
        (app_commands.MissingRole(123), "You need a role you do not have"),
        (
            app_commands.CommandOnCooldown(app_commands.Cooldown(1, 10), 4.2),
            "try again in 5 s",
        ),
        (app_commands.CheckFailure(), "You cannot use this command here."),
        (app_commands.CommandNotFound("gone", []), "reload Discord"),
        (invoke_error(forbidden()), "ask a server admin to check my role's permissions"),
        (invoke_error(LOCKED), "database is busy"),
    ],
)
def test_each_error_type_says_what_to_do(error: Exception, expected: str) -> None:
    message = user_message(error)
    assert message is not None and expected in message


def test_a_bug_has_no_user_message() -> None:
    assert user_message(invoke_error(RuntimeError("boom"))) is None
    assert (
        user_message(invoke_error(OperationalError("x", {}, Exception("disk I/O error")))) is None
    )


class Interaction:
    """Just enough of an interaction for handle_error: it records the reply."""

    def __init__(self) -> None:
        self.id = 1577280870790725663
        self.guild_id, self.channel_id = 1, 2
        self.user = SimpleNamespace(id=3)
        self.data: dict[str, Any] = {}
        self.sent: list[str] = []
        self.response = SimpleNamespace(is_done=lambda: False, send_message=self._send)

    async def _send(self, text: str, *, ephemeral: bool) -> None:
        assert ephemeral
        self.sent.append(text)


@pytest.mark.parametrize(
    ("error", "level"),
    [
        (invoke_error(UserError("Pick a level.")), None),
        (app_commands.CommandOnCooldown(app_commands.Cooldown(1, 10), 1), None),
        (app_commands.BotMissingPermissions(["embed_links"]), logging.WARNING),
        (invoke_error(forbidden()), logging.WARNING),
        (invoke_error(LOCKED), logging.WARNING),
        (invoke_error(RuntimeError("boom")), logging.ERROR),
    ],
)
async def test_only_the_bots_own_faults_are_errors(
    error: Exception, level: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    interaction = Interaction()
    with caplog.at_level(logging.DEBUG, logger="bot.ui.replies"):
        await handle_error(interaction, error, "command /x")  # type: ignore[arg-type]
    levels = [r.levelno for r in caplog.records if r.name == "bot.ui.replies"]
    assert levels == ([] if level is None else [level])
    (sent,) = interaction.sent
    assert (sent.startswith(SORRY.split("{")[0])) == (level == logging.ERROR)
