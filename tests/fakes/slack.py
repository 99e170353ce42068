"""A fake Slack for tests: Web API, file uploads, response_url and Socket Mode.

The real ``slack_sdk`` / ``slack_bolt`` clients talk to it over real HTTP and
WebSocket on 127.0.0.1, so the whole client stack (serialisation, auth header,
retry handlers, Socket Mode framing, acks) is exercised.  Nothing here stands in
front of our own code: point the clients at :attr:`FakeSlack.base_url`.

Typical use::

    async with FakeSlack() as slack:
        slack.add_channel("C0123456789", "meetings")
        slack.add_user("U1", real_name="Ada Lovelace", display_name="ada")
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
        app = AsyncApp(client=client)
        handler = AsyncSocketModeHandler(app, slack.app_token)
        await handler.connect_async()
        ack = await slack.send_event(message_event("C0123456789", "U1", "hi"))
        ...
        await handler.close_async()

Module-level helpers build payloads shaped as Slack sends them
(:func:`event_callback`, :func:`message_event`, :func:`message_changed_event`,
:func:`message_deleted_event`, :func:`slash_command_form`,
:func:`signed_headers`).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import json
import math
import re
import secrets
import threading
import time
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, NamedTuple
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "Call",
    "FakeSlack",
    "PendingAck",
    "escape",
    "event_callback",
    "message_changed_event",
    "message_deleted_event",
    "message_event",
    "new_ts",
    "signed_headers",
    "signed_request",
    "slash_command_form",
    "unescape",
]

TEAM_ID = "T0FAKETEAM"
TEAM_DOMAIN = "fake-team"
TEAM_NAME = "Fake Team"
APP_ID = "A0FAKEAPP1"
BOT_ID = "BBOT"
BOT_USER_ID = "UBOT"
BOT_NAME = "meetingbot"
VERIFICATION_TOKEN = "fake-verification-token"

TEXT_LIMIT = 40_000  # Slack truncates message text beyond this many characters
MAX_BLOCKS = 50
SECTION_TEXT_LIMIT = 3_000
SECTION_FIELD_LIMIT = 2_000
HEADER_TEXT_LIMIT = 150


# --------------------------------------------------------------------------------------
# timestamps and ids


_ts_lock = threading.Lock()
_last_ts_us = 0


def new_ts() -> str:
    """A Slack message timestamp ("1700000000.000100"): wall clock, strictly increasing.

    Shared by the fake and the payload helpers so every ts in a test run is unique.
    """
    global _last_ts_us
    with _ts_lock:
        now_us = int(time.time() * 1_000_000)
        _last_ts_us = max(now_us, _last_ts_us + 1)
        seconds, micros = divmod(_last_ts_us, 1_000_000)
    return f"{seconds}.{micros:06d}"


_id_counter = itertools.count(1)
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _slack_id(prefix: str, length: int = 10) -> str:
    """An id shaped like Slack's (prefix + upper-case alphanumerics), unique per process."""
    n = next(_id_counter)
    digits = ""
    while n:
        n, r = divmod(n, 36)
        digits = _ALNUM[r] + digits
    return prefix + digits.rjust(length - len(prefix), "0")


def _ts_float(ts: Any) -> float:
    try:
        return float(ts)
    except (TypeError, ValueError):
        return 0.0


# --------------------------------------------------------------------------------------
# text escaping


def escape(text: str) -> str:
    """Escape text the way Slack does in message text: ``&`` ``<`` ``>`` only."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


_TOKEN_RE = re.compile(r"<([^<>]*)>")


def _rich_text_blocks(wire_text: str) -> list[dict]:
    """The ``rich_text`` block Slack attaches to a user's message, from its wire text."""
    elements: list[dict] = []
    pos = 0
    for m in _TOKEN_RE.finditer(wire_text):
        if m.start() > pos:
            elements.append({"type": "text", "text": unescape(wire_text[pos : m.start()])})
        target, _, label = m.group(1).partition("|")
        if target.startswith("@"):
            elements.append({"type": "user", "user_id": target[1:]})
        elif target.startswith("#"):
            elements.append({"type": "channel", "channel_id": target[1:]})
        elif target.startswith("!subteam^"):
            elements.append({"type": "usergroup", "usergroup_id": target[len("!subteam^") :]})
        elif target.startswith("!date^"):
            parts = target.split("^")
            el: dict[str, Any] = {"type": "date", "timestamp": int(parts[1]) if parts[1].isdigit() else 0}
            if len(parts) > 2:
                el["format"] = parts[2]
            if label:
                el["fallback"] = unescape(label)
            elements.append(el)
        elif target.startswith("!"):
            elements.append({"type": "broadcast", "range": target[1:]})
        else:
            link: dict[str, Any] = {"type": "link", "url": unescape(target)}
            if label:
                link["text"] = unescape(label)
            elements.append(link)
        pos = m.end()
    if pos < len(wire_text):
        elements.append({"type": "text", "text": unescape(wire_text[pos:])})
    return [
        {
            "type": "rich_text",
            "block_id": secrets.token_hex(3),
            "elements": [{"type": "rich_text_section", "elements": elements}],
        }
    ]


def _channel_type(channel: str) -> str:
    if channel.startswith("D"):
        return "im"
    if channel.startswith("G"):
        return "group"
    return "channel"


# --------------------------------------------------------------------------------------
# payload helpers (shapes as Slack sends them)


def event_callback(
    event: dict,
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    event_time: int | None = None,
    bot_user_id: str = BOT_USER_ID,
) -> dict:
    """Wrap an event as the Events API delivers it (``type: event_callback``)."""
    if event_time is None:
        event_time = int(_ts_float(event.get("event_ts") or event.get("ts")) or time.time())
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or _slack_id("Ev", 11),
        "event_time": event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_urlsafe(24),
    }


def _user_message(
    user: str,
    wire_text: str,
    ts: str,
    thread_ts: str | None,
    parent_user_id: str | None,
    team_id: str,
    client_msg_id: str | None = None,
) -> dict:
    msg: dict[str, Any] = {
        "user": user,
        "type": "message",
        "ts": ts,
        "client_msg_id": client_msg_id or str(uuid.uuid4()),
        "text": wire_text,
        "team": team_id,
        "blocks": _rich_text_blocks(wire_text),
    }
    if thread_ts is not None:
        msg["thread_ts"] = thread_ts
        if parent_user_id is not None:
            msg["parent_user_id"] = parent_user_id
    return msg


def message_event(
    channel: str,
    user: str,
    text: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    *,
    escape_text: bool = True,
    parent_user_id: str | None = BOT_USER_ID,
    team_id: str = TEAM_ID,
    channel_type: str | None = None,
    client_msg_id: str | None = None,
) -> dict:
    """A ``message`` event as a user's post arrives (top level, or a thread reply).

    ``text`` is what the user typed; it is escaped as Slack does (``&amp;`` ``&lt;``
    ``&gt;``).  Pass ``escape_text=False`` to give wire text as is, e.g. with a real
    ``<!channel>`` or ``<@U123>`` in it (or build it with :func:`escape` pieces).
    A thread reply has ``thread_ts`` (≠ ``ts``) and ``parent_user_id``.
    """
    ts = ts or new_ts()
    wire = escape(text) if escape_text else text
    ev = _user_message(user, wire, ts, thread_ts, parent_user_id, team_id, client_msg_id)
    ev["channel"] = channel
    ev["event_ts"] = ts
    ev["channel_type"] = channel_type or _channel_type(channel)
    return ev


