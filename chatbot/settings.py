"""Typed settings from the environment, loaded once in main() and validated loudly."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _env(name: str):
    return Field(None, validation_alias=AliasChoices(name))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_ignore_empty=True,
                                      validate_by_name=True, validate_by_alias=True)

    config_path: Path = Field(Path("meetings.toml"), validation_alias=AliasChoices("CHATBOT_CONFIG"))
    database_url: str = Field("sqlite:///chatbot.db", validation_alias=AliasChoices("CHATBOT_DATABASE_URL"))
    log_level: str = Field("INFO", validation_alias=AliasChoices("CHATBOT_LOG_LEVEL"))
    archive_dir: Path = Field(Path("docs/meetings"), validation_alias=AliasChoices("CHATBOT_ARCHIVE_DIR"))
    slack_bot_token: SecretStr | None = _env("SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = _env("SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = _env("SLACK_SIGNING_SECRET")
    slack_api_url: str | None = _env("SLACK_API_URL")
    discord_token: SecretStr | None = _env("DISCORD_TOKEN")
    discord_api_url: str | None = _env("DISCORD_API_URL")
    discord_gateway_url: str | None = _env("DISCORD_GATEWAY_URL")
    port: int = Field(3000, ge=1, le=65535, validation_alias=AliasChoices("PORT"))
    # How often (seconds) each process looks for sends queued by others and tries to lead.
    scheduler_poll: float = Field(1.0, gt=0, le=60, validation_alias=AliasChoices("CHATBOT_SCHEDULER_POLL"))
    # Test-only: the bot's clock reads CHATBOT_CLOCK_START at Unix time CHATBOT_CLOCK_ORIGIN
    # (default: when the scheduler first reads it) and runs CHATBOT_CLOCK_SPEED times as fast.
    clock_start: datetime | None = Field(None, validation_alias=AliasChoices("CHATBOT_CLOCK_START"))
    clock_speed: float = Field(1.0, gt=0, validation_alias=AliasChoices("CHATBOT_CLOCK_SPEED"))
    clock_origin: float | None = Field(None, validation_alias=AliasChoices("CHATBOT_CLOCK_ORIGIN"))

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"CHATBOT_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator("slack_api_url")
    @classmethod
    def _api_base(cls, value: str | None) -> str | None:
        if value and not value.endswith("/"):
            value += "/"
        if value and not value.endswith("/api/"):
            raise ValueError("SLACK_API_URL must end in /api/, like https://slack.com/api/")
        return value

    @field_validator("clock_start")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("CHATBOT_CLOCK_START needs a UTC offset, like 2026-03-10T16:00:00+00:00")
        return value

    @model_validator(mode="after")
    def _slack_credentials(self) -> "Settings":
        bot, app, secret = self.slack_bot_token, self.slack_app_token, self.slack_signing_secret
        if (app or secret) and not bot:
            raise ValueError("SLACK_BOT_TOKEN is missing: Slack needs the bot token (xoxb-...) "
                             "with SLACK_APP_TOKEN or SLACK_SIGNING_SECRET")
        if bot and not (app or secret):
            raise ValueError("SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) "
                             "is missing beside SLACK_BOT_TOKEN")
        if bot and not bot.get_secret_value().startswith("xoxb-"):
            raise ValueError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
        if app and not app.get_secret_value().startswith("xapp-"):
            raise ValueError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
        if (self.clock_speed != 1.0 or self.clock_origin is not None) and self.clock_start is None:
            raise ValueError("CHATBOT_CLOCK_SPEED and CHATBOT_CLOCK_ORIGIN need CHATBOT_CLOCK_START")
        return self

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None

    @property
    def slack_socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def discord_enabled(self) -> bool:
        return self.discord_token is not None


class SettingsError(Exception):
    pass


def load_settings(**overrides) -> Settings:
    """Settings from the environment; a wrong value raises SettingsError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = ".".join(str(p) for p in item["loc"]) or "settings"
            message = item["msg"].removeprefix("Value error, ")
            problems.append(message if where == "settings" else f"{where.upper()}: {message}")
        raise SettingsError("; ".join(problems)) from None
