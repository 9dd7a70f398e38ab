"""Settings read from the environment and an optional `.env` file."""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
        return normalise_database_url(value)

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

    @model_validator(mode="after")
    def _read_token_file(self) -> Settings:
        if self.discord_token is None and self.discord_token_file is not None:
            try:
                token = self.discord_token_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"cannot read DISCORD_TOKEN_FILE: {exc.strerror}") from None
            self.discord_token = SecretStr(token)
        return self

    def token(self) -> str:
        """Return the bot token, or raise ConfigError when none is set."""
        if self.discord_token is None or not self.discord_token.get_secret_value():
            raise ConfigError(
                "DISCORD_TOKEN is not set: put the bot token in the environment or in .env "
                "(or point DISCORD_TOKEN_FILE at a file holding it)"
            )
        return self.discord_token.get_secret_value()


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
            name = ".".join(str(part) for part in error["loc"]) or "settings"
            problems.append(f"{name.upper()}: {error['msg'].removeprefix('Value error, ')}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
