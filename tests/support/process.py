"""The bot as an operator runs it: `python -m bot ...` in its own process, pointed at the fake.

The fake Discord runs in the test's event loop; the bot reaches it over loopback through
DISCORD_API_BASE and DISCORD_GATEWAY_URL. Its output goes to a file (a pipe nobody reads
would fill up and block the bot), read with :meth:`BotProcess.log`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from types import TracebackType

from tests.fakediscord import FakeDiscord

REPO = Path(__file__).resolve().parents[2]
TOKEN = "fake-token-Zq3xVb7Lk2Np9Rt"
"""The bot token of process tests: distinctive, so a test can check no line shows it."""


def bot_env(fake: FakeDiscord | None, **settings: str) -> dict[str, str]:
    """The environment of a bot process: the fake's URLs, a token, INFO logs, `settings`."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DISCORD_TOKEN": TOKEN,
        "DATABASE_URL": "",
        "DEV_GUILD_ID": "",
        "LOG_LEVEL": "INFO",
        "DISCORD_API_BASE": fake.api_base if fake else "",
        "DISCORD_GATEWAY_URL": fake.gateway_url if fake else "",
    }
    env.update(settings)
    return env


class BotProcess:
    """One `python -m bot <args>` process; killed on exit from its `async with` if still up."""

    def __init__(self, cwd: Path, *args: str, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.args = args or ("run",)
        self.env = env
        self.log_path = cwd / f"bot-{os.getpid()}-{id(self)}.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> BotProcess:
        with self.log_path.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                *self.args,
                env=self.env,
                cwd=self.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def send(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: the process ends at once, as in a crash or an OOM kill."""
        self.send(signal.SIGKILL)

    async def wait(self, timeout: float) -> int:  # noqa: ASYNC109
        """The exit status; AssertionError if the process has not ended within `timeout` s."""
        assert self.proc is not None
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"the bot did not exit within {timeout}s; its log:\n{self.log()}"
            ) from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def __aenter__(self) -> BotProcess:
        return await self.start()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()


def error_lines(log: str) -> list[str]:
    """The ERROR (and CRITICAL) lines of a bot log, and any traceback."""
    return [
        line
        for line in log.splitlines()
        if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback")
    ]