def message_changed_event(
    channel: str,
    ts: str,
    new_text: str,
    user: str,
    thread_ts: str | None = None,
    *,
    previous_text: str = "",
    escape_text: bool = True,
    edit_ts: str | None = None,
    parent_user_id: str | None = BOT_USER_ID,
    team_id: str = TEAM_ID,
    channel_type: str | None = None,
    client_msg_id: str | None = None,
) -> dict:
    """An edit: ``subtype: message_changed``, ``hidden: true``, new text in ``message``,
    the old one in ``previous_message``.  The event's own ``ts`` is the edit's; the edited
    message's ts is ``message.ts``; a thread reply's ``thread_ts`` is inside both messages
    (not at the top level)."""
    edit_ts = edit_ts or new_ts()
    esc = escape if escape_text else (lambda s: s)
    client_msg_id = client_msg_id or str(uuid.uuid4())
    new = _user_message(user, esc(new_text), ts, thread_ts, parent_user_id, team_id, client_msg_id)
    new["edited"] = {"user": user, "ts": edit_ts}
    new["source_team"] = team_id
    new["user_team"] = team_id
    old = _user_message(user, esc(previous_text), ts, thread_ts, parent_user_id, team_id, client_msg_id)
    return {
        "type": "message",
        "subtype": "message_changed",
        "message": new,
        "previous_message": old,
        "channel": channel,
        "hidden": True,
        "ts": edit_ts,
        "event_ts": edit_ts,
        "channel_type": channel_type or _channel_type(channel),
    }


def message_deleted_event(
    channel: str,
    deleted_ts: str,
    thread_ts: str | None = None,
    *,
    user: str = "U0000000000",
    previous_text: str = "",
    escape_text: bool = True,
    event_ts: str | None = None,
    parent_user_id: str | None = BOT_USER_ID,
    team_id: str = TEAM_ID,
    channel_type: str | None = None,
) -> dict:
    """A deletion: ``subtype: message_deleted``, ``hidden: true``, ``deleted_ts``; the
    deleted message (with its ``thread_ts`` if it was a reply) in ``previous_message``."""
    event_ts = event_ts or new_ts()
    wire = escape(previous_text) if escape_text else previous_text
    return {
        "type": "message",
        "subtype": "message_deleted",
        "previous_message": _user_message(user, wire, deleted_ts, thread_ts, parent_user_id, team_id),
        "channel": channel,
        "hidden": True,
        "deleted_ts": deleted_ts,
        "event_ts": event_ts,
        "ts": event_ts,
        "channel_type": channel_type or _channel_type(channel),
    }


def slash_command_form(
    command: str,
    text: str,
    user_id: str,
    channel_id: str,
    response_url: str = "http://127.0.0.1:9/response/unset",  # use FakeSlack.slash_command for a live one
    trigger_id: str | None = None,
    *,
    user_name: str | None = None,
    channel_name: str = "meetings",
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = APP_ID,
    escape_text: bool = False,
) -> dict[str, str]:
    """The form fields of a slash command, all strings, as Slack posts them.

    The text is plain (as typed) unless the command escapes (``should_escape``) — then
    pass ``escape_text=True`` and give mentions as ``<@U123|name>`` yourself.
    """
    if not command.startswith("/"):
        command = "/" + command
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": escape(text) if escape_text else text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}",
    }


def signed_headers(signing_secret: str, body: bytes | str, timestamp: int | str | None = None) -> dict[str, str]:
    """``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` for ``body`` (any timestamp
    may be given, e.g. a stale one)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    sig = SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=body)
    assert sig is not None
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}


def signed_request(
    signing_secret: str | None,
    *,
    json_body: dict | None = None,
    form: Mapping[str, str] | None = None,
    timestamp: int | str | None = None,
    retry_num: int | None = None,
    retry_reason: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a request as Slack sends it to an app over HTTP: an Events API
    JSON body, or a form (slash commands; interactivity as ``payload=<json>``).
    ``signing_secret=None`` leaves it unsigned."""
    if (json_body is None) == (form is None):
        raise ValueError("give exactly one of json_body= or form=")
    if json_body is not None:
        body = json.dumps(json_body).encode()
        headers = {"Content-Type": "application/json"}
    else:
        body = urlencode(dict(form or {})).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    headers["User-Agent"] = "Slackbot 1.0 (+https://api.slack.com/robots)"
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
    if signing_secret is not None:
        headers.update(signed_headers(signing_secret, body, timestamp))
    elif timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = str(timestamp)
    return body, headers


# --------------------------------------------------------------------------------------
# the fake


class Call(NamedTuple):
    method: str
    args: dict


class SlackError(Exception):
    def __init__(self, error: str, status: int = 200, **extra: Any):
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra


class PendingAck:
    """An envelope sent over Socket Mode; await it for the app's ack
    (``{"envelope_id": ..., "payload"?: ...}``), or ``await p.wait(timeout)``."""

    def __init__(self, envelope: dict, future: asyncio.Future, timeout: float):
        self.envelope = envelope
        self.envelope_id: str = envelope["envelope_id"]
        self._future = future
        self.timeout = timeout

    def done(self) -> bool:
        return self._future.done()

    async def wait(self, timeout: float | None = None) -> dict:
        t = self.timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(asyncio.shield(self._future), t)
        except (asyncio.TimeoutError, TimeoutError):
            raise TimeoutError(
                f"no ack for {self.envelope['type']} envelope {self.envelope_id} within {t} s"
            ) from None

    def __await__(self):
        return self.wait().__await__()


class _Bucket:
    """Token bucket on time.monotonic (Slack: ~1 msg/s per channel, short bursts)."""

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float]):
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.clock = clock
        self.stamp = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_needed(self) -> float:
        self._refill()
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _as_json(value: Any, error: str) -> Any:
    if value is None or isinstance(value, (list, dict)):
        return value
    if isinstance(value, (bytes, str)):
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise SlackError(error) from None
    raise SlackError(error)


