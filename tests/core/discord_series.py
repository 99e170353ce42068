"""One series on Discord at a fixed instant: the runtime the engine-level Discord tests share."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from chatbot.app import Runtime, build_runtime
from chatbot.events import Place
from chatbot.schedule.config import parse_config
from chatbot.settings import load_settings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
CONFIG = """
[[series]]
id = "hubs"
name = "Hubs Team Meeting"
schedule = "every 3rd tuesday"
time = "17:00"

[series.discord]
channel = 100
"""
CHANNEL = Place("discord", "100")


def discord_runtime(database_url: str, folder: Path) -> Runtime:
    settings = load_settings(database_url=database_url, config_path=folder / "none.toml",
                             archive_dir=folder / "archive")
    return build_runtime(settings, ["discord"], clock=lambda: NOW, config=parse_config(CONFIG))
