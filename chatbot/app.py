"""The composition root: settings, database, engine, outbox and adapters built in one place.

Adapters are found through the `chatbot.adapters` entry points, so the core never imports one;
each gets the `Core` port for its platform (chatbot.ports) and nothing else of the core.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import secrets
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import entry_points
from pathlib import Path

from sqlalchemy import Engine

from chatbot.delivery import Dispatcher
from chatbot.events import TERMINAL, Place
from chatbot.ingest import Ingest
from chatbot.meetings.context import utcnow
from chatbot.meetings.engine import MeetingEngine
from chatbot.ports import Adapter, Batching, Delivery
from chatbot.schedule.clock import ScaledClock
from chatbot.schedule.config import example_config, load_config
from chatbot.schedule.locks import locks_for
from chatbot.schedule.scheduler import Scheduler
from chatbot.schedule.series import Config
from chatbot.settings import Settings
from chatbot.storage import store

log = logging.getLogger(__name__)

# Events rarely queue posts (a late reply after the digest went out), so a stream of them asks the
# outbox to look at most this often rather than once per batch.
KICK_EVERY = 0.1


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

    def port(self, platform: str) -> CorePort:
        """What the adapter for `platform` may ask of the core."""
        return CorePort(self, platform)


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


class StoredValues:
    """The `KeyValues` port over the database's key-value table."""

    def __init__(self, db: Engine) -> None:
        self.db = db

    def _get(self, key: str) -> str | None:
        with store.session_scope(self.db) as session:
            return store.get_value(session, key=key)

    def _put(self, key: str, value: str) -> None:
        with store.session_scope(self.db) as session:
            store.put_value(session, key=key, value=value)

    async def get(self, key: str) -> str | None:
        return await asyncio.to_thread(self._get, key)

    async def put(self, key: str, value: str) -> None:
        await asyncio.to_thread(self._put, key, value)


def stored_values(settings: Settings) -> StoredValues:
    """The key-value store alone, for a command that needs no engine (the database migrated first)."""
    db = store.create_db_engine(settings.database_url)
    store.upgrade(db)
    return StoredValues(db)


def channels_of(config: Config, platform: str) -> tuple[str, ...]:
    """The channels a platform's adapter serves: the terminal's are the series themselves."""
    if platform == TERMINAL:
        return tuple(series.id for series in config.series)
    found = [channel for series in config.series if (spec := series.targets.get(platform))
             for channel in (spec.channel, spec.digest_channel) if channel]
    return tuple(dict.fromkeys(found))


class CorePort:
    """The `Core` port of one platform, over the runtime's engine, outbox and database."""

    def __init__(self, runtime: Runtime, platform: str, *, kick_every: float = KICK_EVERY) -> None:
        self.runtime = runtime
        self.platform = platform
        self.settings = runtime.settings
        self.values = StoredValues(runtime.db)
        self.kick_every = kick_every
        self._last_kick = -math.inf
        self._kick_later: asyncio.TimerHandle | None = None
        self._kick_loop: asyncio.AbstractEventLoop | None = None

    def channels(self) -> tuple[str, ...]:
        return channels_of(self.runtime.config, self.platform)

    def events(self, batching: Batching = Batching()) -> Ingest:
        return Ingest(self.runtime.engine, self.platform, batching, changed=self.changed)

    async def open_threads(self) -> list[Place]:
        return await asyncio.to_thread(self.runtime.engine.open_threads, self.platform)

    async def updates_thread(self, series_id: str) -> str | None:
        return await asyncio.to_thread(self.runtime.engine.open_thread, series_id, self.platform)

    def changed(self) -> None:
        loop = asyncio.get_running_loop()
        if self._kick_later is not None and self._kick_loop is loop:
            return  # a round is due soon and will see this change too
        wait = self._last_kick + self.kick_every - time.monotonic()
        if wait <= 0:
            self._kick()
        else:
            self._kick_later, self._kick_loop = loop.call_later(wait, self._kick), loop

    def _kick(self) -> None:
        if self._kick_later is not None:
            self._kick_later.cancel()
            self._kick_later = None
        self._last_kick = time.monotonic()
        self.runtime.dispatcher.kick()

    async def settle(self) -> None:
        if self._kick_later is not None:
            self._kick()
        await self.runtime.dispatcher.idle()


def adapter_factory(name: str):
    """The `create(core, **options)` function an adapter package registers under `chatbot.adapters`."""
    found = entry_points(group="chatbot.adapters", name=name)
    if not found:
        raise LookupError(f"no adapter named {name!r} is installed")
    return next(iter(found)).load()


def create_adapters(runtime: Runtime, platforms: list[str], **options) -> list[Adapter]:
    """The adapters of these platforms, each with its port, their deliveries given to the outbox."""
    adapters = [adapter_factory(platform)(runtime.port(platform), **options) for platform in platforms]
    runtime.connect({a.platform: a.delivery for a in adapters})
    return adapters


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
