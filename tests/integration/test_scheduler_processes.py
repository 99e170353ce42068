"""`chatbot run` as real processes posting to the fake Slack over HTTP, on a compressed clock:
killed with SIGKILL again and again, or run as two replicas, every send goes out exactly once.

Each process gets CHATBOT_CLOCK_START/SPEED/ORIGIN, so the test knows the bot's time at every
instant; a restarted process resumes the timeline where the killed one stopped.

A busy machine runs the bots slower, so the clocks do too: every bot measures how long it takes to
say it is ready (its /healthz answers), and as many times as that is slower than QUIET_START its
clock runs slower and the test's real-time deadlines are longer. The bots' timeline, the kills in
it and what is asserted stay the same. Random choices print their seed (CHATBOT_TEST_SEED repeats them).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import create_engine, text

from chatbot.schedule.plan import plan
from chatbot.schedule.config import parse_config
from tests.conftest import PG_URL
from tests.databases import postgresql_schema
from tests.fakes.slack import FakeSlack

UTC = timezone.utc
DAY0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday; meetings every day at 12:00 UTC from 3 March
# A bot's start-up, from spawn until /healthz answers, with two or three starting at once on an
# idle two-core machine: the clock speeds below leave a bot that starts this fast time to spare.
QUIET_START = 1.5


def series_toml(channel: str, digest: str, *, reminders: str, skip: str) -> str:
    return f"""
[[series]]
id = "daily"
name = "Daily Standup"
schedule = "every day"
start = "2026-03-03"
time = "12:00"
timezone = "UTC"
duration = "60m"
reminders = {reminders}
skip = ["{skip}"]

