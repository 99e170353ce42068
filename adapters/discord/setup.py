"""Setting discord.py up for this bot: its intents, where it connects, its invite, and the
application command tree, synced only when its definition changed."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator

import discord
import discord.gateway
import discord.http
import yarl

from adapters.discord import translate
from chatbot.ports import KeyValues

log = logging.getLogger(__name__)

# Exactly what the bot does: read its channels and threads, post, open threads from its posts,
# attach the notes file, and look back through recent history before re-posting after a crash.
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    attach_files=True,
    read_message_history=True,
)
SCOPES = ("bot", "applications.commands")
TREE_KEY = "discord.command_tree_hash"
_API_VERSION = re.compile(r"/api/v\d+$")


def intents() -> discord.Intents:
    """Guilds and guild messages, plus message content: the one privileged intent, needed to
    read the updates people reply with in the bot's threads."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = True
    return wanted


def api_base(url: str) -> str:
    """DISCORD_API_URL with or without the `/api/v10` suffix discord.py's routes expect."""
    url = url.rstrip("/")
    return url if _API_VERSION.search(url) else f"{url}/api/v10"


@contextlib.contextmanager
def pointed_at(settings) -> Iterator[None]:
    """discord.py's REST base and gateway address from the settings, restored afterwards."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    if settings.discord_api_url:
        discord.http.Route.BASE = api_base(settings.discord_api_url)
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


def invite_url(application_id: int) -> str:
    return (f"https://discord.com/oauth2/authorize?client_id={application_id}"
            f"&permissions={PERMISSIONS.value}&integration_type=0&scope={'+'.join(SCOPES)}")


async def sync_commands(client: discord.Client, values: KeyValues, *, guild_id: int | None = None,
                        force: bool = True) -> bool:
    """Overwrite the application commands with the tree built from the command table.

    Unless forced, nothing is sent when the stored hash says this tree was already synced for
    this application: syncing on every start gets bots rate-limited.
    """
    tree = translate.command_tree()
    application_id = client.application_id
    digest = translate.tree_hash(application_id, tree)
    key = TREE_KEY if guild_id is None else f"{TREE_KEY}:guild:{guild_id}"
    if not force and await values.get(key) == digest:
        log.info("discord command tree unchanged; not syncing")
        return False
    if guild_id is None:
        await client.http.bulk_upsert_global_commands(application_id, tree)
    else:
        await client.http.bulk_upsert_guild_commands(application_id, guild_id, tree)
    await values.put(key, digest)
    log.info("discord command tree synced (%s commands, %s)", len(tree),
             "global" if guild_id is None else f"guild {guild_id}")
    return True
