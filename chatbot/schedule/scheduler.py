"""The bot's own sends: what each meeting needs and when, kept in the outbox, and the process that
wakes up to send them. APScheduler only decides when to wake; the database decides what is due.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlmodel import select

from chatbot.storage import outbox
from chatbot.text.durations import format_offset
from chatbot.meetings.engine import Refusal
from chatbot.storage.models import Meeting, Outbox
from chatbot.storage.outbox import INTERNAL, WAITING, writing
from chatbot.schedule.series import Occurrence, Series
from chatbot.storage.store import session_scope

log = logging.getLogger(__name__)

UTC = timezone.utc
DAY = timedelta(days=1)
ANNOUNCE_LEAD = timedelta(days=14)  # announce no earlier than this before the start
GRACE = timedelta(minutes=10)  # a send is never called useless before it is this late
HORIZON = timedelta(days=40)  # sends are written to the outbox this far ahead
RECONCILE_EVERY = timedelta(hours=6)  # the horizon is weeks ahead: this only extends it
LIVE_RETRY = timedelta(minutes=15)  # a meeting still live at its end is finished later...
LIVE_LIMIT = timedelta(hours=12)  # ...but not later than this after its planned end
JOBS = ("compile", "finish")  # work for the core at an instant, run once, not posted
PLANNED = ("announcement", "call_for_updates", "notice", *JOBS)


# -- time -----------------------------------------------------------------------------------------


class ScaledClock:
    """Test-only time that reads `start` at the Unix time `origin` and runs `speed` times as fast.

    Without an origin the clock starts when first read (when the scheduler starts), and says so
    in the log. Restarted processes given the same three values share one timeline.
    """

    def __init__(self, start: datetime, speed: float = 1.0, origin: float | None = None) -> None:
        self.start = start
        self.speed = speed
        self.origin = origin
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        if self.origin is None:
            with self._lock:
                if self.origin is None:
                    self.origin = time.time()
                    log.info("test clock: %s at Unix time %r, running %sx", self.start.isoformat(),
                             self.origin, self.speed)
        return self.start + timedelta(seconds=(time.time() - self.origin) * self.speed)


def real_seconds(clock: Callable[[], datetime], until: datetime) -> float:
    """Real seconds until the clock reads `until` (negative when it is past)."""
    return (until - clock()).total_seconds() / getattr(clock, "speed", 1.0)


# -- planning: pure functions of the config --------------------------------------------------------


@dataclass(frozen=True)
class PlannedSend:
    series_id: str
    occurrence: date
    kind: str  # announcement, call_for_updates, reminder:1d, notice, compile, finish
    due: datetime  # UTC
    expires: datetime | None  # no use from this instant on; None: always worth doing

    @property
    def internal(self) -> bool:
        return self.kind in JOBS


def shift(occurrence: Occurrence, delta: timedelta) -> datetime:
    """The start moved by `delta`: whole days on the local calendar, so "7d" before a 17:00 meeting
    is 17:00 local a week earlier even across a DST change; the rest of `delta` in real time."""
    sign = -1 if delta < timedelta(0) else 1
    days, rest = divmod(abs(delta), DAY)
    local = datetime.combine(occurrence.date + sign * days * DAY, occurrence.time.replace(fold=0),
                             tzinfo=ZoneInfo(occurrence.timezone))
    return local.astimezone(UTC) + sign * rest


def planned_kind(kind: str) -> bool:
    return kind in PLANNED or kind.startswith("reminder:")


def plan_occurrence(series: Series, occurrence: Occurrence, previous: Occurrence | None = None,
                    status: str = "scheduled") -> list[PlannedSend]:
    """Every send one meeting needs, in time order.

    The announcement follows the end of the previous meeting, but comes at most 14 days ahead;
    the first reminder is the call for updates (the thread people reply in); the digest is
    compiled at `updates_due`; after the end the notes are finished (digest, archive, carry-over).
    A skipped or cancelled meeting gets one notice instead.
    """
    start, end = occurrence.start, occurrence.end

    def send(kind: str, due: datetime, expires: datetime | None) -> PlannedSend:
        if expires is not None:
            expires = max(expires, due + GRACE)
        return PlannedSend(series.id, occurrence.date, kind, due, expires)

    announce = shift(occurrence, -ANNOUNCE_LEAD)
    if previous is not None:
        announce = min(max(announce, previous.end), start)
    if occurrence.skipped or status in ("skipped", "cancelled"):
        return [send("notice", announce, end)]
    reminders = sorted(set(series.reminders), reverse=True)
    opens = shift(occurrence, -reminders[0]) if reminders else announce
    sends = []
    if announce < opens:
        sends.append(send("announcement", announce, start))
    sends.append(send("call_for_updates", opens, end))
    last = opens
    for offset in reminders[1:]:
        due = shift(occurrence, -offset)
        if due <= last:  # e.g. "1d" and "23h" on the day the clocks go forward: one is enough
            continue
        sends.append(send(f"reminder:{format_offset(offset)}", due, start))
        last = due
    compiled = shift(occurrence, series.updates_due)
    sends.append(send("compile", compiled, None))
    sends.append(send("finish", max(end, compiled), None))
    return sorted(sends, key=lambda s: s.due)


def occurrences_between(series: Series, after: datetime, until: datetime) -> list[Occurrence]:
    """Every occurrence, skipped ones too, starting after `after` and not after `until`."""
    found: list[Occurrence] = []
    cursor = after
    while True:
        batch = series.occurrences(cursor, 32, include_skipped=True)
        for occurrence in batch:
            if occurrence.start > until:
                return found
            found.append(occurrence)
        if len(batch) < 32:
            return found
        cursor = batch[-1].start


def _previous_reach(series: Series) -> timedelta:
    # An earlier meeting matters to the announcement only if it ends within 14 days of the start.
    return ANNOUNCE_LEAD + series.duration + 2 * DAY


def plan(series: Series, after: datetime, until: datetime,
         statuses: Mapping[date, str] | None = None) -> list[tuple[Occurrence, list[PlannedSend]]]:
    """The sends of every meeting starting in (after, until], meeting by meeting."""
    statuses = statuses or {}
    previous = None
    out = []
    for occurrence in occurrences_between(series, after - _previous_reach(series), until):
        if occurrence.start > after:
            status = statuses.get(occurrence.date, "scheduled")
            out.append((occurrence, plan_occurrence(series, occurrence, previous, status)))
        previous = occurrence
    return out


def destinations(send: PlannedSend, targets) -> list[tuple[str, str]]:
    """(platform, channel) of each outbox row for a planned send."""
    if send.internal:
        return [(INTERNAL, "")]
    return [(t.platform, t.channel) for t in targets]


# -- the outbox kept in step with the plan ---------------------------------------------------------


def reconcile(engine, now: datetime, *, horizon: timedelta = HORIZON) -> int:
    """Write the planned sends of the coming meetings into the outbox; the number of rows added.

    Idempotent (the outbox key is unique). Pending sends follow a changed config: they are
    re-dated, or cancelled when their meeting or kind is gone; a meeting whose date left the
    schedule moves, with everything it collected, to the nearest new date within a week, and
    without one its open agenda items move on to the next meeting.
    """
    added = 0
    for series in engine.config.series:
        added += _reconcile_series(engine, series, now, horizon)
    return added


def _reconcile_series(engine, series: Series, now: datetime, horizon: timedelta) -> int:
    targets = engine.targets(series)
    # Meetings whose finishing may still be ahead of us, up to the horizon.
    since = now - series.duration - max(series.updates_due, timedelta(0)) - DAY
    added = 0
    with writing(engine.db) as session:
        meetings = {m.date: m for m in session.exec(
            select(Meeting).where(Meeting.series_id == series.id,
                                  Meeting.date >= (since - 2 * DAY).date()))}
        window = plan(series, since, now + horizon, {d: m.status for d, m in meetings.items()})
        _follow_moved_dates(engine, session, series, meetings, [o for o, _ in window], now)
        for occurrence, sends in window:
            meeting = meetings.get(occurrence.date) or engine.meeting_for(session, occurrence)
            if meeting.status == "scheduled" and occurrence.skipped:
                meeting.status = "skipped"  # a skip date added to the config
                outbox.cancel_pending(session, meeting.id)
                sends = plan_occurrence(series, occurrence, None, "skipped")
            if meeting.status == "scheduled" and (meeting.start, meeting.end) != (occurrence.start,
                                                                                 occurrence.end):
                meeting.start, meeting.end = occurrence.start, occurrence.end
            added += _sync_rows(session, series, meeting, sends, targets, now)
    return added


def _sync_rows(session, series: Series, meeting: Meeting, sends: list[PlannedSend], targets,
               now: datetime) -> int:
    rows = {(r.kind, r.platform, r.channel): r for r in session.exec(
        select(Outbox).where(Outbox.series_id == series.id, Outbox.occurrence == meeting.date))}
    wanted = set()
    added = 0
    for send in sends:
        for platform, channel in destinations(send, targets):
            key = (send.kind, platform, channel)
            wanted.add(key)
            row = rows.get(key)
            if row is None:
                if send.due <= now and (send.internal or (send.expires and send.expires <= now)):
                    continue  # planned before the bot ran, and of no use now
                added += outbox.enqueue(session, series_id=series.id, occurrence=meeting.date,
                                        meeting_id=meeting.id, kind=send.kind, platform=platform,
                                        channel=channel, due=send.due, expires=send.expires)
            elif row.status == "pending" and row.due > now and (
                    row.due != send.due or row.expires != send.expires):
                log.info("re-dating %s for %s %s from %s to %s", row.kind, series.id, meeting.date,
                         row.due.isoformat(), send.due.isoformat())
                row.due, row.expires = send.due, send.expires
    for key, row in rows.items():
        if (key not in wanted and planned_kind(row.kind) and row.status == "pending"
                and row.due > now):
            log.info("cancelling %s for %s %s on %s: no longer planned", row.kind, series.id,
                     meeting.date, row.platform)
            row.status = "cancelled"
    return added


def _follow_moved_dates(engine, session, series: Series, meetings: dict[date, Meeting],
                        window: list[Occurrence], now: datetime) -> None:
    """A meeting whose date the schedule no longer has takes the nearest free new date."""
    for day, meeting in sorted(meetings.items()):
        if meeting.status != "scheduled" or meeting.end <= now or series.occurrence_on(day):
            continue
        free = [o for o in window if o.date not in meetings and abs((o.date - day).days) <= 7]
        if not free:
            _drop(engine, session, series, meetings, meeting, now)
            continue
        new = min(free, key=lambda o: (abs((o.date - day).days), o.date))
        log.info("%s: the meeting of %s moves to %s", series.id, day, new.date)
        for row in session.exec(select(Outbox).where(Outbox.meeting_id == meeting.id)):
            row.occurrence = new.date
        meeting.date, meeting.start, meeting.end = new.date, new.start, new.end
        del meetings[day]
        meetings[new.date] = meeting
    session.flush()


def _drop(engine, session, series: Series, meetings: dict[date, Meeting], meeting: Meeting,
          now: datetime) -> None:
    """A meeting that will not happen: its pending sends are cancelled and its agenda moves on to
    the next meeting to be held, which may come before the dropped date. Each reconcile looks
    again, so this does only what is left to do."""
    session.refresh(meeting, with_for_update=True)  # another process may be dropping it too
    if meeting.status != "scheduled" or series.occurrence_on(meeting.date):
        return
    cancelled = 0
    for row in session.exec(select(Outbox).where(Outbox.meeting_id == meeting.id,
                                                 Outbox.status == "pending")):
        if planned_kind(row.kind):
            row.status = "cancelled"
            cancelled += 1
    try:
        following, moved = engine.carry_over(session, series, meeting, after=now)
    except Refusal as refusal:
        following, moved = None, []
        log.warning("%s: the agenda of %s stays where it is: %s", series.id, meeting.date, refusal)
    else:
        meetings.setdefault(following.date, following)  # taken: no other meeting moves onto it
    if cancelled or moved:
        log.warning("%s: the meeting of %s is no longer in the schedule and has no new date near "
                    "it; its pending sends are cancelled%s", series.id, meeting.date,
                    f" and its {len(moved)} open agenda items move to {following.date}" if moved else "")


def due_jobs(db: Engine, now: datetime) -> list[int]:
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
        if row.kind == "finish" and meeting.status == "live" and now < meeting.end + LIVE_LIMIT:
            row.due = now + LIVE_RETRY
            return f"{series.id} {meeting.date} is still live; finishing it later"
        result = ""
        if meeting.status in ("scheduled", "live"):
            if row.kind == "compile":
                result = engine.compile(session, series, meeting)
            else:
                result = engine.finish(session, series, meeting)
        row.status, row.sent_at, row.error = "sent", now, ""
        row.attempts += 1
        return result


# -- who schedules: one leader, any number of workers ----------------------------------------------


class Locks(Protocol):
    """Leadership and liveness, held for as long as the process lives."""

    worker: str

    def lead(self) -> bool: ...

    def why_not(self) -> str: ...

    def alive(self, worker: str) -> bool: ...

    def close(self) -> None: ...


class MemoryLocks:
    """An in-memory database belongs to one process."""

    def __init__(self, worker: str) -> None:
        self.worker = worker

    def lead(self) -> bool:
        return True

    def why_not(self) -> str:
        return ""

    def alive(self, worker: str) -> bool:
        return worker == self.worker

    def close(self) -> None:
        pass


class FileLocks:
    """SQLite: a lock file beside the database. Byte 0 is the scheduler; byte 1+N is worker N.

    The kernel drops a dead process's locks, so a restart takes over at once.
    """

    def __init__(self, database: Path, worker: str) -> None:
        self.worker = worker
        self.path = Path(f"{database}.lock")
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self._leading = False
        fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 1 + int(worker))

    def lead(self) -> bool:
        if not self._leading:
            try:
                fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0)
            except OSError:
                return False
            self._leading = True
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)
        return True

    def why_not(self) -> str:
        holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "unknown"
        return (f"another chatbot process (pid {holder}) already schedules sends for this SQLite "
                f"database ({self.path}); this one only answers commands. SQLite allows one "
                "scheduling process: stop the other one, or use PostgreSQL to run several.")

    def alive(self, worker: str) -> bool:
        if worker == self.worker:
            return True
        try:
            offset = 1 + int(worker)
        except ValueError:
            return False
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
        except OSError:
            return True
        fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, offset)
        return False

    def close(self) -> None:
        os.close(self._fd)  # releases every lock this process holds on the file


class PgLocks:
    """PostgreSQL: session advisory locks on a dedicated connection; a process that dies loses them
    with its connection, so another takes over at its next look (every poll)."""

    def __init__(self, db: Engine, worker: str) -> None:
        self.db = db
        self.worker = worker
        self._connection = None
        self._leading = False
        self._connect()

    def _connect(self) -> None:
        self._connection = self.db.connect().execution_options(isolation_level="AUTOCOMMIT")
        # Keys live per database; the schema joins the namespace so schemas sharing one don't mix.
        where = self._connection.execute(
            text("SELECT current_database() || '/' || coalesce(current_schema(), '')")).scalar_one()
        self.namespace = zlib.crc32(where.encode()) & 0x7FFFFFFF
        if not self._try(int(self.worker)):
            raise RuntimeError(f"worker id {self.worker} is taken by a running process")

    def _try(self, key: int) -> bool:
        return bool(self._connection.execute(
            text("SELECT pg_try_advisory_lock(CAST(:ns AS integer), CAST(:key AS integer))"),
            {"ns": self.namespace, "key": key}).scalar_one())

    def lead(self) -> bool:
        try:
            if self._connection is None:
                self._connect()
            if self._leading:
                self._connection.execute(text("SELECT 1"))
            else:
                self._leading = self._try(0)
            return self._leading
        except Exception as error:  # the connection broke: locks are gone with it
            log.warning("lost the database connection that holds the scheduler lock: %s", error)
            self._drop()
            return False

    def why_not(self) -> str:
        return "another process leads the schedule; this one delivers and answers commands"

    def alive(self, worker: str) -> bool:
        if worker == self.worker:
            return True
        try:
            key = int(worker)
        except ValueError:
            return False
        held = self._connection.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = CAST(:ns AS bigint) AND objid = CAST(:key AS bigint) AND objsubid = 2"),
            {"ns": self.namespace, "key": key}).scalar_one()
        return bool(held)

    def _drop(self) -> None:
        self._leading = False
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # already broken
                pass
        self._connection = None

    def close(self) -> None:
        self._drop()


def locks_for(db: Engine, worker: str) -> Locks:
    if db.dialect.name == "postgresql":
        return PgLocks(db, worker)
    database = make_url(db.url).database
    if not database or database == ":memory:":
        return MemoryLocks(worker)
    return FileLocks(Path(database).resolve(), worker)


# -- the loop ---------------------------------------------------------------------------------------


class Scheduler:
    """Wakes at the next due instant (or every `poll` seconds for work other processes queued):
    the leader plans, expires and runs jobs; every process delivers what is due."""

    def __init__(self, engine, dispatcher, *, clock: Callable[[], datetime],
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


# -- what `chatbot schedule` shows ------------------------------------------------------------------


@dataclass(frozen=True)
class Upcoming:
    send: PlannedSend
    occurrence: Occurrence
    destinations: tuple[tuple[str, str], ...]
    status: str  # planned (no row yet), or the rows' statuses


def upcoming(engine, series: Series, now: datetime, *, meetings: int = 3) -> list[Upcoming]:
    """The sends of the next few meetings that are still ahead, with what the outbox says of them."""
    found = []
    with session_scope(engine.db) as session:
        statuses = {m.date: m.status for m in session.exec(
            select(Meeting).where(Meeting.series_id == series.id,
                                  Meeting.date >= (now - 2 * DAY).date()))}
        rows = session.exec(select(Outbox).where(Outbox.series_id == series.id,
                                                 Outbox.occurrence >= (now - 2 * DAY).date())).all()
    by_key: dict[tuple[date, str], list[str]] = {}
    for row in rows:
        by_key.setdefault((row.occurrence, row.kind), []).append(row.status)
    targets = engine.targets(series)
    reach = series.duration + max(series.updates_due, timedelta(0))
    ahead = series.occurrences(now - reach, meetings, include_skipped=True)
    if not ahead:
        return []
    window = plan(series, ahead[0].start - timedelta(microseconds=1), ahead[-1].start, statuses)
    for occurrence, sends in window:
        for send in sends:
            if send.due < now:
                continue
            states = by_key.get((occurrence.date, send.kind))
            status = ",".join(sorted(set(states))) if states else "planned"
            found.append(Upcoming(send, occurrence, tuple(destinations(send, targets)), status))
    return sorted(found, key=lambda u: (u.send.due, u.send.kind))


def format_upcoming(series: Series, items: Iterable[Upcoming]) -> str:
    """One line per send: UTC, the meeting's own zone (an alternate slot's when it rotates), kind."""
    lines = [f"{series.id}: {series.name} (times in UTC and in {series.timezone})"]
    for item in items:
        zone = item.occurrence.timezone
        local = item.send.due.astimezone(ZoneInfo(zone))
        label = f"{local:%Z}" + (f" {zone}" if zone != series.timezone else "")
        where = ", ".join(f"{p}:{c}" if c else p for p, c in item.destinations) or "no platform"
        lines.append(f"  {item.send.due.astimezone(UTC):%Y-%m-%d %H:%M} UTC  "
                     f"{local:%Y-%m-%d %H:%M} {label:<6}  {item.send.kind:<17} "
                     f"meeting {item.occurrence.date}  {where}  [{item.status}]")
    if len(lines) == 1:
        lines.append("  nothing planned")
    return "\n".join(lines)