[series.slack]
channel = "{channel}"
digest_channel = "{digest}"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Bot:
    """One `chatbot run` process at a time, on a clock that pauses while it is down."""

    fake: FakeSlack
    folder: Path
    database_url: str
    base_speed: float  # the clock's speed on a quiet machine
    channel: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    start: datetime = DAY0
    origin: float | None = None
    speed: float = 0.0  # this process's
    log: object = None
    spawned: float = 0.0
    startups: list[float] = field(default_factory=list)  # seconds from spawn until ready

    @property
    def slowness(self) -> float:
        """How many times slower than on a quiet machine the recent starts were (at least 1)."""
        if not self.startups:
            return 1.0
        return max(1.0, statistics.median(self.startups[-5:]) / QUIET_START)

    def seconds(self, quiet: float) -> float:
        """A real-time deadline, as long on this machine now as `quiet` is on a quiet one."""
        return quiet * self.slowness

    def now(self) -> datetime:
        if self.origin is None:
            self.origin = self._started()
        if self.origin is None:
            return self.start  # its clock has not started: the bot is not up yet
        return self.start + timedelta(seconds=(time.time() - self.origin) * self.speed)

    def _started(self) -> float | None:
        """When the running bot first read its clock, from its log line saying so."""
        lines = (self.folder / "bot.log").read_text().rsplit(" TEST spawn ", 1)[-1]
        found = re.findall(r"test clock: \S+ at Unix time ([\d.]+)", lines)
        return float(found[-1]) if found else None

    def spawn(self, start: datetime, origin: float | None = None, speed: float | None = None,
              database_url: str | None = None) -> None:
        """Start a bot whose clock reads `start` at `origin`, or else when it first reads it, and
        runs `speed` times as fast (by default as fast as this machine allows now)."""
        self.start, self.origin = start, origin
        self.speed = speed or self.base_speed / self.slowness
        self.note(f"spawn at bot time {start:%d %H:%M}, {self.speed:.0f}x")
        environment = {k: v for k, v in os.environ.items()
                       if not k.startswith(("CHATBOT_", "SLACK_", "DISCORD_"))}
        environment.update(
            CHATBOT_CONFIG=str(self.folder / "meetings.toml"),
            CHATBOT_DATABASE_URL=database_url or self.database_url,
            CHATBOT_ARCHIVE_DIR=str(self.folder / "archive"),
            CHATBOT_CLOCK_START=self.start.isoformat(),
            CHATBOT_CLOCK_SPEED=str(self.speed),
            CHATBOT_SCHEDULER_POLL="0.2",
            SLACK_BOT_TOKEN=self.fake.bot_token,
            SLACK_SIGNING_SECRET=self.fake.signing_secret,
            SLACK_API_URL=self.fake.base_url,
            PORT=str(self.port),
        )
        if self.origin is not None:
            environment["CHATBOT_CLOCK_ORIGIN"] = repr(self.origin)
        self.log = open(self.folder / "bot.log", "a")
        self.spawned = time.monotonic()
        self.process = subprocess.Popen([sys.executable, "-m", "chatbot", "run"], cwd=self.folder,
                                        env=environment, stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def kill(self) -> datetime:
        """SIGKILL; the bot's time at that instant."""
        self.process.send_signal(signal.SIGKILL)
        stopped = self.now()
        self.process.wait()
        self.note(f"killed at bot time {stopped:%d %H:%M}")
        self.log.close()
        return stopped

    def note(self, words: str) -> None:
        with open(self.folder / "bot.log", "a") as log:
            log.write(f"{datetime.now():%Y-%m-%d %H:%M:%S,%f}"[:-3] + f" TEST {words}\n")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    async def ready(self, timeout: float = 60.0) -> None:
        """Wait until the bot says it is up (/healthz answers), and note how long that took."""
        deadline = self.spawned + self.seconds(timeout)
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, self.tail()
                try:
                    async with session.get(f"http://127.0.0.1:{self.port}/healthz") as response:
                        if response.status == 200:
                            self.startups.append(time.monotonic() - self.spawned)
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"the bot did not start:\n{self.tail()}")

    async def calibrate(self) -> None:
        """A first start on a database of its own, long before anything is due: how fast bots
        start on this machine now, before the timeline begins."""
        self.spawn(DAY0 - timedelta(days=60), database_url=f"sqlite:///{self.folder / 'calibration.db'}")
        await self.ready()
        self.kill()
        print(f"{self.folder.name}: a bot started in {self.startups[-1]:.2f} s; "
              f"clocks and deadlines {self.slowness:.2f}x slower than on a quiet machine")

    async def update(self, user: str, words: str) -> date | None:
        """`/update` as a person types it; the meeting it was saved for, or None (try again)."""
        form = self.fake.slash_command("/update", words, user, self.channel)
        try:
            status, body = await asyncio.wait_for(self.fake.post_to_app(self.url, form=form),
                                                  self.seconds(5))
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError, TimeoutError):
            return None
        found = re.search(r"Saved your update for \w+ (\d+ \w+ \d{4})", body)
        if status != 200 or not found:
            return None
        return datetime.strptime(found.group(1), "%d %b %Y").date()

    def tail(self, size: int | None = 4000) -> str:
        text = (self.folder / "bot.log").read_text()
        return text[-size:] if size else text


def posts_by_key(fake: FakeSlack, *channels: str) -> Counter:
    keys = Counter()
    for channel in channels:
        for message in fake.messages(channel):
            key = ((message.get("metadata") or {}).get("event_payload") or {}).get("key", "")
            if key and "#" not in key:
                keys[key] += 1
    return keys


def expected_keys(config: str, begin: datetime, end: datetime, stop: datetime, channel: str,
                  digest: str, updated: set[date]) -> tuple[set[str], set[str]]:
    """Posts that must be there once: announcements, calls, reminders, notices and the digests
    of meetings with updates, due by `end`. Posts that may be there: digests of meetings with
    an update saved but never acknowledged, and what fell due between `end` and `stop`."""
    series = parse_config(config).get("daily")
    must, may = set(), set()
    for occurrence, sends in plan(series, begin - timedelta(days=30), stop + timedelta(days=15)):
        for send in sends:
            if send.due > stop or (send.internal and send.kind != "compile"):
                continue
            if send.kind == "compile":
                key = f"daily/{occurrence.date}/digest/slack/{digest}"
                surely = occurrence.date in updated
            else:
                key = f"daily/{occurrence.date}/{send.kind}/slack/{channel}"
                surely = True
            (must if surely and send.due <= end else may).add(key)
    return must, may