class FakeSlack:
    """A fake Slack on 127.0.0.1 (random port).  ``async with FakeSlack() as slack``.

    Recorded for assertions: :attr:`calls`, :meth:`messages`, :attr:`files`,
    :attr:`ephemerals`, :attr:`responses`, :attr:`envelopes`, :attr:`acks`,
    :attr:`updates`, :attr:`deleted`, :attr:`count_429`.
    Wait without sleeping: :meth:`wait_for`, :meth:`wait_for_call`,
    :meth:`wait_for_messages`, :meth:`wait_for_response`, :meth:`wait_for_socket`.
    """

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-fake-bot-token",
        app_token: str = "xapp-1-fake-app-token",
        signing_secret: str = "fake-signing-secret",
        channels: Mapping[str, str] | Iterable[str] | None = None,
        team_id: str = TEAM_ID,
        api_app_id: str = APP_ID,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        ack_timeout: float = 5.0,
    ):
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.api_app_id = api_app_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.ack_timeout = ack_timeout
        self.monotonic: Callable[[], float] = time.monotonic

        # records
        self.calls: list[Call] = []
        self.files: list[dict] = []
        self.uploads: dict[str, bytes] = {}
        self.ephemerals: list[dict] = []
        self.responses: dict[str, list[dict]] = {}
        self.envelopes: list[dict] = []
        self.acks: list[dict] = []
        self.updates: list[dict] = []
        self.deleted: list[dict] = []
        self.count_429 = 0
        self.socket_connections = 0  # total ever established (hello sent)
        self.socket_pings = 0

        # state
        self.channels: dict[str, dict] = {}
        self.users: dict[str, dict] = {}
        self._messages: dict[str, list[dict]] = defaultdict(list)
        self._pending_files: dict[str, dict] = {}
        self._upload_tokens: dict[str, str] = {}
        self._injected: dict[str, list[tuple[str, int, dict]]] = defaultdict(list)
        self._slow: dict[str, list[float]] = defaultdict(list)
        self._channel_rate: tuple[float, float, float] | None = None
        self._buckets: dict[str, _Bucket] = {}
        self._overall_bucket: _Bucket | None = None
        self.max_blocks_chars: int | None = None  # set to emulate msg_blocks_too_long
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._pending_acks: dict[str, asyncio.Future] = {}
        self._changed: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._port: int | None = None

        if channels is None:
            channels = {"CGENERAL": "general"}
        if isinstance(channels, Mapping):
            for cid, name in channels.items():
                self.add_channel(cid, name)
        else:
            for cid in channels:
                self.add_channel(cid)
        self.add_user(bot_user_id, name=BOT_NAME, real_name="Meeting Bot", is_bot=True, bot_id=bot_id)

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> "FakeSlack":
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/v1/{token}", self._handle_upload)
        app.router.add_post("/response/{rid}", self._handle_response_url)
        app.router.add_get("/socket-mode", self._handle_socket)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self._changed = asyncio.Event()
        return self

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"server shutting down")
        for fut in self._pending_acks.values():
            if not fut.done():
                fut.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "FakeSlack":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # ---------------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeSlack is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Pass as ``AsyncWebClient(base_url=...)``; ends in ``/api/``."""
        return f"{self.url}/api/"

    @property
    def socket_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/socket-mode"

    # ---------------------------------------------------------------- world setup

    def add_channel(self, channel_id: str, name: str | None = None, *, is_private: bool = False) -> dict:
        name = name or channel_id.lower()
        ch = {
            "id": channel_id,
            "name": name,
            "is_channel": not is_private and not channel_id.startswith("D"),
            "is_group": False,
            "is_im": channel_id.startswith("D"),
            "is_mpim": False,
            "is_private": is_private or channel_id.startswith("D"),
            "created": int(time.time()) - 86_400,
            "is_archived": False,
            "is_general": name == "general",
            "unlinked": 0,
            "name_normalized": name,
            "is_shared": False,
            "is_org_shared": False,
            "is_member": True,
            "is_ext_shared": False,
            "is_pending_ext_shared": False,
            "context_team_id": self.team_id,
            "creator": "U0000000000",
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        self.channels[channel_id] = ch
        return ch

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str = "",
        display_name: str = "",
        tz: str = "UTC",
        email: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        bot_id: str | None = None,
    ) -> dict:
        """Register a user for ``users.info`` (profile.real_name / profile.display_name)."""
        now = datetime.now(timezone.utc)
        zone = ZoneInfo(tz)
        offset = int(now.astimezone(zone).utcoffset().total_seconds())  # type: ignore[union-attr]
        profile: dict[str, Any] = {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": display_name,
            "display_name_normalized": display_name,
            "title": "",
            "team": self.team_id,
            "status_text": "",
            "status_emoji": "",
            "image_72": "https://a.slack-edge.com/fake_72.png",
        }
        if email is not None:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = bot_id or BOT_ID
            profile["api_app_id"] = self.api_app_id
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name or (display_name or real_name or user_id).lower().replace(" ", "."),
            "deleted": deleted,
            "color": "9f69e7",
            "real_name": real_name,
            "tz": tz,
            "tz_label": now.astimezone(zone).tzname() or tz,
            "tz_offset": offset,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(time.time()),
        }
        self.users[user_id] = user
        return user

    # ---------------------------------------------------------------- injection

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer HTTP 429 with ``Retry-After``."""
        for _ in range(times):
            self._injected[method].append(("ratelimited", 429, {"Retry-After": str(int(retry_after))}))

    def slow(self, method: str, seconds: float, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` take effect at once but answer ``seconds``
        later, as over a slow network: others (users, events) see the result before the app."""
        self._slow[method].extend([seconds] * times)

    def fail(self, method: str, error: str, times: int = 1, status: int = 200) -> None:
        """The next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}``."""
        for _ in range(times):
            self._injected[method].append((error, status, {}))

    def enforce_channel_rate(
        self, per_second: float = 1.0, overall_per_second: float = 50.0, burst: int = 1
    ) -> None:
        """Limit chat.postMessage per channel (token bucket of ``burst`` at ``per_second``)
        and overall; an excess call gets 429 with ``Retry-After`` = seconds until allowed
        (rounded up, at least 1).  Counted in :attr:`count_429`."""
        self._channel_rate = (per_second, overall_per_second, float(burst))
        self._buckets.clear()
        self._overall_bucket = _Bucket(overall_per_second, max(1.0, overall_per_second), self.monotonic)

    def new_response_url(self) -> str:
        """A ``response_url`` on the fake; POSTs to it land in ``responses[id]``."""
        rid = secrets.token_hex(8)
        self.responses[rid] = []
        return f"{self.url}/response/{rid}"

    @staticmethod
    def response_id(response_url: str) -> str:
        return response_url.rstrip("/").rsplit("/", 1)[-1]

    # ---------------------------------------------------------------- reading records

    def messages(self, channel: str | None = None, *, thread_ts: str | None = None) -> list[dict]:
        """Messages in ``channel`` (or every channel, each then with a ``channel`` key) in ts
        order, thread replies included; deleted ones are gone.  ``thread_ts`` narrows to one
        thread (parent first).  Returns copies."""
        if channel is None:
            out = []
            for cid, msgs in self._messages.items():
                for m in msgs:
                    c = copy.deepcopy(m)
                    c["channel"] = cid
                    out.append(c)
            out.sort(key=lambda m: _ts_float(m["ts"]))
        else:
            out = [copy.deepcopy(m) for m in self._messages.get(channel, [])]
        if thread_ts is not None:
            out = [m for m in out if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts]
        return out

    def calls_to(self, method: str) -> list[dict]:
        return [c.args for c in self.calls if c.method == method]

    def file_text(self, index: int = -1) -> str:
        return self.files[index]["content"].decode("utf-8")

    def shared_files(self, channel: str, *, thread_ts: str | None = None) -> list[dict]:
        """The records of the files that messages in ``channel`` (or the thread) show now, oldest
        first: deleted ones are gone."""
        shown = [f["id"] for m in self.messages(channel, thread_ts=thread_ts) for f in m.get("files", ())
                 if f.get("mode") != "tombstone"]
        return [f for f in self.files if f["id"] in shown]

    # ---------------------------------------------------------------- waiting

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every recorded change)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"fake Slack: timed out after {timeout} s waiting for {what or predicate}")
            assert self._changed is not None, "FakeSlack is not started"
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except (asyncio.TimeoutError, TimeoutError):
                pass

    async def wait_for_call(self, method: str, count: int = 1, timeout: float = 5.0) -> dict:
        """Wait for the ``count``-th call of ``method``; returns its args."""
        calls = await self.wait_for(
            lambda: (lambda cs: cs if len(cs) >= count else None)(self.calls_to(method)),
            timeout,
            f"{count} call(s) of {method}",
        )
        return calls[count - 1]

    async def wait_for_messages(
        self, channel: str | None = None, count: int = 1, timeout: float = 5.0, *, thread_ts: str | None = None
    ) -> list[dict]:
        """Wait until ``channel`` (or the thread) holds at least ``count`` messages."""
        return await self.wait_for(
            lambda: (lambda ms: ms if len(ms) >= count else None)(self.messages(channel, thread_ts=thread_ts)),
            timeout,
            f"{count} message(s) in {channel or 'any channel'}",
        )

    async def wait_for_response(self, response_url: str, count: int = 1, timeout: float = 5.0) -> dict:
        """Wait for the ``count``-th POST to ``response_url`` (a URL or its id); returns it."""
        rid = self.response_id(response_url)
        got = await self.wait_for(
            lambda: (lambda rs: rs if len(rs) >= count else None)(self.responses.get(rid, [])),
            timeout,
            f"{count} post(s) to response_url {rid}",
        )
        return got[count - 1]

    async def wait_for_socket(self, connections: int = 1, timeout: float = 5.0) -> None:
        """Wait until ``connections`` Socket Mode connections have been established in
        total and one is open."""
        await self.wait_for(
            lambda: self.socket_connections >= connections and self._open_socket() is not None,
            timeout,
            f"{connections} socket mode connection(s)",
        )

    # ---------------------------------------------------------------- simulating users

    def user_posts(
        self,
        channel: str,
        user: str,
        text: str,
        thread_ts: str | None = None,
        *,
        escape_text: bool = True,
        ts: str | None = None,
    ) -> dict:
        """A user posts (stored in the fake's history); returns the ``message`` event to
        deliver (wrap it with :func:`event_callback` or use :meth:`send_event`)."""
        self._require_channel(channel)
        parent_user = None
        if thread_ts is not None:
            parent = self._find(channel, thread_ts)
            if parent is None:
                raise KeyError(f"no message {thread_ts} in {channel}")
            thread_ts = parent.get("thread_ts", parent["ts"])
            parent = self._find(channel, thread_ts)
            parent_user = parent.get("user") if parent else None
        ev = message_event(
            channel, user, text, ts=ts, thread_ts=thread_ts, escape_text=escape_text,
            parent_user_id=parent_user, team_id=self.team_id,
        )
        stored = {k: v for k, v in ev.items() if k not in ("channel", "event_ts", "channel_type")}
        self._store(channel, stored)
        return ev

    def user_edits(self, channel: str, ts: str, new_text: str, *, escape_text: bool = True) -> dict:
        """A user edits their message; returns the ``message_changed`` event."""
        msg = self._find(channel, ts)
        if msg is None:
            raise KeyError(f"no message {ts} in {channel}")
        ev = message_changed_event(
            channel, ts, new_text, msg.get("user", ""), msg.get("thread_ts") if msg.get("thread_ts") != ts else None,
            escape_text=escape_text, parent_user_id=msg.get("parent_user_id"), team_id=self.team_id,
            client_msg_id=msg.get("client_msg_id"),
        )
        ev["previous_message"]["text"] = msg["text"]
        ev["previous_message"]["blocks"] = msg.get("blocks", [])
        msg["text"] = ev["message"]["text"]
        msg["blocks"] = ev["message"]["blocks"]
        msg["edited"] = ev["message"]["edited"]
        self._notify()
        return ev

    def user_deletes(self, channel: str, ts: str) -> dict:
        """A user deletes their message; returns the ``message_deleted`` event."""
        msg = self._find(channel, ts)
        if msg is None:
            raise KeyError(f"no message {ts} in {channel}")
        thread_ts = msg.get("thread_ts") if msg.get("thread_ts") != ts else None
        ev = message_deleted_event(channel, ts, thread_ts, user=msg.get("user", ""), team_id=self.team_id)
        ev["previous_message"] = copy.deepcopy(msg)
        self._remove(channel, msg)
        return ev

    def user_uploads(self, channel: str, user: str, filename: str, text: str, thread_ts: str | None = None) -> dict:
        """A person shares a file (in a thread, if given); returns its record in :attr:`files`."""
        self._require_channel(channel)
        content = text.encode("utf-8")
        upload = {"id": _slack_id("F", 11), "filename": filename, "title": None, "length": len(content),
                  "content": content, "alt_txt": None, "snippet_type": None}
        self._share_files([upload], [channel], thread_ts, None, user)
        return self.files[-1]

    def delete_file(self, file_id: str) -> None:
        """A person deletes a file by hand (its uploader or an admin, in Slack's own client)."""
        record = next(f for f in self.files if f["id"] == file_id)
        if record["deleted"]:
            raise KeyError(f"file {file_id} is deleted already")
        self._delete_file(record)

    # ---------------------------------------------------------------- Socket Mode (server side)

    def _open_socket(self) -> web.WebSocketResponse | None:
        for ws in reversed(self._sockets):
            if not ws.closed:
                return ws
        return None

    async def send_envelope(
        self,
        type: str,
        payload: dict,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        *,
        accepts_response_payload: bool | None = None,
        timeout: float | None = None,
    ) -> PendingAck:
        """Send a Socket Mode envelope to the connected app; returns a :class:`PendingAck`
        (``ack = await (await slack.send_envelope(...))``).

        Events API envelopes carry ``retry_attempt`` / ``retry_reason`` (default 0 / "");
        other types only when given.  ``accepts_response_payload`` defaults as Slack:
        true for slash commands, block_suggestion and view_submission."""
        timeout = self.ack_timeout if timeout is None else timeout
        await self.wait_for(lambda: self._open_socket() is not None, timeout, "a socket mode client")
        ws = self._open_socket()
        assert ws is not None
        if accepts_response_payload is None:
            accepts_response_payload = type == "slash_commands" or (
                type == "interactive" and payload.get("type") in ("block_suggestion", "view_submission")
            )
        envelope: dict[str, Any] = {
            "envelope_id": str(uuid.uuid4()),
            "payload": payload,
            "type": type,
            "accepts_response_payload": accepts_response_payload,
        }
        if type == "events_api" or retry_attempt is not None:
            envelope["retry_attempt"] = retry_attempt or 0
            envelope["retry_reason"] = retry_reason or ""
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending_acks[envelope["envelope_id"]] = fut
        self.envelopes.append(envelope)
        await ws.send_str(json.dumps(envelope))
        self._notify()
        return PendingAck(envelope, fut, timeout)

    async def send_event(self, event: dict, retry_attempt: int | None = None, retry_reason: str | None = None,
                         *, event_id: str | None = None, timeout: float | None = None) -> PendingAck:
        """Send an event (wrapped by :func:`event_callback` unless it already is one)."""
        payload = event if event.get("type") == "event_callback" else event_callback(
            event, event_id=event_id, team_id=self.team_id, api_app_id=self.api_app_id,
            bot_user_id=self.bot_user_id,
        )
        return await self.send_envelope("events_api", payload, retry_attempt, retry_reason, timeout=timeout)

    def slash_command(self, command: str, text: str, user_id: str, channel_id: str, **kw: Any) -> dict[str, str]:
        """:func:`slash_command_form` with a fresh ``response_url`` on this fake."""
        kw.setdefault("response_url", self.new_response_url())
        kw.setdefault("team_id", self.team_id)
        kw.setdefault("api_app_id", self.api_app_id)
        if channel_id in self.channels:
            kw.setdefault("channel_name", self.channels[channel_id]["name"])
        return slash_command_form(command, text, user_id, channel_id, **kw)

    async def send_command(self, command: str, text: str, user_id: str, channel_id: str,
                           *, timeout: float | None = None, **kw: Any) -> PendingAck:
        """Send a slash command envelope (form from :meth:`slash_command`); the form is in
        ``pending.envelope["payload"]`` (its ``response_url`` included)."""
        return await self.send_envelope(
            "slash_commands", self.slash_command(command, text, user_id, channel_id, **kw), timeout=timeout
        )

    async def disconnect_socket(self, reason: str = "refresh_requested") -> None:
        """Ask the client to reconnect, as Slack does (``{"type": "disconnect"}``)."""
        ws = self._open_socket()
        if ws is not None:
            await ws.send_str(json.dumps({
                "type": "disconnect",
                "reason": reason,
                "debug_info": {"host": "applink-fake-1"},
            }))

    async def close_socket(self) -> None:
        """Drop the current connection abruptly (server-side close)."""
        ws = self._open_socket()
        if ws is not None:
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY)

    # ---------------------------------------------------------------- app-side HTTP (Slack -> app)

    async def post_to_app(
        self,
        url: str,
        *,
        json_body: dict | None = None,
        form: Mapping[str, str] | None = None,
        signed: bool = True,
        signing_secret: str | None = None,
        timestamp: int | str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> tuple[int, str]:
        """POST to an app's HTTP endpoint as Slack does (signed with :attr:`signing_secret`
        unless ``signed=False``); returns (status, body text)."""
        secret = (signing_secret or self.signing_secret) if signed else None
        body, headers = signed_request(
            secret, json_body=json_body, form=form, timestamp=timestamp,
            retry_num=retry_num, retry_reason=retry_reason,
        )
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.post(url, data=body, headers=headers) as resp:
            return resp.status, await resp.text()

    # ---------------------------------------------------------------- internals: storage

    def _require_channel(self, channel: str) -> dict:
        ch = self._resolve_channel(channel)
        if ch is None:
            raise SlackError("channel_not_found")
        return ch

    def _resolve_channel(self, channel: Any) -> dict | None:
        if not channel or not isinstance(channel, str):
            return None
        if channel in self.channels:
            return self.channels[channel]
        name = channel.lstrip("#")
        for ch in self.channels.values():
            if ch["name"] == name:
                return ch
        if channel[0] in "UW" and channel in self.users:  # posting to a user id opens a DM
            dm = "D" + channel[1:]
            if dm not in self.channels:
                self.add_channel(dm, dm.lower())
            return self.channels[dm]
        return None

    def _find(self, channel: str, ts: Any) -> dict | None:
        for m in self._messages.get(channel, []):
            if m["ts"] == ts:
                return m
        return None

    def _store(self, channel: str, msg: dict) -> None:
        msgs = self._messages[channel]
        msgs.append(msg)
        msgs.sort(key=lambda m: _ts_float(m["ts"]))
        thread_ts = msg.get("thread_ts")
        if thread_ts and thread_ts != msg["ts"]:
            parent = self._find(channel, thread_ts)
            if parent is not None:
                parent["thread_ts"] = thread_ts
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                users = parent.setdefault("reply_users", [])
                user = msg.get("user")
                if user and user not in users:
                    users.append(user)
                parent["reply_users_count"] = len(users)
                parent["latest_reply"] = msg["ts"]
                parent.setdefault("is_locked", False)
                parent.setdefault("subscribed", False)
        self._notify()

    def _delete_file(self, record: dict) -> None:
        """As Slack does: a message that only shared the file goes, one with text shows a tombstone."""
        record["deleted"] = True
        for channel, msgs in self._messages.items():
            for msg in [m for m in msgs if any(f.get("id") == record["id"] for f in m.get("files", ()))]:
                msg["files"] = [{"id": f["id"], "mode": "tombstone"} if f.get("id") == record["id"] else f
                                for f in msg["files"]]
                if not msg.get("text") and all(f.get("mode") == "tombstone" for f in msg["files"]):
                    self._remove(channel, msg)
        self._notify()

    def _replies(self, channel: str, thread_ts: str) -> list[dict]:
        return [m for m in self._messages.get(channel, []) if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]

    def _remove(self, channel: str, msg: dict) -> None:
        msgs = self._messages[channel]
        ts = msg["ts"]
        thread_ts = msg.get("thread_ts")
        is_reply = bool(thread_ts) and thread_ts != ts
        if not is_reply and self._replies(channel, ts):
            # a parent with replies stays as a tombstone
            msg.clear()
            msg.update({
                "type": "message", "subtype": "tombstone", "text": "This message was deleted.",
                "user": "USLACKBOT", "hidden": True, "ts": ts, "thread_ts": ts,
            })
            replies = self._replies(channel, ts)
            msg["reply_count"] = len(replies)
            msg["latest_reply"] = replies[-1]["ts"]
        else:
            msgs[:] = [m for m in msgs if m is not msg]
        if is_reply:
            parent = self._find(channel, thread_ts)
            if parent is not None:
                replies = self._replies(channel, thread_ts)
                parent["reply_count"] = len(replies)
                parent["reply_users"] = list(dict.fromkeys(r.get("user") for r in replies if r.get("user")))
                parent["reply_users_count"] = len(parent["reply_users"])
                if replies:
                    parent["latest_reply"] = replies[-1]["ts"]
                else:
                    for k in ("reply_count", "reply_users", "reply_users_count", "latest_reply", "thread_ts",
                              "is_locked", "subscribed"):
                        parent.pop(k, None)
                    if parent.get("subtype") == "tombstone":
                        msgs[:] = [m for m in msgs if m is not parent]
        self._notify()

    def _bot_profile(self) -> dict:
        return {
            "id": self.bot_id,
            "app_id": self.api_app_id,
            "user_id": self.bot_user_id,
            "name": BOT_NAME,
            "icons": {"image_36": "https://a.slack-edge.com/fake_36.png"},
            "deleted": False,
            "updated": 1700000000,
            "team_id": self.team_id,
        }

    # ---------------------------------------------------------------- internals: HTTP

    @staticmethod
    async def _read_args(request: web.Request) -> dict:
        args: dict[str, Any] = {k: v for k, v in request.query.items()}
        if request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise SlackError("invalid_json") from None
                if isinstance(body, dict):
                    args.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for k, v in form.items():
                    if isinstance(v, web.FileField):
                        args[k] = v.file.read()
                    else:
                        args[k] = v
            else:
                raw = await request.read()
                if raw:
                    args["_raw_body"] = raw
        return args

    @staticmethod
    def _json(data: dict, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
        return web.json_response(data, status=status, headers=dict(headers or {}))

    def _token(self, request: web.Request, args: dict) -> str | None:
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        tok = args.get("token")
        return tok if isinstance(tok, str) and tok else None

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            args = await self._read_args(request)
        except SlackError as e:
            return self._json({"ok": False, "error": e.error}, e.status)
        token = self._token(request, args)
        args.pop("token", None)
        self.calls.append(Call(method, args))
        self._notify()

        injected = self._injected.get(method)
        if injected:
            error, status, headers = injected.pop(0)
            if status == 429:
                self.count_429 += 1
            return self._json({"ok": False, "error": error}, status, headers)

        handler = self._METHODS.get(method)
        if handler is None:
            return self._json({"ok": False, "error": "unknown_method", "req_method": method})

        if token is None:
            return self._json({"ok": False, "error": "not_authed"})
        wants_app_token = method == "apps.connections.open"
        if token == self.app_token:
            if not wants_app_token:
                return self._json({"ok": False, "error": "not_allowed_token_type"})
        elif token == self.bot_token:
            if wants_app_token:
                return self._json({"ok": False, "error": "not_allowed_token_type"})
        else:
            return self._json({"ok": False, "error": "invalid_auth"})

        try:
            result = handler(self, args)
        except SlackError as e:
            body = {"ok": False, "error": e.error, **e.extra}
            headers = {}
            if e.status == 429:
                self.count_429 += 1
                headers["Retry-After"] = str(e.extra.pop("retry_after", 1))
                body = {"ok": False, "error": e.error}
            return self._json(body, e.status, headers)
        if self._slow.get(method):
            await asyncio.sleep(self._slow[method].pop(0))
        return self._json({"ok": True, **result})

    # ---------------------------------------------------------------- Web API methods

    def _api_auth_test(self, args: dict) -> dict:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": BOT_NAME,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _message_content(self, args: dict, *, require: bool = True) -> dict:
        text = args.get("text")
        if text is not None and not isinstance(text, str):
            text = str(text)
        blocks = _as_json(args.get("blocks"), "invalid_blocks_format")
        attachments = _as_json(args.get("attachments"), "invalid_attachments")
        if blocks is not None and not isinstance(blocks, list):
            raise SlackError("invalid_blocks_format")
        if require and not text and not blocks and not attachments:
            raise SlackError("no_text")
        if blocks:
            self._validate_blocks(blocks)
        out: dict[str, Any] = {}
        if text is not None or require:
            text = text or ""
            out["text"] = text[:TEXT_LIMIT]
        if blocks is not None:
            out["blocks"] = blocks
        if attachments is not None:
            out["attachments"] = attachments
        return out

    def _validate_blocks(self, blocks: list) -> None:
        errors: list[str] = []
        if len(blocks) > MAX_BLOCKS:
            errors.append(f"[ERROR] no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")

        def text_obj(obj: Any, where: str, limit: int) -> int:
            if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
                errors.append(f"[ERROR] must provide an object [json-pointer:{where}]")
                return 0
            t = obj.get("text")
            if not isinstance(t, str) or not t:
                errors.append(f"[ERROR] must be more than 0 characters [json-pointer:{where}/text]")
                return 0
            if len(t) > limit:
                errors.append(f"[ERROR] must be less than {limit + 1} characters [json-pointer:{where}/text]")
            return len(t)

        total = 0
        for i, b in enumerate(blocks):
            where = f"/blocks/{i}"
            if not isinstance(b, dict) or not isinstance(b.get("type"), str):
                errors.append(f"[ERROR] missing required field: type [json-pointer:{where}]")
                continue
            if b["type"] == "section":
                if "text" not in b and "fields" not in b:
                    errors.append(f"[ERROR] must provide either text or fields [json-pointer:{where}]")
                if "text" in b:
                    total += text_obj(b["text"], f"{where}/text", SECTION_TEXT_LIMIT)
                fields = b.get("fields") or []
                if len(fields) > 10:
                    errors.append(f"[ERROR] no more than 10 items allowed [json-pointer:{where}/fields]")
                for j, f in enumerate(fields):
                    total += text_obj(f, f"{where}/fields/{j}", SECTION_FIELD_LIMIT)
            elif b["type"] == "header":
                total += text_obj(b.get("text"), f"{where}/text", HEADER_TEXT_LIMIT)
            elif b["type"] == "context":
                els = b.get("elements") or []
                if not els or len(els) > 10:
                    errors.append(f"[ERROR] must have 1-10 elements [json-pointer:{where}/elements]")
        if errors:
            raise SlackError("invalid_blocks", response_metadata={"messages": errors})
        if self.max_blocks_chars is not None and total > self.max_blocks_chars:
            raise SlackError("msg_blocks_too_long")

    def _check_channel_rate(self, channel: str) -> None:
        if self._channel_rate is None:
            return
        per_second, _overall, burst = self._channel_rate
        bucket = self._buckets.get(channel)
        if bucket is None:
            bucket = self._buckets[channel] = _Bucket(per_second, burst, self.monotonic)
        assert self._overall_bucket is not None
        wait = max(bucket.wait_needed(), self._overall_bucket.wait_needed())
        if wait > 0:
            raise SlackError("ratelimited", 429, retry_after=max(1, math.ceil(wait)))
        bucket.take()
        self._overall_bucket.take()

    def _api_chat_postMessage(self, args: dict) -> dict:
        ch = self._require_channel(args.get("channel"))
        cid = ch["id"]
        content = self._message_content(args)
        metadata = _as_json(args.get("metadata"), "invalid_metadata_format")
        if metadata is not None and (not isinstance(metadata, dict) or "event_type" not in metadata):
            raise SlackError("invalid_metadata_format")
        thread_ts = args.get("thread_ts") or None
        if thread_ts is not None:
            parent = self._find(cid, thread_ts)
            if parent is None:
                raise SlackError("thread_not_found")
            thread_ts = parent.get("thread_ts", parent["ts"])
        self._check_channel_rate(cid)
        msg: dict[str, Any] = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": new_ts(),
            "bot_id": self.bot_id,
            "app_id": self.api_app_id,
            **content,
            "team": self.team_id,
            "bot_profile": self._bot_profile(),
        }
        if args.get("username"):
            msg["username"] = args["username"]
        if thread_ts is not None:
            msg["thread_ts"] = thread_ts
            parent = self._find(cid, thread_ts)
            if parent is not None and parent.get("user"):
                msg["parent_user_id"] = parent["user"]
            if _as_bool(args.get("reply_broadcast")):
                msg["subtype"] = "thread_broadcast"
        if metadata is not None:
            msg["metadata"] = {"event_type": metadata["event_type"], "event_payload": metadata.get("event_payload", {})}
        self._store(cid, msg)
        return {"channel": cid, "ts": msg["ts"], "message": copy.deepcopy(msg)}

    def _own_message(self, args: dict, ts_key: str, not_yours: str) -> tuple[str, dict]:
        ch = self._require_channel(args.get("channel"))
        msg = self._find(ch["id"], args.get(ts_key))
        if msg is None or msg.get("subtype") == "tombstone":
            raise SlackError("message_not_found")
        if msg.get("user") != self.bot_user_id:
            raise SlackError(not_yours)
        return ch["id"], msg

    def _api_chat_update(self, args: dict) -> dict:
        cid, msg = self._own_message(args, "ts", "cant_update_message")
        content = self._message_content(args, require=False)
        if not content:
            raise SlackError("no_text")
        metadata = _as_json(args.get("metadata"), "invalid_metadata_format")
        previous = copy.deepcopy(msg)
        msg.update(content)
        if metadata is not None:
            msg["metadata"] = metadata
        msg["edited"] = {"user": self.bot_user_id, "ts": new_ts()}
        self.updates.append({"channel": cid, "ts": msg["ts"], "previous": previous, "message": copy.deepcopy(msg)})
        self._notify()
        return {"channel": cid, "ts": msg["ts"], "text": msg.get("text", ""), "message": copy.deepcopy(msg)}

    def _api_chat_delete(self, args: dict) -> dict:
        cid, msg = self._own_message(args, "ts", "cant_delete_message")
        self.deleted.append({"channel": cid, "message": copy.deepcopy(msg)})
        ts = msg["ts"]
        self._remove(cid, msg)
        return {"channel": cid, "ts": ts}

    def _api_chat_postEphemeral(self, args: dict) -> dict:
        ch = self._require_channel(args.get("channel"))
        user = args.get("user")
        if not user:
            raise SlackError("user_not_in_channel")
        if user not in self.users and not re.fullmatch(r"[UW][A-Z0-9]+", str(user)):
            raise SlackError("user_not_found")
        content = self._message_content(args)
        ts = new_ts()
        self.ephemerals.append({
            "channel": ch["id"], "user": user, "thread_ts": args.get("thread_ts"), "message_ts": ts, **content,
        })
        self._notify()
        return {"message_ts": ts}

    def _api_chat_getPermalink(self, args: dict) -> dict:
        ch = self._require_channel(args.get("channel"))
        ts = args.get("message_ts")
        msg = self._find(ch["id"], ts)
        if msg is None:
            raise SlackError("message_not_found")
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{ch['id']}/p{ts.replace('.', '')}"
        if msg.get("thread_ts") and msg["thread_ts"] != ts:
            link += f"?thread_ts={msg['thread_ts']}&cid={ch['id']}"
        return {"channel": ch["id"], "permalink": link}

    def _api_users_info(self, args: dict) -> dict:
        user = self.users.get(args.get("user", ""))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _api_conversations_info(self, args: dict) -> dict:
        ch = self._resolve_channel(args.get("channel"))
        if ch is None:
            raise SlackError("channel_not_found")
        return {"channel": copy.deepcopy(ch)}

    def _api_conversations_open(self, args: dict) -> dict:
        users = [u for u in str(args.get("users", "")).split(",") if u]
        if len(users) != 1:
            raise SlackError("not_enough_users" if not users else "too_many_users")
        if users[0] not in self.users:
            raise SlackError("user_not_found")
        dm = "D" + users[0][1:]
        already = dm in self.channels
        if not already:
            self.add_channel(dm, dm.lower())
        out: dict[str, Any] = {"channel": {"id": dm}}
        if already:
            out.update(no_op=True, already_open=True)
        return out

    def _page(self, items: list[dict], args: dict, default_limit: int) -> dict:
        try:
            limit = int(args.get("limit") or default_limit)
        except ValueError:
            raise SlackError("invalid_limit") from None
        limit = max(1, min(limit, 999 if default_limit == 100 else 1000))
        cursor = args.get("cursor") or ""
        start = 0
        if cursor:
            try:
                start = int(base64.b64decode(cursor).decode().split(":", 1)[1])
            except (ValueError, IndexError):
                raise SlackError("invalid_cursor") from None
        page = items[start : start + limit]
        has_more = start + limit < len(items)
        out: dict[str, Any] = {"messages": page, "has_more": has_more}
        if has_more:
            out["response_metadata"] = {
                "next_cursor": base64.b64encode(f"next_ts:{start + limit}".encode()).decode()
            }
        return out

    @staticmethod
    def _in_window(ts: str, args: dict) -> bool:
        inclusive = _as_bool(args.get("inclusive"))
        t = _ts_float(ts)
        oldest = args.get("oldest")
        latest = args.get("latest")
        if oldest not in (None, ""):
            o = _ts_float(oldest)
            if t < o or (t == o and not inclusive):
                return False
        if latest not in (None, ""):
            la = _ts_float(latest)
            if t > la or (t == la and not inclusive):
                return False
        return True

    def _visible(self, msg: dict, args: dict) -> dict:
        m = copy.deepcopy(msg)
        if not _as_bool(args.get("include_all_metadata")):
            m.pop("metadata", None)
        return m

    def _api_conversations_history(self, args: dict) -> dict:
        ch = self._require_channel(args.get("channel"))
        msgs = [
            self._visible(m, args)
            for m in reversed(self._messages.get(ch["id"], []))
            if (not m.get("thread_ts") or m["thread_ts"] == m["ts"] or m.get("subtype") == "thread_broadcast")
            and self._in_window(m["ts"], args)
        ]
        out = self._page(msgs, args, 100)
        out["pin_count"] = 0
        out["channel_actions_ts"] = None
        out["channel_actions_count"] = 0
        return out

    def _api_conversations_replies(self, args: dict) -> dict:
        ch = self._require_channel(args.get("channel"))
        msg = self._find(ch["id"], args.get("ts"))
        if msg is None:
            raise SlackError("thread_not_found")
        thread_ts = msg.get("thread_ts") or msg["ts"]
        parent = self._find(ch["id"], thread_ts)
        replies = [self._visible(m, args) for m in self._replies(ch["id"], thread_ts) if self._in_window(m["ts"], args)]
        msgs = ([self._visible(parent, args)] if parent is not None else []) + replies
        return self._page(msgs, args, 1000)

    def _api_reactions_add(self, args: dict, remove: bool = False) -> dict:
        ch = self._require_channel(args.get("channel"))
        msg = self._find(ch["id"], args.get("timestamp"))
        if msg is None:
            raise SlackError("message_not_found")
        name = str(args.get("name") or "").strip(":")
        if not name:
            raise SlackError("invalid_name")
        reactions = msg.setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if remove:
            if entry is None or self.bot_user_id not in entry["users"]:
                raise SlackError("no_reaction")
            entry["users"].remove(self.bot_user_id)
            entry["count"] -= 1
            if not entry["users"]:
                reactions.remove(entry)
            if not reactions:
                msg.pop("reactions")
        else:
            if entry is None:
                entry = {"name": name, "users": [], "count": 0}
                reactions.append(entry)
            if self.bot_user_id in entry["users"]:
                raise SlackError("already_reacted")
            entry["users"].append(self.bot_user_id)
            entry["count"] += 1
        self._notify()
        return {}

    def _api_reactions_remove(self, args: dict) -> dict:
        return self._api_reactions_add(args, remove=True)

    def _api_files_getUploadURLExternal(self, args: dict) -> dict:
        filename = args.get("filename")
        length = args.get("length")
        if not filename or length in (None, ""):
            raise SlackError("invalid_arguments")
        try:
            length = int(length)
        except ValueError:
            raise SlackError("invalid_arguments") from None
        file_id = _slack_id("F", 11)
        token = secrets.token_urlsafe(16)
        self._upload_tokens[token] = file_id
        self._pending_files[file_id] = {
            "id": file_id,
            "filename": filename,
            "length": length,
            "alt_txt": args.get("alt_txt"),
            "snippet_type": args.get("snippet_type"),
            "content": None,
        }
        return {"upload_url": f"{self.url}/upload/v1/{token}", "file_id": file_id}

    async def _handle_upload(self, request: web.Request) -> web.Response:
        file_id = self._upload_tokens.get(request.match_info["token"])
        if file_id is None:
            return web.Response(status=404, text="Not Found")
        if request.content_type == "multipart/form-data":
            form = await request.post()
            part = next(iter(form.values()), b"")
            data = part.file.read() if isinstance(part, web.FileField) else str(part).encode()
        else:
            data = await request.read()
        self._pending_files[file_id]["content"] = data
        self.uploads[file_id] = data
        self._notify()
        return web.Response(text=f"OK - {len(data)}")

    def _api_files_completeUploadExternal(self, args: dict) -> dict:
        items = _as_json(args.get("files"), "invalid_arguments")
        if not isinstance(items, list) or not items:
            raise SlackError("invalid_arguments")
        channel_ids: list[str] = []
        if args.get("channel_id"):
            channel_ids.append(self._require_channel(args["channel_id"])["id"])
        for c in str(args.get("channels") or "").split(","):
            if c:
                channel_ids.append(self._require_channel(c)["id"])
        thread_ts = args.get("thread_ts") or None
        if thread_ts and channel_ids and self._find(channel_ids[0], thread_ts) is None:
            raise SlackError("thread_not_found")
        uploads = []
        for item in items:
            pending = self._pending_files.get(item.get("id", "")) if isinstance(item, dict) else None
            if pending is None or pending["content"] is None:
                raise SlackError("file_not_found")
            uploads.append({**pending, "title": item.get("title")})
        for upload in uploads:
            del self._pending_files[upload["id"]]
        out_files = self._share_files(uploads, channel_ids, thread_ts, args.get("initial_comment"), self.bot_user_id)
        return {"files": [{"id": f["id"], "title": f["title"]} for f in out_files]}

    def _share_files(self, uploads: list[dict], channel_ids: list[str], thread_ts: str | None,
                     initial_comment: str | None, user: str) -> list[dict]:
        """Record uploaded files and post the message that shares them in each channel."""
        now = int(time.time())
        out_files = []
        for pending in uploads:
            content: bytes = pending["content"]
            name = pending["filename"]
            ext = name.rsplit(".", 1)[-1].lower() if "." in name else "text"
            fobj = {
                "id": pending["id"],
                "created": now,
                "timestamp": now,
                "name": name,
                "title": pending["title"] or name,
                "mimetype": "text/plain" if ext in ("txt", "md", "markdown", "text") else "application/octet-stream",
                "filetype": {"md": "markdown", "txt": "text"}.get(ext, ext),
                "pretty_type": ext.capitalize(),
                "user": user,
                "user_team": self.team_id,
                "editable": False,
                "size": len(content),
                "mode": "hosted",
                "is_external": False,
                "external_type": "",
                "is_public": True,
                "public_url_shared": False,
                "display_as_bot": False,
                "username": "",
                "url_private": f"https://files.slack.com/files-pri/{self.team_id}-{pending['id']}/{name}",
                "url_private_download": f"https://files.slack.com/files-pri/{self.team_id}-{pending['id']}/download/{name}",
                "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{self.bot_user_id}/{pending['id']}/{name}",
                "comments_count": 0,
                "is_starred": False,
                "shares": {},
                "channels": [],
                "groups": [],
                "ims": [],
                "has_more_shares": False,
                "has_rich_preview": False,
                "file_access": "visible",
            }
            if pending.get("alt_txt"):
                fobj["alt_txt"] = pending["alt_txt"]
            out_files.append(fobj)
            self.files.append({
                "id": pending["id"],
                "user": user,
                "deleted": False,
                "filename": name,
                "title": fobj["title"],
                "content": content,
                "text": content.decode("utf-8", errors="replace"),
                "channel": channel_ids[0] if channel_ids else None,
                "channels": channel_ids,
                "thread_ts": thread_ts,
                "initial_comment": initial_comment,
                "alt_txt": pending.get("alt_txt"),
                "snippet_type": pending.get("snippet_type"),
                "length": pending["length"],
            })
        for cid in channel_ids:  # sharing posts a message carrying the files
            msg: dict[str, Any] = {
                "user": user,
                "type": "message",
                "ts": new_ts(),
                "text": initial_comment or "",
                "files": copy.deepcopy(out_files),
                "upload": True,
                "display_as_bot": False,
                "team": self.team_id,
            }
            if user == self.bot_user_id:
                msg.update(bot_id=self.bot_id, app_id=self.api_app_id)
            if thread_ts:
                parent = self._find(cid, thread_ts)
                msg["thread_ts"] = parent.get("thread_ts", parent["ts"]) if parent else thread_ts
            self._store(cid, msg)
        self._notify()
        return out_files

    def _api_files_delete(self, args: dict) -> dict:
        file_id = args.get("file")
        if not file_id:
            raise SlackError("invalid_arguments")
        record = next((f for f in self.files if f["id"] == file_id), None)
        if record is None:
            raise SlackError("file_not_found")
        if record["deleted"]:
            raise SlackError("file_deleted")
        if record["user"] != self.bot_user_id:  # a bot token deletes only the bot's own files
            raise SlackError("cant_delete_file")
        self._delete_file(record)
        return {}

    def _api_apps_connections_open(self, args: dict) -> dict:
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        return {"url": f"{self.socket_url}?ticket={ticket}&app_id={self.api_app_id}"}

    _METHODS: dict[str, Callable[["FakeSlack", dict], dict]] = {
        "auth.test": _api_auth_test,
        "chat.postMessage": _api_chat_postMessage,
        "chat.update": _api_chat_update,
        "chat.delete": _api_chat_delete,
        "chat.postEphemeral": _api_chat_postEphemeral,
        "chat.getPermalink": _api_chat_getPermalink,
        "users.info": _api_users_info,
        "conversations.info": _api_conversations_info,
        "conversations.open": _api_conversations_open,
        "conversations.history": _api_conversations_history,
        "conversations.replies": _api_conversations_replies,
        "reactions.add": _api_reactions_add,
        "reactions.remove": _api_reactions_remove,
        "files.getUploadURLExternal": _api_files_getUploadURLExternal,
        "files.completeUploadExternal": _api_files_completeUploadExternal,
        "files.delete": _api_files_delete,
        "apps.connections.open": _api_apps_connections_open,
    }

    # ---------------------------------------------------------------- response_url

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        if rid not in self.responses:
            return web.Response(status=404, text="no_such_url")
        try:
            if request.content_type == "application/x-www-form-urlencoded":
                form = await request.post()
                body = json.loads(str(form.get("payload", "{}")))
            else:
                body = json.loads(await request.text() or "{}")
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        if not any(body.get(k) for k in ("text", "blocks", "attachments", "delete_original")):
            return web.Response(status=400, text="no_text")
        self.responses[rid].append(body)
        self._notify()
        return web.Response(text="ok")

    # ---------------------------------------------------------------- socket mode endpoint

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)  # a ticket is good for one connection
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self._sockets.append(ws)
        open_count = sum(1 for s in self._sockets if not s.closed)
        await ws.send_str(json.dumps({
            "type": "hello",
            "num_connections": open_count,
            "debug_info": {
                "host": "applink-fake-1",
                "build_number": 118,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.api_app_id},
        }))
        self.socket_connections += 1
        self._notify()
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    try:
                        data = json.loads(msg.data)
                    except ValueError:
                        continue
                    if isinstance(data, dict) and "envelope_id" in data:
                        self.acks.append(data)
                        fut = self._pending_acks.pop(data["envelope_id"], None)
                        if fut is not None and not fut.done():
                            fut.set_result(data)
                        self._notify()
                elif msg.type == aiohttp.WSMsgType.PING:
                    self.socket_pings += 1
                    await ws.pong(msg.data)
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    break
        finally:
            self._sockets = [s for s in self._sockets if s is not ws]
            self._notify()
        return ws
