"""The durable outbox: every post is a row, enqueued once by its key, then claimed, sent, failed,
missed or taken back; whoever delivers claims rows first, so no two processes send the same one."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Engine, and_, func, not_, or_, update
from sqlmodel import Session, select

from chatbot.events import Delivered
from chatbot.storage.models import Outbox, OutboxStatus
from chatbot.storage.pacing import LOOKAHEAD, Pace, Pacer, lock_slots, store_slots
from chatbot.storage.store import insert_for, session_scope, writing

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
INTERNAL = "internal"  # the platform of rows that are work for the core itself, not posts
WAITING = (OutboxStatus.PENDING, OutboxStatus.FAILED)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


def enqueue(session: Session, *, series_id: str, occurrence: date, kind: str, platform: str,
            channel: str, due: datetime, meeting_id: int | None = None,
            thread_of: str | None = None, expires: datetime | None = None) -> bool:
    """Add a post unless one with the same key exists; True when this call added it."""
    values = dict(series_id=series_id, occurrence=occurrence, kind=kind, platform=platform,
                  channel=channel, due=_utc(due), meeting_id=meeting_id, thread_of=thread_of,
                  status=OutboxStatus.PENDING, attempts=0, error="", extra_ids="", needs_edit=False,
                  expires=_utc(expires) if expires else None, claimed_by="")
    # RETURNING, not rowcount: psycopg reports -1 for an insert SQLAlchemy gives RETURNING itself.
    statement = (insert_for(session)(Outbox).values(**values).on_conflict_do_nothing()
                 .returning(Outbox.id))
    return session.exec(statement).first() is not None


def cancel_pending(session: Session, meeting_id: int) -> None:
    session.exec(update(Outbox)
                 .where(Outbox.meeting_id == meeting_id, Outbox.status == OutboxStatus.PENDING)
                 .values(status=OutboxStatus.CANCELLED))


def _ready(now: datetime):
    waiting = and_(Outbox.status.in_(WAITING), Outbox.due <= now,
                   or_(Outbox.expires.is_(None), Outbox.expires > now))
    edit = and_(Outbox.status == OutboxStatus.SENT, Outbox.needs_edit, Outbox.due <= now)
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
        pacers = {platform: Pacer(pace, lock_slots(session, platform,
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
            store_slots(session, platform, pacer.slots)
        if claims:
            session.exec(update(Outbox).where(Outbox.id.in_([c.id for c in claims]))
                         .values(status=OutboxStatus.SENDING, needs_edit=False, claimed_by=worker))
        return claims, len(claims) < len(found)


def mark_sent(db: Engine, row_id: int, delivered: Delivered, now: datetime) -> None:
    with session_scope(db) as session:
        row = session.get(Outbox, row_id)
        row.status, row.error, row.sent_at = OutboxStatus.SENT, "", _utc(now)
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
        row.status = OutboxStatus.SENT if row.message_id else OutboxStatus.FAILED
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
            row.status = OutboxStatus.MISSED
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
                               .where(Outbox.status == OutboxStatus.SENDING)).all()
        dead = [w for w in workers if w != me and not alive(w)]
        if not dead:
            return 0
        rows = session.exec(select(Outbox).where(Outbox.status == OutboxStatus.SENDING,
                                                 Outbox.claimed_by.in_(dead))).all()
        for row in rows:
            # An edit of a post that exists stays an edit; anything else is sent again.
            row.status, row.needs_edit = ((OutboxStatus.SENT, True) if row.message_id
                                          else (OutboxStatus.PENDING, False))
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
                or_(Outbox.status.in_(WAITING),
                    and_(Outbox.status == OutboxStatus.SENT, Outbox.needs_edit)))
        ).one()
    return _utc(found) if found else None
