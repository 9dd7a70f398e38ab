"""The in-flight set a stop waits on: what it waits for, and what it does past its bound."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import discord

from bot.inflight import RESTARTING, InFlight


class Response:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.type: discord.InteractionResponseType | None = None

    def is_done(self) -> bool:
        return bool(self.sent)

    async def send_message(self, text: str, **_: Any) -> None:
        self.sent.append(text)


class Interaction:
    """Just what InFlight touches of a discord.Interaction."""

    id = 1
    type = discord.InteractionType.application_command

    def __init__(self) -> None:
        self.response = Response()


def interaction() -> Any:
    return cast(discord.Interaction, Interaction())


async def test_drain_waits_for_work_and_for_what_it_starts_as_it_ends() -> None:
    inflight, finished = InFlight(), []
    started: list[asyncio.Task[None]] = []

    async def hook() -> None:
        inflight.track()
        await asyncio.sleep(0.05)
        finished.append("hook")

    async def command() -> None:
        assert await inflight.admit(interaction())
        await asyncio.sleep(0.05)
        finished.append("command")
        started.append(asyncio.create_task(hook()))  # An after-command hook, as it ends.

    started.append(asyncio.create_task(command()))
    await asyncio.sleep(0)
    assert len(inflight) == 1
    assert await inflight.drain(5) == 0
    assert finished == ["command", "hook"]


async def test_past_its_bound_work_is_cut_off_and_its_member_told() -> None:
    inflight, stuck = InFlight(), interaction()

    async def command() -> None:
        assert await inflight.admit(stuck)
        await asyncio.Event().wait()  # Never ends by itself.

    task = asyncio.create_task(command())
    await asyncio.sleep(0)
    assert await inflight.drain(0.05) == 1
    assert await inflight.cut_off() == 1
    assert task.cancelled()
    assert stuck.response.sent == [RESTARTING]


async def test_once_stopping_nothing_is_admitted_and_each_is_answered() -> None:
    inflight, late = InFlight(), interaction()
    inflight.stopping = True
    assert not await inflight.admit(late)
    assert late.response.sent == [RESTARTING]
    assert len(inflight) == 0
