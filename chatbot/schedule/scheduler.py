"""The process that wakes up at the next due instant: the leader plans and runs the meetings'
jobs (compile, finish), and every process delivers. APScheduler only decides when to wake."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine
from sqlmodel import select

from chatbot.delivery import Dispatcher
from chatbot.events import SendKind
from chatbot.schedule.clock import real_seconds
from chatbot.schedule.locks import Locks
from chatbot.schedule.reconcile import HORIZON, reconcile
from chatbot.storage import outbox
from chatbot.storage.models import Meeting, MeetingStatus, Outbox, OutboxStatus
from chatbot.storage.outbox import INTERNAL, WAITING
from chatbot.storage.store import session_scope, writing

log = logging.getLogger(__name__)

UTC = timezone.utc
RECONCILE_EVERY = timedelta(hours=6)  # the horizon is weeks ahead: this only extends it
LIVE_RETRY = timedelta(minutes=15)  # a meeting still live at its end is finished later...
LIVE_LIMIT = timedelta(hours=12)  # ...but not later than this after its planned end


def due_jobs(db: Engine, now: datetime) -> list[int]:
    """The internal rows (compile, finish) that are due, oldest first."""
    with session_scope(db) as session:
        return list(session.exec(
            select(Outbox.id).where(Outbox.platform == INTERNAL, Outbox.status.in_(WAITING),
                                    Outbox.due <= now.astimezone(UTC))
            .order_by(Outbox.due, Outbox.id)))


def run_job(engine, row_id: int, now: datetime) -> str | None:
    """Compile or finish a meeting once: the work and the row's completion commit together."""
    now = now.astimezone(UTC)
    with writing(engine.db) as session:
        query = select(Outbox).where(Outbox.id == row_id, Outbox.status.in_(WAITING))
        if engine.db.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        row = session.exec(query).first()
        if row is None:
            return None  # done by another process meanwhile
        meeting = session.get(Meeting, row.meeting_id)
        series = engine.config.get(row.series_id)
        if (row.kind == SendKind.FINISH and meeting.status == MeetingStatus.LIVE
                and now < meeting.end + LIVE_LIMIT):
            row.due = now + LIVE_RETRY
            return f"{series.id} {meeting.date} is still live; finishing it later"
        result = ""
        if meeting.status in (MeetingStatus.SCHEDULED, MeetingStatus.LIVE):
            if row.kind == SendKind.COMPILE:
                result = engine.compile(session, series, meeting)
            else:
                result = engine.finish(session, series, meeting)
        row.status, row.sent_at, row.error = OutboxStatus.SENT, now, ""
        row.attempts += 1
        return result


class Scheduler:
    """Wakes at the next due instant (or every `poll` seconds for work other processes queued):
    the leader plans, expires and runs jobs; every process delivers what is due."""

    def __init__(self, engine, dispatcher: Dispatcher, *, clock: Callable[[], datetime],
                 locks: Callable[[], Locks], poll: float = 1.0, horizon: timedelta = HORIZON,
                 reconcile_every: timedelta = RECONCILE_EVERY) -> None:
        self.engine = engine
        self.dispatcher = dispatcher
        self.clock = clock
        self.poll = poll
        self.horizon = horizon
        self.reconcile_every = reconcile_every
        self._make_locks = locks
        self.locks: Locks | None = None
        self.leading = False
        self._told = False
        self._next_reconcile: datetime | None = None
        self._aps = None
        self._job = None
        self._step_lock = None

    async def start(self) -> None:
        self._step_lock = asyncio.Lock()
        if self.locks is None:
            self.locks = await asyncio.to_thread(self._make_locks)
        # Memory job store only: it is rebuilt from the database at every start, never shared.
        self._aps = AsyncIOScheduler(timezone=UTC, job_defaults={
            "misfire_grace_time": None, "coalesce": True, "max_instances": 1})
        self._aps.start()
        self._arm(0.0)

    async def stop(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
        if self._step_lock is not None:
            async with self._step_lock:
                pass
        try:
            await asyncio.wait_for(self.dispatcher.idle(), 5)
        except (asyncio.TimeoutError, TimeoutError):
            await self.dispatcher.close()  # the rows it held are taken back at the next start
        if self.locks is not None:
            await asyncio.to_thread(self.locks.close)
            self.locks = None

    def _arm(self, seconds: float) -> None:
        if self._aps is None:
            return
        if self._job is not None:
            try:
                self._job.remove()
            except JobLookupError:  # it is the one running now
                pass
        # A fresh job each time: a re-arm from inside the running wake-up must not count as a
        # second instance of it (APScheduler would skip that run).
        self._job = self._aps.add_job(
            self._wake, "date", run_date=datetime.now(UTC) + timedelta(seconds=max(0.0, seconds)))

    async def _wake(self) -> None:
        try:
            await self.step()
        except Exception:
            log.exception("scheduling step failed")
        try:
            self._arm(await self._next_wake())
        except Exception:
            log.exception("could not find the next due send")
            self._arm(self.poll)

    async def _next_wake(self) -> float:
        platforms = self.dispatcher.platforms + ([INTERNAL] if self.leading else [])
        due = await asyncio.to_thread(outbox.next_due, self.engine.db, platforms)
        wait = self.poll
        for instant in (due, self._next_reconcile if self.leading else None):
            if instant is not None:
                wait = min(wait, real_seconds(self.clock, instant))
        return wait

    async def step(self) -> None:
        """One look at the database: plan and run jobs when leading, then deliver what is due."""
        if self.locks is None:
            self.locks = await asyncio.to_thread(self._make_locks)
        if self._step_lock is None:
            self._step_lock = asyncio.Lock()
        async with self._step_lock:
            await self._lead(await asyncio.to_thread(self.locks.lead))
            if self.leading:
                await asyncio.to_thread(self._lead_step, self.clock())
        self.dispatcher.kick()

    async def _lead(self, leading: bool) -> None:
        if leading and not self.leading:
            log.info("this process now schedules the meeting sends (worker %s)", self.locks.worker)
            self._next_reconcile = None  # plan afresh: the last leader may have left gaps
        elif not leading and (self.leading or not self._told):
            log.warning("not scheduling: %s", self.locks.why_not())
        self._told = True
        self.leading = leading

    def _lead_step(self, now: datetime) -> None:
        db = self.engine.db
        outbox.take_back(db, alive=self.locks.alive, me=self.locks.worker)
        if self._next_reconcile is None or now >= self._next_reconcile:
            added = reconcile(self.engine, now, horizon=self.horizon)
            if added:
                log.info("planned %s new sends up to %s", added, (now + self.horizon).date())
            self._next_reconcile = now + self.reconcile_every
        outbox.expire(db, now)
        for row_id in due_jobs(db, now):
            try:
                result = run_job(self.engine, row_id, self.clock())
            except Exception as error:
                log.exception("job %s failed", row_id)
                outbox.mark_failed(db, row_id, str(error), self.clock())
                continue
            if result:
                log.info("job %s: %s", row_id, result.replace("\n", " / "))
