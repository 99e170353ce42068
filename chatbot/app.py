"""The composition root: settings, database, engine, outbox and adapters built in one place.

Adapters are found through the `chatbot.adapters` entry points, so the core never imports one.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine

from chatbot.delivery import Delivery, Dispatcher
from chatbot.meetings.context import utcnow
from chatbot.meetings.engine import MeetingEngine
from chatbot.schedule.clock import ScaledClock
from chatbot.schedule.locks import locks_for
from chatbot.schedule.scheduler import Scheduler
from chatbot.schedule.config import example_config, load_config
from chatbot.schedule.series import Config
from chatbot.settings import Settings
from chatbot.storage import store

log = logging.getLogger(__name__)


class Adapter(Protocol):
    """A running platform connection: it feeds events to the engine and delivers posts."""

    platform: str
    delivery: Delivery

    async def run(self) -> None: ...

    async def close(self) -> None: ...


class StartupError(RuntimeError):
    """An adapter cannot start (missing or refused credentials); the message names the setting."""


@dataclass
class Runtime:
    settings: Settings
    config: Config
    db: Engine
    engine: MeetingEngine
    clock: Callable[[], datetime]
    worker: str  # names this process's claims on outbox rows and its locks
    using_example: bool = False
    dispatcher: Dispatcher | None = None  # both built by connect(), once the deliveries exist
    scheduler: Scheduler | None = None

    def connect(self, deliveries: Mapping[str, Delivery], **options) -> Dispatcher:
        """The dispatcher through the adapters' deliveries, and the scheduler that wakes it;
        `options` go to the dispatcher (paces, wall, sleep, ...)."""
        self.dispatcher = Dispatcher(self.db, deliveries, render=self.engine.render_post,
                                     clock=self.clock, worker=self.worker, **options)
        self.scheduler = Scheduler(self.engine, self.dispatcher, clock=self.clock,
                                   poll=self.settings.scheduler_poll,
                                   locks=lambda: locks_for(self.db, self.worker))
        return self.dispatcher


def load_series(path: Path) -> tuple[Config, bool]:
    """The configured series, or the built-in example when the file does not exist."""
    if not Path(path).exists():
        return example_config(), True
    return load_config(Path(path)), False


def build_runtime(settings: Settings, platforms: list[str], *,
                  clock: Callable[[], datetime] = utcnow, config: Config | None = None) -> Runtime:
    using_example = False
    if config is None:
        config, using_example = load_series(settings.config_path)
    if settings.clock_start is not None and clock is utcnow:
        clock = ScaledClock(settings.clock_start, settings.clock_speed, settings.clock_origin)
    db = store.create_db_engine(settings.database_url)
    store.upgrade(db)
    engine = MeetingEngine(db, config, platforms=platforms, clock=clock,
                           archive_dir=settings.archive_dir)
    worker = str(secrets.randbelow(2**31 - 2) + 1)
    return Runtime(settings, config, db, engine, clock, worker, using_example)


def adapter_factory(name: str):
    """The `create(runtime)` function an adapter package registers under `chatbot.adapters`."""
    found = entry_points(group="chatbot.adapters", name=name)
    if not found:
        raise LookupError(f"no adapter named {name!r} is installed")
    return next(iter(found)).load()


def platforms_for(settings: Settings) -> list[str]:
    platforms = []
    if settings.slack_enabled:
        platforms.append("slack")
    if settings.discord_enabled:
        platforms.append("discord")
    return platforms or ["terminal"]


_SECRET = re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|[MN][A-Za-z\d_-]{23,}\.[\w-]{6}\.[\w-]{27,})")


class RedactSecrets(logging.Filter):
    """Tokens never reach the logs, whatever a library prints."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _SECRET.search(message):
            record.msg, record.args = _SECRET.sub("[redacted]", message), ()
        return True


def configure_logging(level: str, stream=None) -> None:
    """One line per event, to standard output unless the conversation itself is there."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
