"""The scheduler against a real database: each send once, on time, across restarts and processes.

Time is a clock the test moves; `step()` is one wake-up of the scheduler, so nothing sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlmodel import select

from chatbot.storage import outbox
from chatbot.app import build_runtime
from chatbot.events import Actor, CommandCall, Delivered, Place, Reply
from chatbot.storage.models import AgendaItem, Meeting, Outbox, Update
from chatbot.schedule.clock import ScaledClock
from chatbot.schedule.locks import FileLocks, PgLocks
from chatbot.schedule.plan import plan
from chatbot.schedule.reconcile import reconcile
from chatbot.schedule.config import parse_config
from chatbot.settings import load_settings
from chatbot.storage.store import session_scope
from tests.conftest import PG_URL
from tests.databases import postgresql_schema

UTC = timezone.utc

SERIES = """
[[series]]
id = "hubs"
name = "Hubs Team Meeting"
schedule = "every 3rd tuesday"
time = "17:00"
timezone = "America/Los_Angeles"
notes_url = "https://hackmd.io/@hubs/notes"
"""
TWO_PLATFORMS = SERIES + """
[series.slack]
channel = "C0123456789"
[series.discord]
channel = 123456789012345678
"""
# The meeting of Tuesday 17 March 2026, 17:00 PDT = 18 March 00:00 UTC.
START = datetime(2026, 3, 18, 0, 0, tzinfo=UTC)
MEETING_DAY = date(2026, 3, 17)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Recorder:
    """A platform's delivery that keeps what it was given."""

    def __init__(self, clock=None, fail: int = 0) -> None:
        self.posts = []
        self.clock = clock
        self.fail = fail
        self.times = []
        self.delivered = asyncio.Event()

    async def post(self, post) -> Delivered:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("platform unavailable")
        self.posts.append(post)
        self.times.append(time.time())
        self.delivered.set()
        return Delivered(post.edit_of or f"m{len(self.posts)}")

    def kinds(self, *, edits: bool = False) -> list[str]:
        return [p.kind for p in self.posts if edits or not p.edit_of]


def make_runtime(url, clock, tmp_path, config=SERIES, platforms=("terminal",), **options):
    settings = load_settings(database_url=url, archive_dir=tmp_path / "archive")
    runtime = build_runtime(settings, list(platforms), clock=clock, config=parse_config(config))
    recorders = {p: Recorder(clock) for p in platforms}
    runtime.connect(recorders, **options)
    return runtime, recorders


async def wake(runtime) -> None:
    """One scheduler wake-up and the deliveries it starts."""
    await runtime.scheduler.step()
    await runtime.dispatcher.idle()


def down(runtime) -> None:
    """The process stops: its locks go (the kernel or PostgreSQL drops them when it dies)."""
    if runtime.scheduler.locks is not None:
        runtime.scheduler.locks.close()
        runtime.scheduler.locks = None
    runtime.db.dispose()


def rows(runtime, **where):
    with session_scope(runtime.db) as session:
        query = select(Outbox)
        for key, value in where.items():
            query = query.where(getattr(Outbox, key) == value)
        return session.exec(query.order_by(Outbox.due, Outbox.id)).all()


def reply(runtime, user: str, text: str, platform: str = "terminal") -> None:
    thread = runtime.engine.open_thread("hubs", platform)
    assert thread is not None
    runtime.engine.handle(Reply(Actor(platform, user, user), Place(platform, "hubs", thread),
                                f"{user}-{text[:8]}", text))


