"""The one way events enter the core: each adapter's stream, applied in arrival order, each once.

Adapters translate and hand events in; gathering bursts into a few transactions, dropping repeated
deliveries, waiting for a thread's post to be recorded, catching up on threads and answering
whoever caused an event happen here, the same way for every platform.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from chatbot.events import Answer, CommandCall, Event, Place, Reply
from chatbot.ports import Batching, Incoming, Then

log = logging.getLogger(__name__)

FAILED_COMMAND = "Something went wrong on our side and nothing was changed; please try again in a minute."
FAILED_MESSAGE = ("Your message could not be saved because of an error on our side; please post it "
                  "again in a minute.")
KNOWN_THREADS = 1000  # threads remembered as recorded, so that their events never wait again


class Engine(Protocol):
    """What ingestion needs of the meeting engine."""

    def handle(self, event: Event) -> list[Answer]: ...

    def handle_many(self, events: Sequence[Event]) -> list[list[Answer]]: ...

    def claim_events(self, platform: str, event_ids: Sequence[str]) -> list[bool]: ...

    def knows_post(self, platform: str, message_id: str) -> bool: ...

    def catch_up(self, thread: Place, replies: Sequence[Reply]) -> list[list[Answer]]: ...


@dataclass(frozen=True)
class _CatchUp:
    """A thread's place in the queue: its history replaces what is stored for it."""

    thread: Place
    history: asyncio.Future  # the replies, or None when the thread could not be read


@dataclass(frozen=True)
class _History:
    """A catch-up whose history has been read, ready for the worker thread."""

    thread: Place
    replies: Sequence[Reply] | None


Entry = Incoming | _CatchUp
Waiting = tuple[Entry, Then | asyncio.Future | None]


