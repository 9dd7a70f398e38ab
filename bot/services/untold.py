"""Members of each server with something to be told after their next command, in memory.

Checked after every command, so the common case must read nothing: each server's set is read
once, then kept up to date by `mark`. It may hold a member told since (the caller's write
checks the database): never one missing. That holds because all of a server's interactions
and scheduled work go to the one process that owns its shard, so every mark of a server is
made in the process that keeps its set. A count of marks per server spots a read that raced
a mark; such a read is used, not kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable


class UntoldMembers:
    """Per server, the members who may have something untold (a DM failure, a decision)."""

    def __init__(self, load: Callable[[int], Awaitable[set[int]]]) -> None:
        self._load = load  # reads a server's untold members from the database
        self._members: dict[int, set[int]] = {}
        self._marks: dict[int, int] = {}

    def mark(self, guild_id: int, user_id: int) -> None:
        """The member has something untold now (call it after the write commits)."""
        self._marks[guild_id] = self._marks.get(guild_id, 0) + 1
        if guild_id in self._members:
            self._members[guild_id].add(user_id)

    async def pending(self, guild_id: int, user_id: int) -> int | None:
        """None when the member has nothing untold; else a token for `told`."""
        marks = self._marks.get(guild_id, 0)
        known = self._members.get(guild_id)
        if known is None:
            known = await self._load(guild_id)
            if self._marks.get(guild_id, 0) == marks:
                self._members[guild_id] = known
        return marks if user_id in known else None

    def told(self, guild_id: int, user_id: int, token: int) -> None:
        """The member was told now (or another way, already), unless marked since `pending`."""
        if self._marks.get(guild_id, 0) == token:
            self._members.get(guild_id, set()).discard(user_id)
