"""Benchmark: 500 series in 500 channels, all due at one instant, through a rate-limited Slack.

    python bench/fanout.py [--series 500] [--database sqlite|postgresql://...]

The fake Slack allows 1 message per second per channel and 50 per second overall and answers
429 beyond that. The bot's scheduler plans the sends, the outbox claims them and the real Slack
adapter posts them, paced by the dispatcher. Printed: the time to deliver all against the bound
the limit implies (series / 50 per second), the same against a bare client that posts the same
messages at exactly the allowed rate, the 429s received, and any send lost or doubled.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402

from adapters.slack.app import create  # noqa: E402
from chatbot.app import build_runtime  # noqa: E402
from chatbot.schedule.config import parse_config  # noqa: E402
from chatbot.settings import load_settings  # noqa: E402
from tests.databases import empty_database  # noqa: E402
from tests.fakes.slack import FakeSlack  # noqa: E402

PER_CHANNEL, OVERALL = 1.0, 50.0
UTC = timezone.utc
# Every series meets on the third Tuesday at 17:00 UTC; with no reminders, the one post of the
# next meeting (the call for updates, 14 days ahead) falls due for all of them at the same instant.
DUE = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)


def config(series: int) -> str:
    return "".join(f"""
[[series]]
id = "s{n:04d}"
name = "Series {n}"
schedule = "every 3rd tuesday"
time = "17:00"
reminders = []
[series.slack]
channel = "{channel(n)}"
""" for n in range(series))


def channel(n: int) -> str:
    return f"C0FAN{n:05d}"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def bare(fake: FakeSlack, series: int) -> float:
    """The same posts from a plain client at exactly the allowed rate: no database, no outbox."""
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.base_url)
    start = time.perf_counter()

    async def one(n: int) -> None:
        await asyncio.sleep(start + n / OVERALL - time.perf_counter())
        await client.chat_postMessage(channel=channel(n), text=f"bare {n}")

    await asyncio.gather(*(one(n) for n in range(series)))
    return time.perf_counter() - start


async def through_the_bot(fake: FakeSlack, series: int, database: str, folder: Path) -> float:
    settings = load_settings(database_url=database, archive_dir=folder / "archive",
                             slack_bot_token=fake.bot_token, slack_signing_secret=fake.signing_secret,
                             slack_api_url=fake.base_url)
    clock = Clock(DUE - timedelta(hours=1))
    runtime = build_runtime(settings, ["slack"], clock=clock, config=parse_config(config(series)))
    adapter = create(runtime.port("slack"))  # its delivery only: nothing needs to reach the bot here
    runtime.connect({"slack": adapter.delivery})
    await runtime.scheduler.step()  # plans every series; nothing is due yet
    await runtime.dispatcher.idle()
    clock.now = DUE
    start = time.perf_counter()
    await runtime.scheduler.step()
    await runtime.dispatcher.idle()
    elapsed = time.perf_counter() - start
    runtime.scheduler.locks.close()
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--database", default="sqlite", help="sqlite, or a PostgreSQL URL (a new schema is used)")
    args = parser.parse_args()
    channels = {channel(n): f"fan-{n}" for n in range(args.series)}
    bound = args.series / OVERALL
    with tempfile.TemporaryDirectory() as folder, empty_database(args.database, Path(folder)) as database:
        async with FakeSlack(channels=channels) as fake:
            fake.enforce_channel_rate(per_second=PER_CHANNEL, overall_per_second=OVERALL)
            baseline = await bare(fake, args.series)
            bare_429 = fake.count_429
            fake.enforce_channel_rate(per_second=PER_CHANNEL, overall_per_second=OVERALL)
            await asyncio.sleep(1.5)  # every bucket full again
            fake.count_429 = 0
            before = {c: len(fake.messages(c)) for c in channels}
            elapsed = await through_the_bot(fake, args.series, database, Path(folder))
            keys = Counter(
                m["metadata"]["event_payload"]["key"]
                for c in channels for m in fake.messages(c)[before[c]:] if m.get("metadata"))
    lost = args.series - len(keys)
    doubled = sum(n - 1 for n in keys.values() if n > 1)
    backend = "sqlite" if args.database == "sqlite" else "postgresql"
    print(f"fanout: {args.series} series in {args.series} channels due at one instant, "
          f"Slack limits {PER_CHANNEL:g}/s per channel and {OVERALL:g}/s overall ({backend})")
    print(f"  bound the limit implies  {bound:8.2f} s")
    print(f"  bare paced client        {baseline:8.2f} s   ratio {baseline / bound:5.3f}   "
          f"429s {bare_429}")
    print(f"  through the bot          {elapsed:8.2f} s   ratio {elapsed / bound:5.3f} "
          f"(target <= 1.05)   vs bare {elapsed / baseline:5.3f}   429s {fake.count_429}")
    print(f"  sends lost {lost}, doubled {doubled}")
    if lost or doubled:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