async def all_posted(fake: FakeSlack, config: str, begin: datetime, end: datetime, channel: str,
                     digest: str, acked: dict[str, date], bot: Bot, timeout: float = 30.0) -> None:
    """Wait until every post due by `end` has reached Slack: a loaded machine may run the bot
    behind its clock, and what it owes is then late, not lost."""
    must, _ = expected_keys(config, begin, end, end, channel, digest, set(acked.values()))
    try:
        await fake.wait_for(lambda: must <= set(posts_by_key(fake, channel, digest)),
                            bot.seconds(timeout))
    except (TimeoutError, asyncio.TimeoutError):
        pass  # the assertions after the kill name what is missing


def window(day: date) -> tuple[datetime, datetime]:
    """When `/update` surely goes to the meeting of `day`: after the previous one ended and its
    call went out, well before its start."""
    start = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12)
    return start - timedelta(hours=18), start - timedelta(hours=3)


async def keep_updating(bot: Bot, lane: str, acked: dict[str, date], stop: asyncio.Event,
                        every: float) -> None:
    """People sending `/update` all along, retrying when the bot is down, each a new person."""
    n = 0
    while not stop.is_set():
        now = bot.now()
        day = (now + timedelta(hours=12)).date()
        begin, end = window(day)
        if begin <= now <= end and bot.process is not None and bot.process.poll() is None:
            words = f"update {lane}-{n} from person {n}"
            saved = await bot.update(f"U{lane.upper()}{n:04d}", words)
            if saved is not None:
                acked[words] = saved
                n += 1
        await asyncio.sleep(every)


def missed_rows(database_url: str, posted: Counter, after_end: set[str]) -> list:
    """Outbox rows not sent. The last SIGKILL may land while a send is on its way: its row is
    still 'sending', and its post is there (the kill came before the row was marked sent) or, for
    a send due after the end (`after_end`), may not be yet. A restart would find out and finish
    it, as the restarts before show."""
    db = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with db.connect() as connection:
        found = connection.execute(text(
            "SELECT occurrence, kind, platform, channel, status FROM outbox "
            "WHERE status IN ('missed', 'failed', 'sending')")).all()
    db.dispose()
    return [row for row in found if not (
        row.status == "sending"
        and (any(key.startswith(f"daily/{row.occurrence}/{row.kind}/") for key in posted)
             or f"daily/{row.occurrence}/{row.kind}/{row.platform}/{row.channel}" in after_end))]


def updates_in_db(database_url: str) -> dict[str, date]:
    db = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with db.connect() as connection:
        found = connection.execute(text(
            "SELECT u.text, m.date FROM \"update\" u JOIN meeting m ON m.id = u.meeting_id")).all()
    db.dispose()
    return {words: (day if isinstance(day, date) else date.fromisoformat(day))
            for words, day in found}


# --- restarts ---------------------------------------------------------------------------------------

KILLS = int(os.environ.get("CHATBOT_TEST_KILLS", 50))
LANES = ("a", "b", "c")  # independent bots side by side, sharing the kills
LANE_SPEED = 7200.0  # an hour of the bot's time in half a second (on a quiet machine)
# Each process's clock starts when its scheduler does: the bot's time stands still while no
# process is up, as if each restart were instant. What falls due while the bot is down is
# tested in tests/core/test_scheduler.py.


