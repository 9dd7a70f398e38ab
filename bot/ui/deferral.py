"""Every interaction answered in time: an automatic defer for work that is not done quickly.

Discord drops an interaction whose first response comes after 3 s (error 10062), and a lock
held by another process, a slow disk or a long queue can make any command that slow. So every
interaction the bot handles gets a `GuardedResponse` as its `interaction.response`, installed
by `watch` where the command tree, a `SafeView` or a `SafeModal` first sees it. When the
handler has not answered after `AUTO_DEFER_AFTER`, the guard defers: a command or a form
"thinks" (ephemerally, unless the command is declared public with
`extras={"public": True}`), a button or menu gets a deferred update. What the handler sends
afterwards lands where it belongs, with no change in the cogs:

- `response.send_message` fills the deferred answer (or follows up after a deferred update);
  an ephemeral text after a public "thinking" replaces it with an ephemeral followup, so an
  error stays private;
- `response.edit_message` edits the component's message;
- `response.send_modal`, which cannot follow a defer, says to try again;
- `response.defer` does nothing more.

A lock makes the automatic defer and the handler's own answer take turns, so they never both
answer. Autocomplete cannot be deferred: it answers from what `within` gets in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

import discord

from bot.defaults import AUTO_DEFER_AFTER, UNHANDLED_AFTER

log = logging.getLogger(__name__)

T = TypeVar("T")

EXPIRED = (
    "This has expired (the bot restarted, or it timed out): run the command again "
    "for fresh buttons."
)
FORM_EXPIRED = (
    "This form was sent already, or it expired before it reached me (the bot restarted). "
    "If your answer is not saved, open the form again; here is what you wrote:"
)
FORM_TOO_SLOW = (
    "I was too slow to open the form in the few seconds Discord allows: please try again."
)

_background: set[asyncio.Task[Any]] = set()


def _spawn(coro: Awaitable[Any]) -> asyncio.Task[Any]:
    task = asyncio.ensure_future(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


def is_public(interaction: discord.Interaction) -> bool:
    """Whether a command answers in public (declared with `extras={"public": True}`)."""
    command = interaction.command
    return bool(command is not None and command.extras.get("public"))


class GuardedResponse(discord.InteractionResponse):
    """An interaction's response that defers by itself when the handler is slow."""

    __slots__ = ("_lock", "_pending", "_timer", "auto_deferred")

    def __init__(self, parent: discord.Interaction, delay: float) -> None:
        super().__init__(parent)
        self._lock = asyncio.Lock()
        # The ephemerality of a "thinking" placeholder not filled yet, or None.
        self._pending: bool | None = None
        self.auto_deferred = False
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(delay, lambda: _spawn(self._auto_defer()))

    # -- the automatic defer --

    async def _auto_defer(self) -> None:
        async with self._lock:
            if self.is_done():
                return
            parent = self._parent
            if parent.type is discord.InteractionType.application_command:
                ephemeral, thinking = not is_public(parent), True
            elif parent.type is discord.InteractionType.modal_submit and parent.message is None:
                ephemeral, thinking = True, True
            else:  # a component, or a form opened from one: a deferred update of its message
                ephemeral, thinking = False, False
            try:
                await super().defer(ephemeral=ephemeral, thinking=thinking)
            except discord.HTTPException as exc:
                log.warning("could not defer interaction %s: %s", parent.id, exc)
                return
            self.auto_deferred = True
            self._pending = ephemeral if thinking else None
            log.info("interaction %s deferred: its work took over %.1fs", parent.id, delay_of(self))

    def _answered(self) -> None:
        self._timer.cancel()

    # -- what handlers call --

    async def defer(self, *, ephemeral: bool = False, thinking: bool = False) -> Any:
        async with self._lock:
            if self.auto_deferred:
                return None
            self._answered()
            return await super().defer(ephemeral=ephemeral, thinking=thinking)

    async def send_message(self, content: Any = None, **kwargs: Any) -> Any:
        async with self._lock:
            if self.auto_deferred:
                return await self._late_send(content, kwargs)
            self._answered()
            return await super().send_message(content, **kwargs)

    async def edit_message(self, **kwargs: Any) -> Any:
        async with self._lock:
            if not self.auto_deferred:
                self._answered()
                return await super().edit_message(**kwargs)
            self._pending = None
            return await self._parent.edit_original_response(**_edit_fields(kwargs))

    async def send_modal(self, modal: discord.ui.Modal, /) -> Any:
        async with self._lock:
            if self.auto_deferred:
                return await self._late_send(FORM_TOO_SLOW, {"ephemeral": True})
            self._answered()
            return await super().send_modal(modal)

    async def send(self, content: Any = None, **kwargs: Any) -> Any:
        """Answer, fill the deferred answer, or follow up: whichever is due now."""
        async with self._lock:
            if self.is_done():
                return await self._late_send(content, kwargs)
            self._answered()
            return await super().send_message(content, **kwargs)

    async def _late_send(self, content: Any, kwargs: dict[str, Any]) -> Any:
        ephemeral = bool(kwargs.pop("ephemeral", False))
        parent = self._parent
        pending, self._pending = self._pending, None
        if pending is not None and (pending == ephemeral or "view" in kwargs):
            # The placeholder becomes the answer (a view keeps the placeholder's privacy, so
            # `original_response()` stays the message its buttons are on).
            fields = _edit_fields(kwargs)
            if content is not None:
                fields["content"] = content
            return await parent.edit_original_response(**fields)
        if pending is not None:
            # A private text (an error) after a public "thinking": replace it, never show it.
            with contextlib.suppress(discord.NotFound):
                await parent.delete_original_response()
        fields = _send_fields(kwargs)
        if content is not None:
            fields["content"] = content
        return await parent.followup.send(ephemeral=ephemeral, wait=True, **fields)


