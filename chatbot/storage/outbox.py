"""The durable outbox: every post is a row, keyed so that it is enqueued and sent once.

The database decides what is due; whoever delivers claims rows first, so two processes never
send the same row, and a row claimed by a process that died is taken back and retried.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Engine, and_, func, not_, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from chatbot.events import Delivered, Post
from chatbot.ports import Delivery
from chatbot.storage.models import KeyValue, Outbox
from chatbot.storage.store import session_scope

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
INTERNAL = "internal"  # the platform of rows that are work for the core itself, not posts
WAITING = ("pending", "failed")
# A row is claimed only once its pace lets it go out this many seconds from now: a claimed row is
# held by its process, so a channel that must wait leaves its rows to whoever can send them first.
LOOKAHEAD = 1.0
# A post that would leave later than this after its slot (it took long to get ready) takes a fresh
# one: another process may already hold the slot after it.
LATE = 0.005


@dataclass(frozen=True)
class Pace:
    """How fast a platform accepts posts: per channel and for the whole bot, with bursts."""

    per_channel: float  # messages per second in one channel
    overall: float  # messages per second across all channels
    channel_burst: int = 1
    overall_burst: int = 1


# Slack: chat.postMessage allows about one message per second per channel. Discord: 5 messages per
# 5 s per channel and 50 requests per second per bot. Sending at these rates, rather than as fast as
# possible and backing off on 429, is what keeps a fanout of hundreds of channels at the bound.
PACES: dict[str, Pace] = {
    "slack": Pace(per_channel=1.0, overall=50.0),
    "discord": Pace(per_channel=1.0, overall=50.0, channel_burst=5),
}


class Pacer:
    """A token bucket per channel and one for the platform (under None), as reservations (GCRA).

    `slots` holds each bucket's theoretical arrival time of its next message, in seconds of the
    wall clock; a claim reads them from the database and writes them back, so every process
    sharing the database keeps to one pace. Reservations are first come first served, so posts to
    one channel keep the order they were claimed in.
    """

    def __init__(self, pace: Pace, slots: dict[str | None, float] | None = None) -> None:
        self.pace = pace
        self.slots = {} if slots is None else slots

    def reserve(self, channel: str, now: float, within: float = math.inf) -> float | None:
        """When to post to `channel`; None, reserving nothing, if later than `within` from now."""
        pace = self.pace
        channel_step, overall_step = 1 / pace.per_channel, 1 / pace.overall
        channel_at = self.slots.get(channel, now)
        overall_at = self.slots.get(None, -math.inf)
        at = max(now,
                 channel_at - (pace.channel_burst - 1) * channel_step,
                 overall_at - (pace.overall_burst - 1) * overall_step)
        if at > now + within:
            return None
        self.slots[channel] = max(channel_at, at) + channel_step
        self.slots[None] = max(overall_at, at) + overall_step
        return at


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


@contextmanager
def writing(db: Engine) -> Iterator[Session]:
    """A transaction that writes: on SQLite it takes the write lock first, so a read made in it
    cannot be overtaken by another process (PostgreSQL uses row locks instead)."""
    with session_scope(db) as session:
        if db.dialect.name == "sqlite":
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        yield session


def enqueue(session: Session, *, series_id: str, occurrence: date, kind: str, platform: str,
            channel: str, due: datetime, meeting_id: int | None = None,
            thread_of: str | None = None, expires: datetime | None = None) -> bool:
    """Add a post unless one with the same key exists; True when this call added it."""
    values = dict(series_id=series_id, occurrence=occurrence, kind=kind, platform=platform,
                  channel=channel, due=_utc(due), meeting_id=meeting_id, thread_of=thread_of,
                  status="pending", attempts=0, error="", extra_ids="", needs_edit=False,
                  expires=_utc(expires) if expires else None, claimed_by="")
    statement = _insert(session)(Outbox).values(**values).on_conflict_do_nothing()
    return session.exec(statement).rowcount == 1


def _insert(session: Session):
    """The dialect's INSERT, which knows ON CONFLICT."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def cancel_pending(session: Session, meeting_id: int) -> None:
    session.exec(update(Outbox).where(Outbox.meeting_id == meeting_id, Outbox.status == "pending")
                 .values(status="cancelled"))


def _ready(now: datetime):
    waiting = and_(Outbox.status.in_(WAITING), Outbox.due <= now,
                   or_(Outbox.expires.is_(None), Outbox.expires > now))
    edit = and_(Outbox.status == "sent", Outbox.needs_edit, Outbox.due <= now)
    return or_(waiting, edit)


