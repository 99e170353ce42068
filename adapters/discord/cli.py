"""`chatbot discord-invite` and `chatbot discord-sync`, added to the command line by entry point.

discord.py is imported only by the commands that use it, so `chatbot --help` stays quick.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from pathlib import Path
from typing import Annotated, Optional

import typer

from chatbot.ports import CommandLine, KeyValues

ConfigOption = Annotated[Optional[Path], typer.Option("--config", help="meetings TOML file "
                                                      "(default: $CHATBOT_CONFIG or meetings.toml)")]


def application_id_from_token(token: str) -> int | None:
    """A bot token starts with its user id in base64, and a bot's user id is its application id."""
    head = token.split(".", 1)[0]
    try:
        text = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return int(text) if text.isdigit() else None


def register(cli: typer.Typer, host: CommandLine) -> None:
    @cli.command("discord-invite")
    def invite(application_id: Annotated[Optional[int], typer.Option(
            "--application-id", help="the Discord application id (default: read from DISCORD_TOKEN)")] = None):
        """Print the URL that adds the bot to a server, with exactly the permissions it uses."""
        if application_id is None:
            token = host.settings().discord_token
            application_id = application_id_from_token(token.get_secret_value()) if token else None
            if application_id is None:
                host.fail("set DISCORD_TOKEN or pass --application-id (the Application ID on the "
                          "Discord developer portal's General Information page)")
        from adapters.discord import setup

        names = ", ".join(name.replace("_", " ") for name, value in setup.PERMISSIONS if value)
        typer.echo(f"Permissions: {names}; scopes: {', '.join(setup.SCOPES)}.", err=True)
        typer.echo(setup.invite_url(application_id))

    @cli.command("discord-sync")
    def sync(config: ConfigOption = None,
             guild: Annotated[Optional[int], typer.Option(
                 "--guild", help="sync to this server only (appears at once; for testing)")] = None):
        """Register the slash commands with Discord now (the bot also does it when they change)."""
        from adapters.discord import setup

        settings = host.settings(config)
        if settings.discord_token is None:
            host.fail("DISCORD_TOKEN is not set")
        values = host.values(settings)
        try:
            asyncio.run(_sync(settings, values, guild))
        except Exception as error:  # discord.HTTPException, LoginFailure: say what Discord said
            host.fail(f"syncing the commands failed: {error}")
        where = f"server {guild}" if guild is not None else "every server (global)"
        typer.echo(f"Synced {len(setup.translate.command_tree())} slash commands to {where}.")


async def _sync(settings, values: KeyValues, guild_id: int | None) -> None:
    import discord

    from adapters.discord import setup

    with setup.pointed_at(settings):
        client = discord.Client(intents=setup.intents())  # REST only: it never connects
        try:
            await client.login(settings.discord_token.get_secret_value())
            await setup.sync_commands(client, values, guild_id=guild_id, force=True)
        finally:
            await client.close()
