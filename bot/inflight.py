"""Interactions in flight: a stop lets them finish and answers the ones that arrive late.

discord.py runs each command, click and form in a task of its own, under private names; the
bot keeps its own set instead. `admit` is called from the first check every interaction
passes (the command tree's, each view's and form's `interaction_check`): while the bot
serves it adds the current task to the set; once a stop has begun it answers "restarting"
and lets nothing else run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord

log = logging.getLogger(__name__)

RESTARTING = "The bot is restarting: try again in a moment."


class InFlight:
    """The interaction tasks under way, and whether new ones are still taken."""

    def __init__(self) -> None:
        self.stopping = False
        self._tasks: dict[asyncio.Task[object], discord.Interaction | None] = {}

    def __len__(self) -> int:
        return sum(1 for task in self._tasks if not task.done())

    async def admit(self, interaction: discord.Interaction) -> bool:
        """Track the interaction's task, or answer "restarting" once a stop has begun."""
        if self.stopping:
            await answer_restarting(interaction)
            return False
        self.track(interaction)
        return True

    def track(self, interaction: discord.Interaction | None = None) -> None:
        """Count the current task as work a stop waits for (an after-command hook, say)."""
        task = asyncio.current_task()
        if task is None or task in self._tasks:
            return
        self._tasks[task] = interaction
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[object]) -> None:
        self._tasks.pop(task, None)

    def _pending(self) -> list[asyncio.Task[object]]:
        me = asyncio.current_task()
        return [task for task in self._tasks if not task.done() and task is not me]

    async def drain(self, timeout: float) -> int:  # noqa: ASYNC109
        """Wait until every tracked task is done, at most `timeout` seconds.

        A task may start another one as it ends (a command's after-command hook): the set is
        looked at again after each wake-up. Return how many were still running at the end.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            await asyncio.sleep(0)  # Let tasks started by the ones just finished register.
            pending = self._pending()
            left = deadline - loop.time()
            if not pending or left <= 0:
                return len(pending)
            await asyncio.wait(pending, timeout=left, return_when=asyncio.FIRST_COMPLETED)

    async def cut_off(self, timeout: float = 1) -> int:  # noqa: ASYNC109
        """Cancel what is still running and answer its members "restarting"; return how many."""
        pending = self._pending()
        interactions = [self._tasks.get(task) for task in pending]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        for interaction in interactions:
            if interaction is not None:
                with contextlib.suppress(Exception):
                    await answer_restarting(interaction, late=True)
        return len(pending)


async def answer_restarting(interaction: discord.Interaction, *, late: bool = False) -> None:
    """Tell the member the bot is restarting (an empty list for autocomplete)."""
    response = interaction.response
    try:
        if not response.is_done():
            if interaction.type is discord.InteractionType.autocomplete:
                await response.autocomplete([])
            else:
                await response.send_message(RESTARTING, ephemeral=True)
        elif late and response.type is discord.InteractionResponseType.deferred_channel_message:
            # Deferred and cut off before its answer: the member would see "thinking" forever.
            await interaction.edit_original_response(content=RESTARTING)
    except discord.HTTPException as exc:
        log.warning("could not answer interaction %s during a stop: %s", interaction.id, exc)


async def admit(interaction: discord.Interaction) -> bool:
    """`InFlight.admit` for views and forms, which know the bot only as `interaction.client`."""
    tracker = getattr(interaction.client, "inflight", None)
    if not isinstance(tracker, InFlight):
        return True
    return await tracker.admit(interaction)
