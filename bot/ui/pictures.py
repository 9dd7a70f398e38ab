"""Pictures in answers: avatars from Discord's CDN, cards made from the services' results, and
the file that carries a picture (or nothing, and the embed goes alone).

Drawing itself is `bot.ui.cards` (`CardRenderer`, owned by the bot); this module is the part
that knows Discord: avatar assets, `discord.File`, `attachment://` images in embeds.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
import discord

from bot.roadmap import Roadmap
from bot.services.assessments import MetricRatings
from bot.services.checkins import CycleCount, WeekHours
from bot.services.leaderboard import Page, Period
from bot.services.progress import Activity, MemberProgress
from bot.ui.cards import (
    AssessmentChart,
    CardError,
    CycleBar,
    HoursChart,
    LeaderboardCard,
    LeaderboardRow,
    LevelBar,
    ParticipationChart,
    ProgressCard,
)

log = logging.getLogger(__name__)

AVATAR_SIZE = 128  # pixels: the cards draw avatars at most 132 wide
AVATAR_TIMEOUT = 2.0  # seconds for one avatar; the card is drawn without it after that
AVATAR_MAX_BYTES = 1024 * 1024
AVATAR_RETRY = 600.0  # seconds before an avatar that failed is asked for again
PERIOD_LABELS = {Period.ALL: "All time", Period.MONTH: "This month", Period.WEEK: "This week"}

GetFromCdn = Callable[[str], Awaitable[bytes]]


def avatar_path(user: discord.abc.User) -> str:
    """The CDN path of the avatar Discord shows for `user` here, "" for a default avatar.

    A member's server avatar wins over their account's, as in Discord. The path has no base
    ("avatars/<user>/<hash>.png"), so it stays valid wherever `discord.Asset.BASE` points.
    """
    asset = user.avatar
    if isinstance(user, discord.Member) and user.guild_avatar is not None:
        asset = user.guild_avatar
    if asset is None:
        return ""
    url = asset.replace(format="png").url.split("?", 1)[0]
    return url.removeprefix(discord.Asset.BASE).lstrip("/")


class Avatars:
    """Small avatars from Discord's CDN, with a short timeout, kept by the avatar's hash.

    An avatar's path carries its hash, so a changed avatar is a new entry and nothing cached
    goes stale. A failed fetch (timeout, 404, an outage) gives None, the card draws the
    generated default, and the same path is not asked for again for `retry` seconds.
    """

    def __init__(
        self,
        get: GetFromCdn,
        *,
        size: int = AVATAR_SIZE,
        timeout: float = AVATAR_TIMEOUT,
        capacity: int = 256,
        retry: float = AVATAR_RETRY,
    ) -> None:
        self._get = get
        self.size = size
        self.timeout = timeout
        self.retry = retry
        self._capacity = capacity
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._failed: dict[str, float] = {}
        self._inflight: dict[str, asyncio.Future[bytes | None]] = {}

    async def of(self, user: discord.abc.User) -> bytes | None:
        """The avatar of a user or member seen in an interaction."""
        return await self.fetch(avatar_path(user))

    async def fetch_many(self, paths: Sequence[str | None]) -> list[bytes | None]:
        """Several avatars at once (a leaderboard page), each within the timeout."""
        return list(await asyncio.gather(*(self.fetch(path) for path in paths)))

    async def fetch(self, path: str | None) -> bytes | None:
        """The avatar at a CDN path (None or "": no custom avatar), or None when it fails."""
        if not path:
            return None
        cached = self._cache.get(path)
        if cached is not None:
            self._cache.move_to_end(path)
            return cached
        failed_at = self._failed.get(path)
        if failed_at is not None and time.monotonic() - failed_at < self.retry:
            return None
        task = self._inflight.get(path)
        if task is None:
            # Its own task: one member's cancelled interaction does not cancel another's fetch.
            task = asyncio.ensure_future(self._download(path))
            self._inflight[path] = task
            task.add_done_callback(lambda _: self._inflight.pop(path, None))
        return await asyncio.shield(task)

    async def _download(self, path: str) -> bytes | None:
        url = f"{discord.Asset.BASE}/{path}?size={self.size}"
        try:
            data = await asyncio.wait_for(self._get(url), self.timeout)
        except (TimeoutError, discord.HTTPException, aiohttp.ClientError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            log.info("avatar %s not fetched (%s): drawing the default", path, reason)
            data = b""
        except Exception:  # Never worth an answer: the card does without the avatar.
            log.warning("avatar %s not fetched: drawing the default", path, exc_info=True)
            data = b""
        if not data or len(data) > AVATAR_MAX_BYTES:
            self._failed[path] = time.monotonic()
            if len(self._failed) > 4 * self._capacity:
                self._failed.clear()
            return None
        self._failed.pop(path, None)
        self._cache[path] = data
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        return data


async def draw(work: Awaitable[bytes]) -> bytes | None:
    """The picture `work` draws, or None when it cannot be drawn (the embed then goes alone)."""
    try:
        return await work
    except CardError:
        return None  # The renderer logged why.
    except Exception:
        log.exception("could not make a picture: sending the embed alone")
        return None


def attach(embed: discord.Embed, png: bytes | None, filename: str) -> discord.File | None:
    """A file for `png`, shown as `embed`'s image; None (and the embed unchanged) without one."""
    if png is None:
        return None
    embed.set_image(url=f"attachment://{filename}")
    return discord.File(io.BytesIO(png), filename)


