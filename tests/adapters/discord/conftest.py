"""A running Discord adapter (the real discord.py client) against the fake Discord, on its own database."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timezone

import pytest
from sqlalchemy import func
from sqlmodel import select

from adapters.discord.bot import DiscordAdapter, create
from adapters.discord.setup import PERMISSIONS
from chatbot.app import build_runtime
from chatbot.schedule.config import parse_config
from chatbot.settings import load_settings
from chatbot.storage.store import session_scope
from tests.conftest import Clock
from tests.fakes.discord import FakeDiscord

TIMEOUT = 5.0
# The first Sunday of March 2026; the next meeting is the third Tuesday, 17 March.
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)

SERIES = """
[[series]]
id = "hubs"
name = "JupyterHub and BinderHub Team Meeting"
schedule = "FREQ=MONTHLY;BYDAY=+3TU"
time = "17:00"
timezone = "UTC"
duration = "60m"
video_url = "https://meet.jit.si/HubsTeamMeeting"
notes_url = "https://hackmd.io/@sgibson91/hubs-team-meeting"

[series.discord]
channel = {channel}
digest_channel = {digest}
"""

SECOND_SERIES = """
[[series]]
id = "binder"
name = "Binder Operations"
schedule = "FREQ=MONTHLY;BYDAY=+1TH"
time = "16:00"
timezone = "Europe/London"
duration = "30m"

[series.discord]
channel = {binder}
"""


class World:
    """A guild where the bot holds exactly the permissions its invite asks for, and no more."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.guild = fake.add_guild(name="Jupyter Community", everyone_permissions=0,
                                    bot_permissions=PERMISSIONS.value)
        self.channel = fake.add_text_channel(self.guild, None, "team-meeting")
        self.digest = fake.add_text_channel(self.guild, None, "meeting-notes")
        self.binder = fake.add_text_channel(self.guild, None, "binder-ops")
        self.elsewhere = fake.add_text_channel(self.guild, None, "random")
        # Names: guild nickname, else global name, else user name.
        self.sarah = fake.add_member(self.guild, None, "sgibson91", global_name="Sarah G", nick="Sarah Gibson")
        self.simon = fake.add_member(self.guild, None, "manics", global_name="Simon Li")
        self.callum = fake.add_member(self.guild, None, "callum")
        self.min = fake.add_member(self.guild, None, "minrk", global_name="Min RK")
        self.erik = fake.add_member(self.guild, None, "consideratio", global_name="Erik Sundell")
        self.rick = fake.add_member(self.guild, None, "rpwagner", global_name="Rick Wagner")
        self.other_bot = fake.add_member(self.guild, None, "otherbot", bot=True)

    def config(self, *, second: bool = False) -> str:
        text = SERIES.format(channel=self.channel, digest=self.digest)
        return text + SECOND_SERIES.format(binder=self.binder) if second else text


class Bot:
    """The adapter under test, and the ways people use it."""

    def __init__(self, fake: FakeDiscord, world: World, runtime, adapter: DiscordAdapter,
                 task: asyncio.Task) -> None:
        self.fake, self.world, self.runtime, self.adapter, self.task = fake, world, runtime, adapter, task

    async def command(self, user: int, command: str, subcommand: str | None = None, /, *,
                      channel: int | None = None, **options) -> str:
        """Run an application command; the text of the (ephemeral) answer."""
        interaction = await self.fake.interaction(self.world.guild, channel or self.world.channel, user,
                                                  command, options or None, subcommand)
        answer = await self.fake.wait_interaction_response(interaction, TIMEOUT, kind="edit_original")
        callback = self.fake.interaction_responses(interaction)[0]
        assert callback.kind == "callback" and callback.type == 5 and callback.ephemeral
        assert answer.ephemeral and answer.data["allowed_mentions"] == {"parse": []}
        return answer.content

    async def settle(self) -> None:
        """Wait until every event sent so far is applied: the gateway keeps their order, so the
        answer to one more command means everything before it has arrived; a reply in a thread
        whose post is not recorded yet waits aside, and the stream is idle once it is applied."""
        await self.command(self.world.sarah, "agenda", "list")
        await asyncio.wait_for(self.adapter.events.idle(), TIMEOUT)

    def count(self, model, *where) -> int:
        with session_scope(self.runtime.db) as session:
            return session.exec(select(func.count()).select_from(model).where(*where)).one()

    async def stop(self) -> None:
        await self.adapter.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, TIMEOUT)


async def start_bot(fake: FakeDiscord, world: World, tmp_path, *, config: str | None = None,
                    platforms=("discord",), database: str = "bot.db", clock=None,
                    token: str | None = None) -> Bot:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / database}",
                             archive_dir=tmp_path / "archive", config_path=tmp_path / "none.toml",
                             discord_token=token or fake.token, discord_api_url=fake.base_url,
                             discord_gateway_url=fake.gateway_url)
    runtime = build_runtime(settings, list(platforms), clock=clock or Clock(NOW),
                            config=parse_config(config or world.config()))
    adapter = create(runtime.port("discord"), guild_ready_timeout=0.05)
    runtime.connect({adapter.platform: adapter.delivery})
    task = asyncio.create_task(adapter.run())
    ready = asyncio.create_task(adapter.ready.wait())
    done, _ = await asyncio.wait({task, ready}, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        ready.cancel()
        await adapter.close()
        task.result()
        raise RuntimeError("the Discord adapter stopped before it was ready")
    if ready not in done:
        ready.cancel()
        await adapter.close()
        raise TimeoutError("the Discord adapter was not ready in time")
    return Bot(fake, world, runtime, adapter, task)


@pytest.fixture(autouse=True)
def _no_discord_environment(monkeypatch):
    for name in ("DISCORD_TOKEN", "DISCORD_API_URL", "DISCORD_GATEWAY_URL", "CHATBOT_CONFIG",
                 "CHATBOT_DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake():
    async with FakeDiscord() as discord_fake:
        yield discord_fake


@pytest.fixture
def world(fake) -> World:
    return World(fake)


@pytest.fixture
async def bots(fake, world, tmp_path):
    """Start bots with `await bots()`; all are stopped at the end of the test."""
    started: list[Bot] = []

    async def start(**options) -> Bot:
        bot = await start_bot(fake, world, tmp_path, **options)
        started.append(bot)
        return bot

    yield start
    for bot in reversed(started):
        await bot.stop()


@pytest.fixture
async def bot(bots) -> Bot:
    return await bots()
