"""Delivery of the outbox: paced per channel across processes, and one slow channel holding up
no other. Time is the test's own: it moves only when every task waits for it."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime, timezone

import pytest
from sqlmodel import select

from chatbot.app import build_runtime
from chatbot.events import Delivered
from chatbot.schedule.config import parse_config
from chatbot.settings import load_settings
from chatbot.storage import outbox
from chatbot.storage.models import Outbox
from chatbot.storage.pacing import Pace, Pacer
from chatbot.storage.store import session_scope

NOW = datetime(2026, 3, 10, 17, 0, tzinfo=timezone.utc)
SERIES = """
[[series]]
id = "hubs"
name = "Hubs Team Meeting"
schedule = "every 3rd tuesday"
time = "17:00"
[series.slack]
channel = "C0123456789"
"""


class Inline(ThreadPoolExecutor):
    """Runs the database work the dispatcher hands to a thread at once, on the event loop: it then
    takes no time on the test's clock, and nothing runs where the clock cannot see it."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:
            future.set_exception(error)
        return future


class VirtualTime:
    """Seconds for the dispatcher's `wall` and `sleep`. Time jumps to the earliest instant a task
    sleeps until, and wakes it, only once the event loop has nothing else to run."""

    SETTLE = 200  # event loop passes with nothing to run before time moves on

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future]] = []
        self._order = itertools.count()
        self._slept = asyncio.Event()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        woken = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), woken))
        self._slept.set()
        await woken

    async def run(self) -> None:
        while True:
            for _ in range(self.SETTLE):
                await asyncio.sleep(0)
            while self._sleepers and self._sleepers[0][2].done():  # its sleep was cancelled
                heapq.heappop(self._sleepers)
            if not self._sleepers:
                self._slept.clear()
                await self._slept.wait()
                continue
            at, _, woken = heapq.heappop(self._sleepers)
            self.now = max(self.now, at)
            woken.set_result(None)


@pytest.fixture
async def virtual_time():
    asyncio.get_running_loop().set_default_executor(Inline())
    time = VirtualTime()
    ticking = asyncio.ensure_future(time.run())
    yield time
    ticking.cancel()
    await asyncio.gather(ticking, return_exceptions=True)


class Slack:
    """A platform's delivery that records each post with the time it left, and holds posts to one
    channel until the test lets them go."""

    def __init__(self, sent: list, time: VirtualTime) -> None:
        self.sent = sent
        self.time = time
        self.posted = asyncio.Event()
        self.hold: str | None = None
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def post(self, post) -> Delivered:
        left = self.time()
        if post.channel == self.hold:
            self.holding.set()
            await self.release.wait()
        self.sent.append((post.channel, post.kind, left, self))
        self.posted.set()
        return Delivered(f"m{len(self.sent)}")

    async def until(self, done) -> None:
        while not done():
            self.posted.clear()
            await self.posted.wait()


def replica(url, tmp_path, sent: list, pace: Pace, time: VirtualTime):
    settings = load_settings(database_url=url, archive_dir=tmp_path / "archive")
    runtime = build_runtime(settings, ["slack"], clock=lambda: NOW, config=parse_config(SERIES))
    runtime.connect({"slack": Slack(sent, time)}, paces={"slack": pace}, wall=time,
                    sleep=time.sleep)
    return runtime


def enqueue(runtime, channel: str, *kinds: str) -> None:
    with session_scope(runtime.db) as session:
        for kind in kinds:
            outbox.enqueue(session, series_id="hubs", occurrence=date(2026, 3, 17), kind=kind,
                           platform="slack", channel=channel, due=NOW)


def statuses(runtime) -> dict[tuple[str, str], str]:
    with session_scope(runtime.db) as session:
        return {(r.channel, r.kind): r.status for r in session.exec(select(Outbox))}


