"""The whole command tree, serialised as Discord receives it, checked against Discord's limits."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.bot import MilestoneBot
from bot.config import Settings
from bot.db import Database
from bot.roadmap import Roadmap

NAME = re.compile(r"^[-_\w]{1,32}$")
SUBCOMMAND, GROUP = 1, 2

EXPECTED = {
    "levels",
    "level",
    "roadmap",
    "milestone list",
    "milestone complete",
    "milestone undo",
    "milestone checklist",
    "progress",
    "profile",
    "leaderboard",
    "mydata export",
    "mydata delete",
    "checkin answer",
    "checkin history",
    "checkin status",
    "checkin away",
    "reminders subscribe",
    "reminders unsubscribe",
    "reminders status",
    "review queue",
    "review open",
    "review stats",
    "config show",
    "config checkins",
    "config checkins-disable",
    "config checkin-now",
    "config reminders",
    "config reminders-disable",
    "config level-role",
    "config level-role-clear",
    "config announce",
    "config level-threshold",
    "config cards",
    "config sync-roles",
    "config grant",
    "config revoke",
    "config review",
    "config insights",
    "config assess-every",
    "assess rate",
    "assess history",
    "projects",
}


@pytest.fixture
async def tree_payload(roadmap: Roadmap, db_url: str) -> AsyncIterator[list[dict[str, Any]]]:
    bot = MilestoneBot(Settings(DISCORD_TOKEN="x", DATABASE_URL=db_url), Database(db_url), roadmap)
    for extension in bot.extensions_to_load:
        await bot.load_extension(extension)
    yield [c.to_dict(bot.tree) for c in bot.tree.get_commands()]
    await bot.db.dispose()


def leaves(command: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    name = f"{prefix}{command['name']}"
    subs = [o for o in command.get("options", []) if o["type"] in (SUBCOMMAND, GROUP)]
    if not subs:
        return [(name, command)]
    return [leaf for sub in subs for leaf in leaves(sub, name + " ")]


def check_entry(where: str, entry: dict[str, Any]) -> None:
    assert NAME.match(entry["name"]) and entry["name"] == entry["name"].lower(), where
    assert 1 <= len(entry["description"]) <= 100, f"{where}: description length"
    assert entry["description"] != "…", f"{where}: missing description"


def test_every_command_of_the_product_exists(tree_payload: list[dict[str, Any]]) -> None:
    names = {name for command in tree_payload for name, _ in leaves(command)}
    assert names == EXPECTED


def test_names_descriptions_and_options_respect_discord_limits(
    tree_payload: list[dict[str, Any]],
) -> None:
    assert len(tree_payload) <= 100
    for command in tree_payload:
        check_entry(command["name"], command)
        assert len(command.get("options", [])) <= 25
        for name, leaf in leaves(command):
            check_entry(name, leaf)
            options = leaf.get("options", [])
            assert len(options) <= 25, name
            required_seen_after_optional = False
            optional = False
            for option in options:
                check_entry(f"{name} {option['name']}", option)
                assert len(option.get("choices", [])) <= 25
                for choice in option.get("choices", []):
                    assert 1 <= len(choice["name"]) <= 100
                if option.get("required"):
                    required_seen_after_optional |= optional
                else:
                    optional = True
            assert not required_seen_after_optional, f"{name}: required option after optional"
        text = str(command)
        assert len(text) < 8000, f"{command['name']}: too much text for one command"


def test_server_commands_are_guild_only_and_config_is_for_admins(
    tree_payload: list[dict[str, Any]],
) -> None:
    for command in tree_payload:
        assert command.get("contexts") == [0], f"{command['name']} must be guild only"
    config = next(c for c in tree_payload if c["name"] == "config")
    assert int(config["default_member_permissions"]) == 1 << 5  # Manage Server