async def test_a_meeting_lifecycle_sends_each_thing_once_on_time(database_url, tmp_path):
    clock = Clock(datetime(2026, 3, 1, tzinfo=UTC))
    runtime, recorders = make_runtime(database_url, clock, tmp_path)
    terminal = recorders["terminal"]
    series = runtime.config.get("hubs")
    (occurrence, sends), = [(o, s) for o, s in plan(series, clock.now, START) if o.start == START]
    await wake(runtime)
    assert terminal.kinds() == []  # nothing due yet; the sends wait in the outbox
    planned = {r.kind: r.due for r in rows(runtime, occurrence=occurrence.date)}
    assert planned == {s.kind: s.due for s in sends}
    for send in sends:
        clock.now = send.due - timedelta(seconds=1)
        await wake(runtime)
        before = terminal.kinds(edits=True)
        clock.now = send.due
        await wake(runtime)
        await wake(runtime)  # a second look at the same instant finds nothing new
        new = terminal.kinds(edits=True)[len(before):]
        expected = {"compile": ["digest"], "finish": ["digest"]}.get(send.kind, [send.kind])
        assert new == expected, (send.kind, new)
        if send.kind == "call_for_updates":
            reply(runtime, "minrk", "Released JupyterHub 3.0")
            reply(runtime, "manics", "apologies, travelling. Z2JH beta is out")
    digest, edited = [p for p in terminal.posts if p.kind == "digest"]
    assert edited.edit_of == "m" + str(terminal.posts.index(digest) + 1)  # finished: updated in place
    assert "Released JupyterHub 3.0" in digest.attachment.content
    assert "Z2JH beta is out" in digest.attachment.content
    assert (tmp_path / "archive" / "hubs" / "2026-03-17.md").exists()
    with session_scope(runtime.db) as session:
        meeting = session.exec(select(Meeting).where(Meeting.date == occurrence.date)).one()
        assert meeting.status == "ended" and meeting.archived_at is not None
    # Nothing of this meeting is ever sent again, however often the scheduler wakes.
    count = len(terminal.posts)
    for hours in (1, 24, 24 * 30):
        clock.now = occurrence.end + timedelta(hours=hours)
        await wake(runtime)
    assert [p for p in terminal.posts[count:] if f"/{occurrence.date}/" in p.key] == []
    times = Counter(p.key for p in terminal.posts if not p.edit_of)
    assert max(times.values()) == 1


async def test_a_dst_change_between_meetings_is_pointed_out(sqlite_url, tmp_path):
    clock = Clock(datetime(2026, 3, 1, tzinfo=UTC))
    runtime, recorders = make_runtime(sqlite_url, clock, tmp_path)
    clock.now = START - timedelta(hours=1)
    await wake(runtime)
    reminder = next(p for p in recorders["terminal"].posts if p.kind == "reminder:1h")
    assert "Clocks changed in America/Los_Angeles" in reminder.text
    assert f"<time:{int(START.timestamp())}|" in reminder.text  # each reader's own zone


async def test_sends_that_fell_due_while_down_are_sent_if_still_useful(database_url, tmp_path,
                                                                        caplog):
    clock = Clock(datetime(2026, 3, 1, tzinfo=UTC))
    runtime, recorders = make_runtime(database_url, clock, tmp_path)
    await wake(runtime)
    clock.now = START - timedelta(days=7, seconds=-1)
    await wake(runtime)
    reply(runtime, "minrk", "An update before the outage")
    # Down from just after the call for updates until ten minutes into the meeting.
    clock.now = START + timedelta(minutes=10)
    down(runtime)
    restarted, after = make_runtime(database_url, clock, tmp_path)
    with caplog.at_level(logging.WARNING, logger="chatbot.storage.outbox"):
        await wake(restarted)
    assert after["terminal"].kinds() == ["digest"]  # the reminders are of no use any more
    assert {r.kind: r.status for r in rows(restarted, occurrence=MEETING_DAY)
            } == {"announcement": "sent", "call_for_updates": "sent", "reminder:1d": "missed",
                  "reminder:1h": "missed", "compile": "sent", "finish": "pending",
                  "digest": "sent"}
    missed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("missed")]
    assert len(missed) == 2 and "reminder:1d for hubs 2026-03-17" in missed[0]


async def test_a_post_left_sending_by_a_dead_process_is_retried_looking_first(database_url,
                                                                             tmp_path):
    clock = Clock(datetime(2026, 3, 4, 2, tzinfo=UTC))
    runtime, recorders = make_runtime(database_url, clock, tmp_path)
    reconcile(runtime.engine, clock.now)
    # A process that died mid-send: the announcement may have gone out, the other never started.
    announcement, = rows(runtime, kind="announcement")
    with session_scope(runtime.db) as session:
        row = session.get(Outbox, announcement.id)
        row.status, row.claimed_by, row.attempts = "sending", "1234567", 1
    clock.now = START - timedelta(days=7)
    await wake(runtime)
    posted = {p.kind: p.maybe_sent for p in recorders["terminal"].posts}
    assert posted == {"announcement": True, "call_for_updates": False}
    assert [r.status for r in rows(runtime, kind="announcement")] == ["sent"]


