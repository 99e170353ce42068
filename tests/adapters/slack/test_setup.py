"""Credentials: missing or inconsistent ones fail at start, naming the variable, never the secret."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from adapters.slack.app import SlackSetupError, create
from chatbot.app import build_runtime
from chatbot.schedule.config import parse_config
from chatbot.settings import SettingsError, load_settings
from tests.adapters.slack.conftest import SERIES


@pytest.mark.parametrize("given, named", [
    ({"slack_bot_token": "xoxb-1"}, "SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET"),
    ({"slack_app_token": "xapp-1"}, "SLACK_BOT_TOKEN is missing"),
    ({"slack_signing_secret": "s"}, "SLACK_BOT_TOKEN is missing"),
    ({"slack_bot_token": "xapp-1", "slack_signing_secret": "s"}, "SLACK_BOT_TOKEN must be a bot token"),
    ({"slack_bot_token": "xoxb-1", "slack_app_token": "xoxb-2"}, "SLACK_APP_TOKEN must be an app-level token"),
    ({"slack_bot_token": "xoxb-1", "slack_signing_secret": "s", "slack_api_url": "http://x/"},
     "SLACK_API_URL must end in /api/"),
])
def test_inconsistent_settings_name_the_variable(given, named):
    with pytest.raises(SettingsError, match=named.replace("(", r"\(").replace(")", r"\)")):
        load_settings(**given)


def test_the_adapter_refuses_to_build_without_credentials(tmp_path):
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/bot.db")
    runtime = build_runtime(settings, ["slack"], config=parse_config(SERIES))
    with pytest.raises(SlackSetupError, match="SLACK_BOT_TOKEN is missing"):
        create(runtime.port("slack"))


@pytest.mark.parametrize("mode, wrong, named", [
    ("http", {"slack_bot_token": "xoxb-not-the-one"}, "SLACK_BOT_TOKEN was refused by Slack (invalid_auth)"),
    ("socket", {"slack_app_token": "xapp-not-the-one"}, "SLACK_APP_TOKEN was refused by Slack (invalid_auth)"),
])
async def test_refused_tokens_fail_at_start(fake, tmp_path, mode, wrong, named):
    credentials = {"slack_bot_token": fake.bot_token,
                   **({"slack_app_token": fake.app_token} if mode == "socket"
                      else {"slack_signing_secret": fake.signing_secret}), **wrong}
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/bot.db", slack_api_url=fake.base_url,
                             **credentials)
    runtime = build_runtime(settings, ["slack"], config=parse_config(SERIES))
    adapter = create(runtime.port("slack"), port=0)
    runtime.connect({adapter.platform: adapter.delivery})
    with pytest.raises(SlackSetupError) as raised:
        await adapter.start()
    await adapter.close()
    assert named in str(raised.value) and "not-the-one" not in str(raised.value)


async def test_chatbot_run_stops_with_the_variable_named(fake, tmp_path):
    (tmp_path / "meetings.toml").write_text(SERIES)
    env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-not-the-one", "SLACK_SIGNING_SECRET": "s",
           "SLACK_API_URL": fake.base_url, "PORT": "3999", "CHATBOT_CONFIG": str(tmp_path / "meetings.toml"),
           "CHATBOT_DATABASE_URL": f"sqlite:///{tmp_path}/bot.db"}
    chatbot = Path(sys.executable).with_name("chatbot")
    process = await asyncio.create_subprocess_exec(str(chatbot), "run", env=env, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)  # against a hang, however busy
    assert process.returncode == 2, err.decode()
    assert "error: SLACK_BOT_TOKEN was refused by Slack (invalid_auth)" in err.decode()
    assert "not-the-one" not in out.decode() + err.decode()
    assert "Traceback" not in err.decode()
