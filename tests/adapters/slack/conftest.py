"""A running Slack adapter against the fake Slack, in HTTP or Socket Mode, on its own database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func
from sqlmodel import select

from adapters.slack.app import create
from chatbot.app import build_runtime
from chatbot.schedule.config import parse_config
from chatbot.settings import load_settings
from chatbot.storage.store import session_scope
from tests.fakes.slack import FakeSlack, event_callback

CH = "C0123456789"
DIGEST = "C0987654321"
BINDER = "C0BINDER001"
ELSEWHERE = "C0RANDOM001"

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

[series.slack]
channel = "C0123456789"
digest_channel = "C0987654321"
"""

SECOND_SERIES = """
[[series]]
id = "binder"
name = "Binder Operations"
schedule = "FREQ=MONTHLY;BYDAY=+1TH"
time = "16:00"
timezone = "Europe/London"
duration = "30m"

[series.slack]
channel = "C0BINDER001"
"""

PEOPLE = {
    "USARAH": ("Sarah Gibson", "sgibson91"),
    "USIMON": ("Simon Li", "manics"),
    "UCALLUM": ("Callum", "callum"),
    "UMIN": ("Min RK", "minrk"),
    "UERIK": ("Erik Sundell", "consideratio"),
    "URICK": ("Rick Wagner", "rpwagner"),
}


class Bot:
    """Drives the adapter as Slack would, over HTTP or the Socket Mode WebSocket."""

    def __init__(self, fake: FakeSlack, runtime, adapter, mode: str) -> None:
        self.fake, self.runtime, self.adapter, self.mode = fake, runtime, adapter, mode

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.adapter.port}/slack/events"

    async def command(self, user: str, command: str, text: str = "", channel: str = CH, **form) -> str:
        """Run a slash command; the text of the (ephemeral) answer in the ack."""
        payload = self.fake.slash_command(command, text, user, channel, **form)
        if self.mode == "http":
            status, body = await self.fake.post_to_app(self.url, form=payload)
            assert status == 200, body
            answer = json.loads(body)["text"] if body.startswith("{") else body
        else:
            ack = await (await self.fake.send_envelope("slash_commands", payload))
            answer = (ack.get("payload") or {}).get("text", "")
        await self.adapter.idle()
        return answer

    async def deliver(self, event: dict, *, retry_num: int | None = None, event_id: str | None = None) -> None:
        """Deliver a message event (or a whole event_callback body) as the Events API does."""
        body = event if event.get("type") == "event_callback" else event_callback(event, event_id=event_id)
        if self.mode == "http":
            status, text = await self.fake.post_to_app(self.url, json_body=body, retry_num=retry_num)
            assert status == 200, text
        else:
            await (await self.fake.send_envelope("events_api", body, retry_attempt=retry_num))
        await self.adapter.idle()

    async def reply(self, user: str, text: str, thread_ts: str, *, escape_text: bool = True) -> dict:
        event = self.fake.user_posts(CH, user, text, thread_ts, escape_text=escape_text)
        await self.deliver(event)
        return event

    def count(self, model) -> int:
        with session_scope(self.runtime.db) as session:
            return session.exec(select(func.count()).select_from(model)).one()


def new_bot(fake: FakeSlack, tmp_path, mode: str, config: str = SERIES, *, adapter: dict | None = None,
            **options) -> Bot:
    """A bot on the database in tmp_path (kept across restarts), its adapter not started yet;
    `adapter` holds options for the adapter, the others are the runtime's."""
    credentials = ({"slack_app_token": fake.app_token} if mode == "socket"
                   else {"slack_signing_secret": fake.signing_secret})
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/bot.db", archive_dir=tmp_path / "archive",
                             slack_bot_token=fake.bot_token, slack_api_url=fake.base_url, **credentials)
    runtime = build_runtime(settings, ["slack"], config=parse_config(config), **options)
    slack = create(runtime.port("slack"), host="127.0.0.1", port=0, **(adapter or {}))
    runtime.connect({slack.platform: slack.delivery})
    return Bot(fake, runtime, slack, mode)


async def start_bot(fake: FakeSlack, tmp_path, mode: str, config: str = SERIES, **options) -> Bot:
    bot = new_bot(fake, tmp_path, mode, config, **options)
    await bot.adapter.start()
    if mode == "socket":
        await fake.wait_for_socket()
    return bot


@pytest.fixture(autouse=True)
def _no_slack_environment(monkeypatch):
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL", "PORT",
                 "CHATBOT_CONFIG", "CHATBOT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake():
    async with FakeSlack(channels={CH: "meetings", DIGEST: "meeting-notes", BINDER: "binder-ops",
                                   ELSEWHERE: "random"}) as slack:
        for user_id, (real, handle) in PEOPLE.items():
            slack.add_user(user_id, name=handle, real_name=real, display_name=real)
        yield slack


@pytest.fixture(params=["http", "socket"])
async def bot(request, fake, tmp_path):
    started = await start_bot(fake, tmp_path, request.param)
    yield started
    await started.adapter.close()
