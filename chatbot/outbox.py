"""The durable outbox: every post is a row, keyed so that it is enqueued and sent once.

The database decides what is due; whoever delivers claims rows first, so two processes never
send the same row.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Protocol

from sqlalchemy import Engine, and_, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from chatbot.events import Delivered, Post
from chatbot.models import Outbox
from chatbot.store import session_scope

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)


class Delivery(Protocol):
    """One platform's way of posting; an adapter implements it."""

    async def post(self, post: Post) -> Delivered: ...


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


def enqueue(session: Session, *, series_id: str, occurrence: date, kind: str, platform: str,
            channel: str, due: datetime, meeting_id: int | None = None,
            thread_of: str | None = None) -> bool:
    """Add a post unless one with the same key exists; True when this call added it."""
    values = dict(series_id=series_id, occurrence=occurrence, kind=kind, platform=platform,
                  channel=channel, due=_utc(due), meeting_id=meeting_id, thread_of=thread_of,
                  status="pending", attempts=0, error="", extra_ids="", needs_edit=False)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Outbox).values(**values).on_conflict_do_nothing()
    return session.exec(statement).rowcount == 1


def cancel_pending(session: Session, meeting_id: int) -> None:
    session.exec(update(Outbox).where(Outbox.meeting_id == meeting_id, Outbox.status == "pending")
                 .values(status="cancelled"))


def claim_due(db: Engine, now: datetime, limit: int = 100) -> list[int]:
    """Mark up to `limit` due rows as being sent by this process and return their ids."""
    now = _utc(now)
    with session_scope(db) as session:
        query = (
            select(Outbox.id)
            .where(or_(and_(Outbox.status.in_(("pending", "failed")), Outbox.due <= now),
                       and_(Outbox.status == "sent", Outbox.needs_edit)))
            .order_by(Outbox.due, Outbox.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(session.exec(query))
        if ids:
            session.exec(update(Outbox).where(Outbox.id.in_(ids))
                         .values(status="sending", needs_edit=False))
        return ids


def mark_sent(db: Engine, row_id: int, delivered: Delivered, now: datetime) -> None:
    with session_scope(db) as session:
        row = session.get(Outbox, row_id)
        row.status, row.error, row.sent_at = "sent", "", _utc(now)
        row.message_id = delivered.message_id
        row.extra_ids = " ".join(delivered.extra_ids)


def mark_failed(db: Engine, row_id: int, error: str, now: datetime) -> None:
    """Keep the row for a later retry, backing off; a send is never dropped."""
    with session_scope(db) as session:
        row = session.get(Outbox, row_id)
        row.attempts += 1
        row.error = error[:500]
        row.due = _utc(now) + min(MAX_BACKOFF, timedelta(seconds=5 * 2 ** min(row.attempts, 12)))
        row.status = "sent" if row.message_id else "failed"
        row.needs_edit = bool(row.message_id)


class Dispatcher:
    """Delivers due outbox rows through the platform deliveries."""

    def __init__(self, engine, deliveries: Mapping[str, Delivery], *,
                 clock: Callable[[], datetime], concurrency: int = 32) -> None:
        self.engine = engine
        self.deliveries = dict(deliveries)
        self.clock = clock
        self._limit = asyncio.Semaphore(concurrency)

    def _render(self, row_id: int) -> Post | None:
        with session_scope(self.engine.db) as session:
            row = session.get(Outbox, row_id)
            return self.engine.render_post(session, row)

    async def deliver_due(self, limit: int = 500) -> int:
        ids = await asyncio.to_thread(claim_due, self.engine.db, self.clock(), limit)
        await asyncio.gather(*(self._deliver(row_id) for row_id in ids))
        return len(ids)

    async def _deliver(self, row_id: int) -> None:
        async with self._limit:
            try:
                post = await asyncio.to_thread(self._render, row_id)
                delivery = self.deliveries.get(post.platform)
                if delivery is None:
                    raise RuntimeError(f"no {post.platform} adapter is running")
                delivered = await delivery.post(post)
            except Exception as error:  # any failure keeps the row for a retry
                log.warning("outbox row %s not delivered: %s", row_id, error)
                await asyncio.to_thread(mark_failed, self.engine.db, row_id, str(error), self.clock())
                return
            await asyncio.to_thread(mark_sent, self.engine.db, row_id, delivered, self.clock())
