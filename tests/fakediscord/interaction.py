"""Handle for one interaction dispatched by the fake, and what the bot answered."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

CALLBACK_NAMES = {
    1: "PONG",
    4: "CHANNEL_MESSAGE_WITH_SOURCE",
    5: "DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE",
    6: "DEFERRED_UPDATE_MESSAGE",
    7: "UPDATE_MESSAGE",
    8: "APPLICATION_COMMAND_AUTOCOMPLETE_RESULT",
    9: "MODAL",
}

EPHEMERAL = 1 << 6
LOADING = 1 << 7


def message_text(message: dict[str, Any] | None) -> str:
    """Content + each embed's title/description/author/field names+values/footer, joined."""
    if not message:
        return ""
    parts: list[str] = []
    if message.get("content"):
        parts.append(str(message["content"]))
    for embed in message.get("embeds") or []:
        for key in ("title", "description"):
            if embed.get(key):
                parts.append(str(embed[key]))
        if (embed.get("author") or {}).get("name"):
            parts.append(str(embed["author"]["name"]))
        for f in embed.get("fields") or []:
            parts.append(str(f.get("name", "")))
            parts.append(str(f.get("value", "")))
        if (embed.get("footer") or {}).get("text"):
            parts.append(str(embed["footer"]["text"]))
    # Components v2 text displays
    stack = list(message.get("components") or [])
    while stack:
        comp = stack.pop(0)
        if comp.get("type") == 10 and comp.get("content"):
            parts.append(str(comp["content"]))
        stack.extend(comp.get("components") or [])
        if isinstance(comp.get("component"), dict):
            stack.append(comp["component"])
        if isinstance(comp.get("accessory"), dict):
            stack.append(comp["accessory"])
    return "\n".join(parts)


class InteractionResult:
    """What happened to one INTERACTION_CREATE the fake dispatched.

    Attributes are filled in as the bot calls the REST API:

    - ``payload``: the interaction payload sent over the gateway
    - ``callback``: ``{"type", "data"}`` of the interaction callback (None until answered)
    - ``message``: the message this interaction's response produced/edited (the
      ``@original``), kept up to date with later edits; None if none
    - ``followup_messages``: messages created with POST /webhooks/{app}/{token}
    - ``deleted``: whether ``@original`` was deleted
    - ``dispatched_at``: the event loop's time when the fake sent the interaction
    - ``answered_after``: seconds from dispatch to the accepted callback (None until answered)
    - ``late_callbacks``: callbacks refused because they came after the token died (10062)
    """

    def __init__(self, payload: dict[str, Any], description: str) -> None:
        self.payload = payload
        self.description = description
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.callback: dict[str, Any] | None = None
        self.message: dict[str, Any] | None = None
        self.followup_messages: list[dict[str, Any]] = []
        self.original_edits: int = 0
        self.deleted = False
        #: ``(shard id, shard count)`` of the connection it was sent on, and that client's token
        self.shard: tuple[int, int] = (0, 1)
        self.client_token = ""
        self.dispatched_at = asyncio.get_running_loop().time()
        self.answered_after: float | None = None
        self.late_callbacks = 0
        self._final: dict[str, Any] | None = None
        self._cond = asyncio.Condition()

    def __repr__(self) -> str:
        cb = self.callback["type"] if self.callback else None
        n = len(self.followup_messages)
        return f"<InteractionResult {self.description} callback={cb} followups={n}>"

    # -- called by the server -------------------------------------------------
    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    async def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:  # noqa: ASYNC109
        async def inner() -> None:
            async with self._cond:
                await self._cond.wait_for(predicate)

        try:
            await asyncio.wait_for(inner(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"{self.description}: timed out after {timeout}s waiting for {what} "
                f"(callback={self.callback!r}, followups={len(self.followup_messages)}, "
                f"late callbacks refused={self.late_callbacks}). "
                "Did the bot raise? Check the log output."
            ) from None

    # -- public API -----------------------------------------------------------
    @property
    def responded(self) -> bool:
        return self.callback is not None

    @property
    def expired(self) -> bool:
        """Whether the bot tried to answer only after Discord's deadline (error 10062)."""
        return self.late_callbacks > 0

    @property
    def type(self) -> int | None:
        """Callback type: 4 message, 5 deferred, 6 deferred update, 7 update, 8 choices, 9 modal."""
        return None if self.callback is None else int(self.callback["type"])

    async def response(self, timeout: float = 5) -> dict[str, Any]:  # noqa: ASYNC109
        """Wait for the interaction callback; returns ``{"type": int, "data": dict | None}``."""
        await self._wait(lambda: self.callback is not None, timeout, "the interaction callback")
        assert self.callback is not None
        return self.callback

    @property
    def ephemeral(self) -> bool:
        """Whether the answer is ephemeral: the final message's flags once ``final()`` was
        awaited (a deferred answer may end in an ephemeral followup), else the callback's."""
        if self._final is not None and "flags" in self._final:
            return bool(int(self._final.get("flags") or 0) & EPHEMERAL)
        if self.callback is None:
            return False
        data = self.callback.get("data") or {}
        if int(data.get("flags") or 0) & EPHEMERAL:
            return True
        if self.callback["type"] in (4, 5, 7) and self.message is not None:
            return bool(int(self.message.get("flags") or 0) & EPHEMERAL)
        return False

    async def followups(self, n: int = 1, timeout: float = 5) -> list[dict[str, Any]]:  # noqa: ASYNC109
        """Wait until at least ``n`` followup messages exist; returns all of them."""
        await self._wait(
            lambda: len(self.followup_messages) >= n, timeout, f"{n} followup message(s)"
        )
        return list(self.followup_messages)

    async def final(self, timeout: float = 5) -> dict[str, Any]:  # noqa: ASYNC109
        """The message the user finally sees.

        Type 4/7: the response message (with later edits). Type 5/6: the first followup
        or the edit of ``@original``. Types 8/9: the callback data (choices / modal).
        """
        await self.response(timeout)
        assert self.callback is not None
        ctype = self.callback["type"]
        if ctype in (5, 6):
            await self._wait(
                lambda: bool(self.followup_messages) or self.original_edits > 0,
                timeout,
                "a followup or an edit of the deferred response",
            )
            if self.original_edits > 0 and self.message is not None:
                result = self.message
            else:
                result = self.followup_messages[0]
        elif ctype in (4, 7) and self.message is not None:
            result = self.message
        else:
            result = dict(self.callback.get("data") or {})
        self._final = result
        return result

    def text(self) -> str:
        """Content + embed texts of the final message (call after ``await final()``)."""
        msg = self._final
        if msg is None:
            if (
                self.callback is not None
                and self.callback["type"] in (5, 6)
                and self.followup_messages
            ):
                msg = self.message if self.original_edits else self.followup_messages[0]
            else:
                msg = self.message
        return message_text(msg)

    async def choices(self, timeout: float = 5) -> list[dict[str, Any]]:  # noqa: ASYNC109
        """Autocomplete: the choices the bot returned (callback type 8)."""
        cb = await self.response(timeout)
        if cb["type"] != 8:
            raise AssertionError(
                f"{self.description}: expected autocomplete result, got callback type {cb['type']}"
            )
        return list((cb.get("data") or {}).get("choices") or [])

    async def modal(self, timeout: float = 5) -> dict[str, Any]:  # noqa: ASYNC109
        """The modal the bot opened (callback type 9): ``{custom_id, title, components}``."""
        cb = await self.response(timeout)
        if cb["type"] != 9:
            raise AssertionError(
                f"{self.description}: expected a modal, got callback type {cb['type']}"
            )
        return dict(cb.get("data") or {})
