"""Requests nobody honest sends: malformed, unsigned, or without a user. Each is refused with a
short answer and at most one short log line, and changes nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from urllib.parse import urlencode

import aiohttp
import pytest

from chatbot.storage.models import AgendaItem, Person, ProcessedEvent, Update
from tests.adapters.slack.conftest import CH, start_bot
from tests.fakes.slack import event_callback


@pytest.fixture
async def http_bot(fake, tmp_path):
    started = await start_bot(fake, tmp_path, "http")
    yield started
    await started.adapter.close()


def _signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


async def _post(url: str, body: bytes, *, content_type: str, secret: str | None,
                timestamp: str | None = None, signature: str | None = None) -> tuple[int, str]:
    timestamp = str(int(time.time())) if timestamp is None else timestamp
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp}
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    elif secret is not None:
        headers["X-Slack-Signature"] = _signature(secret, timestamp, body)
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=body, headers=headers) as response:
            return response.status, await response.text()


JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

# (what it is, body, content type): each signed correctly, each malformed.
MALFORMED = [
    ("a byte that is not UTF-8 in JSON", b'{"type": "event_callback", "x": "\xff"}', JSON),
    ("a byte that is not UTF-8 in a form", b"command=%2Fagenda&text=\xff\xfe", FORM),
    ("Latin-1 text", "text=caf\u00e9".encode("latin-1"), FORM),
    ("truncated JSON", b'{"type": "event_callback", "event": {"type": "mess', JSON),
    ("a JSON array", b'[{"type": "event_callback"}]', JSON),
    ("a JSON string", b'"event_callback"', JSON),
    ("a JSON number", b"42", JSON),
    ("JSON null", b"null", JSON),
    ("an interactive payload that is not JSON", b"payload=%7Bbad", FORM),
    ("an interactive payload that is a JSON array", b"payload=%5B1%2C2%5D", FORM),
    ("an event that is not an object", b'{"type": "event_callback", "event": "message"}', JSON),
    ("an event callback without its event", b'{"type": "event_callback"}', JSON),
]


@pytest.mark.parametrize("what, body, content_type", MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_a_signed_malformed_request_gets_400_and_one_short_log_line(http_bot, caplog, what, body,
                                                                           content_type):
    calls = len(http_bot.fake.calls)
    with caplog.at_level(logging.INFO):
        status, text = await _post(http_bot.url, body, content_type=content_type,
                                   secret=http_bot.fake.signing_secret)
        await http_bot.adapter.idle()
    assert status == 400, text
    assert "Traceback" not in caplog.text
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) <= 1 and all("\n" not in r.getMessage() and len(r.getMessage()) < 300 for r in lines)
    assert len(http_bot.fake.calls) == calls
    assert http_bot.count(ProcessedEvent) == 0


UNSIGNED = [
    ("a timestamp that is not a number", "abc", None),
    ("an empty timestamp", "", None),
    ("a huge timestamp", "9" * 400, None),
    ("a signature that is not hex", None, "v0=zz"),
    ("a signature of another scheme", None, "v1=abc"),
]


@pytest.mark.parametrize("what, timestamp, signature", UNSIGNED, ids=[u[0] for u in UNSIGNED])
@pytest.mark.parametrize("body", [b'{"type": "event_callback", "x": "\xff"}', b"[1]", b"token=x"],
                         ids=["non-UTF-8", "array", "form"])
async def test_an_unverifiable_request_gets_401_without_a_traceback(http_bot, caplog, what, timestamp,
                                                                   signature, body):
    with caplog.at_level(logging.INFO):
        status, text = await _post(http_bot.url, body, content_type=JSON, secret=None if signature else "x",
                                   timestamp=timestamp, signature=signature)
    assert status == 401, text
    assert "Traceback" not in caplog.text
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) <= 1


async def test_a_flood_of_bad_requests_leaves_a_few_log_lines(http_bot, caplog):
    with caplog.at_level(logging.INFO):
        for index in range(200):
            body = b'{"broken": ' + str(index).encode()
            status, _ = await _post(http_bot.url, body, content_type=JSON, secret=http_bot.fake.signing_secret)
            assert status == 400
            status, _ = await _post(http_bot.url, b"\xff", content_type=JSON, secret=None, timestamp="abc")
            assert status == 401
    assert len(caplog.records) <= 20, [r.getMessage() for r in caplog.records]


async def test_a_good_request_after_bad_ones_is_still_taken(http_bot):
    await _post(http_bot.url, b"payload=%7Bbad", content_type=FORM, secret=http_bot.fake.signing_secret)
    form = http_bot.fake.slash_command("/agenda", "add (~5min) Release plan", "UMIN", CH)
    body = urlencode(form).encode()
    status, text = await _post(http_bot.url, body, content_type=FORM, secret=http_bot.fake.signing_secret)
    assert status == 200 and "Added item 1" in json.loads(text)["text"]


@pytest.mark.parametrize("user_id", [None, "", "   ", "not a user", "U1|x"])
async def test_a_signed_command_without_a_user_is_refused_with_an_answer(http_bot, user_id):
    form = http_bot.fake.slash_command("/agenda", "add (~5min) Whose item is this", "UMIN", CH)
    if user_id is None:
        del form["user_id"]
    else:
        form["user_id"] = user_id
    status, text = await http_bot.fake.post_to_app(http_bot.url, form=form)
    await http_bot.adapter.idle()
    assert status == 200
    assert "without a Slack user" in json.loads(text)["text"]
    assert http_bot.count(AgendaItem) == 0 and http_bot.count(Person) == 0


@pytest.mark.parametrize("user", [None, "", 42, {"id": "USIMON"}])
async def test_a_thread_reply_without_a_user_is_ignored(http_bot, user):
    await http_bot.command("USARAH", "/meeting", "remind")
    thread = (await http_bot.fake.wait_for_messages(CH))[0]["ts"]
    people = http_bot.count(Person)
    message = http_bot.fake.user_posts(CH, "USIMON", "an update from nobody", thread)
    if user is None:
        del message["user"]
    else:
        message["user"] = user
    status, text = await http_bot.fake.post_to_app(http_bot.url, json_body=event_callback(message))
    await http_bot.adapter.idle()
    assert status in (200, 400), text  # a user id that is not a string is malformed
    assert http_bot.count(Update) == 0 and http_bot.count(Person) == people
