"""A fake Discord for tests: REST API and gateway WebSocket on 127.0.0.1.

The *real* discord.py client talks to it over real HTTP and a real WebSocket. Only two
class attributes of discord.py are redirected (``discord.http.Route.BASE`` and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``), see :meth:`FakeDiscord.redirect`.

Typical use::

    async with FakeDiscord() as fake:
        guild = fake.add_guild(name="Hub")
        channel = fake.add_text_channel(guild, None, "general")
        alice = fake.add_member(guild, None, "alice", global_name="Alice")
        client = discord.Client(intents=..., guild_ready_timeout=0.05)
        with fake.redirect():
            async with fake.run(client):
                await fake.user_message(channel, alice, "hello")
                request = await fake.wait_for(lambda r: r.method == "POST", timeout=5)

What it models (and what a test can rely on):

* State: one application whose id equals the bot user's id, guilds with roles
  (@everyone has the guild's id), text channels, threads (a thread is a channel; a thread
  started from a message has the message's id) and members.
* REST under ``api_base``; every JSON answer has ``Content-Type: application/json``
  exactly. Errors use Discord's shape ``{"message", "code", "errors"?}``. Normal answers
  carry ``X-RateLimit-*`` headers; :meth:`FakeDiscord.rate_limit` injects 429s.
* Gateway: HELLO → IDENTIFY → READY + GUILD_CREATE, heartbeats, sequence numbers,
  RESUME with replay, RECONNECT (op 7), intents filtering (MESSAGE_CONTENT strips content).
  JSON text frames only (discord.py inflates binary frames only, so no zlib is needed).
* Messages created through REST are dispatched back as MESSAGE_CREATE / MESSAGE_UPDATE /
  MESSAGE_DELETE, as Discord does; ephemeral interaction messages are not.
* Everything is recorded; the ``wait_*`` helpers wait on the recorded state with a timeout,
  so tests never have to sleep and hope.

API at a glance (ids are ints; builders return the new id, async helpers the created object):

* builders: ``add_guild``, ``add_role``, ``add_text_channel``, ``add_member``, ``set_nick``,
  ``remove_member``
* users act: ``user_message``, ``edit_message``, ``delete_message``, ``create_thread_from``,
  ``create_thread``, ``user_reaction``, ``interaction`` (returns the interaction id),
  ``dispatch`` (any raw event)
* gateway: ``reconnect`` (op 7), ``drop_connection``, ``wait_resumed``, ``wait_identified``,
  ``identify_count``, ``resume_count``, ``gateway_connections``, ``gateway_received``
* records: ``requests``, ``messages(channel)``, ``message(id)``, ``bot_messages``,
  ``message_files``, ``attachment_bytes``, ``allowed_mentions(id)``, ``reactions(id)``,
  ``channel``, ``threads``, ``commands``, ``command_syncs``, ``interaction_responses(id)``,
  ``rate_limit_hits``, ``unhandled``, ``server_errors``
* waiting: ``wait_for(predicate)``, ``wait_for_message``, ``wait_interaction_response``,
  ``wait_until(check)``
* behaviour: ``rate_limit(...)``, ``interaction_ack_timeout``, ``bucket_limit``, ``run(client)``,
  ``redirect()``
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import datetime as _dt
import hashlib
import json
import math
import re
import secrets
import time
from typing import Any, AsyncIterator, Callable, Iterable, Iterator, Optional, Sequence, TypeVar, Union

from aiohttp import WSMsgType, web
import yarl

__all__ = [
    "FakeDiscord",
    "RecordedRequest",
    "UploadedFile",
    "InteractionResponse",
    "CommandSync",
    "GatewayConnection",
    "Intents",
    "Permissions",
    "redirect_discord",
]

T = TypeVar("T")

DISCORD_EPOCH_MS = 1420070400000
API_PREFIX = "/api/v10"
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_TITLE = 256
MAX_NONCE = 25
MAX_FILES = 10
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024


class Intents:
    """Gateway intent bits (only the ones the fake looks at)."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    DIRECT_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15
    PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT


class Permissions:
    """Permission bits used by the fake's checks and defaults."""

    CREATE_INSTANT_INVITE = 1 << 0
    ADMINISTRATOR = 1 << 3
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38
    ALL = (1 << 51) - 1

    EVERYONE_DEFAULT = (
        CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | USE_EXTERNAL_EMOJIS
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS
        | CREATE_PUBLIC_THREADS
        | SEND_MESSAGES_IN_THREADS
    )


# Channel types
TEXT = 0
NEWS = 5
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
THREAD_TYPES = (10, PUBLIC_THREAD, PRIVATE_THREAD)

# Message flags
FLAG_HAS_THREAD = 1 << 5
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7

# Interaction callback types
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
UPDATE_MESSAGE = 7

_USER_MENTION = re.compile(r"<@!?(\d{1,20})>")
_ROLE_MENTION = re.compile(r"<@&(\d{1,20})>")
_EVERYONE = re.compile(r"@(everyone|here)\b")
_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


# ---------------------------------------------------------------------------------------
# Public records
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request (``files[n]``)."""

    field: str
    filename: str
    data: bytes
    content_type: Optional[str] = None

    @property
    def index(self) -> Optional[int]:
        match = re.fullmatch(r"files\[(\d+)\]", self.field)
        return int(match.group(1)) if match else None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")


@dataclasses.dataclass
class RecordedRequest:
    """One REST request as the fake saw it, and what it answered."""

    method: str
    path: str  # relative to the API base, e.g. "/channels/1/messages"
    route: str  # template, e.g. "/channels/{channel_id}/messages"
    query: dict
    headers: dict
    json: Any  # the JSON body, or the multipart ``payload_json``
    files: list  # list[UploadedFile]
    at: float
    status: int = 0
    response: Any = None
    deduplicated: bool = False  # answered from the nonce cache

    @property
    def rate_limited(self) -> bool:
        return self.status == 429


@dataclasses.dataclass
class InteractionResponse:
    """One answer to an interaction: the callback, an edit of @original or a followup."""

    kind: str  # "callback" | "edit_original" | "delete_original" | "followup" | "edit_followup" | "delete_followup"
    type: Optional[int]  # callback type (4 message, 5 deferred, 6, 7, 9 modal ...); None otherwise
    data: dict  # the callback's ``data`` or the webhook payload
    files: list  # list[UploadedFile]
    message: Optional[dict]  # the message created or edited, if any

    @property
    def flags(self) -> int:
        if self.message is not None:
            return int(self.message.get("flags") or 0)
        return int((self.data or {}).get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def content(self) -> Optional[str]:
        if self.message is not None:
            return self.message.get("content")
        return (self.data or {}).get("content")


@dataclasses.dataclass
class CommandSync:
    """A bulk overwrite of the application commands (``tree.sync()``)."""

    guild_id: Optional[int]
    commands: list
    at: float


@dataclasses.dataclass
class GatewayConnection:
    path: str
    query: dict
    kind: str = "pending"  # "identify" | "resume" | "invalid" | "pending"


class ApiError(Exception):
    """Raised inside handlers; becomes Discord's error JSON."""

    def __init__(self, status: int, code: int, message: str, errors: Optional[dict] = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict:
        body: dict = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def _form_error(field_path: Sequence[Union[str, int]], code: str, message: str) -> ApiError:
    errors: dict = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(list(field_path)):
        errors = {str(key): errors}
    return ApiError(400, 50035, "Invalid Form Body", errors)


# ---------------------------------------------------------------------------------------
# Internal state
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class _User:
    id: int
    username: str
    global_name: Optional[str] = None
    bot: bool = False
    discriminator: str = "0"

    def to_json(self) -> dict:
        data = {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": self.discriminator,
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclasses.dataclass
class _Member:
    user_id: int
    nick: Optional[str]
    roles: list
    flags: int
    joined_at: str

    def to_json(self, with_user: Optional[dict] = None, permissions: Optional[int] = None) -> dict:
        data = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": self.flags,
            "communication_disabled_until": None,
        }
        if with_user is not None:
            data["user"] = with_user
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclasses.dataclass
class _Guild:
    id: int
    name: str
    owner_id: int
    joined_at: str
    roles: dict  # id -> role json
    members: dict  # user id -> _Member
    channel_ids: list


@dataclasses.dataclass
class _Interaction:
    id: int
    token: str
    guild_id: Optional[int]
    channel_id: int
    user_id: int
    name: str
    created: float
    payload: dict
    callback_type: Optional[int] = None
    original: Optional[dict] = None  # the @original message (ephemeral ones too)
    followups: dict = dataclasses.field(default_factory=dict)
    responses: list = dataclasses.field(default_factory=list)


class _Session:
    def __init__(self, session_id: str, token: str, intents: int, identify: dict) -> None:
        self.id = session_id
        self.token = token
        self.intents = intents
        self.identify = identify
        self.seq = 0  # last sequence number assigned
        self.sent = 0  # last sequence number written to the current connection
        self.log: list = []  # [(seq, frame_text)], seq == index + 1
        self.conn: Optional[web.WebSocketResponse] = None
        self.lock = asyncio.Lock()  # serialises writes to the connection

    def append(self, event: str, payload: dict, body: str | None = None) -> None:
        """Log a DISPATCH; `body` is the payload's JSON when the caller already has it."""
        self.seq += 1
        body = json.dumps(payload) if body is None else body
        self.log.append((self.seq, f'{{"op":0,"t":{json.dumps(event)},"s":{self.seq},"d":{body}}}'))


class _RateLimitRule:
    def __init__(self, method: Optional[str], pattern: str, times: int, retry_after: float, global_: bool) -> None:
        self.method = None if method in (None, "*") else method.upper()
        self.regex = re.compile(pattern)
        self.remaining = times
        self.retry_after = retry_after
        self.global_ = global_

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and (self.method is None or self.method == method)
            and self.regex.search(path) is not None
        )


_RECORD = web.RequestKey("fake_discord_record", RecordedRequest)
_BODY = web.RequestKey("fake_discord_body", object)
_FILES = web.RequestKey("fake_discord_files", list)


def _iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).isoformat()


def _snowflake_time(snowflake: int) -> float:
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000


def _bucket_hash(route_key: str) -> str:
    return hashlib.sha1(route_key.encode()).hexdigest()[:16]


def _json_response(status: int, body: Any, headers: Optional[dict] = None) -> web.Response:
    all_headers = {"Content-Type": "application/json"}
    if headers:
        all_headers.update(headers)
    return web.Response(status=status, body=json.dumps(body).encode("utf-8"), headers=all_headers)


# ---------------------------------------------------------------------------------------
# The fake
# ---------------------------------------------------------------------------------------


