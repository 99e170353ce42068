"""Posting to Slack: rate limits, failures kept for a retry, parts within the limits, edits in place."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import select

from adapters.slack.delivery import SlackDelivery
from chatbot.events import Attachment, Post
from chatbot.storage.models import Outbox
from chatbot.storage.store import session_scope
from tests.adapters.slack.conftest import CH, DIGEST, start_bot


@pytest.fixture
def delivery(fake) -> SlackDelivery:
    return SlackDelivery(AsyncWebClient(token=fake.bot_token, base_url=fake.base_url))


async def test_429_then_success(fake, tmp_path):
    bot = await start_bot(fake, tmp_path, "http")
    try:
        fake.rate_limit("chat.postMessage", times=1, retry_after=1)
        await bot.command("USARAH", "/meeting", "remind")
        await fake.wait_for(lambda: fake.messages(CH), timeout=5, what="the call after the 429")
        assert fake.count_429 == 1 and len(fake.calls_to("chat.postMessage")) == 2
        assert len(fake.messages(CH)) == 1
    finally:
        await bot.adapter.close()


async def test_a_send_that_fails_stays_in_the_outbox_and_goes_out_later(fake, tmp_path):
    ahead = [timedelta(0)]
    bot = await start_bot(fake, tmp_path, "http",
                          clock=lambda: datetime.now(timezone.utc) + ahead[0])
    try:
        fake.fail("chat.postMessage", "internal_error", times=1)
        assert "Posting the call for updates" in await bot.command("USARAH", "/meeting", "remind")
        with session_scope(bot.runtime.db) as session:
            (row,) = session.exec(select(Outbox)).all()
        assert (row.status, row.attempts, row.message_id) == ("failed", 1, None)
        assert "internal_error" in row.error and fake.messages(CH) == []

        ahead[0] = timedelta(minutes=5)
        assert await bot.runtime.dispatcher.deliver_due() == 1
        with session_scope(bot.runtime.db) as session:
            (row,) = session.exec(select(Outbox)).all()
        (message,) = fake.messages(CH)
        assert (row.status, row.message_id) == ("sent", message["ts"])
    finally:
        await bot.adapter.close()


def post(text: str, **fields) -> Post:
    values = dict(key="hubs/2026-12-15/digest/slack/" + DIGEST, kind="digest", platform="slack",
                  channel=DIGEST, text=text)
    values.update(fields)
    return Post(**values)


async def test_a_post_that_may_have_gone_out_is_not_posted_twice(fake, delivery):
    call = post("**Call for updates**", kind="call_for_updates", channel=CH, key="hubs/x/call_for_updates")
    first = await delivery.post(call)
    again = await delivery.post(Post(**{**call.__dict__, "maybe_sent": True}))
    assert again.message_id == first.message_id
    assert len(fake.calls_to("chat.postMessage")) == 1
    assert fake.calls_to("conversations.history")[0]["include_all_metadata"] in ("1", "true", True)


async def test_a_digest_whose_file_failed_is_completed_without_a_second_summary(fake, delivery):
    digest = post("**Notes**\nPresent: 3", attachment=Attachment("hubs-2026-12-15.md", "# Notes\n"))
    fake.fail("files.completeUploadExternal", "internal_error")
    with pytest.raises(SlackApiError):
        await delivery.post(digest)
    done = await delivery.post(digest)
    assert len(fake.calls_to("chat.postMessage")) == 1 and len(fake.files) == 1
    assert done.message_id == fake.messages(DIGEST)[0]["ts"]
    assert fake.file_text() == "# Notes\n"


async def test_a_digest_sent_before_a_crash_is_found_with_its_file(fake, delivery):
    digest = post("**Notes**\nPresent: 3", attachment=Attachment("hubs-2026-12-15.md", "# Notes\n"))
    first = await delivery.post(digest)
    again = await SlackDelivery(delivery.client).post(Post(**{**digest.__dict__, "maybe_sent": True}))
    (notes,) = fake.files
    assert again == first and first.extra_ids == (f"file:{notes['id']}",)
    assert len(fake.calls_to("chat.postMessage")) == 1 and len(fake.calls_to("files.completeUploadExternal")) == 1


async def test_a_long_digest_is_split_within_slack_limits_and_edited_in_place(fake, delivery):
    fake.max_blocks_chars = 12_000  # Slack refuses totals below the documented limits
    lines = [f"- **Person {n}** " + "an update with many words " * 12 for n in range(400)]
    delivered = await delivery.post(post("\n".join(lines)))
    messages = fake.messages(DIGEST)
    assert len(messages) == 1 + len(delivered.extra_ids) and len(delivered.extra_ids) >= 2
    for message in messages:
        assert len(message["blocks"]) <= 50 and len(message["text"]) <= 3000
        assert all(len(b["text"]["text"]) <= 3000 for b in message["blocks"])
    shown = "\n".join(b["text"]["text"] for m in messages for b in m["blocks"])
    assert all(f"*Person {n}*" in shown for n in range(400))
    assert all(m.get("thread_ts") == delivered.message_id for m in messages[1:])

    edited = await delivery.post(post("**Notes, shorter now**", edit_of=delivered.message_id,
                                      extra_ids=delivered.extra_ids))
    assert edited == type(edited)(delivered.message_id, ())
    (message,) = fake.messages(DIGEST)
    assert message["blocks"][0]["text"]["text"] == "*Notes, shorter now*"
    assert len(fake.deleted) == len(delivered.extra_ids)


async def test_a_slow_answer_is_acked_at_once_and_follows_by_response_url(fake, tmp_path):
    bot = await start_bot(fake, tmp_path, "socket", adapter={"ack_budget": 0.0})
    try:
        pending = await fake.send_command("/meeting", "here", "UMIN", CH)
        assert (await pending)["payload"]["text"] == "Working on it…"
        later = await fake.wait_for_response(pending.envelope["payload"]["response_url"])
        assert "on the roll call" in later["text"] and later["response_type"] == "ephemeral"
    finally:
        await bot.adapter.close()


async def test_live_meeting_notes_from_agenda_item_threads(bot):
    fake = bot.fake
    await bot.command("USARAH", "/agenda", "add (~5min) JupyterHub 3.0")
    await bot.command("USARAH", "/agenda", "add (2m) Workshops")
    assert "live with 2 agenda items" in await bot.command("USARAH", "/meeting", "start")
    items = await fake.wait_for(lambda: (lambda ms: ms if len(ms) == 2 else None)(fake.messages(CH)),
                                what="the agenda items")
    first = next(m for m in items if "JupyterHub 3.0" in m["text"])
    await bot.reply("USIMON", "Ready to make a release", first["ts"])
    await bot.command("USARAH", "/meeting", "action <@UMIN|minrk> Add changelog entries")
    answer = await bot.command("USARAH", "/meeting", "end")
    assert "Archived as" in answer
    await fake.wait_for(lambda: fake.files, what="the notes file")
    assert ("- **Sarah Gibson** (~5min) JupyterHub 3.0\n    - **Simon Li** Ready to make a release\n"
            "    - Action: **Min RK** Add changelog entries\n") in fake.file_text()
    assert (bot.runtime.settings.archive_dir / "hubs").is_dir()