async def test_two_workers_delivering_at_once_send_each_row_once(database_url, tmp_path):
    clock = Clock(START - timedelta(days=7))
    # Both as fast as they can (no pace), to make them collide.
    first, one = make_runtime(database_url, clock, tmp_path, config=TWO_PLATFORMS,
                              platforms=("slack", "discord"), paces={})
    second, two = make_runtime(database_url, clock, tmp_path, config=TWO_PLATFORMS,
                               platforms=("slack", "discord"), paces={})
    with session_scope(first.db) as session:
        for n in range(60):
            for platform, channel in (("slack", "C0123456789"), ("discord", "123456789012345678")):
                outbox.enqueue(session, series_id="hubs", occurrence=MEETING_DAY,
                               kind=f"reminder:{n}m", platform=platform, channel=channel,
                               due=clock.now)
    await asyncio.gather(first.dispatcher.deliver_due(limit=7), second.dispatcher.deliver_due(limit=7))
    keys = [p.key for r in (one, two) for rec in r.values() for p in rec.posts]
    assert len(keys) == 120 and len(set(keys)) == 120


async def test_a_failing_platform_does_not_hold_up_another(sqlite_url, tmp_path):
    clock = Clock(START - timedelta(days=7))
    runtime, recorders = make_runtime(sqlite_url, clock, tmp_path, config=TWO_PLATFORMS,
                                      platforms=("slack", "discord"))
    recorders["slack"].fail = 1
    await wake(runtime)
    assert recorders["discord"].kinds() == ["announcement", "call_for_updates"]
    assert recorders["slack"].kinds() == ["call_for_updates"]
    failed, = rows(runtime, platform="slack", status="failed")
    assert failed.kind == "announcement" and failed.due > clock.now and "unavailable" in failed.error
    clock.now = failed.due
    await wake(runtime)
    assert recorders["slack"].kinds() == ["call_for_updates", "announcement"]
    assert recorders["slack"].posts[-1].maybe_sent  # the failed attempt might have posted it
    assert recorders["discord"].kinds() == ["announcement", "call_for_updates"]


async def test_a_changed_time_moves_every_pending_send(database_url, tmp_path):
    clock = Clock(datetime(2026, 3, 1, tzinfo=UTC))
    runtime, _ = make_runtime(database_url, clock, tmp_path)
    await wake(runtime)
    before = {r.kind: r.due for r in rows(runtime, occurrence=MEETING_DAY)}
    count = len(rows(runtime))
    down(runtime)
    later, _ = make_runtime(database_url, clock, tmp_path, config=SERIES.replace('"17:00"', '"18:00"'))
    await wake(later)
    after = {r.kind: r.due for r in rows(later, occurrence=MEETING_DAY)}
    assert set(after) == set(before)
    assert all(after[k] - before[k] == timedelta(hours=1) for k in before if k != "announcement")
    assert len(rows(later)) == count  # nothing was added twice


async def test_a_changed_day_moves_the_meeting_with_what_it_collected(database_url, tmp_path):
    clock = Clock(START - timedelta(days=7))
    runtime, recorders = make_runtime(database_url, clock, tmp_path)
    await wake(runtime)
    assert recorders["terminal"].kinds() == ["announcement", "call_for_updates"]
    reply(runtime, "minrk", "My update for the meeting")
    down(runtime)
    wednesday = SERIES.replace('"every 3rd tuesday"', '"every 3rd wednesday"')
    moved, after = make_runtime(database_url, clock, tmp_path, config=wednesday)
    await wake(moved)
    assert after["terminal"].kinds() == []  # the call for updates is not posted again
    with session_scope(moved.db) as session:
        meeting = session.exec(select(Meeting).join(Update)).one()
        assert str(meeting.date) == "2026-03-18"
    wednesday = date(2026, 3, 18)
    assert not rows(moved, occurrence=MEETING_DAY)
    cfu, = rows(moved, kind="call_for_updates", occurrence=wednesday)
    assert cfu.status == "sent"
    reminder, = rows(moved, kind="reminder:1h", occurrence=wednesday)
    assert reminder.due == START + timedelta(days=1, hours=-1)
    assert "My update for the meeting" in moved.engine.notes("hubs")[1]