@dataclass(frozen=True)
class Claim:
    id: int
    platform: str
    channel: str
    at: float = 0.0  # when its pace lets it go out, in seconds of the wall clock


def claim(db: Engine, now: datetime, *, worker: str, platforms: Collection[str],
          limit: int = 100, busy: Collection[tuple[str, str]] = (),
          paces: Mapping[str, Pace] | None = None,
          wall: Callable[[], float] = time.time) -> tuple[list[Claim], bool]:
    """Mark up to `limit` due rows for these platforms as being sent by `worker`; and whether due
    rows were left for later because their pace would not let them go out soon.

    Rows for a (platform, channel) in `busy` are left alone. A row of a platform with a pace takes
    its channel's next slot, in the same transaction, so no two processes use one slot.
    """
    if not platforms:
        return [], False
    now = _utc(now)
    with writing(db) as session:
        query = (
            select(Outbox.id, Outbox.platform, Outbox.channel)
            .where(_ready(now), Outbox.platform.in_(list(platforms)))
            .order_by(Outbox.due, Outbox.id)
            .limit(limit)
        )
        for platform in {p for p, _ in busy}:
            query = query.where(not_(and_(Outbox.platform == platform,
                                          Outbox.channel.in_([c for p, c in busy if p == platform]))))
        if db.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        found = [Claim(*row) for row in session.exec(query)]
        pacers = {platform: Pacer(pace, _lock_slots(session, platform,
                                                    {c.channel for c in found if c.platform == platform}))
                  for platform, pace in (paces or {}).items()
                  if any(c.platform == platform for c in found)}
        start = wall()
        claims = []
        for candidate in found:
            pacer = pacers.get(candidate.platform)
            at = pacer.reserve(candidate.channel, start, LOOKAHEAD) if pacer else start
            if at is not None:
                claims.append(replace(candidate, at=at))
        for platform, pacer in pacers.items():
            _store_slots(session, platform, pacer.slots)
        if claims:
            session.exec(update(Outbox).where(Outbox.id.in_([c.id for c in claims]))
                         .values(status="sending", needs_edit=False, claimed_by=worker))
        return claims, len(claims) < len(found)


def reserve(db: Engine, platform: str, channel: str, pace: Pace,
            wall: Callable[[], float] = time.time) -> float:
    """A fresh slot for a post to `channel`, LATE from now at the earliest (time to send it)."""
    with writing(db) as session:
        pacer = Pacer(pace, _lock_slots(session, platform, [channel]))
        at = pacer.reserve(channel, wall() + LATE)
        _store_slots(session, platform, pacer.slots)
        return at


def _slot_key(platform: str, channel: str | None) -> str:
    return f"pace:{platform}" if channel is None else f"pace:{platform}:{channel}"


def _lock_slots(session: Session, platform: str, channels: Collection[str]) -> dict[str | None, float]:
    """The pace slots of the platform and these channels, locked until the transaction ends.

    Locked in key order (rows made first when new), so two claims cannot deadlock on them."""
    keys = {_slot_key(platform, c): c for c in [None, *channels]}
    ordered = sorted(keys)
    session.exec(_insert(session)(KeyValue)
                 .values([{"key": key, "value": "-inf"} for key in ordered])
                 .on_conflict_do_nothing())
    found = session.exec(select(KeyValue.key, KeyValue.value).where(KeyValue.key.in_(ordered))
                         .order_by(KeyValue.key).with_for_update())
    return {keys[key]: float(value) for key, value in found}


def _store_slots(session: Session, platform: str, slots: Mapping[str | None, float]) -> None:
    insert = _insert(session)(KeyValue).values(
        [{"key": _slot_key(platform, c), "value": repr(at)} for c, at in slots.items()])
    session.exec(insert.on_conflict_do_update(index_elements=["key"],
                                              set_={"value": insert.excluded.value}))


def mark_sent(db: Engine, row_id: int, delivered: Delivered, now: datetime) -> None:
    with session_scope(db) as session:
        row = session.get(Outbox, row_id)
        row.status, row.error, row.sent_at = "sent", "", _utc(now)
        row.message_id = delivered.message_id
        row.extra_ids = " ".join(delivered.extra_ids)
        row.claimed_by = ""


