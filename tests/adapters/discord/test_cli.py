"""`chatbot discord-invite` and `chatbot discord-sync`."""

from __future__ import annotations

import asyncio
import base64
from urllib.parse import parse_qs, urlsplit

import typer
from typer.testing import CliRunner

from adapters.discord.cli import register
from chatbot.cli import PluginHost
from adapters.discord.translate import command_tree
from chatbot.storage.store import create_db_engine, get_value, session_scope


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app, PluginHost())
    return app


def test_invite_asks_for_exactly_the_permissions_used():
    token = base64.b64encode(b"1234567890123456789").decode().rstrip("=") + ".GaBcDe.abcdefghijklmnopqrstuvwxyz0123"
    result = CliRunner().invoke(_app(), ["discord-invite"], env={"DISCORD_TOKEN": token})
    assert result.exit_code == 0, result.output
    url = result.stdout.strip().splitlines()[-1]
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://discord.com/oauth2/authorize?")
    assert query["client_id"] == ["1234567890123456789"]
    assert query["scope"] == ["bot applications.commands"]
    wanted = (1 << 10) | (1 << 11) | (1 << 15) | (1 << 16) | (1 << 35) | (1 << 38)
    assert query["permissions"] == [str(wanted)]  # view, send, attach, history, threads
    assert token not in result.output


def test_invite_without_a_token_says_what_to_do():
    result = CliRunner().invoke(_app(), ["discord-invite"], env={"DISCORD_TOKEN": ""})
    assert result.exit_code == 2 and "--application-id" in result.output
    result = CliRunner().invoke(_app(), ["discord-invite", "--application-id", "42"], env={"DISCORD_TOKEN": ""})
    assert result.exit_code == 0 and "client_id=42&" in result.stdout


async def test_sync_to_one_guild_on_demand(fake, world, tmp_path):
    config = tmp_path / "meetings.toml"
    config.write_text(world.config())
    database = f"sqlite:///{tmp_path / 'bot.db'}"
    env = {"DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.base_url, "CHATBOT_DATABASE_URL": database,
           "CHATBOT_CONFIG": str(config)}
    result = await asyncio.to_thread(CliRunner().invoke, _app(), ["discord-sync", "--guild", str(world.guild)],
                                     env=env)
    assert result.exit_code == 0, result.output
    assert "Synced 5 slash commands to server" in result.stdout
    (sync,) = fake.command_syncs
    assert sync.guild_id == world.guild and sync.commands == command_tree()
    with session_scope(create_db_engine(database)) as session:
        assert get_value(session, key=f"discord.command_tree_hash:guild:{world.guild}")

    env["DISCORD_TOKEN"] = "not-the-token"
    result = await asyncio.to_thread(CliRunner().invoke, _app(), ["discord-sync"], env=env)
    assert result.exit_code == 2 and "syncing the commands failed" in result.output
    assert "not-the-token" not in result.output
