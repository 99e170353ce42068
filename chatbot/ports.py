"""What an adapter may ask of the core, and what it must provide: the two sides of the boundary.

Low on purpose: it knows only the core's vocabulary (chatbot.events), so an adapter, the core and
the composition root can all import it without importing one another.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Protocol

from chatbot.events import Answer, Delivered, Event, Place, Post, Reply

if TYPE_CHECKING:
    from chatbot.settings import Settings


class StartupError(RuntimeError):
    """An adapter cannot start (missing or refused credentials); the message names the setting."""


# -- what an adapter provides ---------------------------------------------------------------------


class Delivery(Protocol):
    """One platform's way of posting the outbox's messages; a failure raises, and the row is retried."""

    async def post(self, post: Post) -> Delivered: ...


class Adapter(Protocol):
    """A running platform connection: it feeds events to the core and delivers posts."""

    platform: str
    delivery: Delivery

    async def run(self) -> None: ...

    async def close(self) -> None: ...


# -- what an adapter may ask of the core ----------------------------------------------------------


@dataclass(frozen=True)
class Incoming:
    """An event as an adapter hands it in."""

    event: Event
    # The platform's id for this delivery of the event: one that comes again is applied once,
    # in whichever process sharing the database sees it first.
    key: str | None = None
    # The event is in a thread the bot may have opened so recently that the outbox has not yet
    # recorded the post (platforms can deliver a reply before the post's own call has returned).
    fresh_thread: bool = False


@dataclass(frozen=True)
class Batching:
    """How an adapter's stream of events is gathered into the few large transactions that keep a
    burst cheap; each platform's traffic has its own best values."""

    batch: int = 256  # events taken from the queue at once, at most
    transaction: int = 1000  # thread events applied in one transaction, at most
    quiet: float = 0.0  # seconds without a new event that end a burst
    burst_wait: float = 0.0  # seconds the first event of a burst waits at most for the rest
    record_wait: float = 30.0  # seconds a fresh thread's events wait for its post to be recorded


Then = Callable[[list[Answer]], None]


class Events(Protocol):
    """One platform's events into the core, applied in the order they were handed in."""

    handled: int  # entries applied so far, for benchmarks and operators

    @property
    def settled(self) -> bool:
        """Nothing waiting, being read for a catch-up, or being applied."""

    def enqueue(self, item: Incoming, then: Then | None = None) -> None:
        """Apply after everything handed in before; `then` gets the answers, when there are any."""

    async def submit(self, item: Incoming) -> list[Answer]:
        """Like `enqueue`, waiting for the answers."""

    def catch_up(self, thread: Place, history: Awaitable[Sequence[Reply] | None]) -> None:
        """Bring a thread in line with what the platform shows, in this place of the queue.

        `history` (every person's reply in the thread now, or None when it cannot be read) is
        read while the events before it are applied; the events after it are applied after it.
        """

    async def idle(self) -> None:
        """Wait until everything handed in so far is applied."""

    async def close(self) -> None: ...


class KeyValues(Protocol):
    """A little bot state kept in the database, such as the hash of the last synced command tree."""

    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str) -> None: ...


class Core(Protocol):
    """The core as one adapter sees it: built for its platform by the composition root."""

    platform: str
    settings: Settings
    values: KeyValues

    def channels(self) -> tuple[str, ...]:
        """The platform's channels that the configured series use, in the configuration's order."""

    def events(self, batching: Batching = Batching()) -> Events:
        """A new ordered stream of events into the core; the adapter closes it when it stops."""

    async def open_threads(self) -> list[Place]:
        """The bot's threads of recent meetings on this platform, to catch up on at start."""

    async def updates_thread(self, series_id: str) -> str | None:
        """The thread of a series' newest call for updates on this platform: where a bare reply goes."""

    def changed(self) -> None:
        """Something may have queued posts: deliver what is due soon (calls close together share one round)."""

    async def settle(self) -> None:
        """Deliver what is due now and wait until it is out."""


# -- what a command-line plugin receives ----------------------------------------------------------


class CommandLine(Protocol):
    """Handed to each `chatbot.cli` entry point beside the typer app it adds its commands to."""

    def settings(self, config: Path | None = None) -> Settings:
        """The settings, or the command fails naming the setting that is wrong."""

    def fail(self, message: str) -> NoReturn:
        """Stop the command with `error: <message>` and exit status 2."""

    def values(self, settings: Settings) -> KeyValues:
        """The key-value store of the database the settings name (migrated first)."""
