"""Benchmark: signed thread-reply events into the bot's HTTP endpoint, against a bare bolt app.

    python bench/slack_events.py [--n 2000] [--concurrency 16] [--people 50] [--rounds 3] [--database sqlite|postgresql://...]

N signed Events API requests (replies in the call-for-updates thread) are POSTed to the bot's real
`/slack/events` endpoint, and the same number to a bare bolt AsyncApp whose listener only acks,
both served by aiohttp on 127.0.0.1 and driven from the same process, alternating, best of the
rounds. The bot acks first and stores after the ack, so it is timed twice: until every request
was answered (acks/s, latency), and until every reply is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from slack_bolt.async_app import AsyncApp  # noqa: E402
from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlmodel import select  # noqa: E402

from adapters.slack.app import create  # noqa: E402
from chatbot.app import build_runtime  # noqa: E402
from chatbot.storage.models import Update  # noqa: E402
from chatbot.schedule.config import parse_config  # noqa: E402
from chatbot.settings import load_settings  # noqa: E402
from chatbot.storage.store import session_scope  # noqa: E402
from tests.databases import empty_database  # noqa: E402
from tests.fakes.slack import FakeSlack, event_callback, message_event, signed_request  # noqa: E402

CHANNEL = "C0BENCH0001"
CONFIG = f"""
[[series]]
id = "bench"
name = "Benchmark Meeting"
schedule = "every 3rd tuesday"
time = "17:00"

[series.slack]
channel = "{CHANNEL}"
"""
TEXT = "Worked on the release, see <https://github.com/org/repo/pull/{n}> for the details &amp; more"


def requests(fake: FakeSlack, thread: str, people: list[str], count: int, start: int) -> list[tuple[bytes, dict]]:
    """Signed bodies made before the clock starts: signing is Slack's work, not the app's."""
    return [signed_request(fake.signing_secret, json_body=event_callback(message_event(
        CHANNEL, people[n % len(people)], TEXT.format(n=n), thread_ts=thread, escape_text=False)))
        for n in range(start, start + count)]


async def fire(url: str, batch: list[tuple[bytes, dict]], concurrency: int) -> tuple[float, list[float]]:
    """POST every request, `concurrency` at a time; (seconds for all, each request's latency)."""
    latencies: list[float] = []
    queue = iter(batch)

    async def worker(session: aiohttp.ClientSession) -> None:
        for body, headers in queue:
            began = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{url} answered {response.status}")
            latencies.append(time.perf_counter() - began)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        return time.perf_counter() - began, latencies


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"


def bare_app(fake: FakeSlack) -> AsyncApp:
    app = AsyncApp(client=AsyncWebClient(token=fake.bot_token, base_url=fake.base_url),
                   signing_secret=fake.signing_secret)

    @app.event("message")
    async def only_ack() -> None:  # events are acked by bolt before a listener runs
        return None

    return app


def stored(runtime) -> int:
    with session_scope(runtime.db) as session:
        return session.exec(select(func.count()).select_from(Update)).one()


async def open_thread(fake: FakeSlack, runtime, adapter, url: str) -> str:
    form = fake.slash_command("/meeting", "remind", "U0", CHANNEL)
    status, _ = await fake.post_to_app(url, form=form)
    assert status == 200
    (parent,) = await fake.wait_for_messages(CHANNEL)
    await adapter.idle()
    assert runtime.engine.knows_post("slack", parent["ts"])
    return parent["ts"]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def main(count: int, concurrency: int, people_count: int, rounds: int, database: str) -> None:
    logging.basicConfig(level=logging.WARNING)
    async with FakeSlack(channels={CHANNEL: "meeting"}) as fake:
        people = [f"U{n}" for n in range(people_count)]
        for n, person in enumerate(people):
            fake.add_user(person, real_name=f"Person {n}", display_name=f"Person {n}")
        with tempfile.TemporaryDirectory() as folder, empty_database(database, Path(folder)) as url:
            settings = load_settings(database_url=url, config_path=Path(folder) / "none",
                                     archive_dir=Path(folder) / "archive", slack_bot_token=fake.bot_token,
                                     slack_signing_secret=fake.signing_secret, slack_api_url=fake.base_url,
                                     log_level="WARNING")
            runtime = build_runtime(settings, ["slack"], config=parse_config(CONFIG))
            adapter = create(runtime.port("slack"), host="127.0.0.1", port=0)
            runtime.connect({"slack": adapter.delivery})
            await adapter.start()
            bot_url = f"http://127.0.0.1:{adapter.port}/slack/events"
            bare_runner, bare_url = await serve(bare_app(fake).web_app())
            try:
                thread = await open_thread(fake, runtime, adapter, bot_url)
                # One warm-up request each: bolt's auth.test and the first users.info look-ups.
                await fire(bare_url, requests(fake, thread, people, people_count, 0), concurrency)
                await fire(bot_url, requests(fake, thread, people, people_count, 0), concurrency)
                await adapter.idle()
                sent = people_count
                bare, ours = [], []
                for _ in range(rounds):
                    batch = requests(fake, thread, people, count, sent)
                    bare.append(await fire(bare_url, batch, concurrency))
                    batch = requests(fake, thread, people, count, sent)
                    sent += count
                    before = stored(runtime)
                    began = time.perf_counter()
                    acked, latencies = await fire(bot_url, batch, concurrency)
                    await adapter.idle()
                    done = time.perf_counter() - began
                    assert stored(runtime) == before + count, "every reply is stored once"
                    ours.append((acked, latencies, done))
            finally:
                await bare_runner.cleanup()
                await adapter.close()

    bare_time, bare_latencies = min(bare, key=lambda r: r[0])
    our_time, our_latencies, _ = min(ours, key=lambda r: r[0])
    stored_time = min(r[2] for r in ours)
    bare_rate, ack_rate, store_rate = count / bare_time, count / our_time, count / stored_time

    def latency(values: list[float]) -> str:
        return (f"p50 {statistics.median(values) * 1000:6.2f} ms   "
                f"p99 {percentile(values, 0.99) * 1000:6.2f} ms")

    print(f"{count} signed thread-reply events, {concurrency} in flight, {people_count} people, "
          f"{'SQLite' if database == 'sqlite' else 'PostgreSQL'}, best of {rounds} rounds")
    print(f"  bare bolt app, acks:        {bare_rate:8,.0f} events/s   {latency(bare_latencies)}")
    print(f"  meeting bot, acks:          {ack_rate:8,.0f} events/s   {latency(our_latencies)}")
    print(f"  meeting bot, all stored:    {store_rate:8,.0f} events/s   "
          f"(acks plus the work after them)")
    print(f"  ratio acks (bare / bot):    {bare_rate / ack_rate:8.2f}   (target <= 1.3)")
    print(f"  ratio stored (bare / bot):  {bare_rate / store_rate:8.2f}")
    print(json.dumps({"n": count, "bare_per_s": round(bare_rate), "ack_per_s": round(ack_rate),
                      "stored_per_s": round(store_rate), "ratio_ack": round(bare_rate / ack_rate, 2),
                      "ratio_stored": round(bare_rate / store_rate, 2)}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="events per round")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default="sqlite", help="sqlite, or a PostgreSQL URL (a new schema is used)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.n, arguments.concurrency, arguments.people, arguments.rounds, arguments.database))