class Ingest:
    """One platform's events in front of the engine (the `Events` port).

    A single worker takes what is waiting, as much as a burst brings, and applies it in one call
    on a worker thread: a busy thread costs a few transactions, not one per reply, and the event
    loop stays free to acknowledge the platform. Events of a thread whose post is not recorded yet
    wait aside, in their order, while the others go on.
    """

    def __init__(self, engine: Engine, platform: str, batching: Batching = Batching(), *,
                 changed: Callable[[], None] = lambda: None) -> None:
        self.engine = engine
        self.platform = platform
        self.batching = batching
        self.handled = 0
        self._changed = changed
        self._queue: deque[Waiting] = deque()
        self._held: dict[str, list[Waiting]] = {}  # fresh thread -> its entries, until recorded
        self._known: OrderedDict[str, None] = OrderedDict()
        self._applying = False
        self._recording: set[asyncio.Task] = set()
        # Made by the first event, in the event loop that will run the worker.
        self._worker: asyncio.Task | None = None
        self._arrived: asyncio.Event | None = None
        self._quiet: asyncio.Event | None = None

    @property
    def settled(self) -> bool:
        return not self._queue and not self._held and not self._applying

    def enqueue(self, item: Incoming, then: Then | None = None) -> None:
        self._put((item, then))

    async def submit(self, item: Incoming) -> list[Answer]:
        future = asyncio.get_running_loop().create_future()
        self._put((item, future))
        return await future

    def catch_up(self, thread: Place, history: Awaitable[Sequence[Reply] | None]) -> None:
        self._put((_CatchUp(thread, asyncio.ensure_future(history)), None))

    async def idle(self) -> None:
        while not self.settled:
            await self._quiet.wait()

    async def close(self) -> None:
        tasks = [task for task in (self._worker, *self._recording) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for waiting in [*self._queue, *(w for held in self._held.values() for w in held)]:
            _cancel(waiting)
        self._queue.clear()
        self._held.clear()
        self._applying = False
        self._worker = self._arrived = self._quiet = None

    # -- the queue ---------------------------------------------------------------------------------

    def _put(self, waiting: Waiting) -> None:
        if self._worker is None:
            self._arrived, self._quiet = asyncio.Event(), asyncio.Event()
            self._worker = asyncio.create_task(self._work(), name=f"{self.platform}-events")
        self._queue.append(waiting)
        self._arrived.set()
        self._quiet.clear()

    def _check_quiet(self) -> None:
        if self.settled:
            self._quiet.set()
        else:
            self._quiet.clear()

    async def _work(self) -> None:
        while True:
            await self._arrived.wait()
            self._applying = True
            try:
                await self._burst()
                self._arrived.clear()
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), self.batching.batch))]
                if self._queue:
                    self._arrived.set()
                batch = await self._hold_fresh(batch)
                if batch:
                    await self._apply(batch)
            finally:
                self._applying = False
                self._check_quiet()

    async def _burst(self) -> None:
        """Wait while events go on arriving, so that a burst is applied in a few large transactions
        once it is read, not in many small ones competing with its parsing for the interpreter."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.batching.burst_wait
        while len(self._queue) < self.batching.batch and loop.time() < deadline:
            seen = len(self._queue)
            await asyncio.sleep(self.batching.quiet)
            if len(self._queue) == seen:
                return

    # -- threads whose post is not recorded yet ------------------------------------------------------

    async def _hold_fresh(self, batch: list[Waiting]) -> list[Waiting]:
        """The engine reads replies only under posts it knows: the events of a thread whose post
        is not recorded yet are set aside, in their order, until it is."""
        batch = self._set_aside(batch)  # before any wait, so a thread let go meanwhile keeps its order
        fresh = {entry.event.place.thread for entry, _ in batch
                 if isinstance(entry, Incoming) and entry.fresh_thread and entry.event.place.thread
                 and entry.event.place.thread not in self._known}
        held = False
        for thread in fresh:
            if await self._knows(thread):
                self._remember(thread)
                continue
            self._held[thread] = []
            task = asyncio.create_task(self._await_record(thread))
            self._recording.add(task)
            task.add_done_callback(self._recording.discard)
            held = True
        return self._set_aside(batch) if held else batch

    def _set_aside(self, batch: list[Waiting]) -> list[Waiting]:
        if not self._held:
            return batch
        kept: list[Waiting] = []
        for waiting in batch:
            held = self._held.get(_thread_of(waiting[0]) or "")
            (kept if held is None else held).append(waiting)
        return kept

    async def _await_record(self, thread: str) -> None:
        loop = asyncio.get_running_loop()
        delay, deadline = 0.005, loop.time() + self.batching.record_wait
        while True:
            await asyncio.sleep(delay)
            if await self._knows(thread):
                break
            if loop.time() > deadline:
                log.warning("%s: the post that opened thread %s is still not recorded", self.platform, thread)
                break
            delay = min(delay * 2, 0.25)
        self._remember(thread)
        # They arrived before anything still waiting, so they go first.
        self._queue.extendleft(reversed(self._held.pop(thread)))
        self._arrived.set()
        self._check_quiet()

    async def _knows(self, thread: str) -> bool:
        try:
            return await asyncio.to_thread(self.engine.knows_post, self.platform, thread)
        except Exception:  # the database is unreachable for now: look again later
            log.exception("%s: looking for the post of thread %s failed", self.platform, thread)
            return False

    def _remember(self, thread: str) -> None:
        self._known[thread] = None
        while len(self._known) > KNOWN_THREADS:
            self._known.popitem(last=False)

    # -- applying ------------------------------------------------------------------------------------

    async def _apply(self, batch: list[Waiting]) -> None:
        try:
            work = [await _read(entry) for entry, _ in batch]
            results = await asyncio.to_thread(self._apply_all, work)
        except asyncio.CancelledError:  # closing: nobody waits for these answers forever
            for waiting in batch:
                _cancel(waiting)
            raise
        except Exception:
            log.exception("%s: storing %s events failed", self.platform, len(batch))
            results = [_failed(entry) for entry, _ in batch]
        self.handled += len(batch)
        for (_, then), answers in zip(batch, results):
            _answer(then, answers)
        try:
            self._changed()  # a late reply queues an edit of the digest and a notice
        except Exception:
            log.exception("%s: asking for the outbox to be delivered failed", self.platform)

    def _apply_all(self, work: list[Incoming | _History]) -> list[list[Answer] | None]:
        """Runs in a worker thread: claim each event once, then apply the new ones in order;
        None for an entry means there is nothing to say."""
        keys = [item.key for item in work if isinstance(item, Incoming) and item.key]
        fresh = iter(self.engine.claim_events(self.platform, keys) if keys else ())
        results: list[list[Answer] | None] = [None] * len(work)
        together: list[int] = []  # thread events waiting to be applied in one go

        def flush() -> None:
            size = self.batching.transaction
            for start in range(0, len(together), size):
                chunk = together[start:start + size]
                for index, answers in zip(chunk, self._together([work[i].event for i in chunk])):
                    results[index] = answers
            together.clear()

        for index, item in enumerate(work):
            if isinstance(item, _History):
                flush()
                self._catch_up(item)
            elif item.key and not next(fresh):
                log.info("%s: dropped a repeated delivery of %s", self.platform, item.key)
            elif isinstance(item.event, CommandCall):
                flush()
                results[index] = self._one(item.event)
            else:
                together.append(index)
        flush()
        return results

    def _together(self, events: list[Event]) -> list[list[Answer] | None]:
        try:
            return self.engine.handle_many(events)
        except Exception:  # find the one that fails; the others still count
            log.exception("%s: applying %s events together failed; one by one now",
                          self.platform, len(events))
        return [self._one(event) for event in events]

    def _one(self, event: Event) -> list[Answer] | None:
        try:
            return self.engine.handle(event)
        except IntegrityError:  # the same message under another event id: it is stored already
            log.info("%s: %s %s was already applied", self.platform, type(event).__name__,
                     getattr(event, "message_id", ""))
            return None
        except Exception:
            log.exception("%s: %s failed", self.platform, type(event).__name__)
            return _failed(Incoming(event))

    def _catch_up(self, item: _History) -> None:
        if item.replies is None:
            return
        thread = item.thread
        try:
            results = self.engine.catch_up(thread, item.replies)
        except Exception:
            log.exception("%s: catching up on thread %s in %s failed", self.platform, thread.thread,
                          thread.channel)
            return
        refused = sum(not answer.ok for answers in results for answer in answers)
        log.info("%s: caught up on thread %s in %s: %s replies, %s refused", self.platform,
                 thread.thread, thread.channel, len(item.replies), refused)


async def _read(entry: Entry) -> Incoming | _History:
    """A catch-up's history, once read (it was read while the entries before it were applied)."""
    if isinstance(entry, Incoming):
        return entry
    await asyncio.wait({entry.history})
    if entry.history.cancelled() or entry.history.exception() is not None:
        if not entry.history.cancelled():
            log.warning("reading thread %s to catch up on it failed: %s", entry.thread.thread,
                        entry.history.exception())
        return _History(entry.thread, None)
    return _History(entry.thread, entry.history.result())


def _thread_of(entry: Entry) -> str | None:
    return entry.event.place.thread if isinstance(entry, Incoming) else entry.thread.thread


def _failed(entry: Entry) -> list[Answer] | None:
    if not isinstance(entry, Incoming):
        return None
    text = FAILED_COMMAND if isinstance(entry.event, CommandCall) else FAILED_MESSAGE
    return [Answer(text, ok=False)]


def _answer(then: Then | asyncio.Future | None, answers: list[Answer] | None) -> None:
    if isinstance(then, asyncio.Future):
        if not then.done():
            then.set_result(answers or [])
    elif then is not None and answers:
        try:
            then(answers)
        except Exception:
            log.exception("answering an event failed")


def _cancel(waiting: Waiting) -> None:
    entry, then = waiting
    if isinstance(then, asyncio.Future):
        then.cancel()
    if isinstance(entry, _CatchUp):
        entry.history.cancel()
