"""Views shared by cogs: a paginator only its invoker can turn, and a confirm button.

Every click is answered: clicks of one view are taken in turn, a second click on a confirm
button is told what the first decided, and a click on a view that is gone (timed out, or
from before a restart) is answered as expired by bot/ui/deferral.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import discord

from bot.ui.replies import SafeView


@dataclass(frozen=True)
class PageContent:
    """One page as a page renderer returns it: the embed, how many pages, and a picture.

    `file` (a PNG the embed shows with `attachment://`) is optional; a renderer may also
    return a plain `(embed, pages)` tuple.
    """

    embed: discord.Embed
    pages: int
    file: discord.File | None = None


NOT_YOURS = "These buttons belong to whoever ran the command: run it yourself to browse."

PageRenderer = Callable[[int], Awaitable[PageContent | tuple[discord.Embed, int]]]


def _content(page: PageContent | tuple[discord.Embed, int]) -> PageContent:
    return page if isinstance(page, PageContent) else PageContent(*page)


def page_files(content: PageContent) -> list[discord.File]:
    """The files a page's message carries: its picture, or none."""
    return [] if content.file is None else [content.file]


class OwnedView(SafeView):
    """A view whose buttons answer only the member who ran the command."""

    def __init__(self, owner_id: int, *, timeout: float = 600) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self.message: discord.InteractionMessage | discord.WebhookMessage | None = None

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if not await super().interaction_check(interaction):
            return False
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(NOT_YOURS, ephemeral=True)
        return False

    async def on_timeout(self) -> None:
        for child in self.children:
            if isinstance(child, discord.ui.Button | discord.ui.Select):
                child.disabled = True
        if self.message is not None:
            # The message may be gone or its token expired: then there is nothing to tidy.
            with contextlib.suppress(discord.HTTPException):
                await self.message.edit(view=self)


class Paginator(OwnedView):
    """Previous/next buttons over pages rendered on demand.

    `defer`: pages are slow to make (pictures), so a turn is acknowledged first and the
    message edited after. A page's picture replaces the one before; a page without one
    (drawing failed) takes the old picture away.
    """

    def __init__(
        self,
        owner_id: int,
        render: PageRenderer,
        pages: int,
        page: int = 0,
        *,
        defer: bool = False,
        pictures: bool = False,
    ) -> None:
        super().__init__(owner_id)
        self.render = render
        self.pages = pages
        self.page = page
        self._turning = asyncio.Lock()
        self.defer = defer
        self.pictures = pictures  # whether the message carries (or carried) a picture
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.pages - 1
        self.position.label = f"{self.page + 1}/{self.pages}"

    async def _show(self, interaction: discord.Interaction, step: int) -> None:
        # Two quick clicks on Next turn two pages, each answered with the page it shows.
        async with self._turning:
            if self.defer:
                await interaction.response.defer()
            page = self.page + step
            content = _content(await self.render(page))
            self.pages = content.pages
            self.page = min(max(page, 0), self.pages - 1)
            self._sync_buttons()
            edit = (
                interaction.edit_original_response
                if self.defer
                else interaction.response.edit_message
            )
            if not (self.pictures or content.file):
                await edit(embed=content.embed, view=self)
                return
            self.pictures = True
            await edit(embed=content.embed, view=self, attachments=page_files(content))

    @discord.ui.button(label="◀ Previous", style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: discord.Interaction, _: discord.ui.Button[Paginator]
    ) -> None:
        await self._show(interaction, -1)

    @discord.ui.button(label="1/1", style=discord.ButtonStyle.secondary, disabled=True)
    async def position(
        self, interaction: discord.Interaction, _: discord.ui.Button[Paginator]
    ) -> None:
        await interaction.response.defer()

    @discord.ui.button(label="Next ▶", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, _: discord.ui.Button[Paginator]) -> None:
        await self._show(interaction, +1)


async def send_paginated(
    interaction: discord.Interaction,
    render: PageRenderer,
    *,
    ephemeral: bool = False,
    defer: bool = False,
) -> None:
    """Answer with the first page, adding buttons only when there is more than one.

    `defer`: the pages are slow to make (pictures): acknowledge first, then send, and
    acknowledge each turn of the page before making it.
    """
    if defer:
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        content = _content(await render(0))
        files = page_files(content)
        if content.pages <= 1:
            await interaction.followup.send(embed=content.embed, files=files, ephemeral=ephemeral)
            return
        view = Paginator(
            interaction.user.id,
            render,
            content.pages,
            defer=True,
            pictures=content.file is not None,
        )
        view.message = await interaction.followup.send(
            embed=content.embed, files=files, view=view, ephemeral=ephemeral, wait=True
        )
        return
    content = _content(await render(0))
    files = page_files(content)
    if content.pages <= 1:
        await interaction.response.send_message(
            embed=content.embed, files=files, ephemeral=ephemeral
        )
        return
    view = Paginator(interaction.user.id, render, content.pages, pictures=content.file is not None)
    sent = await interaction.response.send_message(
        embed=content.embed, files=files, view=view, ephemeral=ephemeral
    )
    view.message = sent_message(sent)


def sent_message(
    sent: object,
) -> discord.InteractionMessage | discord.WebhookMessage | None:
    """The message an answer created, to edit later without asking for it again.

    A first answer's callback carries its message (`InteractionCallbackResponse.resource`);
    an answer that came after an automatic deferral is the edited or sent message itself.
    """
    if isinstance(sent, discord.InteractionMessage | discord.WebhookMessage):
        return sent
    resource = getattr(sent, "resource", None)
    return resource if isinstance(resource, discord.InteractionMessage) else None


class Confirm(OwnedView):
    """A confirm/cancel pair. `decision()` waits for the first click (True or False) or the
    timeout (None); the command answers that click through `interaction`. The view keeps
    listening, so a second click is answered too: with `outcome`, what the first decided (the
    command may update it as its work goes on)."""

    def __init__(
        self,
        owner_id: int,
        confirm_label: str,
        *,
        cancelled: str = "Already cancelled: nothing was changed.",
        timeout: float = 120,
    ) -> None:
        super().__init__(owner_id, timeout=timeout)
        self.value: bool | None = None
        self.interaction: discord.Interaction | None = None
        self.outcome = ""
        self._cancelled = cancelled
        self._decided = asyncio.Event()
        self.confirm.label = confirm_label

    async def decision(self) -> bool | None:
        """The first click's choice, or None when nobody clicked in time."""
        await self._decided.wait()
        return self.value

    async def _decide(self, interaction: discord.Interaction, value: bool) -> None:
        if self._decided.is_set():
            await interaction.response.send_message(self.outcome, ephemeral=True)
            return
        self.value, self.interaction = value, interaction
        self.outcome = "Already confirmed: one moment…" if value else self._cancelled
        self._decided.set()

    async def on_timeout(self) -> None:
        # The command answers a timeout itself (it edits the message).
        self._decided.set()

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.danger)
    async def confirm(
        self, interaction: discord.Interaction, _: discord.ui.Button[Confirm]
    ) -> None:
        await self._decide(interaction, True)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, _: discord.ui.Button[Confirm]) -> None:
        await self._decide(interaction, False)
