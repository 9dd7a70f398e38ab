"""Settings read from the environment and an optional `.env` file."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DB_PATH = Path("var") / "milestones.sqlite3"
LOG_FORMATS = ("text", "json")


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


class Settings(BaseSettings):
    """Everything the operator can set. Only the token is required."""

    model_config = SettingsConfigDict(
        env_file=".env", env_ignore_empty=True, extra="ignore", populate_by_name=True
    )

    discord_token: SecretStr | None = Field(default=None, alias="DISCORD_TOKEN")
    discord_token_file: Path | None = Field(default=None, alias="DISCORD_TOKEN_FILE")
    database_url: str = Field(default="", alias="DATABASE_URL")
    dev_guild_id: int | None = Field(default=None, alias="DEV_GUILD_ID")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    discord_api_base: str | None = Field(default=None, alias="DISCORD_API_BASE")
    discord_gateway_url: str | None = Field(default=None, alias="DISCORD_GATEWAY_URL")
    log_format: str = Field(default="text", alias="LOG_FORMAT")
    # Prometheus /metrics and /healthz: off unless a port is set. In Docker, host 0.0.0.0.
    metrics_port: int | None = Field(default=None, alias="METRICS_PORT", ge=1, le=65535)
    metrics_host: str = Field(default="127.0.0.1", alias="METRICS_HOST")
    # Sharding: with neither set, one process runs every shard Discord recommends.
    shard_count: int | None = Field(default=None, alias="SHARD_COUNT", ge=1)
    shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = Field(default=None, alias="SHARD_IDS")
    # Worker processes that draw the pictures; 0 draws them in a thread of the bot's own
    # process instead (no process to start: tests, very small machines).
    card_workers: int = Field(default=1, alias="CARD_WORKERS", ge=0, le=16)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in logging.getLevelNamesMapping():
            raise ValueError(f"unknown log level {value!r} (use DEBUG, INFO, WARNING or ERROR)")
        return level

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        url = normalise_database_url(value)
        if not parseable_url(url):  # The message must not repeat the URL (its password).
            raise ValueError(
                "not a valid database URL: check the host, the port and the database name, "
                "and %-encode special characters in the password (@ as %40, / as %2F)"
            )
        return url

    @field_validator("discord_api_base", "discord_gateway_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if "://" not in value:
            raise ValueError(f"{value!r} is not a URL")
        return value.rstrip("/")

    @field_validator("log_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        fmt = value.strip().lower()
        if fmt not in LOG_FORMATS:
            raise ValueError(f"unknown log format {value!r} (use text or json)")
        return fmt

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _id_list(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        parts = [part.strip() for part in value.split(",")]
        if not all(part.isdigit() for part in parts):
            raise ValueError(
                f"{value!r} is not a list of shard ids: use comma-separated numbers, like 0,1"
            )
        return tuple(int(part) for part in parts)

    @model_validator(mode="after")
    def _shards_fit(self) -> Self:
        ids = self.shard_ids
        if ids is None:
            return self
        if self.shard_count is None:
            raise ValueError("SHARD_IDS needs SHARD_COUNT, the number of shards in all processes")
        if len(set(ids)) != len(ids):
            raise ValueError(f"SHARD_IDS lists a shard twice: {','.join(map(str, ids))}")
        outside = [i for i in ids if i >= self.shard_count]
        if outside:
            raise ValueError(
                f"SHARD_IDS names shard {','.join(map(str, outside))}, but with "
                f"SHARD_COUNT={self.shard_count} the ids run from 0 to {self.shard_count - 1}"
            )
        return self

    def token(self) -> str:
        """Return the bot token, or raise ConfigError when none is set.

        DISCORD_TOKEN_FILE is read here, when the token is needed, not when settings load:
        `db upgrade`, `db copy` and `db backup` work without a readable token file.
        """
        if self.discord_token is None and self.discord_token_file is not None:
            self.discord_token = SecretStr(read_token_file(self.discord_token_file))
        if self.discord_token is None or not self.discord_token.get_secret_value():
            raise ConfigError(
                "DISCORD_TOKEN is not set: put the bot token in the environment or in .env "
                "(or point DISCORD_TOKEN_FILE at a file holding it)"
            )
        return self.discord_token.get_secret_value()

    def secrets(self) -> list[str]:
        """Values no log line or message may show: the token (once known), the DB password."""
        found = []
        if self.discord_token is not None and self.discord_token.get_secret_value():
            found.append(self.discord_token.get_secret_value())
        found += database_secrets(self.database_url)
        return found


def read_token_file(path: Path) -> str:
    """The token in a Docker secret or other file, or one ConfigError line saying what to do."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        uid = os.geteuid()
        if isinstance(exc, PermissionError):
            advice = (
                f"make it readable by uid {uid}, the user this process runs as (chown {uid} {path})"
            )
        elif isinstance(exc, FileNotFoundError):
            advice = "check the path, or mount the secret there"
        else:
            advice = "point it at a file that holds only the bot token"
        raise ConfigError(
            f"cannot read DISCORD_TOKEN_FILE {path}: {reason} (this process runs as uid {uid}): "
            f"{advice}"
        ) from None


def masked_url(url: str) -> str:
    """A database URL fit for logs and messages: the password shown as ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(an unparseable database URL)"


def parseable_url(url: str) -> bool:
    """Whether SQLAlchemy can read this database URL (a port that is not a number: no)."""
    try:
        make_url(url)
    except (ArgumentError, ValueError):
        return False
    return True


def database_secrets(url: str) -> list[str]:
    """The password of a database URL as given (%-encoded) and decoded, to mask both."""
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        return []
    if not isinstance(password, str) or not password:
        return []
    try:
        raw = urlsplit(url).password
    except ValueError:
        raw = None
    return sorted({password, raw or password}, key=len, reverse=True)


def normalise_database_url(value: str) -> str:
    """Pick the async driver for plain URLs; default to a local SQLite file."""
    if not value:
        return f"sqlite+aiosqlite:///{DEFAULT_DB_PATH}"
    if value.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + value.removeprefix("sqlite://")
    for prefix in ("postgres://", "postgresql://"):
        if value.startswith(prefix):
            return "postgresql+asyncpg://" + value.removeprefix(prefix)
    if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ValueError("DATABASE_URL must be a sqlite:// or postgresql:// URL")
    return value


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation errors into one ConfigError line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            # A check across settings (the shards) names them in its message.
            problems.append(f"{name.upper()}: {message}" if name else message)
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
