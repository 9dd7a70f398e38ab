"""Views shared by cogs: a paginator only its invoker can turn, and a confirm button."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import discord

from bot.ui.replies import SafeView

PageRenderer = Callable[[int], Awaitable[tuple[discord.Embed, int]]]


class OwnedView(SafeView):
    """A view whose buttons answer only the member who ran the command."""

    def __init__(self, owner_id: int, *, timeout: float = 600) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self.message: discord.InteractionMessage | discord.WebhookMessage | None = None

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            "These buttons belong to whoever ran the command: run it yourself to browse.",
            ephemeral=True,
        )
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
    """Previous/next buttons over pages rendered on demand."""

    def __init__(self, owner_id: int, render: PageRenderer, pages: int, page: int = 0) -> None:
        super().__init__(owner_id)
        self.render = render
        self.pages = pages
        self.page = page
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.pages - 1
        self.position.label = f"{self.page + 1}/{self.pages}"

    async def _show(self, interaction: discord.Interaction, page: int) -> None:
        embed, self.pages = await self.render(page)
        self.page = min(max(page, 0), self.pages - 1)
        self._sync_buttons()
        await interaction.response.edit_message(embed=embed, view=self)

    @discord.ui.button(label="◀ Previous", style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: discord.Interaction, _: discord.ui.Button[Paginator]
    ) -> None:
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label="1/1", style=discord.ButtonStyle.secondary, disabled=True)
    async def position(
        self, interaction: discord.Interaction, _: discord.ui.Button[Paginator]
    ) -> None:
        await interaction.response.defer()

    @discord.ui.button(label="Next ▶", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, _: discord.ui.Button[Paginator]) -> None:
        await self._show(interaction, self.page + 1)


async def send_paginated(
    interaction: discord.Interaction,
    render: PageRenderer,
    *,
    ephemeral: bool = False,
) -> None:
    """Answer with the first page, adding buttons only when there is more than one."""
    embed, pages = await render(0)
    if pages <= 1:
        await interaction.response.send_message(embed=embed, ephemeral=ephemeral)
        return
    view = Paginator(interaction.user.id, render, pages)
    sent = await interaction.response.send_message(embed=embed, view=view, ephemeral=ephemeral)
    view.message = sent_message(sent)


def sent_message(sent: discord.InteractionCallbackResponse) -> discord.InteractionMessage | None:
    """The message an interaction response created: the callback's answer carries it, so
    no second request (`original_response`) is needed to edit it later."""
    resource = sent.resource
    return resource if isinstance(resource, discord.InteractionMessage) else None


class Confirm(OwnedView):
    """A confirm/cancel pair; `value` is True, False, or None after a timeout."""

    def __init__(self, owner_id: int, confirm_label: str, *, timeout: float = 120) -> None:
        super().__init__(owner_id, timeout=timeout)
        self.value: bool | None = None
        self.interaction: discord.Interaction | None = None
        self.confirm.label = confirm_label

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.danger)
    async def confirm(
        self, interaction: discord.Interaction, _: discord.ui.Button[Confirm]
    ) -> None:
        self.value, self.interaction = True, interaction
        self.stop()

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, _: discord.ui.Button[Confirm]) -> None:
        self.value, self.interaction = False, interaction
        self.stop()
