"""Log formats: plain text for a terminal, one JSON object per line for log collectors.

Both formats pass the finished line through the same redaction: the bot token and the
database password never reach a log line, whoever logs them (an exception message, a
library printing a URL).

Context rides on a record as `extra`; the JSON format lifts these keys to the top level:

    log.warning("reply failed", extra={"guild_id": g, "user_id": u, "command": "levels",
                                       "interaction_id": i})
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from typing import IO

CONTEXT_KEYS = ("guild_id", "user_id", "command", "interaction_id")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
MASK = "***"


class _Redacting(logging.Formatter):
    """A formatter that masks known secrets in whatever it produces."""

    def __init__(self, *args: object, secrets: Iterable[str] = (), **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


class TextFormatter(_Redacting):
    """`time level logger: message`, with tracebacks below, secrets masked."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__(TEXT_FORMAT, secrets=secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(_Redacting):
    """One JSON object per record: time, level, logger, message, exception and context ids."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value if isinstance(value, int | str) else str(value)
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = self.redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = self.redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def make_formatter(fmt: str, secrets: Iterable[str] = ()) -> logging.Formatter:
    """The formatter for LOG_FORMAT (`text` or `json`)."""
    if fmt == "json":
        return JsonFormatter(secrets=secrets)
    return TextFormatter(secrets)


class _Handler(logging.StreamHandler[IO[str]]):
    """The handler `configure` installs (so a second call replaces it)."""


def configure(
    level: str, fmt: str = "text", *, secrets: Iterable[str] = (), stream: IO[str] | None = None
) -> logging.Handler:
    """Send every log record to one stderr handler in the chosen format; returns it.

    Replaces handlers a previous call installed, so the CLI can call it again once it knows
    more secrets (the token is read only when it is needed).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _Handler):
            root.removeHandler(handler)
    handler = _Handler(stream)
    handler.setFormatter(make_formatter(fmt, secrets))
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def add_secret(secret: str) -> None:
    """Mask one more value in the lines of the handler `configure` installed."""
    for handler in logging.getLogger().handlers:
        formatter = handler.formatter
        if isinstance(handler, _Handler) and isinstance(formatter, _Redacting):
            formatter.secrets = sorted({*formatter.secrets, secret} - {""}, key=len, reverse=True)