def test_pacing_spreads_a_fanout_over_the_platform_limits():
    pacer = Pacer(Pace(per_channel=1.0, overall=50.0))
    slots = [pacer.reserve(f"C{n}", 0.0) for n in range(500)]
    assert slots[0] == 0 and slots[-1] == pytest.approx(499 / 50)
    assert all(b - a == pytest.approx(1 / 50) for a, b in zip(slots, slots[1:]))
    again = Pacer(Pace(per_channel=1.0, overall=50.0))
    assert [again.reserve("C1", 0.0) for _ in range(3)] == pytest.approx([0, 1, 2])
    burst = Pacer(Pace(per_channel=1.0, overall=50.0, channel_burst=5))
    assert [round(burst.reserve("C1", 0.0), 3) for _ in range(6)] == [0, 0.02, 0.04, 0.06, 0.08, 1.0]
    # Beyond the horizon nothing is reserved: the next caller still gets the same slot.
    assert burst.reserve("C1", 0.0, within=0.5) is None and burst.reserve("C1", 0.0) == 2.0


async def test_two_processes_keep_to_one_pace_per_channel(database_url, tmp_path, virtual_time):
    sent: list = []
    pace = Pace(per_channel=5.0, overall=1000.0)  # a post every 0.2 s in a channel
    first, second = (replica(database_url, tmp_path, sent, pace, virtual_time) for _ in range(2))
    enqueue(first, "CSHARED", *(f"reminder:{n}m" for n in range(10)))
    enqueue(first, "COTHER", *(f"reminder:{n}m" for n in range(3)))
    await asyncio.gather(first.dispatcher.deliver_due(limit=2),
                         second.dispatcher.deliver_due(limit=2))
    assert len(sent) == 13 and len({(channel, kind) for channel, kind, _, _ in sent}) == 13
    shared = [(left, by) for channel, _, left, by in sent if channel == "CSHARED"]
    assert {by for _, by in shared} == {first.dispatcher.deliveries["slack"],
                                        second.dispatcher.deliveries["slack"]}
    times = sorted(left for left, _ in shared)
    # The posts leave on their slots; with a pace per process the two would post to the channel
    # at the same moment.
    assert min(b - a for a, b in zip(times, times[1:])) >= 0.2 - 1e-9
    assert set(statuses(first).values()) == {"sent"}


async def test_a_channel_that_waits_holds_up_no_other(sqlite_url, tmp_path, virtual_time):
    sent: list = []
    runtime = replica(sqlite_url, tmp_path, sent, Pace(per_channel=100.0, overall=1000.0),
                      virtual_time)
    slack, dispatcher = runtime.dispatcher.deliveries["slack"], runtime.dispatcher
    slack.hold = "CSLOW"  # as when the platform answers 429 with a long Retry-After
    enqueue(runtime, "CSLOW", "reminder:1h")
    dispatcher.kick()
    await asyncio.wait_for(slack.holding.wait(), 5)
    enqueue(runtime, "CSLOW", "reminder:10m")
    enqueue(runtime, "CA", "reminder:1h", "reminder:10m")
    enqueue(runtime, "CB", "reminder:1h")
    dispatcher.kick()
    await asyncio.wait_for(slack.until(lambda: len(sent) == 3), 5)
    assert sorted((channel, kind) for channel, kind, _, _ in sent) == [
        ("CA", "reminder:10m"), ("CA", "reminder:1h"), ("CB", "reminder:1h")]
    # The slow channel's next post is not taken while it waits: it stays free for another process.
    assert statuses(runtime)[("CSLOW", "reminder:1h")] == "sending"
    assert statuses(runtime)[("CSLOW", "reminder:10m")] == "pending"
    slack.release.set()
    await asyncio.wait_for(dispatcher.idle(), 5)
    assert [kind for channel, kind, _, _ in sent if channel == "CSLOW"] == ["reminder:1h",
                                                                          "reminder:10m"]
    assert len(sent) == 5 and len({(channel, kind) for channel, kind, _, _ in sent}) == 5
    assert set(statuses(runtime).values()) == {"sent"}