async def test_a_meeting_that_leaves_the_schedule_passes_its_agenda_on_once(database_url, tmp_path,
                                                                            caplog):
    clock = Clock(datetime(2026, 3, 1, tzinfo=UTC))
    runtime, _ = make_runtime(database_url, clock, tmp_path)
    await wake(runtime)
    for text in ("(5m) JupyterHub 3.0", "(10m) Binder federation"):
        answer = runtime.engine.handle(CommandCall(Actor("terminal", "min"), Place("terminal", "hubs"),
                                                   "agenda", f"add {text}"))
        assert answer[0].ok, answer
    down(runtime)
    # 17 March leaves the schedule; the new dates nearest it (3 March, 7 April) are two weeks off,
    # and the agenda goes to the next meeting to be held: 3 March, before the dropped date.
    first = SERIES.replace('"every 3rd tuesday"', '"every 1st tuesday"')
    replicas = [make_runtime(database_url, clock, tmp_path, config=first)[0] for _ in range(2)]
    caplog.set_level(logging.INFO, logger="chatbot.schedule.reconcile")
    await wake(replicas[0])
    for days in (0, 1, 5):  # reconcile runs again, on every replica, as time goes on
        clock.now = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=days)
        for replica in replicas:
            reconcile(replica.engine, clock.now)
    with session_scope(replicas[0].db) as session:
        items = session.exec(select(AgendaItem.title, Meeting.date, AgendaItem.status,
                                    AgendaItem.carried_over, AgendaItem.position)
                             .join(Meeting).order_by(Meeting.date, AgendaItem.position)).all()
    assert [tuple(i) for i in items] == [
        ("JupyterHub 3.0", date(2026, 3, 3), "open", 1, 1),
        ("Binder federation", date(2026, 3, 3), "open", 1, 2),
        ("JupyterHub 3.0", MEETING_DAY, "carried", 0, 1),
        ("Binder federation", MEETING_DAY, "carried", 0, 2)]
    assert {r.status for r in rows(replicas[0], occurrence=MEETING_DAY)} == {"cancelled"}
    dropped = [r.getMessage() for r in caplog.records if "no longer in the schedule" in r.getMessage()]
    assert dropped == ["hubs: the meeting of 2026-03-17 is no longer in the schedule and has no new "
                       "date near it; its pending sends are cancelled and its 2 open agenda items "
                       "move to 2026-03-03"]
    assert "Binder federation" in replicas[1].engine.notes("hubs", date(2026, 3, 3))[1]


async def test_a_skipped_meeting_gets_its_notice_and_nothing_else(database_url, tmp_path):
    clock = Clock(datetime(2026, 3, 1, tzinfo=UTC))
    runtime, recorders = make_runtime(database_url, clock, tmp_path)
    clock.now = START - timedelta(days=3)
    await wake(runtime)
    answer = runtime.engine.handle(CommandCall(Actor("terminal", "chair"), Place("terminal", "hubs"),
                                               "meeting", "skip"))
    assert answer[0].ok, answer
    for days in (2, 1, 0):
        clock.now = START - timedelta(days=days)
        await wake(runtime)
    clock.now = START + timedelta(hours=2)
    await wake(runtime)
    march = [p.kind for p in recorders["terminal"].posts if "/2026-03-17/" in p.key]
    assert march == ["announcement", "call_for_updates", "notice"]


async def test_a_skip_date_added_to_the_config_cancels_the_pending_sends(sqlite_url, tmp_path):
    clock = Clock(datetime(2026, 3, 1, tzinfo=UTC))
    runtime, _ = make_runtime(sqlite_url, clock, tmp_path)
    await wake(runtime)
    down(runtime)
    skipping, recorders = make_runtime(sqlite_url, clock, tmp_path,
                                       config=SERIES + 'skip = ["2026-03-17"]\n')
    await wake(skipping)
    statuses = {r.kind: r.status for r in rows(skipping, occurrence=MEETING_DAY)}
    assert statuses.pop("notice") == "pending" and set(statuses.values()) == {"cancelled"}
    clock.now = START - timedelta(days=1)
    await wake(skipping)
    assert [p.kind for p in recorders["terminal"].posts if "/2026-03-17/" in p.key] == ["notice"]


HOLD = """
import sys, time
from pathlib import Path
from chatbot.schedule.locks import FileLocks
locks = FileLocks(Path(sys.argv[1]), "77")
print("leading" if locks.lead() else "not", flush=True)
time.sleep(60)
"""


def test_a_second_process_on_the_same_sqlite_file_refuses_to_schedule(tmp_path):
    database = tmp_path / "bot.db"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(database)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "leading"
        locks = FileLocks(database, "78")
        assert not locks.lead()
        assert f"pid {holder.pid}" in locks.why_not() and "PostgreSQL" in locks.why_not()
        assert locks.alive("77")
    finally:
        holder.kill()
        holder.wait()
    assert locks.lead()  # the kernel dropped the dead process's locks: this one takes over
    assert not locks.alive("77")
    locks.close()


@pytest.fixture
def postgresql_url():
    if not PG_URL:
        pytest.skip("set CHATBOT_TEST_DATABASE_URL to run the PostgreSQL tests")
    with postgresql_schema(PG_URL) as url:
        yield url