async def run_lane(fake: FakeSlack, folder: Path, lane: str, kills_here: int,
                   rng: random.Random) -> dict:
    channel, digest = f"C0{lane.upper()}MAIN", f"C0{lane.upper()}DGST"
    fake.add_channel(channel, f"{lane}-standup")
    fake.add_channel(digest, f"{lane}-notes")
    config = series_toml(channel, digest, reminders='["20h", "8h"]', skip="2026-03-05")
    (folder / "meetings.toml").write_text(config)
    bot = Bot(fake, folder, f"sqlite:///{folder / 'bot.db'}", LANE_SPEED, channel)
    await bot.calibrate()
    begin = DAY0 + timedelta(hours=12, minutes=30)
    acked: dict[str, date] = {}
    stop = asyncio.Event()
    updating = asyncio.ensure_future(keep_updating(bot, lane, acked, stop, every=0.25))
    now = begin
    kills = Counter()

    def ours() -> int:
        return sum(1 for c in fake.calls_to("chat.postMessage") if c.get("channel") in (channel, digest))

    try:
        for _ in range(kills_here):
            bot.spawn(now)
            if rng.random() < 0.5:
                # Right as a post reaches Slack: before the bot can record that it was sent.
                await bot.ready()
                seen = ours()
                try:
                    await fake.wait_for(lambda: ours() > seen, timeout=bot.seconds(3.5))
                    kills["after a post"] += 1
                except (TimeoutError, asyncio.TimeoutError):
                    kills["at a random time"] += 1
            else:  # in its start-up as well as after it
                await asyncio.sleep(bot.seconds(rng.uniform(0.2, 3.0)))
                kills["at a random time"] += 1
            now = bot.kill()
        # A last run to a quiet moment (14:30: between a meeting's end and the next call).
        bot.spawn(now)
        await bot.ready()
        end = datetime.combine((bot.now() + timedelta(hours=3)).date(), datetime.min.time(), UTC)
        end += timedelta(hours=14, minutes=30)
        if end - bot.now() < timedelta(hours=3):
            end += timedelta(days=1)
        await until(bot, end)
        stop.set()
        await updating
        await all_posted(fake, config, begin, end, channel, digest, acked, bot)
        stopped = bot.kill()
    finally:
        stop.set()
        if bot.process is not None and bot.process.poll() is None:
            bot.kill()
    return dict(bot=bot, config=config, begin=begin, end=end, stop=stopped, channel=channel,
                digest=digest, acked=acked, kills=kills)


def check_lane(fake: FakeSlack, lane: dict) -> None:
    posted = posts_by_key(fake, lane["channel"], lane["digest"])
    must, may = expected_keys(lane["config"], lane["begin"], lane["end"], lane["stop"],
                              lane["channel"], lane["digest"], set(lane["acked"].values()))
    doubled = {k: n for k, n in posted.items() if n > 1}
    assert not doubled, f"sent more than once: {doubled}\n{lane['bot'].tail()}"
    missing = must - set(posted)
    assert not missing, f"never sent: {sorted(missing)}\n{lane['bot'].tail()}"
    assert set(posted) <= must | may, sorted(set(posted) - must - may)
    url = lane["bot"].database_url
    assert missed_rows(url, posted, may) == []
    stored = updates_in_db(url)
    lost = {w: d for w, d in lane["acked"].items() if stored.get(w) != d}
    assert not lost, f"updates lost: {lost}"
    archive = lane["bot"].folder / "archive" / "daily"
    for words, day in lane["acked"].items():
        notes = archive / f"{day}.md"
        if notes.exists():  # finished meetings: the update made it into the archived notes
            assert words in notes.read_text(), (words, day)
    # At least one whole meeting: announced, called, reminded, compiled, finished and archived.
    whole = [d for d in {k.split("/")[1] for k in must}
             if {f"daily/{d}/{kind}/slack/{lane['channel']}"
                 for kind in ("announcement", "call_for_updates", "reminder:8h")} <= must
             and f"daily/{d}/digest/slack/{lane['digest']}" in must and (archive / f"{d}.md").exists()]
    assert whole and len(lane["acked"]) >= 5, (sorted(must), lane["acked"])


