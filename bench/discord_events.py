"""Benchmark: thread replies from the Discord gateway into the bot, against a bare discord.py client.

    python bench/discord_events.py [--events 2000] [--people 50] [--rounds 5] [--database sqlite|postgresql://...]

The fake Discord on 127.0.0.1 sends N MESSAGE_CREATE events, replies in the call-for-updates
thread, over its gateway WebSocket. The baseline is a discord.py Client whose on_message does
nothing, timed until it has received all N; the bot is timed until all N updates are stored.
Both run in the same process and the same run, alternating, best of the rounds.

The fake makes each round's messages before the clock starts and then writes them all at once,
so what is timed is the client's work, not the fake's: with the fake's own work in the window
(as this benchmark first did) both sides carried the same large constant and the ratio looked
smaller than the bot's real cost.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import discord  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlmodel import select  # noqa: E402

from adapters.discord.bot import create  # noqa: E402
from adapters.discord.setup import PERMISSIONS, intents  # noqa: E402
from chatbot.app import build_runtime  # noqa: E402
from chatbot.storage.models import Update  # noqa: E402
from chatbot.schedule.config import parse_config  # noqa: E402
from chatbot.settings import load_settings  # noqa: E402
from chatbot.storage.store import session_scope  # noqa: E402
from tests.databases import empty_database  # noqa: E402
from tests.fakes.discord import FakeDiscord  # noqa: E402

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
CONFIG = """
[[series]]
id = "bench"
name = "Benchmark Meeting"
schedule = "every 3rd tuesday"
time = "17:00"

[series.discord]
channel = {channel}
"""
TEXT = "Worked on the release, see https://github.com/org/repo/pull/{n} for the details"


async def burst(fake: FakeDiscord, thread: int, people: list[int], events: int, start: int) -> float:
    """The replies, made in the fake but held back, then written all at once: when they went.
    A full collection first, so that neither side's clock starts with the collector owing a pass
    over the fake's growing store of messages (it lives in this process, and is not timed)."""
    fake.hold()
    for n in range(start, start + events):
        await fake.user_message(thread, people[n % len(people)], TEXT.format(n=n))
    gc.collect()
    began = time.perf_counter()
    await fake.release()
    return began


async def until(check, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError("the events did not all arrive")
        await asyncio.sleep(0.0005)


async def bare_round(fake: FakeDiscord, thread: int, people: list[int], events: int, start: int) -> float:
    received = 0

    client = discord.Client(intents=intents(), max_messages=None, guild_ready_timeout=0.05)

    @client.event
    async def on_message(message):
        nonlocal received
        received += 1

    with fake.redirect():
        async with fake.run(client):
            began = await burst(fake, thread, people, events, start)
            await until(lambda: received >= events, 120)
            return time.perf_counter() - began


async def bot_round(fake: FakeDiscord, runtime, thread: int, people: list[int], events: int,
                    start: int) -> float:
    def stored() -> int:
        with session_scope(runtime.db) as session:
            return session.exec(select(func.count()).select_from(Update)).one()

    adapter = create(runtime.port("discord"), guild_ready_timeout=0.05)
    runtime.connect({"discord": adapter.delivery})
    task = asyncio.create_task(adapter.run())
    try:
        await asyncio.wait_for(adapter.ready.wait(), 10)
        await until(lambda: adapter.settled, 120)  # the catch-up at start is not what is timed
        before = stored()
        target = adapter.handled + events
        began = await burst(fake, thread, people, events, start)
        await until(lambda: adapter.handled >= target, 120)
        elapsed = time.perf_counter() - began
        assert stored() == before + events, "every reply is stored once"
        return elapsed
    finally:
        await adapter.close()
        await asyncio.gather(task, return_exceptions=True)


async def main(events: int, people_count: int, rounds: int, database: str) -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("discord").setLevel(logging.ERROR)  # no voice-support notices per client
    async with FakeDiscord() as fake:
        guild = fake.add_guild(name="Bench", everyone_permissions=0, bot_permissions=PERMISSIONS.value)
        channel = fake.add_text_channel(guild, None, "meeting")
        people = [fake.add_member(guild, None, f"person{n}", global_name=f"Person {n}")
                  for n in range(people_count)]
        with tempfile.TemporaryDirectory() as folder, empty_database(database, Path(folder)) as url:
            settings = load_settings(database_url=url, config_path=Path(folder) / "none",
                                     archive_dir=Path(folder) / "archive", discord_token=fake.token,
                                     discord_api_url=fake.api_base, discord_gateway_url=fake.gateway_url)
            runtime = build_runtime(settings, ["discord"], clock=lambda: NOW,
                                    config=parse_config(CONFIG.format(channel=channel)))
            thread = await open_thread(fake, runtime, guild, channel, people[0])
            # The bare client gets a thread of its own: the bot reads its own threads back at
            # start, and the bare rounds' messages are not part of what it is timed on.
            elsewhere = (await fake.create_thread(channel, "bare client", owner_id=people[0]))["id"]

            bare, ours, sent = [], [], 0
            for _ in range(rounds):
                bare.append(await bare_round(fake, int(elsewhere), people, events, sent))
                sent += events
                ours.append(await bot_round(fake, runtime, thread, people, events, sent))
                sent += events
    bare_rate, our_rate = events / min(bare), events / min(ours)
    backend = "sqlite" if database == "sqlite" else "postgresql"
    print(f"{events} thread replies from {people_count} people, best of {rounds} rounds ({backend})")
    print(f"  bare discord.py client: {bare_rate:10,.0f} events/s")
    print(f"  meeting bot (stored):   {our_rate:10,.0f} events/s")
    print(f"  ratio (bare / bot):     {bare_rate / our_rate:10.2f}   (target <= 1.5)")


async def open_thread(fake: FakeDiscord, runtime, guild: int, channel: int, person: int) -> int:
    """The call for updates, posted by the bot itself: replies in its thread are updates."""
    adapter = create(runtime.port("discord"), guild_ready_timeout=0.05)
    runtime.connect({"discord": adapter.delivery})
    task = asyncio.create_task(adapter.run())
    try:
        await asyncio.wait_for(adapter.ready.wait(), 10)
        interaction = await fake.interaction(guild, channel, person, "meeting", None, "remind")
        await fake.wait_interaction_response(interaction, kind="edit_original")
        (thread,) = await fake.wait_until(lambda: fake.threads(channel), 10, "the updates thread")
        while not runtime.engine.knows_post("discord", thread["id"]):
            await asyncio.sleep(0.01)
        return int(thread["id"])
    finally:
        await adapter.close()
        await asyncio.gather(task, return_exceptions=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", default="sqlite", help="sqlite, or a PostgreSQL URL (a new schema is used)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events, arguments.people, arguments.rounds, arguments.database))