def mark_failed(db: Engine, row_id: int, error: str, now: datetime) -> None:
    """Keep the row for a later retry, backing off; a send is never dropped while still useful."""
    with session_scope(db) as session:
        row = session.get(Outbox, row_id)
        row.error = error[:500]
        tries = max(row.attempts, 1)
        row.due = _utc(now) + min(MAX_BACKOFF, timedelta(seconds=5 * 2 ** min(tries, 12)))
        row.status = "sent" if row.message_id else "failed"
        row.needs_edit = bool(row.message_id)
        row.claimed_by = ""


def expire(db: Engine, now: datetime) -> list[Outbox]:
    """Mark sends that are no use any more (their meeting started) as missed, with a log line."""
    now = _utc(now)
    with writing(db) as session:
        stale = session.exec(select(Outbox).where(Outbox.status.in_(WAITING),
                                                  Outbox.expires.is_not(None),
                                                  Outbox.expires <= now)).all()
        for row in stale:
            row.status = "missed"
            log.warning("missed %s for %s %s on %s %s: it fell due at %s and was no use after %s",
                        row.kind, row.series_id, row.occurrence, row.platform, row.channel,
                        _utc(row.due).isoformat(), _utc(row.expires).isoformat())
        return list(stale)


def take_back(db: Engine, *, alive: Callable[[str], bool], me: str) -> int:
    """Rows left `sending` by a worker that died go back to the queue; the count taken back.

    A row whose post may have gone out keeps its attempt count, so the retry looks before posting.
    """
    with writing(db) as session:
        workers = session.exec(select(Outbox.claimed_by).distinct()
                               .where(Outbox.status == "sending")).all()
        dead = [w for w in workers if w != me and not alive(w)]
        if not dead:
            return 0
        rows = session.exec(select(Outbox).where(Outbox.status == "sending",
                                                 Outbox.claimed_by.in_(dead))).all()
        for row in rows:
            # An edit of a post that exists stays an edit; anything else is sent again.
            row.status, row.needs_edit = ("sent", True) if row.message_id else ("pending", False)
            row.claimed_by = ""
            if row.attempts:
                # It may have gone out: never call it missed, let the retry find it (or send it).
                row.expires = None
            log.warning("taking back %s for %s %s on %s from a stopped process (attempt %s)",
                        row.kind, row.series_id, row.occurrence, row.platform, row.attempts + 1)
        return len(rows)


def next_due(db: Engine, platforms: Collection[str]) -> datetime | None:
    """When the earliest waiting row for these platforms falls due."""
    if not platforms:
        return None
    with session_scope(db) as session:
        found = session.exec(
            select(func.min(Outbox.due)).where(
                Outbox.platform.in_(list(platforms)),
                or_(Outbox.status.in_(WAITING), and_(Outbox.status == "sent", Outbox.needs_edit)))
        ).one()
    return _utc(found) if found else None


class Dispatcher:
    """Delivers due outbox rows through the platform deliveries, paced to each platform's limits.

    Each channel is a lane of its own: while one waits (for its pace, or out a platform's
    Retry-After), the others go on claiming and sending.
    """

    def __init__(self, engine, deliveries: Mapping[str, Delivery], *,
                 clock: Callable[[], datetime], concurrency: int = 32, worker: str = "",
                 paces: Mapping[str, Pace] | None = None, batch: int = 100,
                 wall: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.deliveries = dict(deliveries)
        self.clock = clock
        self.wall = wall  # real time, which the platforms' limits count in, whatever `clock` says
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
        with session_scope(self.engine.db) as session:
            row = session.get(Outbox, row_id)
            if row.expires is not None and _utc(row.expires) <= now and not row.message_id:
                row.status, row.claimed_by = "missed", ""
                log.warning("missed %s for %s %s on %s %s: its turn to be sent came after %s",
                            row.kind, row.series_id, row.occurrence, row.platform, row.channel,
                            _utc(row.expires).isoformat())
                return None
            post = self.engine.render_post(session, row)
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
                    claim, self.engine.db, self.clock(), worker=self.worker,
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
                waiter = asyncio.ensure_future(changed.wait())
                try:
                    await asyncio.wait({waiter}, timeout=LOOKAHEAD / 2)
                finally:
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
                    at = await asyncio.to_thread(reserve, self.engine.db, found.platform,
                                                 found.channel, pace, self.wall)
                await asyncio.sleep(at - self.wall())
                delivered = await delivery.post(post)
            except Exception as error:  # any failure keeps the row for a retry
                log.warning("outbox row %s not delivered: %s", found.id, error)
                await asyncio.to_thread(mark_failed, self.engine.db, found.id, str(error),
                                        self.clock())
                return
            await asyncio.to_thread(mark_sent, self.engine.db, found.id, delivered, self.clock())
