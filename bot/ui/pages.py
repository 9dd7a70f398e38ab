"""Page buttons that keep nothing in memory: the custom id carries what a page needs.

`views.Paginator` keeps a view, its renderer, the message and a ten-minute timeout (which
edits the message when it fires) for every paged answer: at a leaderboard a second that is
thousands of live objects and as many late edits. These buttons are `DynamicItem`s instead:
the custom id names the kind of pages, the member who may turn them, the page to show and the
renderer's own state (the leaderboard's period and the moment it was asked for). They keep
working after a restart, and they never expire.

A cog registers its renderer with `register(bot, kind, render)` when it loads and answers with
`send_pages(interaction, kind, state, render)`. A renderer that is about to do slow work (a
picture) defers the interaction itself first; the buttons then edit the deferred answer.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.inflight import admit
from bot.ui.deferral import watch
from bot.ui.replies import handle_error
from bot.ui.views import NOT_YOURS, PageContent, page_files

# render(interaction, state, page) -> the page (clamped to the pages there are)
StateRenderer = Callable[[discord.Interaction, str, int], Awaitable[PageContent]]

_TEMPLATE = r"pg:(?P<kind>[a-z]+):(?P<owner>[0-9]+):(?P<page>[0-9]+):(?P<to>[pn]):(?P<state>[^:]*)"
_RENDERERS = "_page_renderers"  # on the client: kind -> renderer


def register(client: discord.Client, kind: str, render: StateRenderer) -> None:
    """Make the page buttons of `kind` work (call it when the cog loads)."""
    if not re.fullmatch(r"[a-z]+", kind):
        raise ValueError("a kind of pages is lower-case letters")
    renderers: dict[str, StateRenderer] | None = getattr(client, _RENDERERS, None)
    if renderers is None:
        renderers = {}
        setattr(client, _RENDERERS, renderers)
        client.add_dynamic_items(PageButton)
    renderers[kind] = render


class PageButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_TEMPLATE):
    """Previous or Next: shows page `page` of `kind` with `state`, to `owner` only."""

    def __init__(
        self, kind: str, owner: int, page: int, to: str, state: str, *, disabled: bool = False
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label="◀ Previous" if to == "p" else "Next ▶",
                style=discord.ButtonStyle.secondary,
                custom_id=f"pg:{kind}:{owner}:{max(page, 0)}:{to}:{state}",
                disabled=disabled,
            )
        )
        self.kind, self.owner, self.page, self.state = kind, owner, page, state

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

    async def callback(self, interaction: discord.Interaction) -> None:
        watch(interaction)  # A dynamic item has no SafeView: it is answered in time here.
        if not await admit(interaction):  # a stop has begun: answered "restarting"
            return
        # A dynamic item's errors go to a plain View's on_error, which only logs: answer here.
        try:
            await self._turn(interaction)
        except Exception as exc:
            await handle_error(interaction, exc, f"component {self.item.custom_id}")

    async def _turn(self, interaction: discord.Interaction) -> None:
        if interaction.user.id != self.owner:
            await interaction.response.send_message(NOT_YOURS, ephemeral=True)
            return
        renderers: dict[str, StateRenderer] = getattr(interaction.client, _RENDERERS, {})
        render = renderers.get(self.kind)
        if render is None:  # pages of a kind this version no longer has
            await interaction.response.defer()
            return
        content = await render(interaction, self.state, self.page)
        page = min(max(self.page, 0), content.pages - 1)
        fields: dict[str, Any] = {
            "embed": content.embed,
            "view": page_view(self.kind, self.owner, page, content.pages, self.state),
        }
        had_picture = interaction.message is not None and bool(interaction.message.attachments)
        if content.file is not None or had_picture:
            fields["attachments"] = page_files(content)  # the new picture, or none any more
        if interaction.response.is_done():  # the renderer deferred: slow work
            await interaction.edit_original_response(**fields)
        else:
            await interaction.response.edit_message(**fields)


def page_view(kind: str, owner: int, page: int, pages: int, state: str) -> discord.ui.View:
    """Previous, the position, Next: a view nothing listens to (the buttons are dynamic)."""
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
    view.stop()  # not kept by discord.py: the dynamic items answer the clicks
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
    content = await render(interaction, state, 0)
    fields: dict[str, Any] = {"embed": content.embed, "files": page_files(content)}
    if content.pages > 1:
        fields["view"] = page_view(kind, interaction.user.id, 0, content.pages, state)
    if interaction.response.is_done():  # the renderer deferred (a picture)
        await interaction.followup.send(ephemeral=ephemeral, wait=True, **fields)
    else:
        await interaction.response.send_message(ephemeral=ephemeral, **fields)