class FakeDiscord:
    """A fake Discord API + gateway. Use as ``async with FakeDiscord() as fake:``."""

    def __init__(
        self,
        *,
        token: Optional[str] = None,
        bot_username: str = "meetingbot",
        application_name: str = "Meeting Bot",
        heartbeat_interval_ms: int = 41250,
        interaction_ack_timeout: float = 3.0,
        nonce_ttl: float = 180.0,
        privileged_intents: bool = True,
        upload_limit: int = DEFAULT_UPLOAD_LIMIT,
        bucket_limit: int = 50,
        bucket_window: float = 1.0,
        echo_own_messages: bool = True,
    ) -> None:
        self._last_snowflake = 0
        self.token = token or f"fake.{secrets.token_urlsafe(24)}"
        self.application_id = self.next_id()
        self.bot_user_id = self.application_id  # Discord: a bot user's id is its application's id
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.interaction_ack_timeout = interaction_ack_timeout
        self.nonce_ttl = nonce_ttl
        self.privileged_intents = privileged_intents
        self.upload_limit = upload_limit
        self.bucket_limit = bucket_limit
        self.bucket_window = bucket_window
        self.echo_own_messages = echo_own_messages

        self._users: dict = {
            self.bot_user_id: _User(self.bot_user_id, bot_username, None, bot=True, discriminator="0001")
        }
        self.application_name = application_name
        self._owner_id = self.next_id()
        self._guilds: dict = {}
        self._channels: dict = {}  # id -> channel json (text channels and threads)
        self._messages: dict = {}  # channel id -> {message id -> message json}
        self._deleted: dict = {}  # message id -> message json
        self._files: dict = {}  # attachment id -> UploadedFile
        self._nonces: dict = {}  # (channel, author, nonce) -> (time, message id)
        self._allowed_mentions: dict = {}  # message id -> allowed_mentions as sent
        self._reactors: dict = {}  # (message id str, emoji) -> [user ids]
        self._interactions: dict = {}
        self._interactions_by_token: dict = {}
        self._commands: dict = {}  # guild id or None -> {name: command json}
        self._command_ids: dict = {}  # (guild id, name, type) -> id

        self.requests: list = []  # list[RecordedRequest]
        self.unhandled: list = []  # requests to routes the fake does not implement
        self.server_errors: list = []  # exceptions raised inside the fake's handlers
        self.command_syncs: list = []  # list[CommandSync]
        self.rate_limit_hits = 0
        self._rules: list = []
        self._windows: dict = {}

        self._sessions: dict = {}
        self._held = False  # see hold()
        self.gateway_connections: list = []  # list[GatewayConnection]
        self.gateway_received: list = []  # every payload the clients sent
        self.identify_count = 0
        self.resume_count = 0
        self._resume_target = 0
        self._sockets: set = set()
        self._tasks: set = set()

        self._changed: asyncio.Event = asyncio.Event()
        self._runner: Optional[web.AppRunner] = None
        self.port: int = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> "FakeDiscord":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        self._add_routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"fake discord stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway-resume"

    @contextlib.contextmanager
    def redirect(self) -> Iterator["FakeDiscord"]:
        """Point discord.py at this fake (REST base and gateway); restores on exit."""
        with redirect_discord(self.api_base, self.gateway_url):
            yield self

    @contextlib.asynccontextmanager
    async def run(self, client: Any, *, timeout: float = 5.0) -> AsyncIterator[Any]:
        """Start ``client`` with this fake's token, wait until it is ready, close it on exit.

        The caller must have redirected discord.py (see :meth:`redirect`). A failure while
        starting (bad token, closed gateway) is raised here instead of hanging.
        """
        import discord.http

        if discord.http.Route.BASE != self.api_base:
            raise RuntimeError("discord.py is not redirected to the fake: use `with fake.redirect():`")
        try:
            await client.login(self.token)  # REST: GET /users/@me, GET /oauth2/applications/@me
        except BaseException:
            await client.close()
            raise
        task = asyncio.create_task(client.connect(), name="fake-discord-client")
        ready = asyncio.create_task(client.wait_until_ready())
        try:
            done, _ = await asyncio.wait({task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                task.result()  # raises the client's error
                raise RuntimeError("discord client stopped before it became ready")
            if ready not in done:
                raise asyncio.TimeoutError(f"discord client not ready after {timeout}s")
            yield client
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # the client's gateway loop died during the test
        finally:
            ready.cancel()
            if not client.is_closed():
                await client.close()
            if not task.done():
                with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                    await asyncio.wait_for(task, timeout=timeout)

    # -- ids and waiting ---------------------------------------------------------------

    def next_id(self) -> int:
        """A new snowflake: time-based (discord.py derives dates from ids), strictly increasing."""
        now = ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22)
        self._last_snowflake = max(self._last_snowflake + 1, now)
        return self._last_snowflake

    def _notify(self) -> None:
        event = self._changed
        self._changed = asyncio.Event()
        event.set()

    async def wait_until(self, check: Callable[[], T], timeout: float = 5.0, what: str = "condition") -> T:
        """Wait until ``check()`` returns something truthy (re-checked on every state change)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = ", ".join(f"{r.method} {r.path} -> {r.status}" for r in self.requests[-8:])
                raise asyncio.TimeoutError(f"timed out after {timeout}s waiting for {what}; recent requests: {recent}")
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), min(remaining, 0.5))
            except asyncio.TimeoutError:
                pass

    def mark(self) -> int:
        """Position in :attr:`requests`; pass it as ``since`` to :meth:`wait_for`."""
        return len(self.requests)

    async def wait_for(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float = 5.0, *, since: int = 0
    ) -> RecordedRequest:
        """First recorded (answered) REST request from index ``since`` on that matches."""

        def check() -> Optional[RecordedRequest]:
            for request in self.requests[since:]:
                if request.status and predicate(request):
                    return request
            return None

        return await self.wait_until(check, timeout, "a matching REST request")

    async def wait_for_message(
        self, channel_id: int, predicate: Callable[[dict], bool] = lambda m: True, timeout: float = 5.0
    ) -> dict:
        """First message in the channel (bot's or users') matching ``predicate``."""

        def check() -> Optional[dict]:
            for message in self._messages.get(int(channel_id), {}).values():
                if predicate(message):
                    return copy.deepcopy(message)
            return None

        return await self.wait_until(check, timeout, f"a message in channel {channel_id}")

    # -- builders ----------------------------------------------------------------------

    def add_guild(
        self,
        guild_id: Optional[int] = None,
        name: str = "Test Guild",
        *,
        owner_id: Optional[int] = None,
        everyone_permissions: int = Permissions.EVERYONE_DEFAULT,
        bot_permissions: int = 0,
    ) -> int:
        """Add a guild with an @everyone role (id == guild id), a managed bot role and the bot
        as a member. Returns the guild id. Dispatches GUILD_CREATE if a client is connected."""
        gid = int(guild_id) if guild_id is not None else self.next_id()
        now = _iso(time.time())
        everyone = self._role_json(gid, "@everyone", everyone_permissions, position=0)
        bot_role_id = self.next_id()
        bot_role = self._role_json(bot_role_id, self._users[self.bot_user_id].username, bot_permissions, position=1)
        bot_role["managed"] = True
        bot_role["tags"] = {"bot_id": str(self.bot_user_id)}
        guild = _Guild(
            id=gid,
            name=name,
            owner_id=int(owner_id) if owner_id is not None else 0,
            joined_at=now,
            roles={gid: everyone, bot_role_id: bot_role},
            members={self.bot_user_id: _Member(self.bot_user_id, None, [bot_role_id], 0, now)},
            channel_ids=[],
        )
        self._guilds[gid] = guild
        self._dispatch_soon("GUILD_CREATE", self._guild_create_json(guild))
        return gid

    def add_role(
        self, guild_id: int, role_id: Optional[int] = None, name: str = "role", permissions: int = 0,
        *, mentionable: bool = False,
    ) -> int:
        guild = self._guild(guild_id)
        rid = int(role_id) if role_id is not None else self.next_id()
        role = self._role_json(rid, name, permissions, position=len(guild.roles))
        role["mentionable"] = mentionable
        guild.roles[rid] = role
        self._dispatch_soon("GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role})
        return rid

    def add_text_channel(self, guild_id: int, channel_id: Optional[int] = None, name: str = "general",
                         *, topic: Optional[str] = None) -> int:
        guild = self._guild(guild_id)
        cid = int(channel_id) if channel_id is not None else self.next_id()
        channel = {
            "id": str(cid),
            "type": TEXT,
            "guild_id": str(guild.id),
            "name": name,
            "position": len(guild.channel_ids),
            "parent_id": None,
            "topic": topic,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "permission_overwrites": [],
            "default_auto_archive_duration": 1440,
            "flags": 0,
        }
        self._channels[cid] = channel
        self._messages[cid] = {}
        guild.channel_ids.append(cid)
        self._dispatch_soon("CHANNEL_CREATE", channel)
        return cid

    def add_member(
        self,
        guild_id: int,
        user_id: Optional[int] = None,
        username: Optional[str] = None,
        global_name: Optional[str] = None,
        nick: Optional[str] = None,
        *,
        roles: Iterable[int] = (),
        flags: int = 0,
        bot: bool = False,
    ) -> int:
        guild = self._guild(guild_id)
        uid = int(user_id) if user_id is not None else self.next_id()
        user = self._users.get(uid)
        if user is None:
            user = _User(uid, username or f"user{uid % 100000}", global_name, bot=bot)
            self._users[uid] = user
        else:
            if username is not None:
                user.username = username
            if global_name is not None:
                user.global_name = global_name
        member = _Member(uid, nick, [int(r) for r in roles], flags, _iso(time.time()))
        guild.members[uid] = member
        self._dispatch_soon("GUILD_MEMBER_ADD", dict(member.to_json(user.to_json()), guild_id=str(guild.id)))
        return uid

    def set_nick(self, guild_id: int, user_id: int, nick: Optional[str]) -> None:
        guild = self._guild(guild_id)
        member = guild.members[int(user_id)]
        member.nick = nick
        payload = dict(member.to_json(self._users[member.user_id].to_json()), guild_id=str(guild.id))
        self._dispatch_soon("GUILD_MEMBER_UPDATE", payload)

    def remove_member(self, guild_id: int, user_id: int) -> None:
        """The user leaves the guild (GUILD_MEMBER_REMOVE); their messages stay, with their user."""
        guild = self._guild(guild_id)
        del guild.members[int(user_id)]
        payload = {"guild_id": str(guild.id), "user": self._users[int(user_id)].to_json()}
        self._dispatch_soon("GUILD_MEMBER_REMOVE", payload)

    # -- queries -----------------------------------------------------------------------

    def messages(self, channel_id: int, *, include_deleted: bool = False) -> list:
        """Messages of a channel or thread, oldest first (copies)."""
        cid = int(channel_id)
        found = [copy.deepcopy(m) for m in self._messages.get(cid, {}).values()]
        if include_deleted:
            found += [copy.deepcopy(m) for m in self._deleted.values() if int(m["channel_id"]) == cid]
            found.sort(key=lambda m: int(m["id"]))
        return found

    def message(self, message_id: int) -> Optional[dict]:
        for messages in self._messages.values():
            if int(message_id) in messages:
                return copy.deepcopy(messages[int(message_id)])
        return None

    def bot_messages(self, channel_id: int) -> list:
        return [m for m in self.messages(channel_id) if int(m["author"]["id"]) == self.bot_user_id]

    def attachment_bytes(self, attachment: Union[dict, int, str]) -> bytes:
        attachment_id = int(attachment["id"]) if isinstance(attachment, dict) else int(attachment)
        return self._files[attachment_id].data

    def message_files(self, message: Union[dict, int]) -> list:
        """``[(filename, bytes)]`` of a message's attachments."""
        if not isinstance(message, dict):
            found = self.message(message) or self._deleted.get(int(message))
            if found is None:
                raise KeyError(message)
            message = found
        return [(a["filename"], self._files[int(a["id"])].data) for a in message.get("attachments", [])]

    def allowed_mentions(self, message_id: int) -> Optional[dict]:
        """The ``allowed_mentions`` the bot sent with a message (None if it sent none)."""
        return copy.deepcopy(self._allowed_mentions.get(int(message_id)))

    def channel(self, channel_id: int) -> dict:
        return copy.deepcopy(self._channels[int(channel_id)])

    def threads(self, parent_id: Optional[int] = None) -> list:
        return [
            copy.deepcopy(c) for c in self._channels.values()
            if c["type"] in THREAD_TYPES and (parent_id is None or int(c["parent_id"]) == int(parent_id))
        ]

    def commands(self, guild_id: Optional[int] = None) -> list:
        """The application commands as last synced (globally, or for ``guild_id``)."""
        scope = int(guild_id) if guild_id is not None else None
        return copy.deepcopy(list(self._commands.get(scope, {}).values()))

    def interaction_responses(self, interaction_id: int) -> list:
        """Every answer to the interaction, in order: callback, edits, followups."""
        return list(self._interactions[int(interaction_id)].responses)

    async def wait_interaction_response(
        self,
        interaction_id: int,
        timeout: float = 5.0,
        *,
        kind: Optional[str] = None,
        predicate: Optional[Callable[[InteractionResponse], bool]] = None,
    ) -> InteractionResponse:
        """First answer to the interaction (of ``kind``, matching ``predicate``)."""
        record = self._interactions[int(interaction_id)]

        def check() -> Optional[InteractionResponse]:
            for response in record.responses:
                if kind is not None and response.kind != kind:
                    continue
                if predicate is not None and not predicate(response):
                    continue
                return response
            return None

        return await self.wait_until(check, timeout, f"a response to interaction {interaction_id}")

    @property
    def sessions(self) -> list:
        return list(self._sessions.values())

    # -- rate limits -------------------------------------------------------------------

    def rate_limit(
        self, method: Optional[str], path_regex: str, times: int = 1, retry_after: float = 0.3, global_: bool = False
    ) -> None:
        """Answer the next ``times`` matching requests with 429.

        ``path_regex`` is searched in the path after the API base, e.g. ``r"/channels/\\d+/messages$"``;
        ``method`` ``None`` or ``"*"`` matches any method.
        """
        self._rules.append(_RateLimitRule(method, path_regex, times, retry_after, global_))

    # -- gateway dispatch ----------------------------------------------------------------

    def _enqueue(self, event: str, data: dict) -> list:
        """Give the event its sequence number in every session now (so the order of calls is
        the order on the wire); writing happens in :meth:`_flush`."""
        sessions = []
        bodies: dict[int, str] = {}  # the JSON of each payload, made once for all sessions
        for session in list(self._sessions.values()):
            payload = self._filter_for(session, event, data)
            if payload is not None:
                if id(payload) not in bodies:
                    bodies[id(payload)] = json.dumps(payload)
                session.append(event, payload, bodies[id(payload)])
                sessions.append(session)
        self._notify()
        return sessions

    async def _flush(self, session: _Session) -> None:
        """Write every not yet written event to the session's live connection, in order.
        Without a live connection the events stay in the log for RESUME."""
        async with session.lock:
            while not self._held and session.conn is not None and session.sent < session.seq:
                number, frame = session.log[session.sent]
                try:
                    await session.conn.send_str(frame)
                except Exception:  # the socket died: the client will RESUME from its last seq
                    session.conn = None
                    break
                session.sent = number

    def hold(self) -> None:
        """Keep dispatched events in the sessions' logs, unwritten, until `release()`: a burst
        then reaches the client all at once, with none of the fake's own work in between."""
        self._held = True

    async def release(self) -> None:
        """Write every event held since `hold()`."""
        self._held = False
        for session in list(self._sessions.values()):
            await self._flush(session)

    def _dispatch_soon(self, event: str, data: dict) -> None:
        """Dispatch from synchronous code (the builders)."""
        for session in self._enqueue(event, data):
            task = asyncio.get_running_loop().create_task(self._flush(session))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def dispatch(self, event: str, data: dict) -> int:
        """Send a DISPATCH (op 0) to every session; buffered while a session is disconnected
        and replayed on RESUME. Returns the number of sessions it was sent or buffered for."""
        sessions = self._enqueue(event, data)
        for session in sessions:
            await self._flush(session)
        return len(sessions)

    def _filter_for(self, session: _Session, event: str, data: dict) -> Optional[dict]:
        intents = session.intents
        guild_scoped = "guild_id" in data or event.startswith(("GUILD_", "CHANNEL_", "THREAD_"))
        if event.startswith(("GUILD_MEMBER_", "THREAD_MEMBERS_")):
            if not intents & Intents.GUILD_MEMBERS:
                return None
        elif event.startswith(("GUILD_", "CHANNEL_", "THREAD_")):
            if not intents & Intents.GUILDS:
                return None
        elif event.startswith("MESSAGE_REACTION_"):
            if not intents & Intents.GUILD_MESSAGE_REACTIONS:
                return None
        elif event.startswith("MESSAGE_"):
            needed = Intents.GUILD_MESSAGES if guild_scoped else Intents.DIRECT_MESSAGES
            if not intents & needed:
                return None
            if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and not intents & Intents.MESSAGE_CONTENT:
                author_id = int(data.get("author", {}).get("id", 0))
                mentioned = any(int(m["id"]) == self.bot_user_id for m in data.get("mentions", []))
                if author_id != self.bot_user_id and not mentioned and guild_scoped:
                    data = dict(data, content="", embeds=[], attachments=[], components=[])
                    data.pop("poll", None)
        return data

    async def reconnect(self) -> int:
        """Send op 7 RECONNECT to every connected session; events dispatched until the client
        resumes are buffered and replayed. Returns the resume count to wait for."""
        for session in list(self._sessions.values()):
            async with session.lock:
                conn, session.conn = session.conn, None
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.send_str(json.dumps({"op": 7, "d": None, "s": None, "t": None}))
        self._resume_target = self.resume_count + 1
        self._notify()
        return self._resume_target

    async def drop_connection(self, code: int = 4000) -> int:
        """Close the gateway sockets from the server side (the client reconnects and resumes)."""
        for session in list(self._sessions.values()):
            async with session.lock:
                conn, session.conn = session.conn, None
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close(code=code)
        self._resume_target = self.resume_count + 1
        return self._resume_target

    async def wait_resumed(self, count: Optional[int] = None, timeout: float = 5.0) -> int:
        target = count if count is not None else self._resume_target
        return await self.wait_until(lambda: self.resume_count >= target and self.resume_count,
                                     timeout, f"gateway resume #{target}")

    async def wait_identified(self, count: int = 1, timeout: float = 5.0) -> int:
        return await self.wait_until(lambda: self.identify_count >= count and self.identify_count,
                                     timeout, f"gateway identify #{count}")

    # -- dispatch helpers (what users do) ------------------------------------------------

    async def user_message(
        self,
        channel_id: int,
        author_id: int,
        content: str,
        message_id: Optional[int] = None,
        *,
        reply_to: Optional[int] = None,
        attachments: Sequence[tuple] = (),
        dispatch: bool = True,
    ) -> dict:
        """A user posts a message (MESSAGE_CREATE). ``dispatch=False`` stores it without telling
        the client (a message sent while the bot was away). ``attachments``: ``[(filename, bytes)]``."""
        cid = int(channel_id)
        self._channel(cid)
        if int(author_id) not in self._users:
            raise KeyError(f"unknown user {author_id}: add_member() first")
        files = [UploadedFile(f"files[{i}]", name, data) for i, (name, data) in enumerate(attachments)]
        reference = None
        if reply_to is not None:
            reference = {"message_id": str(reply_to), "channel_id": str(cid)}
        message = self._create_message(
            cid,
            int(author_id),
            {"content": content, "message_reference": reference} if reference else {"content": content},
            files,
            message_id=message_id,
        )
        if dispatch:
            await self.dispatch("MESSAGE_CREATE", self._gateway_message(message))
        return copy.deepcopy(message)

    async def edit_message(self, channel_id: int, message_id: int, content: str) -> dict:
        """A user edits their message (MESSAGE_UPDATE with the full message)."""
        message = self._get_message(int(channel_id), int(message_id))
        message["content"] = content
        message["edited_timestamp"] = _iso(time.time())
        self._apply_mentions(message, self._guild_id_of(int(channel_id)), None, None)
        await self.dispatch("MESSAGE_UPDATE", self._gateway_message(message))
        return copy.deepcopy(message)

    async def delete_message(self, channel_id: int, message_id: int) -> dict:
        """A message is deleted (MESSAGE_DELETE)."""
        cid, mid = int(channel_id), int(message_id)
        message = self._get_message(cid, mid)
        await self._remove_message(cid, mid)
        return copy.deepcopy(message)

    async def delete_thread(self, thread_id: int) -> dict:
        """A moderator deletes a thread with its messages (THREAD_DELETE); later requests get 404."""
        tid = int(thread_id)
        thread = self._channel(tid)
        if thread["type"] not in THREAD_TYPES:
            raise ValueError(f"channel {tid} is not a thread")
        del self._channels[tid]
        self._messages.pop(tid, None)
        await self.dispatch("THREAD_DELETE", {k: thread[k] for k in ("id", "guild_id", "parent_id", "type")})
        return copy.deepcopy(thread)

    async def create_thread_from(
        self, channel_id: int, message_id: int, name: str, *, owner_id: Optional[int] = None
    ) -> dict:
        """A user starts a thread on a message: the thread's id is the message's id."""
        cid, mid = int(channel_id), int(message_id)
        message = self._get_message(cid, mid)
        owner = int(owner_id) if owner_id is not None else int(message["author"]["id"])
        thread = self._make_thread_from(cid, message, name, owner, 1440)
        await self.dispatch("THREAD_CREATE", dict(thread, newly_created=True))
        return copy.deepcopy(thread)

    async def create_thread(
        self, channel_id: int, name: str, *, owner_id: int, private: bool = False
    ) -> dict:
        """A user starts a thread without a starter message."""
        thread = self._new_thread(int(channel_id), self.next_id(), name, int(owner_id),
                                  PRIVATE_THREAD if private else PUBLIC_THREAD, 1440)
        await self.dispatch("THREAD_CREATE", dict(thread, newly_created=True))
        return copy.deepcopy(thread)

    async def user_reaction(self, channel_id: int, message_id: int, user_id: int, emoji: str,
                            *, remove: bool = False) -> dict:
        """A user adds (or removes) a unicode emoji reaction (MESSAGE_REACTION_ADD/REMOVE)."""
        cid, mid, uid = int(channel_id), int(message_id), int(user_id)
        message = self._get_message(cid, mid)
        self._set_reaction(message, emoji, uid, add=not remove)
        guild_id = self._guild_id_of(cid)
        payload: dict = {
            "user_id": str(uid),
            "channel_id": str(cid),
            "message_id": str(mid),
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
        }
        if guild_id is not None:
            payload["guild_id"] = str(guild_id)
        if not remove:
            payload["message_author_id"] = message["author"]["id"]
            payload["burst_colors"] = []
            if guild_id is not None:
                payload["member"] = self._member_json(guild_id, uid, with_user=True)
        await self.dispatch("MESSAGE_REACTION_REMOVE" if remove else "MESSAGE_REACTION_ADD", payload)
        return payload

    async def interaction(
        self,
        guild_id: int,
        channel_id: int,
        user_id: int,
        command_name: str,
        options: Union[dict, list, None] = None,
        subcommand: Union[str, Sequence[str], None] = None,
        *,
        locale: str = "en-US",
    ) -> int:
        """A user runs a slash command (INTERACTION_CREATE type 2). Returns the interaction id.

        ``options``: ``{name: value}`` (types come from the synced command, else from the
        Python type) or a list of raw option dicts ``{"name", "type", "value"}``. For a user
        option give the user id; ``resolved`` users and members are filled in.
        ``subcommand``: ``"add"`` or ``"group sub"`` (or a list) for nested commands.
        """
        gid, cid, uid = int(guild_id), int(channel_id), int(user_id)
        guild = self._guild(gid)
        channel = self._channel(cid)
        if uid not in guild.members:
            raise KeyError(f"user {uid} is not a member of guild {gid}")
        path = subcommand.split() if isinstance(subcommand, str) else list(subcommand or [])

        scope, definition = self._find_command(gid, command_name)
        command_id = int(definition["id"]) if definition else self._command_id(None, command_name, 1)
        leaf = definition
        for part in path:
            leaf = next((o for o in (leaf or {}).get("options", []) if o.get("name") == part), None)

        resolved: dict = {}
        built = self._build_options(gid, options, leaf, resolved)
        for depth, part in reversed(list(enumerate(path))):
            kind = 1 if depth == len(path) - 1 else 2  # SUB_COMMAND inside SUB_COMMAND_GROUP
            built = [{"name": part, "type": kind, "options": built}]

        data: dict = {"id": str(command_id), "name": command_name, "type": 1}
        if built:
            data["options"] = built
        if resolved:
            data["resolved"] = resolved
        if scope is not None:
            data["guild_id"] = str(scope)

        interaction_id = self.next_id()
        token = f"aW50ZXJhY3Rpb24.{secrets.token_urlsafe(40)}"
        payload = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": 2,
            "data": data,
            "guild_id": str(gid),
            "guild": {"id": str(gid), "locale": "en-US", "features": []},
            "channel_id": str(cid),
            "channel": dict(copy.deepcopy(channel), permissions=str(self._permissions(gid, uid))),
            "member": self._member_json(gid, uid, with_user=True, permissions=True),
            "token": token,
            "version": 1,
            "app_permissions": str(self._permissions(gid, self.bot_user_id)),
            "locale": locale,
            "guild_locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(gid)},
            "context": 0,
            "attachment_size_limit": self.upload_limit,
        }
        record = _Interaction(interaction_id, token, gid, cid, uid, command_name, time.monotonic(), payload)
        self._interactions[interaction_id] = record
        self._interactions_by_token[token] = record
        await self.dispatch("INTERACTION_CREATE", payload)
        return interaction_id

    # -- helpers: state ------------------------------------------------------------------

    def _guild(self, guild_id: int) -> _Guild:
        try:
            return self._guilds[int(guild_id)]
        except KeyError:
            raise KeyError(f"unknown guild {guild_id}: add_guild() first") from None

    def _channel(self, channel_id: int) -> dict:
        try:
            return self._channels[int(channel_id)]
        except KeyError:
            raise KeyError(f"unknown channel {channel_id}") from None

    def _get_message(self, channel_id: int, message_id: int) -> dict:
        try:
            return self._messages[channel_id][message_id]
        except KeyError:
            raise KeyError(f"unknown message {message_id} in channel {channel_id}") from None

    def _guild_id_of(self, channel_id: int) -> Optional[int]:
        channel = self._channels.get(channel_id)
        if channel is None or channel.get("guild_id") is None:
            return None
        return int(channel["guild_id"])

    def _role_json(self, role_id: int, name: str, permissions: int, position: int) -> dict:
        return {
            "id": str(role_id),
            "name": name,
            "permissions": str(permissions),
            "position": position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def _permissions(self, guild_id: int, user_id: int) -> int:
        guild = self._guilds[guild_id]
        if user_id == guild.owner_id:
            return Permissions.ALL
        perms = int(guild.roles[guild.id]["permissions"])
        member = guild.members.get(user_id)
        if member is not None:
            for role_id in member.roles:
                role = guild.roles.get(role_id)
                if role is not None:
                    perms |= int(role["permissions"])
        if perms & Permissions.ADMINISTRATOR:
            return Permissions.ALL
        return perms

    def _member_json(self, guild_id: int, user_id: int, *, with_user: bool = False, permissions: bool = False) -> dict:
        member = self._guilds[guild_id].members[user_id]
        return member.to_json(
            self._users[user_id].to_json() if with_user else None,
            self._permissions(guild_id, user_id) if permissions else None,
        )

    def _guild_create_json(self, guild: _Guild) -> dict:
        channels = [copy.deepcopy(self._channels[c]) for c in guild.channel_ids]
        threads = [
            copy.deepcopy(c) for c in self._channels.values()
            if c["type"] in THREAD_TYPES and int(c["guild_id"]) == guild.id and not c["thread_metadata"]["archived"]
        ]
        for c in channels + threads:
            c.pop("guild_id", None)
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "features": [],
            "roles": [copy.deepcopy(r) for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "joined_at": guild.joined_at,
            "large": False,
            "unavailable": False,
            "member_count": len(guild.members),
            "members": [
                m.to_json(self._users[m.user_id].to_json()) for m in guild.members.values()
            ],
            "channels": channels,
            "threads": threads,
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "max_members": 500000,
            "max_video_channel_users": 25,
        }

    def _find_command(self, guild_id: int, name: str) -> tuple:
        for scope in (guild_id, None):
            command = self._commands.get(scope, {}).get(name)
            if command is not None and int(command.get("type", 1)) == 1:
                return scope, command
        return None, None

    def _command_id(self, scope: Optional[int], name: str, kind: int) -> int:
        key = (scope, name, kind)
        if key not in self._command_ids:
            self._command_ids[key] = self.next_id()
        return self._command_ids[key]

    def _build_options(self, guild_id: int, options: Union[dict, list, None], leaf: Optional[dict],
                       resolved: dict) -> list:
        if not options:
            return []
        definitions = {o.get("name"): o for o in (leaf or {}).get("options", [])}
        if isinstance(options, dict):
            items = []
            for name, value in options.items():
                kind = definitions.get(name, {}).get("type")
                if kind is None:
                    if isinstance(value, bool):
                        kind = 5
                    elif isinstance(value, int):
                        kind = 4
                    elif isinstance(value, float):
                        kind = 10
                    else:
                        kind = 3
                items.append({"name": name, "type": int(kind), "value": value})
        else:
            items = [dict(o) for o in options]
        guild = self._guilds[guild_id]
        for item in items:
            kind = item["type"]
            if kind in (6, 7, 8, 9, 11):
                snowflake = int(item["value"])
                item["value"] = str(snowflake)
                if kind in (6, 9) and snowflake in self._users:
                    resolved.setdefault("users", {})[str(snowflake)] = self._users[snowflake].to_json()
                    if snowflake in guild.members:
                        resolved.setdefault("members", {})[str(snowflake)] = self._member_json(
                            guild_id, snowflake, permissions=True
                        )
                elif kind in (8, 9) and snowflake in guild.roles:
                    resolved.setdefault("roles", {})[str(snowflake)] = copy.deepcopy(guild.roles[snowflake])
                elif kind == 7 and snowflake in self._channels:
                    channel = copy.deepcopy(self._channels[snowflake])
                    channel["permissions"] = str(self._permissions(guild_id, self.bot_user_id))
                    resolved.setdefault("channels", {})[str(snowflake)] = channel
        return items

    # -- helpers: messages ---------------------------------------------------------------

    def _create_message(
        self,
        channel_id: int,
        author_id: int,
        payload: dict,
        files: Sequence[UploadedFile],
        *,
        message_id: Optional[int] = None,
        allowed_mentions: Optional[dict] = None,
        extra: Optional[dict] = None,
        store: bool = True,
    ) -> dict:
        mid = int(message_id) if message_id is not None else self.next_id()
        channel = self._channels[channel_id]
        guild_id = self._guild_id_of(channel_id)
        reference = payload.get("message_reference")
        referenced = None
        if reference:
            ref_channel = int(reference.get("channel_id") or channel_id)
            referenced = self._messages.get(ref_channel, {}).get(int(reference["message_id"]))
        message = {
            "id": str(mid),
            "channel_id": str(channel_id),
            "type": 19 if referenced is not None else 0,
            "author": self._users[author_id].to_json(),
            "content": payload.get("content") or "",
            "timestamp": _iso(_snowflake_time(mid)),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": self._attachments_for(channel_id, payload.get("attachments"), files, []),
            "embeds": list(payload.get("embeds") or []),
            "reactions": [],
            "pinned": False,
            "flags": int(payload.get("flags") or 0),
            "components": list(payload.get("components") or []),
        }
        if payload.get("nonce") is not None:
            message["nonce"] = payload["nonce"]
        if referenced is not None:
            message["message_reference"] = {
                "type": 0,
                "message_id": referenced["id"],
                "channel_id": referenced["channel_id"],
                "guild_id": str(guild_id) if guild_id is not None else None,
            }
            nested = copy.deepcopy(referenced)
            nested.pop("referenced_message", None)
            message["referenced_message"] = nested
        if extra:
            message.update(extra)
        self._apply_mentions(message, guild_id, allowed_mentions, referenced)
        if store:
            self._messages.setdefault(channel_id, {})[mid] = message
            channel["last_message_id"] = str(mid)
            if channel["type"] in THREAD_TYPES:
                channel["message_count"] = channel.get("message_count", 0) + 1
                channel["total_message_sent"] = channel.get("total_message_sent", 0) + 1
        return message

    def _attachments_for(self, channel_id: int, declared: Optional[list], files: Sequence[UploadedFile],
                         existing: list) -> list:
        by_index = {f.index: f for f in files if f.index is not None}
        result: list = []
        used: set = set()
        if declared is not None:
            for entry in declared:
                entry_id = int(entry["id"])
                if entry_id in by_index and entry_id not in used:
                    used.add(entry_id)
                    result.append(self._store_file(channel_id, by_index[entry_id], entry))
                else:
                    keep = next((a for a in existing if int(a["id"]) == entry_id), None)
                    if keep is not None:
                        result.append(keep)
        for index, upload in sorted(by_index.items()):
            if index not in used:
                result.append(self._store_file(channel_id, upload, {}))
        return result

    def _store_file(self, channel_id: int, upload: UploadedFile, entry: dict) -> dict:
        attachment_id = self.next_id()
        filename = entry.get("filename") or upload.filename
        self._files[attachment_id] = dataclasses.replace(upload, filename=filename)
        url = f"{self.base_url}/attachments/{channel_id}/{attachment_id}/{filename}"
        attachment = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(upload.data),
            "url": url,
            "proxy_url": url,
            "content_type": upload.content_type
            if upload.content_type not in (None, "application/octet-stream") else _guess_type(filename),
        }
        if entry.get("description") is not None:
            attachment["description"] = entry["description"]
        return attachment

    def _apply_mentions(self, message: dict, guild_id: Optional[int], allowed: Optional[dict],
                        referenced: Optional[dict]) -> None:
        """Fill ``mentions``/``mention_roles``/``mention_everyone`` as Discord would (who is pinged)."""
        content = message.get("content") or ""
        parse = set(allowed.get("parse", [])) if allowed is not None else {"users", "roles", "everyone"}
        users_allowed = {int(u) for u in (allowed or {}).get("users", [])}
        roles_allowed = {int(r) for r in (allowed or {}).get("roles", [])}
        guild = self._guilds.get(guild_id) if guild_id is not None else None

        mentioned: list = []
        for raw in _USER_MENTION.findall(content):
            uid = int(raw)
            if uid in self._users and uid not in mentioned and ("users" in parse or uid in users_allowed):
                mentioned.append(uid)
        if referenced is not None:
            replied = allowed.get("replied_user", False) if allowed is not None else True
            author = int(referenced["author"]["id"])
            if replied and author not in mentioned:
                mentioned.append(author)
        roles: list = []
        for raw in _ROLE_MENTION.findall(content):
            rid = int(raw)
            allowed_role = "roles" in parse or rid in roles_allowed
            if guild is not None and rid in guild.roles and rid not in roles and allowed_role:
                roles.append(rid)
        message["mentions"] = [self._users[u].to_json() for u in mentioned]
        message["mention_roles"] = [str(r) for r in roles]
        message["mention_everyone"] = bool(_EVERYONE.search(content)) and "everyone" in parse

    def _gateway_message(self, message: dict) -> dict:
        """The message as MESSAGE_CREATE/UPDATE carries it: with guild_id and member objects."""
        data = copy.deepcopy(message)
        guild_id = self._guild_id_of(int(message["channel_id"]))
        if guild_id is None:
            return data
        data["guild_id"] = str(guild_id)
        guild = self._guilds[guild_id]
        author_id = int(message["author"]["id"])
        if author_id in guild.members and not message.get("webhook_id"):
            data["member"] = self._member_json(guild_id, author_id)
        for mention in data["mentions"]:
            uid = int(mention["id"])
            if uid in guild.members:
                mention["member"] = self._member_json(guild_id, uid)
        return data

    async def _remove_message(self, channel_id: int, message_id: int) -> None:
        message = self._messages[channel_id].pop(message_id)
        self._deleted[message_id] = message
        payload = {"id": str(message_id), "channel_id": str(channel_id)}
        guild_id = self._guild_id_of(channel_id)
        if guild_id is not None:
            payload["guild_id"] = str(guild_id)
        await self.dispatch("MESSAGE_DELETE", payload)

    def _set_reaction(self, message: dict, emoji: str, user_id: int, *, add: bool) -> None:
        users = self._reactors.setdefault((message["id"], emoji), [])
        if add and user_id not in users:
            users.append(user_id)
        elif not add and user_id in users:
            users.remove(user_id)
        reactions = [r for r in message.get("reactions", []) if r["emoji"]["name"] != emoji]
        if users:
            entry = {"emoji": {"id": None, "name": emoji}, "count": len(users), "me": self.bot_user_id in users,
                     "count_details": {"normal": len(users), "burst": 0}, "burst_colors": [], "me_burst": False}
            old = [r["emoji"]["name"] for r in message.get("reactions", [])]
            reactions.insert(old.index(emoji) if emoji in old else len(reactions), entry)
        message["reactions"] = reactions

    def reactions(self, message_id: int) -> dict:
        """``{emoji: [user ids]}`` of a message."""
        return {emoji: list(users) for (mid, emoji), users in self._reactors.items()
                if mid == str(message_id) and users}

    def _new_thread(self, parent_id: int, thread_id: int, name: str, owner_id: int, kind: int,
                    auto_archive: int) -> dict:
        parent = self._channel(parent_id)
        guild_id = int(parent["guild_id"])
        now = _iso(time.time())
        thread = {
            "id": str(thread_id),
            "type": kind,
            "guild_id": str(guild_id),
            "parent_id": str(parent_id),
            "owner_id": str(owner_id),
            "name": name,
            "last_message_id": None,
            "message_count": 0,
            "total_message_sent": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "flags": 0,
            "applied_tags": [],
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": auto_archive,
                "archive_timestamp": now,
                "locked": False,
                "invitable": kind == PRIVATE_THREAD,
                "create_timestamp": now,
            },
        }
        self._channels[thread_id] = thread
        self._messages[thread_id] = {}
        return thread

    def _make_thread_from(self, channel_id: int, message: dict, name: str, owner_id: int, auto_archive: int) -> dict:
        mid = int(message["id"])
        if mid in self._channels:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        kind = 10 if self._channels[channel_id]["type"] == NEWS else PUBLIC_THREAD
        thread = self._new_thread(channel_id, mid, name, owner_id, kind, auto_archive)
        message["flags"] = int(message.get("flags") or 0) | FLAG_HAS_THREAD
        message["thread"] = copy.deepcopy(thread)
        return thread

    # -- REST plumbing -------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        path = request.path[len(API_PREFIX):]
        route_info = request.match_info.route
        resource = route_info.resource
        canonical = resource.canonical if resource is not None else path
        route = canonical[len(API_PREFIX):] if canonical.startswith(API_PREFIX) else canonical
        try:
            body, files = await _read_body(request)
        except ValueError as exc:
            return _json_response(400, {"message": f"400: Bad Request ({exc})", "code": 50109})
        record = RecordedRequest(
            method=request.method,
            path=path,
            route=route,
            query=dict(request.query),
            headers=dict(request.headers),
            json=body,
            files=files,
            at=time.time(),
        )
        self.requests.append(record)
        request[_RECORD] = record
        request[_BODY] = body
        request[_FILES] = files

        response = self._maybe_rate_limit(request.method, path, route, request.match_info)
        if response is None:
            try:
                if not route.startswith(("/webhooks/", "/interactions/")):
                    if request.headers.get("Authorization") != f"Bot {self.token}":
                        raise ApiError(401, 0, "401: Unauthorized")
                response = await handler(request)
            except ApiError as exc:
                response = _json_response(exc.status, exc.body())
            except Exception as exc:  # a bug or gap in the fake: fail fast (a 500 would be retried for ~25 s)
                self.server_errors.append(exc)
                response = _json_response(400, {"message": f"fake discord error: {exc!r}", "code": 0})
            response.headers.update(self._bucket_headers(request.method, route, request.match_info))

        record.status = response.status
        if isinstance(response, web.Response) and response.body is not None and response.status != 204:
            with contextlib.suppress(ValueError, TypeError):
                record.response = json.loads(bytes(response.body))
        self._notify()
        return response

    def _major(self, match_info: Any) -> str:
        keys = ("channel_id", "guild_id", "webhook_id", "webhook_token", "interaction_id", "token")
        return "+".join(match_info[k] for k in keys if k in match_info)

    def _maybe_rate_limit(self, method: str, path: str, route: str, match_info: Any) -> Optional[web.Response]:
        for rule in self._rules:
            if rule.matches(method, path):
                rule.remaining -= 1
                self.rate_limit_hits += 1
                retry = rule.retry_after
                headers = {
                    "Retry-After": str(math.ceil(retry)),  # whole seconds, as Discord sends it
                    "Via": "1.1 google",
                    "X-RateLimit-Scope": "global" if rule.global_ else "user",
                }
                if rule.global_:
                    headers["X-RateLimit-Global"] = "true"
                else:
                    headers.update({
                        "X-RateLimit-Limit": str(self.bucket_limit),
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": f"{time.time() + retry:.3f}",
                        "X-RateLimit-Reset-After": f"{retry:.3f}",
                        "X-RateLimit-Bucket": _bucket_hash(f"{method} {route}"),
                    })
                body = {"message": "You are being rate limited.", "retry_after": retry, "global": rule.global_}
                if rule.global_:
                    body["code"] = 0
                return _json_response(429, body, headers)
        return None

    def _bucket_headers(self, method: str, route: str, match_info: Any) -> dict:
        bucket = _bucket_hash(f"{method} {route}")
        key = (bucket, self._major(match_info))
        now = time.time()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= self.bucket_window:
            start, count = now, 0
        count += 1
        self._windows[key] = (start, count)
        remaining = max(self.bucket_limit - count, 0)
        reset_after = max(self.bucket_window - (now - start), 0.001)
        return {
            "X-RateLimit-Limit": str(self.bucket_limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{now + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }

    def _add_routes(self, app: web.Application) -> None:
        p = API_PREFIX
        r = app.router
        r.add_get("/gateway", self._gateway)
        r.add_get("/gateway-resume", self._gateway)
        r.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._get_attachment)
        r.add_get(p + "/gateway", self._get_gateway)
        r.add_get(p + "/gateway/bot", self._get_gateway_bot)
        r.add_get(p + "/users/@me", self._get_me)
        r.add_get(p + "/users/{user_id}", self._get_user)
        r.add_get(p + "/oauth2/applications/@me", self._get_application)
        r.add_get(p + "/applications/@me", self._get_application)
        r.add_get(p + "/channels/{channel_id}", self._get_channel)
        r.add_get(p + "/channels/{channel_id}/messages", self._get_messages)
        r.add_post(p + "/channels/{channel_id}/messages", self._post_message)
        r.add_get(p + "/channels/{channel_id}/messages/{message_id}", self._get_message_route)
        r.add_patch(p + "/channels/{channel_id}/messages/{message_id}", self._patch_message)
        r.add_delete(p + "/channels/{channel_id}/messages/{message_id}", self._delete_message_route)
        r.add_post(p + "/channels/{channel_id}/messages/{message_id}/threads", self._post_thread_from_message)
        r.add_post(p + "/channels/{channel_id}/threads", self._post_thread)
        r.add_post(p + "/channels/{channel_id}/typing", self._no_content)
        r.add_put(p + "/channels/{channel_id}/thread-members/@me", self._no_content)
        r.add_put(p + "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._put_reaction)
        r.add_delete(p + "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._delete_reaction)
        r.add_get(p + "/guilds/{guild_id}/members/{user_id}", self._get_member)
        for scope in ("", "/guilds/{guild_id}"):
            base = p + "/applications/{application_id}" + scope + "/commands"
            r.add_get(base, self._get_commands)
            r.add_put(base, self._put_commands)
            r.add_post(base, self._post_command)
            r.add_get(base + "/{command_id}", self._get_command)
            r.add_patch(base + "/{command_id}", self._patch_command)
            r.add_delete(base + "/{command_id}", self._delete_command)
        r.add_post(p + "/interactions/{interaction_id}/{token}/callback", self._interaction_callback)
        r.add_post(p + "/webhooks/{webhook_id}/{webhook_token}", self._webhook_execute)
        r.add_get(p + "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", self._webhook_get)
        r.add_patch(p + "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", self._webhook_edit)
        r.add_delete(p + "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", self._webhook_delete)
        r.add_route("*", p + "/{tail:.*}", self._unhandled)

    async def _unhandled(self, request: web.Request) -> web.Response:
        self.unhandled.append(request[_RECORD])
        return _json_response(404, {"message": "404: Not Found", "code": 0})

    async def _no_content(self, request: web.Request) -> web.Response:
        if "channel_id" in request.match_info:
            self._rest_channel(request)
        return web.Response(status=204)

    def _rest_channel(self, request: web.Request) -> dict:
        raw = request.match_info["channel_id"]
        channel = self._channels.get(int(raw)) if raw.isdigit() else None
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def _rest_message(self, channel_id: int, message_id: str) -> dict:
        try:
            return self._messages[channel_id][int(message_id)]
        except (KeyError, ValueError):
            raise ApiError(404, 10008, "Unknown Message") from None

    def _require(self, channel: dict, *bits: int) -> None:
        guild_id = channel.get("guild_id")
        if guild_id is None:
            return
        perms = self._permissions(int(guild_id), self.bot_user_id)
        for bit in bits:
            if not perms & bit:
                raise ApiError(403, 50013, "Missing Permissions")

    async def _get_attachment(self, request: web.Request) -> web.Response:
        upload = self._files.get(int(request.match_info["attachment_id"]))
        if upload is None:
            return web.Response(status=404)
        return web.Response(body=upload.data, headers={"Content-Type": _guess_type(upload.filename)})

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return _json_response(200, {"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        return _json_response(200, {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1},
        })

    def _me_json(self) -> dict:
        me = self._users[self.bot_user_id].to_json()
        me.update({"verified": True, "mfa_enabled": False, "locale": "en-US", "email": None, "bio": ""})
        return me

    async def _get_me(self, request: web.Request) -> web.Response:
        return _json_response(200, self._me_json())

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self._users.get(int(request.match_info["user_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return _json_response(200, user.to_json())

    async def _get_member(self, request: web.Request) -> web.Response:
        guild = self._guilds.get(int(request.match_info["guild_id"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        raw = request.match_info["user_id"]
        uid = int(raw) if raw.isdigit() else 0
        if uid not in self._users:
            raise ApiError(404, 10013, "Unknown User")
        if uid not in guild.members:
            raise ApiError(404, 10007, "Unknown Member")
        return _json_response(200, self._member_json(guild.id, uid, with_user=True))

    async def _get_application(self, request: web.Request) -> web.Response:
        owner = _User(self._owner_id, "app-owner").to_json()
        return _json_response(200, {
            "id": str(self.application_id),
            "name": self.application_name,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": owner,
            "team": None,
            "verify_key": hashlib.sha256(self.token.encode()).hexdigest(),
            "flags": (1 << 15) | (1 << 19) | (1 << 23),
            "bot": self._users[self.bot_user_id].to_json(),
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "approximate_guild_count": len(self._guilds),
            "rpc_origins": [],
            "tags": [],
            "integration_types_config": {"0": {}},
        })

    async def _get_channel(self, request: web.Request) -> web.Response:
        return _json_response(200, self._rest_channel(request))

    async def _get_messages(self, request: web.Request) -> web.Response:
        channel = self._rest_channel(request)
        self._require(channel, Permissions.VIEW_CHANNEL, Permissions.READ_MESSAGE_HISTORY)
        try:
            limit = int(request.query.get("limit", 50))
        except ValueError:
            raise _form_error(["limit"], "NUMBER_TYPE_COERCE", "Value is not int.") from None
        if not 1 <= limit <= 100:
            raise _form_error(["limit"], "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")
        ordered = sorted(self._messages[int(channel["id"])].values(), key=lambda m: int(m["id"]))
        if "around" in request.query:
            around = int(request.query["around"])
            older = [m for m in ordered if int(m["id"]) < around][-(limit // 2):] if limit // 2 else []
            newer = [m for m in ordered if int(m["id"]) >= around][: limit - len(older)]
            chosen = older + newer
        elif "after" in request.query:
            after = int(request.query["after"])
            chosen = [m for m in ordered if int(m["id"]) > after][:limit]
        elif "before" in request.query:
            before = int(request.query["before"])
            chosen = [m for m in ordered if int(m["id"]) < before][-limit:]
        else:
            chosen = ordered[-limit:]
        return _json_response(200, list(reversed(chosen)))  # newest first, as Discord

    async def _get_message_route(self, request: web.Request) -> web.Response:
        channel = self._rest_channel(request)
        return _json_response(200, self._rest_message(int(channel["id"]), request.match_info["message_id"]))

    def _validate_message(self, payload: dict, files: Sequence[UploadedFile], *, creating: bool,
                          prefix: Sequence[Union[str, int]] = ()) -> None:
        content = payload.get("content")
        if content is not None and len(content) > MAX_CONTENT:
            raise _form_error([*prefix, "content"], "BASE_TYPE_MAX_LENGTH",
                              f"Must be {MAX_CONTENT} or fewer in length.")
        embeds = payload.get("embeds") or []
        if len(embeds) > MAX_EMBEDS:
            raise _form_error([*prefix, "embeds"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length.")
        total = 0
        for index, embed in enumerate(embeds):
            description = embed.get("description") or ""
            title = embed.get("title") or ""
            if len(description) > MAX_EMBED_DESCRIPTION:
                raise _form_error([*prefix, "embeds", index, "description"], "BASE_TYPE_MAX_LENGTH",
                                  f"Must be {MAX_EMBED_DESCRIPTION} or fewer in length.")
            if len(title) > MAX_EMBED_TITLE:
                raise _form_error([*prefix, "embeds", index, "title"], "BASE_TYPE_MAX_LENGTH",
                                  f"Must be {MAX_EMBED_TITLE} or fewer in length.")
            total += len(description) + len(title)
            total += len((embed.get("footer") or {}).get("text") or "")
            total += len((embed.get("author") or {}).get("name") or "")
            for field in embed.get("fields") or []:
                total += len(field.get("name") or "") + len(field.get("value") or "")
        if total > MAX_EMBED_TOTAL:
            raise _form_error([*prefix, "embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
        nonce = payload.get("nonce")
        if nonce is not None and len(str(nonce)) > MAX_NONCE:
            raise _form_error([*prefix, "nonce"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_NONCE} or fewer in length.")
        if len(files) > MAX_FILES:
            raise _form_error([*prefix, "files"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length.")
        if sum(len(f.data) for f in files) > self.upload_limit:
            raise ApiError(413, 40005, "Request entity too large")
        allowed = payload.get("allowed_mentions")
        if allowed:
            parse = set(allowed.get("parse", []))
            if "users" in parse and allowed.get("users"):
                raise _form_error([*prefix, "allowed_mentions"], "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                                  "parse:[\"users\"] and users: [ids...] are mutually exclusive.")
            if "roles" in parse and allowed.get("roles"):
                raise _form_error([*prefix, "allowed_mentions"], "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                                  "parse:[\"roles\"] and roles: [ids...] are mutually exclusive.")
        if creating and not (content or embeds or files or payload.get("components") or payload.get("sticker_ids")
                             or payload.get("poll")):
            raise ApiError(400, 50006, "Cannot send an empty message")

    async def _post_message(self, request: web.Request) -> web.Response:
        channel = self._rest_channel(request)
        cid = int(channel["id"])
        payload = request[_BODY] or {}
        files = request[_FILES]
        is_thread = channel["type"] in THREAD_TYPES
        self._require(channel, Permissions.VIEW_CHANNEL,
                      Permissions.SEND_MESSAGES_IN_THREADS if is_thread else Permissions.SEND_MESSAGES)
        if files:
            self._require(channel, Permissions.ATTACH_FILES)
        self._validate_message(payload, files, creating=True)
        reference = payload.get("message_reference")
        if reference:
            ref_channel = int(reference.get("channel_id") or cid)
            if int(reference["message_id"]) not in self._messages.get(ref_channel, {}):
                if reference.get("fail_if_not_exists", True):
                    raise _form_error(["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
                payload = {k: v for k, v in payload.items() if k != "message_reference"}

        nonce = payload.get("nonce")
        if nonce is not None and payload.get("enforce_nonce"):
            key = (cid, self.bot_user_id, str(nonce))
            seen = self._nonces.get(key)
            if seen is not None and time.monotonic() - seen[0] <= self.nonce_ttl:
                original = self._messages.get(cid, {}).get(seen[1]) or self._deleted.get(seen[1])
                if original is not None:
                    request[_RECORD].deduplicated = True
                    return _json_response(200, original)

        message = self._create_message(cid, self.bot_user_id, payload, files,
                                       allowed_mentions=payload.get("allowed_mentions"))
        if payload.get("allowed_mentions") is not None:
            self._allowed_mentions[int(message["id"])] = payload["allowed_mentions"]
        if nonce is not None and payload.get("enforce_nonce"):
            self._nonces[(cid, self.bot_user_id, str(nonce))] = (time.monotonic(), int(message["id"]))
        if self.echo_own_messages:
            await self.dispatch("MESSAGE_CREATE", self._gateway_message(message))
        return _json_response(200, message)

    def _edit_message_fields(self, message: dict, payload: dict, files: Sequence[UploadedFile]) -> None:
        channel_id = int(message["channel_id"])
        if "content" in payload:
            message["content"] = payload["content"] or ""
        if "embeds" in payload:
            message["embeds"] = list(payload["embeds"] or [])
        if "components" in payload:
            message["components"] = list(payload["components"] or [])
        if "flags" in payload and payload["flags"] is not None:
            keep = int(message.get("flags") or 0) & (FLAG_EPHEMERAL | FLAG_HAS_THREAD)
            message["flags"] = keep | (int(payload["flags"]) & ~FLAG_LOADING)
        if "attachments" in payload or files:
            message["attachments"] = self._attachments_for(
                channel_id, payload.get("attachments"), files, message.get("attachments", [])
            )
        message["edited_timestamp"] = _iso(time.time())
        allowed = payload.get("allowed_mentions")
        if allowed is not None:
            self._allowed_mentions[int(message["id"])] = allowed
        else:
            allowed = self._allowed_mentions.get(int(message["id"]))
        referenced = message.get("referenced_message")
        self._apply_mentions(message, self._guild_id_of(channel_id), allowed, referenced)

    async def _patch_message(self, request: web.Request) -> web.Response:
        channel = self._rest_channel(request)
        cid = int(channel["id"])
        message = self._rest_message(cid, request.match_info["message_id"])
        payload = request[_BODY] or {}
        if int(message["author"]["id"]) != self.bot_user_id:
            if set(payload) - {"flags"}:
                raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._validate_message(payload, request[_FILES], creating=False)
        self._edit_message_fields(message, payload, request[_FILES])
        await self.dispatch("MESSAGE_UPDATE", self._gateway_message(message))
        return _json_response(200, message)

    async def _delete_message_route(self, request: web.Request) -> web.Response:
        channel = self._rest_channel(request)
        cid = int(channel["id"])
        message = self._rest_message(cid, request.match_info["message_id"])
        if int(message["author"]["id"]) != self.bot_user_id:
            self._require(channel, Permissions.MANAGE_MESSAGES)
        await self._remove_message(cid, int(message["id"]))
        return web.Response(status=204)

    def _thread_name(self, payload: dict) -> str:
        name = payload.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise _form_error(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        return name

    def _bot_thread_member(self, thread: dict) -> dict:
        return {"id": thread["id"], "user_id": str(self.bot_user_id), "join_timestamp": _iso(time.time()), "flags": 1}

    async def _post_thread_from_message(self, request: web.Request) -> web.Response:
        channel = self._rest_channel(request)
        cid = int(channel["id"])
        if channel["type"] not in (TEXT, NEWS):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        self._require(channel, Permissions.VIEW_CHANNEL, Permissions.CREATE_PUBLIC_THREADS)
        message = self._rest_message(cid, request.match_info["message_id"])
        payload = request[_BODY] or {}
        thread = self._make_thread_from(cid, message, self._thread_name(payload), self.bot_user_id,
                                        int(payload.get("auto_archive_duration") or 1440))
        response = dict(copy.deepcopy(thread), member=self._bot_thread_member(thread))
        await self.dispatch("THREAD_CREATE", dict(response, newly_created=True))
        return _json_response(201, response)

    async def _post_thread(self, request: web.Request) -> web.Response:
        channel = self._rest_channel(request)
        cid = int(channel["id"])
        payload = request[_BODY] or {}
        kind = int(payload.get("type") or PUBLIC_THREAD)
        create = Permissions.CREATE_PRIVATE_THREADS if kind == PRIVATE_THREAD else Permissions.CREATE_PUBLIC_THREADS
        self._require(channel, Permissions.VIEW_CHANNEL, create)
        thread = self._new_thread(cid, self.next_id(), self._thread_name(payload), self.bot_user_id, kind,
                                  int(payload.get("auto_archive_duration") or 1440))
        response = dict(copy.deepcopy(thread), member=self._bot_thread_member(thread))
        await self.dispatch("THREAD_CREATE", dict(response, newly_created=True))
        starter = payload.get("message")
        if starter:  # forum-style thread with its first message
            self._validate_message(starter, request[_FILES], creating=True, prefix=["message"])
            message = self._create_message(int(thread["id"]), self.bot_user_id, starter, request[_FILES])
            response["message"] = message
            if self.echo_own_messages:
                await self.dispatch("MESSAGE_CREATE", self._gateway_message(message))
        return _json_response(201, response)

    async def _put_reaction(self, request: web.Request) -> web.Response:
        channel = self._rest_channel(request)
        message = self._rest_message(int(channel["id"]), request.match_info["message_id"])
        self._set_reaction(message, request.match_info["emoji"], self.bot_user_id, add=True)
        return web.Response(status=204)

    async def _delete_reaction(self, request: web.Request) -> web.Response:
        channel = self._rest_channel(request)
        message = self._rest_message(int(channel["id"]), request.match_info["message_id"])
        self._set_reaction(message, request.match_info["emoji"], self.bot_user_id, add=False)
        return web.Response(status=204)

    # -- application commands ------------------------------------------------------------

    def _command_scope(self, request: web.Request) -> Optional[int]:
        if int(request.match_info["application_id"]) != self.application_id:
            raise ApiError(403, 50001, "Missing Access")
        if "guild_id" in request.match_info:
            guild_id = int(request.match_info["guild_id"])
            if guild_id not in self._guilds:
                raise ApiError(403, 50001, "Missing Access")
            return guild_id
        return None

    def _validate_command(self, command: dict, index: int) -> None:
        def fail(path: list, code: str, message: str) -> ApiError:
            return _form_error([index, *path], code, message)

        kind = int(command.get("type", 1))
        name = command.get("name")
        if not isinstance(name, str) or not _COMMAND_NAME.match(name) or (kind == 1 and name != name.lower()):
            raise fail(["name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        if kind == 1:
            description = command.get("description") or ""
            if not 1 <= len(description) <= 100:
                raise fail(["description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")

        def check_options(options: list, path: list) -> None:
            if len(options) > 25:
                raise fail([*path, "options"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            seen: set = set()
            optional_seen = False
            for i, option in enumerate(options):
                opt_name = option.get("name")
                if not isinstance(opt_name, str) or not _COMMAND_NAME.match(opt_name) or opt_name != opt_name.lower():
                    raise fail([*path, "options", i, "name"], "APPLICATION_COMMAND_INVALID_NAME",
                               "Command name is invalid")
                if opt_name in seen:
                    raise fail([*path, "options"], "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                               "Option names must be unique")
                seen.add(opt_name)
                if not 1 <= len(option.get("description") or "") <= 100:
                    raise fail([*path, "options", i, "description"], "BASE_TYPE_BAD_LENGTH",
                               "Must be between 1 and 100 in length.")
                if option.get("type") in (1, 2):
                    check_options(option.get("options") or [], [*path, "options", i])
                    continue
                if option.get("required"):
                    if optional_seen:
                        raise fail([*path, "options"], "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                                   "Required options must be placed before non-required options")
                else:
                    optional_seen = True
                if len(option.get("choices") or []) > 25:
                    raise fail([*path, "options", i, "choices"], "BASE_TYPE_MAX_LENGTH",
                               "Must be 25 or fewer in length.")

        check_options(command.get("options") or [], [])

    def _store_command(self, scope: Optional[int], command: dict) -> dict:
        kind = int(command.get("type", 1))
        stored = {
            "id": str(self._command_id(scope, command["name"], kind)),
            "application_id": str(self.application_id),
            "version": str(self.next_id()),
            "type": kind,
            "name": command["name"],
            "description": command.get("description", ""),
            "options": copy.deepcopy(command.get("options") or []),
            "default_member_permissions": command.get("default_member_permissions"),
            "dm_permission": command.get("dm_permission", True),
            "nsfw": command.get("nsfw", False),
            "contexts": command.get("contexts"),
            "integration_types": command.get("integration_types", [0]),
            "name_localizations": command.get("name_localizations"),
            "description_localizations": command.get("description_localizations"),
        }
        if scope is not None:
            stored["guild_id"] = str(scope)
        return stored

    async def _get_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        return _json_response(200, list(self._commands.get(scope, {}).values()))

    async def _put_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        payload = request[_BODY]
        if not isinstance(payload, list):
            raise ApiError(400, 50035, "Invalid Form Body")
        names: set = set()
        for index, command in enumerate(payload):
            self._validate_command(command, index)
            key = (command["name"], int(command.get("type", 1)))
            if key in names:
                raise _form_error([index, "name"], "APPLICATION_COMMANDS_DUPLICATE_NAME",
                                  f"Application command names must be unique: {command['name']}")
            names.add(key)
        stored = {c["name"]: self._store_command(scope, c) for c in payload}
        self._commands[scope] = stored
        self.command_syncs.append(CommandSync(scope, copy.deepcopy(payload), time.time()))
        return _json_response(200, list(stored.values()))

    async def _post_command(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        command = request[_BODY] or {}
        self._validate_command(command, 0)
        stored = self._store_command(scope, command)
        existed = command["name"] in self._commands.get(scope, {})
        self._commands.setdefault(scope, {})[command["name"]] = stored
        return _json_response(200 if existed else 201, stored)

    def _command_by_id(self, scope: Optional[int], command_id: str) -> dict:
        for command in self._commands.get(scope, {}).values():
            if command["id"] == command_id:
                return command
        raise ApiError(404, 10063, "Unknown application command")

    async def _get_command(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        return _json_response(200, self._command_by_id(scope, request.match_info["command_id"]))

    async def _patch_command(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        command = self._command_by_id(scope, request.match_info["command_id"])
        merged = dict(command, **(request[_BODY] or {}))
        self._validate_command(merged, 0)
        stored = self._store_command(scope, merged)
        del self._commands[scope][command["name"]]
        self._commands[scope][stored["name"]] = stored
        return _json_response(200, stored)

    async def _delete_command(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        command = self._command_by_id(scope, request.match_info["command_id"])
        del self._commands[scope][command["name"]]
        return web.Response(status=204)

    # -- interactions --------------------------------------------------------------------

    def _interaction_message(self, record: _Interaction, data: dict, files: Sequence[UploadedFile],
                             *, flags: int, store: bool) -> dict:
        user = self._users[record.user_id].to_json()
        extra = {
            "webhook_id": str(self.application_id),
            "application_id": str(self.application_id),
            "interaction_metadata": {
                "id": str(record.id),
                "type": 2,
                "name": record.name,
                "command_type": 1,
                "user": user,
                "authorizing_integration_owners": (
                    {"0": str(record.guild_id)} if record.guild_id else {"1": str(record.user_id)}
                ),
            },
            "interaction": {"id": str(record.id), "type": 2, "name": record.name, "user": user},
        }
        payload = dict(data, flags=flags)
        message = self._create_message(record.channel_id, self.bot_user_id, payload, files,
                                       allowed_mentions=data.get("allowed_mentions"), extra=extra, store=store)
        message["type"] = 20  # CHAT_INPUT_COMMAND
        message.pop("message_reference", None)
        if data.get("allowed_mentions") is not None:
            self._allowed_mentions[int(message["id"])] = data["allowed_mentions"]
        return message

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        record = self._interactions.get(int(request.match_info["interaction_id"]))
        if record is None or record.token != request.match_info["token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        if record.callback_type is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - record.created > self.interaction_ack_timeout:
            raise ApiError(404, 10062, "Unknown interaction")
        body = request[_BODY] or {}
        files = request[_FILES]
        kind = int(body.get("type", 0))
        data = body.get("data") or {}
        message: Optional[dict] = None
        if kind == CHANNEL_MESSAGE:
            self._validate_message(data, files, creating=True, prefix=["data"])
        record.callback_type = kind
        if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            flags = int(data.get("flags") or 0)
            if kind == DEFERRED_CHANNEL_MESSAGE:
                flags |= FLAG_LOADING
                data = {"flags": data.get("flags", 0)}
            ephemeral = bool(flags & FLAG_EPHEMERAL)
            message = self._interaction_message(record, data, files, flags=flags, store=not ephemeral)
            record.original = message
            if not ephemeral and self.echo_own_messages:
                await self.dispatch("MESSAGE_CREATE", self._gateway_message(message))
        elif kind == UPDATE_MESSAGE and record.payload.get("message"):
            original = record.payload["message"]
            target = self._messages.get(int(original["channel_id"]), {}).get(int(original["id"]))
            if target is not None:
                self._edit_message_fields(target, data, files)
                message = target
                await self.dispatch("MESSAGE_UPDATE", self._gateway_message(target))
        record.responses.append(InteractionResponse(
            "callback", kind, copy.deepcopy(body.get("data") or {}), list(files), copy.deepcopy(message)
        ))
        if request.query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        interaction = {"id": str(record.id), "type": 2}
        resource: dict = {"type": kind}
        if message is not None and kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            interaction.update({
                "response_message_id": message["id"],
                "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(int(message["flags"]) & FLAG_EPHEMERAL),
            })
            resource["message"] = message
        elif message is not None:
            resource["message"] = message
        return _json_response(200, {"interaction": interaction, "resource": resource})

    def _webhook_interaction(self, request: web.Request) -> _Interaction:
        record = self._interactions_by_token.get(request.match_info["webhook_token"])
        if record is None or request.match_info["webhook_id"] != str(self.application_id):
            raise ApiError(404, 10015, "Unknown Webhook")
        if time.monotonic() - record.created > 15 * 60:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return record

    def _webhook_target(self, record: _Interaction, message_id: str) -> dict:
        if message_id == "@original":
            if record.original is None:
                raise ApiError(404, 10008, "Unknown Message")
            return record.original
        message = record.followups.get(int(message_id)) if message_id.isdigit() else None
        if message is None:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    async def _webhook_execute(self, request: web.Request) -> web.Response:
        record = self._webhook_interaction(request)
        if record.callback_type is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        payload = request[_BODY] or {}
        files = request[_FILES]
        self._validate_message(payload, files, creating=True)
        flags = int(payload.get("flags") or 0)
        ephemeral = bool(flags & FLAG_EPHEMERAL)
        message = self._interaction_message(record, payload, files, flags=flags, store=not ephemeral)
        record.followups[int(message["id"])] = message
        if not ephemeral and self.echo_own_messages:
            await self.dispatch("MESSAGE_CREATE", self._gateway_message(message))
        record.responses.append(InteractionResponse(
            "followup", None, copy.deepcopy(payload), list(files), copy.deepcopy(message)
        ))
        self._notify()
        return _json_response(200, message)

    async def _webhook_get(self, request: web.Request) -> web.Response:
        record = self._webhook_interaction(request)
        return _json_response(200, self._webhook_target(record, request.match_info["message_id"]))

    async def _webhook_edit(self, request: web.Request) -> web.Response:
        record = self._webhook_interaction(request)
        message_id = request.match_info["message_id"]
        message = self._webhook_target(record, message_id)
        payload = request[_BODY] or {}
        files = request[_FILES]
        self._validate_message(payload, files, creating=False)
        was_loading = bool(int(message.get("flags") or 0) & FLAG_LOADING)
        self._edit_message_fields(message, payload, files)
        message["flags"] = int(message.get("flags") or 0) & ~FLAG_LOADING
        if was_loading:
            message["edited_timestamp"] = None  # completing a deferred answer is not an "edit"
        ephemeral = bool(int(message["flags"]) & FLAG_EPHEMERAL)
        if not ephemeral and self.echo_own_messages:
            await self.dispatch("MESSAGE_UPDATE", self._gateway_message(message))
        kind = "edit_original" if message_id == "@original" else "edit_followup"
        record.responses.append(
            InteractionResponse(kind, None, copy.deepcopy(payload), list(files), copy.deepcopy(message))
        )
        self._notify()
        return _json_response(200, message)

    async def _webhook_delete(self, request: web.Request) -> web.Response:
        record = self._webhook_interaction(request)
        message_id = request.match_info["message_id"]
        message = self._webhook_target(record, message_id)
        cid, mid = int(message["channel_id"]), int(message["id"])
        if mid in self._messages.get(cid, {}):
            await self._remove_message(cid, mid)
        if message_id == "@original":
            record.original = None
        else:
            record.followups.pop(mid, None)
        kind = "delete_original" if message_id == "@original" else "delete_followup"
        record.responses.append(InteractionResponse(kind, None, {}, [], copy.deepcopy(message)))
        self._notify()
        return web.Response(status=204)

    # -- gateway -------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        self._sockets.add(ws)
        connection = GatewayConnection(request.path, dict(request.query))
        self.gateway_connections.append(connection)
        session: Optional[_Session] = None
        try:
            await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                                          "s": None, "t": None}))
            async for msg in ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                raw = msg.data if msg.type == WSMsgType.TEXT else msg.data.decode("utf-8")
                try:
                    payload = json.loads(raw)
                    op = payload["op"]
                except (ValueError, KeyError, TypeError):
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                self.gateway_received.append(payload)
                self._notify()
                if op == 1:  # HEARTBEAT
                    await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
                elif op == 2:  # IDENTIFY
                    if session is not None:
                        await ws.close(code=4005, message=b"Already authenticated.")
                        break
                    session = await self._identify(ws, payload.get("d") or {}, connection)
                    if session is None:
                        break
                elif op == 6:  # RESUME
                    if session is not None:
                        await ws.close(code=4005, message=b"Already authenticated.")
                        break
                    session = await self._resume(ws, payload.get("d") or {}, connection)
                elif op == 8:  # REQUEST_GUILD_MEMBERS
                    if session is None:
                        await ws.close(code=4003, message=b"Not authenticated.")
                        break
                    await self._members_chunk(session, payload.get("d") or {})
                elif op in (3, 4):  # presence / voice state: accepted, nothing to do
                    if session is None:
                        await ws.close(code=4003, message=b"Not authenticated.")
                        break
                else:
                    await ws.close(code=4001, message=b"Unknown opcode.")
                    break
        finally:
            self._sockets.discard(ws)
            if session is not None and session.conn is ws:
                async with session.lock:
                    if session.conn is ws:
                        session.conn = None
                if ws.close_code in (1000, 1001):
                    # A client closing with 1000 or 1001 ends its session: it can't be resumed,
                    # and no more events are kept for it.
                    self._sessions.pop(session.id, None)
            self._notify()
        return ws

    async def _identify(
        self, ws: web.WebSocketResponse, data: dict, connection: GatewayConnection
    ) -> Optional[_Session]:
        connection.kind = "identify"
        if data.get("token") != self.token and data.get("token") != f"Bot {self.token}":
            connection.kind = "invalid"
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        intents = int(data.get("intents") or 0)
        if intents & Intents.PRIVILEGED and not self.privileged_intents:
            connection.kind = "invalid"
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return None
        session = _Session(secrets.token_hex(16), self.token, intents, data)
        self.identify_count += 1
        ready = {
            "v": 10,
            "user": self._me_json(),
            "guilds": [{"id": str(g), "unavailable": True} for g in self._guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "shard": data.get("shard") or [0, 1],
            "application": {"id": str(self.application_id), "flags": (1 << 15) | (1 << 19) | (1 << 23)},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
        }
        # READY and the GUILD_CREATEs take seq 1.. before any other event can be logged.
        session.append("READY", ready)
        if intents & Intents.GUILDS:
            for guild in list(self._guilds.values()):
                session.append("GUILD_CREATE", self._guild_create_json(guild))
        session.conn = ws
        self._sessions[session.id] = session
        await self._flush(session)
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: dict, connection: GatewayConnection) -> Optional[_Session]:
        connection.kind = "resume"
        session = self._sessions.get(data.get("session_id") or "")
        if session is None or data.get("token") not in (self.token, f"Bot {self.token}"):
            connection.kind = "invalid"
            await ws.send_str(json.dumps({"op": 9, "d": False, "s": None, "t": None}))
            return None
        seq = int(data.get("seq") or 0)
        async with session.lock:
            old, session.conn = session.conn, None
            if old is not None and old is not ws:
                with contextlib.suppress(Exception):
                    await old.close(code=4000)
            index = min(seq, session.seq)  # log[index] holds seq index + 1
            while index < session.seq:  # the log may grow while we replay
                await ws.send_str(session.log[index][1])
                index += 1
            session.conn = ws
            session.sent = index
            session.append("RESUMED", {"_trace": ["fake-discord"]})
            self.resume_count += 1
        await self._flush(session)
        self._notify()
        return session

    async def _members_chunk(self, session: _Session, data: dict) -> None:
        guild = self._guilds.get(int(data.get("guild_id") or 0))
        if guild is None:
            return
        wanted = [int(u) for u in (data.get("user_ids") or [])]
        query = (data.get("query") or "").lower()
        limit = int(data.get("limit") or 0)
        members = []
        for member in guild.members.values():
            user = self._users[member.user_id]
            if wanted and member.user_id not in wanted:
                continue
            if not wanted and query and not user.username.lower().startswith(query):
                continue
            members.append(member.to_json(user.to_json()))
        if limit:
            members = members[:limit]
        chunk = {
            "guild_id": str(guild.id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [str(u) for u in wanted if u not in guild.members],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        session.append("GUILD_MEMBERS_CHUNK", chunk)
        await self._flush(session)


# ---------------------------------------------------------------------------------------
# Module helpers
# ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def redirect_discord(api_base: str, gateway_url: str) -> Iterator[None]:
    """Point discord.py's REST base and default gateway elsewhere; restore them on exit."""
    import discord.gateway
    import discord.http

    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


async def _read_body(request: web.Request) -> tuple:
    if request.content_type == "multipart/form-data":
        payload: Any = None
        files: list = []
        reader = await request.multipart()
        async for part in reader:
            name = getattr(part, "name", None) or ""
            if name == "payload_json":
                payload = json.loads(await part.text())
            elif getattr(part, "filename", None) is not None or name.startswith("files["):
                data = await part.read(decode=False)
                files.append(UploadedFile(name, part.filename or name, bytes(data),
                                          part.headers.get("Content-Type")))
        return payload, files
    raw = await request.read()
    if not raw:
        return None, []
    if request.content_type == "application/json":
        return json.loads(raw), []
    return raw.decode("utf-8", "replace"), []


def _guess_type(filename: str) -> str:
    import mimetypes

    if filename.endswith(".md"):
        return "text/markdown; charset=utf-8"
    guessed, _ = mimetypes.guess_type(filename)
    if guessed and guessed.startswith("text/"):
        return f"{guessed}; charset=utf-8"
    return guessed or "application/octet-stream"
