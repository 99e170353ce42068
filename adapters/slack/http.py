"""The HTTP endpoint in front of bolt: only signed, well-formed requests reach it; anything else
gets a short 401 or 400 and a log line, and the log lines themselves are rationed."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

log = logging.getLogger(__name__)

MAX_AGE = 300  # seconds a signature stays good, as Slack and bolt have it


class LogRation:
    """At most `lines` log lines per `period` seconds; the next line allowed says how many were held."""

    def __init__(self, lines: int = 5, period: float = 60.0, clock=time.monotonic) -> None:
        self.lines, self.period, self.clock = lines, period, clock
        self._start, self._used, self._held = float("-inf"), 0, 0

    def warning(self, message: str, *args) -> None:
        now = self.clock()
        if now - self._start >= self.period:
            self._start, self._used = now, 0
        if self._used >= self.lines:
            self._held += 1
            return
        self._used += 1
        if self._held:
            message, args = message + " (%d similar lines held back)", (*args, self._held)
            self._held = 0
        log.warning(message, *args)


class Endpoint:
    """`POST /slack/events`: checks what bolt would trip on before bolt sees the request."""

    def __init__(self, bolt: AsyncApp, signing_secret: str, ration: LogRation | None = None) -> None:
        self.bolt = bolt
        self.secret = signing_secret.encode()
        self.ration = ration or LogRation()

    def signed(self, raw: bytes, timestamp: str, signature: str) -> bool:
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return False
        if abs(time.time() - int(timestamp)) > MAX_AGE:
            return False
        expected = "v0=" + hmac.new(self.secret, b"v0:" + timestamp.encode() + b":" + raw,
                                    hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        headers = request.headers
        if not self.signed(raw, headers.get("X-Slack-Request-Timestamp", ""),
                           headers.get("X-Slack-Signature", "")):
            return self._refuse(request, 401, "unsigned or wrongly signed")
        try:
            bolt_request = AsyncBoltRequest(body=raw.decode("utf-8"), query=request.query_string,
                                            headers=headers)  # type: ignore[arg-type]
            _check_shape(bolt_request.body)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as error:
            return self._refuse(request, 400, f"malformed ({type(error).__name__})")
        return await to_aiohttp_response(await self.bolt.async_dispatch(bolt_request))

    def _refuse(self, request: web.Request, status: int, reason: str) -> web.Response:
        self.ration.warning("slack: refused a request from %s with %d: %s", request.remote, status, reason)
        return web.Response(status=status, text="unauthorized" if status == 401 else "bad request")


def _check_shape(body) -> None:
    """The parts bolt reads without checking their type."""
    if not isinstance(body, dict):
        raise TypeError("not an object")
    if body.get("type") == "event_callback" and not isinstance(body.get("event"), dict):
        raise TypeError("an event callback without an event object")
    for key in ("event", "team", "user", "channel", "enterprise", "authorizations"):
        value = body.get(key)
        if value is not None and not isinstance(value, (dict, str, list)):
            raise TypeError(f"{key} of the wrong type")
