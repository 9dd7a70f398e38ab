"""Page buttons that carry their state in their custom id: nothing is kept per message.

`views.Paginator` keeps a view, its renderer and a ten-minute timeout task in memory for
every message it sends; at hundreds of leaderboards a minute that is tens of thousands of
live objects. These buttons are `DynamicItem`s instead: the custom id names the renderer,
the member who may turn the pages, the page to show and the renderer's own state (such as
the period and the moment a leaderboard was asked for). They keep working after a restart.

A cog registers its renderer with `register(bot, kind, render)` when it loads, and answers
with `send_pages(interaction, kind, state, render)`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.ui.replies import handle_error

# render(interaction, page, state) -> (embed of that page, number of pages)
StateRenderer = Callable[[discord.Interaction, int, str], Awaitable[tuple[discord.Embed, int]]]

NOT_YOURS = "These buttons belong to whoever ran the command: run it yourself to browse."
_TEMPLATE = r"pg:(?P<kind>[a-z]+):(?P<owner>[0-9]+):(?P<page>[0-9]+):(?P<to>[pn]):(?P<state>[^:]*)"


_RENDERERS = "_page_renderers"  # on the client: kind -> renderer


def register(client: discord.Client, kind: str, render: StateRenderer) -> None:
    """Make `kind`'s page buttons work (call it when the cog loads)."""
    if not re.fullmatch(r"[a-z]+", kind):
        raise ValueError("a pager kind is lower-case letters")
    renderers: dict[str, StateRenderer] | None = getattr(client, _RENDERERS, None)
    if renderers is None:
        renderers = {}
        setattr(client, _RENDERERS, renderers)
    renderers[kind] = render
    client.add_dynamic_items(PageButton)


def _renderer(client: discord.Client, kind: str) -> StateRenderer | None:
    renderers: dict[str, StateRenderer] = getattr(client, _RENDERERS, {})
    return renderers.get(kind)


class PageButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_TEMPLATE):
    """Previous or Next: shows page `page` of `kind` with `state`, for `owner` only."""

    def __init__(
        self, kind: str, owner: int, page: int, to: str, state: str, *, disabled: bool = False
    ) -> None:
        label = "◀ Previous" if to == "p" else "Next ▶"
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"pg:{kind}:{owner}:{max(page, 0)}:{to}:{state}",
                disabled=disabled,
            )
        )
        self.kind, self.owner, self.page, self.to, self.state = kind, owner, page, to, state

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> PageButton:
        return cls(
            match["kind"], int(match["owner"]), int(match["page"]), match["to"], match["state"]
        )

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if interaction.user.id == self.owner:
            return True
        await interaction.response.send_message(NOT_YOURS, ephemeral=True)
        return False

    async def callback(self, interaction: discord.Interaction) -> None:
        # discord.py only logs what a dynamic item raises: answer the user like a view does.
        try:
            render = _renderer(interaction.client, self.kind)
            if render is None:
                await interaction.response.defer()
                return
            embed, pages = await render(interaction, self.page, self.state)
            page = min(max(self.page, 0), pages - 1)
            view = page_view(self.kind, self.owner, page, pages, self.state)
            await interaction.response.edit_message(embed=embed, view=view)
        except Exception as error:
            await handle_error(interaction, error, f"component {self.custom_id}")


def page_view(kind: str, owner: int, page: int, pages: int, state: str) -> discord.ui.View:
    """Previous, the position, Next; a view nothing listens to (the buttons are dynamic)."""
    view = discord.ui.View(timeout=None)
    view.add_item(PageButton(kind, owner, page - 1, "p", state, disabled=page <= 0))
    view.add_item(
        discord.ui.Button(
            label=f"{page + 1}/{pages}",
            style=discord.ButtonStyle.secondary,
            disabled=True,
            custom_id=f"pg:{kind}:at",
        )
    )
    view.add_item(PageButton(kind, owner, page + 1, "n", state, disabled=page >= pages - 1))
    view.stop()  # not stored: the dynamic items answer the clicks
    return view


async def send_pages(
    interaction: discord.Interaction,
    kind: str,
    state: str,
    render: StateRenderer,
    *,
    ephemeral: bool = False,
) -> None:
    """Answer with the first page, with page buttons only when there is more than one."""
    embed, pages = await render(interaction, 0, state)
    if pages <= 1:
        await interaction.response.send_message(embed=embed, ephemeral=ephemeral)
        return
    view = page_view(kind, interaction.user.id, 0, pages, state)
    await interaction.response.send_message(embed=embed, view=view, ephemeral=ephemeral)
