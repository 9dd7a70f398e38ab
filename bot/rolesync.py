"""`/config sync-roles` on Discord's side: a background run that survives restarts.

The level roles and what stops the bot from managing them are read once per run. Members
are looked up a batch at a time over the gateway (`guild.query_members(user_ids=...)`, up to
100 ids a request; Discord allows it without the privileged GUILD_MEMBERS intent, which only
listing every member needs), and a REST call goes only to a member whose roles must change.
Discord limits gateway requests to 120 a minute per connection (discord.py keeps to 110):
about 180 members looked up a second per shard, REST changes aside.

Progress goes to the admin's deferred answer while its token lives (15 minutes) and to
`/config show` always (`describe`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord

from bot.levelups import role_problem
from bot.services.rolesync import BATCH, DONE, FAILED, Batch, RoleSyncState, Tally
from bot.ui.render import when

if TYPE_CHECKING:
    from bot.bot import MilestoneBot

log = logging.getLogger(__name__)

Reporter = Callable[[str], Awaitable[None]]
REPORT_EVERY = 2.0  # seconds between edits of the admin's answer
LOOKUP_ATTEMPTS = 3


def describe(state: RoleSyncState) -> str:
    """A run in one line or two, for the admin's answer and `/config show`."""
    counts = (
        f"{state.checked:,} of {state.total:,} member(s) checked, "
        f"{state.changed_levels:,} changed level, {state.given:,} role(s) given, "
        f"{state.taken:,} taken"
        + (f", {state.gone:,} no longer in the server" if state.gone else "")
        + (f", {state.failed:,} change(s) refused by Discord" if state.failed else "")
    )
    if state.status == DONE:
        return f"Checked {state.checked:,} member(s): " + counts.split(" checked, ", 1)[1] + "."
    if state.status == FAILED:
        return (
            f"Stopped {when(state.updated_at, 'R')}: {state.last_error or 'unknown error'}. "
            f"So far {counts}. Run `/config sync-roles` again to go on."
        )
    share = f" ({100 * state.checked // state.total}%)" if state.total else ""
    return f"Syncing level roles{share}: {counts}. Started {when(state.started_at, 'R')}."


