"""The one way out for every post: due outbox rows claimed and handed to the platforms'
deliveries, a lane per channel, each at its platform's pace."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timezone

from sqlalchemy import Engine
from sqlmodel import Session

from chatbot.events import Post
from chatbot.ports import Delivery
from chatbot.storage.models import Outbox, OutboxStatus
from chatbot.storage.outbox import Claim, claim, mark_failed, mark_sent
from chatbot.storage.pacing import LATE, LOOKAHEAD, PACES, Pace, reserve
from chatbot.storage.store import session_scope

log = logging.getLogger(__name__)

Render = Callable[[Session, Outbox], Post]  # an outbox row as it reads now


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


class Dispatcher:
    """Delivers due outbox rows through the platform deliveries, paced to each platform's limits.

    Each channel is a lane of its own: while one waits (for its pace, or out a platform's
    Retry-After), the others go on claiming and sending.
    """

    def __init__(self, db: Engine, deliveries: Mapping[str, Delivery], *, render: Render,
                 clock: Callable[[], datetime], concurrency: int = 32, worker: str = "",
                 paces: Mapping[str, Pace] | None = None, batch: int = 100,
                 wall: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.db = db
        self.deliveries = dict(deliveries)
        self.render = render
        self.clock = clock
        # Real time, which the platforms' limits count in whatever `clock` says, and the way to
        # wait for it: every wait of the dispatcher goes through these two.
        self.wall = wall
        self.sleep = sleep
        self.worker = worker
        self.paces = dict(PACES if paces is None else paces)
        self.batch = batch
        self._limit = asyncio.Semaphore(concurrency)
        self._lanes: dict[tuple[str, str], deque[Claim]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._watchers: set[asyncio.Event] = set()
        self._drain: asyncio.Task | None = None
        self._again = False

    @property
    def platforms(self) -> list[str]:
        return sorted(self.deliveries)

    def _paces(self) -> dict[str, Pace]:
        paces = {p: getattr(self.deliveries[p], "pace", None) or self.paces.get(p)
                 for p in self.platforms}
        return {platform: pace for platform, pace in paces.items() if pace is not None}

    def _begin(self, row_id: int) -> Post | None:
        """The post as it reads now, the attempt counted before it leaves; None if it came too
        late to be of use (it waited its turn past its meeting's start)."""
        now = _utc(self.clock())
        with session_scope(self.db) as session:
            row = session.get(Outbox, row_id)
            if row.expires is not None and _utc(row.expires) <= now and not row.message_id:
                row.status, row.claimed_by = OutboxStatus.MISSED, ""
                log.warning("missed %s for %s %s on %s %s: its turn to be sent came after %s",
                            row.kind, row.series_id, row.occurrence, row.platform, row.channel,
                            _utc(row.expires).isoformat())
                return None
            post = self.render(session, row)
            row.attempts += 1
            return post

    async def deliver_due(self, limit: int | None = None) -> int:
        """Claim and deliver what is due until nothing is left; the number of rows handled."""
        limit = limit or self.batch
        handled = 0
        changed = asyncio.Event()
        self._watchers.add(changed)
        try:
            while True:
                changed.clear()
                claims, held_back = await asyncio.to_thread(
                    claim, self.db, self.clock(), worker=self.worker,
                    platforms=self.platforms, limit=limit, busy=list(self._lanes),
                    paces=self._paces(), wall=self.wall)
                for found in claims:
                    self._queue(found)
                handled += len(claims)
                if len(claims) == limit:
                    continue
                if not self._lanes and not held_back:
                    return handled
                # Look again when the last lane ends, on a kick, or as time brings slots closer.
                # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that comes as
                # the event is set, and the task that owns this loop would never stop.
                waiters = {asyncio.ensure_future(changed.wait()),
                           asyncio.ensure_future(self.sleep(LOOKAHEAD / 2))}
                try:
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
        except asyncio.CancelledError:
            await self._stop_lanes()  # the rows they held are taken back at the next start
            raise
        finally:
            self._watchers.discard(changed)

    def _queue(self, found: Claim) -> None:
        key = (found.platform, found.channel)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = deque()
            task = asyncio.ensure_future(self._lane(key, lane))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        lane.append(found)

    def _changed(self) -> None:
        for watcher in self._watchers:
            watcher.set()

    def kick(self) -> None:
        """Deliver in the background; kicks that arrive meanwhile share the next round."""
        self._again = True
        self._changed()
        if self._drain is None or self._drain.done():
            self._drain = asyncio.ensure_future(self._drain_loop())

    async def _drain_loop(self) -> None:
        while self._again:
            self._again = False
            try:
                await self.deliver_due()
            except Exception:
                log.exception("delivering the outbox failed")

    async def idle(self) -> None:
        while self._drain is not None and not self._drain.done():
            await asyncio.shield(self._drain)

    async def close(self) -> None:
        if self._drain is not None:
            self._drain.cancel()
            await asyncio.gather(self._drain, return_exceptions=True)
        await self._stop_lanes()

    async def _stop_lanes(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _lane(self, key: tuple[str, str], lane: deque[Claim]) -> None:
        """Posts to one channel go out one after another, in the order they were claimed."""
        try:
            while lane:
                try:
                    await self._deliver(lane[0])
                except Exception:
                    log.exception("outbox row %s: recording its delivery failed", lane[0].id)
                lane.popleft()
        finally:
            del self._lanes[key]
            if not self._lanes:
                self._changed()

    async def _deliver(self, found: Claim) -> None:
        async with self._limit:
            try:
                post = await asyncio.to_thread(self._begin, found.id)
                if post is None:
                    return
                delivery = self.deliveries.get(post.platform)
                if delivery is None:
                    raise RuntimeError(f"no {post.platform} adapter is running")
                # Made ready first, so that it leaves on its slot and not a little after.
                at, pace = found.at, self._paces().get(found.platform)
                if pace is not None and self.wall() > at + LATE:
                    at = await asyncio.to_thread(reserve, self.db, found.platform,
                                                 found.channel, pace, self.wall)
                await self.sleep(at - self.wall())
                delivered = await delivery.post(post)
            except Exception as error:  # any failure keeps the row for a retry
                log.warning("outbox row %s not delivered: %s", found.id, error)
                await asyncio.to_thread(mark_failed, self.db, found.id, str(error),
                                        self.clock())
                return
            await asyncio.to_thread(mark_sent, self.db, found.id, delivered, self.clock())