def test_one_leader_on_postgresql_and_a_quick_takeover(postgresql_url):
    from chatbot.storage.store import create_db_engine

    db = create_db_engine(postgresql_url)
    first, second = PgLocks(db, "11"), PgLocks(db, "12")
    try:
        assert first.lead() and not second.lead()
        assert first.lead()  # still leading, on the same connection
        assert second.alive("11") and first.alive("12") and not first.alive("13")
        first.close()  # as when the process dies: its connection and locks go
        # The server lets go of a closed session's locks as its backend exits, a moment after the
        # client hung up (longer on a busy machine): the takeover comes at one of the next looks.
        deadline = time.monotonic() + 10
        while not second.lead():
            assert time.monotonic() < deadline, "no takeover within 10 s of the leader's exit"
            time.sleep(0.05)
        assert not second.alive("11")
    finally:
        first.close()
        second.close()
        db.dispose()


async def test_a_send_fires_within_a_second_of_its_instant(sqlite_url, tmp_path):
    runtime, recorders = make_runtime(sqlite_url, lambda: datetime.now(UTC), tmp_path)
    due = datetime.now(UTC) + timedelta(seconds=1.5)
    with session_scope(runtime.db) as session:
        outbox.enqueue(session, series_id="hubs", occurrence=MEETING_DAY, kind="reminder:1h",
                       platform="terminal", channel="hubs", due=due)
    runtime.scheduler.poll = 30.0  # only the due instant can wake it in time
    await runtime.scheduler.start()
    try:
        await asyncio.wait_for(recorders["terminal"].delivered.wait(), 5)
    finally:
        await runtime.scheduler.stop()
    late = recorders["terminal"].times[0] - due.timestamp()
    assert -0.05 < late < 1.0, late


def test_the_test_clock_setting_gives_restarts_one_timeline(tmp_path, monkeypatch):
    origin = time.time() - 10
    monkeypatch.setenv("CHATBOT_CLOCK_START", "2026-03-17T00:00:00+00:00")
    monkeypatch.setenv("CHATBOT_CLOCK_SPEED", "60")
    monkeypatch.setenv("CHATBOT_CLOCK_ORIGIN", str(origin))
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'c.db'}")
    clock = build_runtime(settings, ["terminal"], config=parse_config(SERIES)).clock
    assert isinstance(clock, ScaledClock)
    before, reading, after = time.time(), clock(), time.time()
    start = datetime(2026, 3, 17, tzinfo=UTC)
    # 60 times as fast from `origin`, however long building the runtime took here
    assert start + timedelta(seconds=(before - origin) * 60) <= reading
    assert reading <= start + timedelta(seconds=(after - origin) * 60)
    assert reading - start >= timedelta(minutes=10)
    monkeypatch.setenv("CHATBOT_CLOCK_START", "2026-03-17T00:00:00")
    with pytest.raises(Exception, match="CHATBOT_CLOCK_START needs a UTC offset"):
        load_settings()


def test_chatbot_schedule_prints_utc_and_the_series_zone(tmp_path):
    (tmp_path / "meetings.toml").write_text(SERIES)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBOT_", "SLACK_"))}
    environment.update(CHATBOT_CLOCK_START="2026-03-01T00:00:00+00:00")
    result = subprocess.run([sys.executable, "-m", "chatbot", "schedule", "hubs", "--meetings", "1"],
                            capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("hubs: Hubs Team Meeting (times in UTC and in America/Los_Angeles)")
    assert ("2026-03-04 01:00 UTC  2026-03-03 17:00 PST     announcement      meeting 2026-03-17"
            in lines[1])
    assert "2026-03-17 23:00 UTC  2026-03-17 16:00 PDT     reminder:1h" in result.stdout
    assert [line.split()[6] for line in lines[1:]] == ["announcement", "call_for_updates",
                                                      "reminder:1d", "reminder:1h", "compile",
                                                      "finish"]


def test_a_piped_terminal_session_gets_no_scheduled_posts(tmp_path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBOT_", "SLACK_"))}
    (tmp_path / "meetings.toml").write_text(SERIES)
    result = subprocess.run([sys.executable, "-m", "chatbot", "run"], input="/meeting remind\n",
                            capture_output=True, text=True, cwd=tmp_path, env=environment,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--- call_for_updates in #hubs ---" in result.stdout
    assert "announcement" not in result.stdout and "reminder" not in result.stdout