class RoleSyncer:
    """Runs role syncs in the background, one per server."""

    def __init__(self, bot: MilestoneBot) -> None:
        self.bot = bot
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self._stopping = False

    def running(self, guild_id: int) -> bool:
        """Whether this process is running the server's sync now."""
        task = self.tasks.get(guild_id)
        return task is not None and not task.done()

    def start(self, guild_id: int, report: Reporter | None = None) -> None:
        """Run (or go on with) the server's sync in the background."""
        if self.running(guild_id):
            return
        self.tasks[guild_id] = asyncio.create_task(
            self._run(guild_id, report), name=f"role-sync-{guild_id}"
        )

    async def resume(self) -> None:
        """After a restart: go on with the runs that were under way, in this shard's servers."""
        for state in await self.bot.services.rolesync.unfinished():
            if self.bot.owns_guild(state.guild_id) and self.bot.get_guild(state.guild_id):
                log.info("resuming the role sync of guild %s", state.guild_id)
                self.start(state.guild_id)

    async def stop(self, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Stop every run after its current batch; each resumes there at the next start.

        A run still busy after `timeout` (a lookup Discord does not answer) is cancelled: its
        batch is done again after the restart.
        """
        self._stopping = True
        tasks = [t for t in self.tasks.values() if not t.done()]
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=timeout)

    async def _run(self, guild_id: int, report: Reporter | None) -> None:
        service = self.bot.services.rolesync
        try:
            state = await self._sync(guild_id, report)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("role sync of guild %s failed", guild_id)
            state = await service.finish(guild_id, FAILED, f"{type(exc).__name__}: {exc}")
        if report is not None and not state.running:
            await report(describe(state) + await self._role_errors(guild_id))

    async def _role_errors(self, guild_id: int) -> str:
        roles = await self.bot.services.guilds.level_roles(guild_id)
        if not roles:
            return " No level roles are set: add them with `/config level-role`."
        errors = [r for r in roles.values() if r.last_error]
        return "".join(f"\n⚠️ Level {r.level}: {r.last_error}" for r in errors)

    async def _sync(self, guild_id: int, report: Reporter | None) -> RoleSyncState:
        service = self.bot.services.rolesync
        guilds = self.bot.services.guilds
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return await service.finish(guild_id, FAILED, "the bot is not in this server")
        # The roles, and what stops the bot from managing each, once for the whole run.
        roles = await guilds.level_roles(guild_id)
        usable: dict[int, int] = {}
        for level, info in roles.items():
            problem = role_problem(guild, guild.get_role(info.role_id))
            if problem is not None:
                await guilds.record_role_error(guild_id, level, problem)
            else:
                usable[level] = info.role_id
                if info.last_error is not None:
                    await guilds.record_role_error(guild_id, level, None)
        state = await service.state(guild_id)
        assert state is not None
        after = state.after_user_id
        reported = time.monotonic()
        while not self._stopping:
            # Batches of levels until a lookup's worth of members to look at (most members
            # of a large server never left level 0: a request of 100 ids, not of 40).
            batch = Batch(())
            while (wanted := BATCH - len(_concerned(batch))) > 0:
                more = await service.next_levels(guild_id, batch.last_user_id or after, wanted)
                if not more.members:
                    break
                batch = Batch(batch.members + more.members)
            if not batch.members:
                return await service.finish(guild_id, DONE)
            tally = Tally()
            if usable:
                await self._fix_roles(guild, batch, usable, tally)
            state = await service.record(guild_id, batch, tally)
            after = batch.last_user_id
            if report is not None and time.monotonic() - reported >= REPORT_EVERY:
                reported = time.monotonic()
                await report(describe(state))
        return state  # stopping: still under way, resumed at the next start

    async def _fix_roles(
        self, guild: discord.Guild, batch: Batch, usable: dict[int, int], tally: Tally
    ) -> None:
        concerned = _concerned(batch)  # at most 100: one request
        members = await self._lookup(guild, list(concerned)) if concerned else {}
        managed = set(usable.values())
        for user_id, level in concerned.items():
            member = members.get(user_id)
            if member is None:
                tally.gone += 1
                continue
            wanted = {role for lvl, role in usable.items() if lvl <= level}
            have = {r.id for r in member.roles}
            add, remove = wanted - have, (managed - wanted) & have
            if add or remove:
                await self._change(guild, member, level, have, add, remove, tally)

    async def _lookup(self, guild: discord.Guild, user_ids: list[int]) -> dict[int, discord.Member]:
        found = {u: m for u in user_ids if (m := guild.get_member(u)) is not None}
        missing = [u for u in user_ids if u not in found]
        for attempt in range(LOOKUP_ATTEMPTS):
            if not missing:
                break
            try:
                members = await guild.query_members(
                    user_ids=missing, limit=len(missing), cache=False
                )
            except TimeoutError:
                if attempt == LOOKUP_ATTEMPTS - 1:
                    raise
                await self.bot.wait_until_ready()  # the gateway may be reconnecting
                continue
            found.update((m.id, m) for m in members)
            break
        return found

    async def _change(
        self,
        guild: discord.Guild,
        member: discord.Member,
        level: int,
        have: set[int],
        add: set[int],
        remove: set[int],
        tally: Tally,
    ) -> None:
        reason = f"Level roles synced (level {level})"
        try:
            if len(add) + len(remove) == 1:  # one role: the call that changes only it
                if add:
                    await member.add_roles(discord.Object(next(iter(add))), reason=reason)
                else:
                    await member.remove_roles(discord.Object(next(iter(remove))), reason=reason)
            else:
                keep = (have - remove - {guild.default_role.id}) | add
                await member.edit(roles=[discord.Object(r) for r in sorted(keep)], reason=reason)
        except discord.NotFound:
            tally.gone += 1  # left in the meantime
            return
        except discord.HTTPException as exc:
            tally.failed += 1
            log.warning("role sync in guild %s, member %s: %s", guild.id, member.id, exc)
            return
        tally.given += len(add)
        tally.taken += len(remove)


def _concerned(batch: Batch) -> dict[int, int]:
    """The members whose roles to look at, with their level: members at level 0 who stayed
    there hold no role the bot gave, so a large server is not looked up member by member."""
    return {user: new for user, old, new in batch.members if old or new}


def reporter(interaction: discord.Interaction) -> Reporter:
    """Edit the admin's deferred answer, while its token lives."""
    expires = time.monotonic() + 14 * 60

    async def report(text: str) -> None:
        if time.monotonic() > expires:
            return
        with contextlib.suppress(discord.HTTPException):
            await interaction.edit_original_response(content=text[:2000])

    return report