async def picture(
    work: Awaitable[bytes], embed: discord.Embed, filename: str
) -> discord.File | None:
    """Draw and attach: `attach(embed, await draw(work), filename)`."""
    return attach(embed, await draw(work), filename)


def files(file: discord.File | None) -> list[discord.File]:
    """The `files=` of a message that may carry a picture."""
    return [] if file is None else [file]


def progress_card(
    roadmap: Roadmap,
    p: MemberProgress,
    *,
    display_name: str,
    avatar: bytes | None,
    rank: int | None,
    streak: int,
    activity: Activity,
) -> ProgressCard:
    """The `/progress` card of a member, from what the services say."""
    return ProgressCard(
        user_id=p.user_id,
        display_name=display_name,
        avatar=avatar,
        level=p.level,
        level_title=roadmap.level_title(p.level),
        levels=tuple(
            LevelBar(
                number=lvl.number,
                title=lvl.title,
                checklist_done=lvl.checklist_done,
                checklist_total=lvl.checklist_total,
                milestones_done=lvl.milestones_done,
                milestones_total=lvl.milestones_total,
                reached=lvl.reached,
            )
            for lvl in p.levels
        ),
        completed=p.completed,
        total=p.total,
        rank=rank,
        rank_hidden=p.hidden,
        streak=streak,
        today=activity.today,
        activity=activity.days,
    )


def leaderboard_card(
    board: Page, avatars: Sequence[bytes | None], server_name: str | None
) -> LeaderboardCard:
    """One `/leaderboard` page as a card; `avatars` in the order of the page's entries."""
    return LeaderboardCard(
        period=PERIOD_LABELS[board.period],
        page=board.page,
        pages=board.pages,
        total_members=board.total,
        rows=tuple(
            LeaderboardRow(
                rank=e.rank,
                user_id=e.user_id,
                display_name=e.display_name,
                completed=e.completed,
                level=e.level,
                avatar=avatar,
            )
            for e, avatar in zip(board.entries, avatars, strict=True)
        ),
        since=board.starts_on,
        server_name=server_name,
    )


def participation_chart(
    counts: Sequence[CycleCount], server_name: str | None
) -> ParticipationChart:
    """The check-in summary's chart: members who answered each of the last cycles."""
    return ParticipationChart(
        cycles=tuple(CycleBar(c.opens_on, c.answered) for c in counts), server_name=server_name
    )


def hours_chart(user_id: int, display_name: str, weeks: Sequence[WeekHours]) -> HoursChart:
    """A member's hours spent learning per answered check-in week."""
    return HoursChart(user_id, display_name, tuple((w.opens_on, w.hours) for w in weeks))


def assessment_chart(
    user_id: int, display_name: str, metrics: Sequence[MetricRatings]
) -> AssessmentChart:
    """`/assess history`'s chart: each rated metric's ratings over time, in roadmap order."""
    return AssessmentChart(
        user_id,
        display_name,
        {
            m.metric.name: tuple((r.taken_on, r.rating) for r in m.ratings)
            for m in metrics
            if m.ratings
        },
    )
