"""One series on Slack and Discord at once, in one process: one meeting, one roster, one set of notes."""

from __future__ import annotations

import asyncio
import contextlib
import json

from adapters.discord.bot import create as create_discord
from adapters.slack.app import create as create_slack
from chatbot.app import build_runtime
from chatbot.storage.models import Outbox, Person
from chatbot.schedule.config import parse_config
from chatbot.settings import load_settings
from tests.adapters.discord.conftest import NOW, SERIES, TIMEOUT, Bot
from tests.conftest import Clock
from tests.fakes.slack import FakeSlack, event_callback

SLACK_CHANNEL, SLACK_DIGEST = "C0123456789", "C0987654321"


async def test_one_series_on_slack_and_discord_makes_one_set_of_notes(fake, world, tmp_path):
    config = SERIES.format(channel=world.channel, digest=world.digest) + (
        f'\n[series.slack]\nchannel = "{SLACK_CHANNEL}"\ndigest_channel = "{SLACK_DIGEST}"\n')
    async with FakeSlack(channels={SLACK_CHANNEL: "meetings", SLACK_DIGEST: "meeting-notes"}) as slack:
        slack.add_user("USARAH", name="sgibson91", real_name="Sarah Gibson", display_name="Sarah Gibson")
        slack.add_user("UCALLUM", name="callum", real_name="Callum", display_name="Callum")
        settings = load_settings(
            database_url=f"sqlite:///{tmp_path / 'bot.db'}", archive_dir=tmp_path / "archive",
            config_path=tmp_path / "none.toml", discord_token=fake.token, discord_api_url=fake.api_base,
            discord_gateway_url=fake.gateway_url, slack_bot_token=slack.bot_token,
            slack_signing_secret=slack.signing_secret, slack_api_url=slack.base_url)
        runtime = build_runtime(settings, ["slack", "discord"], clock=Clock(NOW), config=parse_config(config))
        on_slack = create_slack(runtime.port("slack"), host="127.0.0.1", port=0)
        on_discord = create_discord(runtime.port("discord"), guild_ready_timeout=0.05)
        runtime.connect({"slack": on_slack.delivery, "discord": on_discord.delivery})
        await on_slack.start()
        task = asyncio.create_task(on_discord.run())
        await asyncio.wait_for(on_discord.ready.wait(), TIMEOUT)
        bot = Bot(fake, world, runtime, on_discord, task)
        url = f"http://127.0.0.1:{on_slack.port}/slack/events"

        async def slack_command(user: str, command: str, text: str) -> str:
            status, body = await slack.post_to_app(url, form=slack.slash_command(command, text, user, SLACK_CHANNEL))
            assert status == 200, body
            await on_slack.idle()
            return json.loads(body)["text"] if body.startswith("{") else body

        async def slack_reply(user: str, text: str, thread_ts: str) -> None:
            event = slack.user_posts(SLACK_CHANNEL, user, text, thread_ts)
            status, body = await slack.post_to_app(url, json_body=event_callback(event))
            assert status == 200, body
            await on_slack.idle()

        try:
            # The same GitHub handle on both platforms is one person.
            await slack_command("USARAH", "/meeting", "profile Sarah Gibson / 2i2c / @sgibson91")
            await bot.command(world.sarah, "meeting", "profile", name="Sarah Gibson", institution="2i2c",
                              github="sgibson91")
            assert bot.count(Person) == 1

            # One call for updates, posted on both platforms.
            assert "Posting the call for updates" in await bot.command(world.sarah, "meeting", "remind")
            (thread,) = await fake.wait_until(lambda: fake.threads(world.channel), TIMEOUT, "the Discord thread")
            await slack.wait_for_call("chat.postMessage")
            (parent,) = slack.messages(SLACK_CHANNEL)

            await fake.user_message(int(thread["id"]), world.simon, "Z2JH 2.0.0-beta.1 almost ready")
            await fake.user_message(int(thread["id"]), world.sarah, "starting as Strategic Lead (from Discord)")
            await bot.settle()
            await slack_reply("USARAH", "and the hubs survey is out (from Slack)", parent["ts"])
            await slack_reply("UCALLUM", "apologies, cannot attend: redeploying Turing's binder", parent["ts"])
            await bot.settle()
            await slack_command("UCALLUM", "/celebrate", "mybinder.org-deploy updated")
            await bot.command(world.min, "agenda", "add", text="(~5min) JupyterHub 3.0")
            assert "Agenda: 5 of 58 min" in await slack_command("USARAH", "/agenda", "list")

            # One compile, one digest per platform, the same notes on both.
            await bot.command(world.sarah, "meeting", "compile")
            digest = await fake.wait_for_message(world.digest, lambda m: m["attachments"])
            await slack.wait_for(lambda: slack.files, what="the notes file on Slack")
            await fake.wait_until(lambda: bot.count(Outbox, Outbox.kind == "digest", Outbox.status == "sent") == 2,
                                  TIMEOUT, "both digests recorded")
            on_discord_notes = fake.message_files(digest)[0][1].decode()
            assert on_discord_notes == slack.files[0]["content"].decode()
            for line in ("- **Sarah Gibson** starting as Strategic Lead (from Discord)",
                         "    - and the hubs survey is out (from Slack)",
                         "- **Simon Li** Z2JH 2.0.0-beta.1 almost ready",
                         "- **Callum** apologies, cannot attend: redeploying Turing's binder",
                         "- **Callum** mybinder.org-deploy updated",
                         "- **Min RK** (~5min) JupyterHub 3.0"):
                assert line in on_discord_notes.splitlines(), line
        finally:
            await on_discord.close()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, TIMEOUT)
            await on_slack.close()
