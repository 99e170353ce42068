"""The durable outbox: every post is a row, keyed so that it is enqueued and sent once.

The database decides what is due; whoever delivers claims rows first, so two processes never
send the same row, and a row claimed by a process that died is taken back and retried.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Protocol

from sqlalchemy import Engine, and_, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from chatbot.events import Delivered, Post
from chatbot.models import Outbox
from chatbot.store import session_scope

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
INTERNAL = "internal"  # the platform of rows that are work for the core itself, not posts
WAITING = ("pending", "failed")


class Delivery(Protocol):
    """One platform's way of posting; an adapter implements it."""

    async def post(self, post: Post) -> Delivered: ...


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
    """A token bucket per channel and one for the platform, as reservations (GCRA).

    `reserve` is synchronous and first come first served, so posts to one channel keep the order
    they were claimed in.
    """

    def __init__(self, pace: Pace, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.pace = pace
        self.monotonic = monotonic
        self._channel_at: dict[str, float] = {}  # theoretical arrival time of the next message
        self._overall_at = -math.inf

    def reserve(self, channel: str) -> float:
        """Seconds to wait before posting to `channel`."""
        pace, now = self.pace, self.monotonic()
        channel_step, overall_step = 1 / pace.per_channel, 1 / pace.overall
        channel_at = self._channel_at.get(channel, now)
        at = max(now,
                 channel_at - (pace.channel_burst - 1) * channel_step,
                 self._overall_at - (pace.overall_burst - 1) * overall_step)
        self._channel_at[channel] = max(channel_at, at) + channel_step
        self._overall_at = max(self._overall_at, at) + overall_step
        if len(self._channel_at) > 10_000:
            self._channel_at = {c: t for c, t in self._channel_at.items() if t > now}
        return at - now


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
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Outbox).values(**values).on_conflict_do_nothing()
    return session.exec(statement).rowcount == 1


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


def claim(db: Engine, now: datetime, *, worker: str, platforms: Collection[str],
          limit: int = 100) -> list[Claim]:
    """Mark up to `limit` due rows for these platforms as being sent by `worker`."""
    if not platforms:
        return []
    now = _utc(now)
    with writing(db) as session:
        query = (
            select(Outbox.id, Outbox.platform, Outbox.channel)
            .where(_ready(now), Outbox.platform.in_(list(platforms)))
            .order_by(Outbox.due, Outbox.id)
            .limit(limit)
        )
        if db.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        claims = [Claim(*found) for found in session.exec(query)]
        if claims:
            session.exec(update(Outbox).where(Outbox.id.in_([c.id for c in claims]))
                         .values(status="sending", needs_edit=False, claimed_by=worker))
        return claims


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
    """Delivers due outbox rows through the platform deliveries, paced to each platform's limits."""

    def __init__(self, engine, deliveries: Mapping[str, Delivery], *,
                 clock: Callable[[], datetime], concurrency: int = 32, worker: str = "",
                 paces: Mapping[str, Pace] | None = None, batch: int = 100) -> None:
        self.engine = engine
        self.deliveries = dict(deliveries)
        self.clock = clock
        self.worker = worker
        self.paces = dict(PACES if paces is None else paces)
        self.batch = batch
        self._limit = asyncio.Semaphore(concurrency)
        self._pacers: dict[str, Pacer] = {}
        self._drain: asyncio.Task | None = None
        self._again = False

    @property
    def platforms(self) -> list[str]:
        return sorted(self.deliveries)

    def _pacer(self, platform: str) -> Pacer | None:
        pace = getattr(self.deliveries.get(platform), "pace", None) or self.paces.get(platform)
        if pace is None:
            return None
        pacer = self._pacers.get(platform)
        if pacer is None or pacer.pace != pace:
            pacer = self._pacers[platform] = Pacer(pace)
        return pacer

    def _begin(self, row_id: int) -> Post | None:
        """The post as it reads now, the attempt counted before it leaves; None if it came too
        late to be of use (it waited for the platform's pace past its meeting's start)."""
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
        """Claim and deliver what is due, batch after batch; the number of rows handled."""
        limit = limit or self.batch
        handled = 0
        while True:
            claims = await asyncio.to_thread(claim, self.engine.db, self.clock(),
                                             worker=self.worker, platforms=self.platforms,
                                             limit=limit)
            # Posts to one channel go out one after another in due order; channels in parallel.
            lanes: dict[tuple[str, str], list[tuple[int, float]]] = {}
            for found in claims:
                pacer = self._pacer(found.platform)
                wait = pacer.reserve(found.channel) if pacer else 0.0
                lanes.setdefault((found.platform, found.channel), []).append((found.id, wait))
            await asyncio.gather(*(self._lane(lane) for lane in lanes.values()))
            handled += len(claims)
            if len(claims) < limit:
                return handled

    def kick(self) -> None:
        """Deliver in the background; kicks that arrive meanwhile share the next round."""
        self._again = True
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

    async def _lane(self, lane: list[tuple[int, float]]) -> None:
        start = time.monotonic()
        for row_id, wait in lane:
            await self._deliver(row_id, wait - (time.monotonic() - start))

    async def _deliver(self, row_id: int, wait: float) -> None:
        if wait > 0:
            await asyncio.sleep(wait)
        async with self._limit:
            try:
                post = await asyncio.to_thread(self._begin, row_id)
                if post is None:
                    return
                delivery = self.deliveries.get(post.platform)
                if delivery is None:
                    raise RuntimeError(f"no {post.platform} adapter is running")
                delivered = await delivery.post(post)
            except Exception as error:  # any failure keeps the row for a retry
                log.warning("outbox row %s not delivered: %s", row_id, error)
                await asyncio.to_thread(mark_failed, self.engine.db, row_id, str(error), self.clock())
                return
            await asyncio.to_thread(mark_sent, self.engine.db, row_id, delivered, self.clock())