async def test_killed_fifty_times_every_send_goes_out_once(tmp_path, rng):
    async with FakeSlack() as fake:
        shares = [KILLS // len(LANES) + (n < KILLS % len(LANES)) for n in range(len(LANES))]
        lanes = await asyncio.gather(*(
            run_lane(fake, _folder(tmp_path / lane), lane, share, random.Random(rng.random()))
            for lane, share in zip(LANES, shares)))
        for lane in lanes:
            check_lane(fake, lane)
        kills = sum((lane["kills"] for lane in lanes), Counter())
        assert sum(kills.values()) == KILLS
        # Crashes between a post reaching Slack and its row being marked sent happened, and the
        # restarted bot looked before posting again (the counts above found no double).
        retried = sum(lane["bot"].tail(None).count("from a stopped process (attempt 2)")
                      for lane in lanes)
        assert kills["after a post"] >= 3 and retried >= 3, (kills, retried)


def _folder(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


# --- replicas ---------------------------------------------------------------------------------------

# A day in 1.25 s on a quiet machine: one post a day stays under Slack's 1/s a channel.
REPLICA_SPEED = 86400 / 1.25


@pytest.fixture
def postgresql_url():
    if not PG_URL:
        pytest.skip("set CHATBOT_TEST_DATABASE_URL to run the PostgreSQL tests")
    with postgresql_schema(PG_URL) as url:
        yield url


async def test_two_replicas_on_postgresql_send_once_when_the_leader_dies(tmp_path, postgresql_url, rng):
    channel, digest = "C0REPLICA01", "C0REPLICA02"
    # One post a day in each channel: in compressed time more would outrun Slack's pace of one
    # message per second per channel, which the bot keeps to in real time.
    config = series_toml(channel, digest, reminders="[]", skip="2026-03-20")
    (tmp_path / "meetings.toml").write_text(config)
    url = postgresql_url.replace("postgresql+psycopg://", "postgresql://")
    async with FakeSlack(channels={channel: "standup", digest: "notes"}) as fake:
        bots = [Bot(fake, _folder(tmp_path / name), url, REPLICA_SPEED, channel)
                for name in ("a", "b")]
        for bot in bots:
            (bot.folder / "meetings.toml").write_text(config)
        await asyncio.gather(*(bot.calibrate() for bot in bots))
        speed = REPLICA_SPEED / max(bot.slowness for bot in bots)
        begin = DAY0 + timedelta(hours=12, minutes=30)
        first, second = bots
        first.spawn(begin, speed=speed)  # the timeline starts when the first bot is up
        await first.ready()
        await wait_for_log(first, "this process now schedules")
        first.now()
        assert first.origin is not None, first.tail()
        second.spawn(begin, first.origin, speed=speed)
        await second.ready()
        acked: dict[str, date] = {}
        stop = asyncio.Event()
        updating = asyncio.ensure_future(keep_updating(second, "r", acked, stop, every=0.5))
        try:
            await until(first, DAY0 + timedelta(days=15, hours=rng.uniform(0, 24)))
            first.kill()
            await wait_for_log(second, "this process now schedules", timeout=5)
            end = DAY0 + timedelta(days=30, hours=14, minutes=30)
            await until(second, end)
            stop.set()
            await updating
            await all_posted(fake, config, begin, end, channel, digest, acked, second)
            stopped = second.kill()
        finally:
            stop.set()
            for bot in bots:
                if bot.process is not None and bot.process.poll() is None:
                    bot.kill()
        posted = posts_by_key(fake, channel, digest)
        must, may = expected_keys(config, begin, end, stopped, channel, digest,
                                  set(acked.values()))
        meetings = {k.split("/")[1] for k in must if k.split("/")[1] <= str(end.date())}
        assert len(meetings) == 30
        doubled = {k: n for k, n in posted.items() if n > 1}
        assert not doubled, f"sent more than once: {doubled}\n{second.tail()}"
        assert not must - set(posted), (sorted(must - set(posted)), first.tail(), second.tail())
        assert set(posted) <= must | may
        assert missed_rows(url, posted, may) == []
        assert {w: d for w, d in acked.items() if updates_in_db(url).get(w) != d} == {}
        assert acked, "no update got through"


async def wait_for_log(bot: Bot, words: str, timeout: float = 10.0) -> None:
    """Wait until the running bot logs `words`."""
    deadline = time.monotonic() + bot.seconds(timeout)
    while time.monotonic() < deadline:
        if words in bot.tail(None).rsplit(" TEST spawn ", 1)[-1]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{words!r} not in the log:\n{bot.tail()}")


async def until(bot: Bot, instant: datetime) -> None:
    """Wait until the bot's clock reads `instant`."""
    await asyncio.sleep(max(0.0, (instant - bot.now()).total_seconds() / bot.speed))