def delay_of(response: GuardedResponse) -> float:
    """How long after its creation an interaction was deferred (for the log)."""
    return max(0.0, time.time() - response._parent.created_at.timestamp())


_EDITABLE = ("content", "embed", "embeds", "attachments", "view", "allowed_mentions")


def _edit_fields(kwargs: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in kwargs.items() if k in _EDITABLE}
    files = list(kwargs.get("files") or []) + ([kwargs["file"]] if kwargs.get("file") else [])
    if files:
        fields["attachments"] = [*fields.get("attachments", []), *files]
    return fields


def _send_fields(kwargs: dict[str, Any]) -> dict[str, Any]:
    keep = ("embed", "embeds", "file", "files", "view", "allowed_mentions")
    return {k: v for k, v in kwargs.items() if k in keep}


def watch(interaction: discord.Interaction) -> None:
    """Give an interaction a response that defers by itself if its handler is slow.

    The delay counts from when Discord created the interaction (its id's time), so time spent
    in the queue counts too; a clock that disagrees with Discord's is never trusted beyond it.
    """
    current = getattr(interaction, "_cs_response", None)
    if isinstance(current, GuardedResponse) or (current is not None and current.is_done()):
        return
    age = time.time() - interaction.created_at.timestamp()
    delay = AUTO_DEFER_AFTER - min(max(age, 0.0), AUTO_DEFER_AFTER)
    # discord.py caches `Interaction.response` in this slot; nothing has answered yet.
    interaction._cs_response = GuardedResponse(interaction, delay)  # type: ignore[attr-defined]


def watched(interaction: discord.Interaction) -> bool:
    """Whether a handler of the bot has taken the interaction on."""
    return isinstance(getattr(interaction, "_cs_response", None), GuardedResponse)


async def answer_unhandled(interaction: discord.Interaction) -> None:
    """Answer a click or a form no handler took (its view is gone): it has expired."""
    if interaction.type not in (
        discord.InteractionType.component,
        discord.InteractionType.modal_submit,
    ):
        return
    # Handlers are started before this listener; the pause covers any that start late.
    await asyncio.sleep(UNHANDLED_AFTER)
    if watched(interaction) or interaction.response.is_done():
        return
    text = EXPIRED
    if interaction.type is discord.InteractionType.modal_submit:
        typed = [v for v in _typed(interaction.data or {}) if v.strip()]
        text = FORM_EXPIRED + ("\n" + "\n".join(f"> {v[:400]}" for v in typed) if typed else "")
    log.info("interaction %s had no handler (expired view or form)", interaction.id)
    try:
        await interaction.response.send_message(text[:2000], ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("could not answer expired interaction %s: %s", interaction.id, exc)


def _typed(data: Any) -> Iterable[str]:
    if isinstance(data, dict):
        if isinstance(data.get("value"), str):
            yield data["value"]
        for value in data.values():
            yield from _typed(value)
    elif isinstance(data, list):
        for value in data:
            yield from _typed(value)


async def within(awaitable: Awaitable[T], seconds: float, fallback: T) -> T:
    """The awaitable's result if it comes within `seconds`, else `fallback`.

    For autocomplete, which cannot be deferred. The work is not cancelled (a database read cut
    off mid-way can leak its connection): it finishes in the background, its result unused.
    """
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if task in done:
        return task.result()
    log.info("autocomplete answered without waiting: the read took over %.1fs", seconds)
    _background.add(task)
    task.add_done_callback(_discard_quietly)
    return fallback


def _discard_quietly(task: asyncio.Task[Any]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("a read given up for autocomplete failed: %r", task.exception())
