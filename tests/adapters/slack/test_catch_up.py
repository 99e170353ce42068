"""At start the adapter reads the threads of recent meetings: what happened while it was down
(or was acked but never stored) reaches the notes once, and a live event is never undone."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlmodel import select

from chatbot.storage.models import Update
from chatbot.storage.store import session_scope
from tests.adapters.slack.conftest import CH, new_bot, start_bot
from tests.fakes.slack import event_callback


async def call_for_updates(bot) -> str:
    await bot.command("USARAH", "/meeting", "remind")
    return (await bot.fake.wait_for_messages(CH))[0]["ts"]


def notes(bot) -> str:
    return bot.runtime.engine.notes("hubs")[1]


def stored(bot) -> list[str]:
    with session_scope(bot.runtime.db) as session:
        return sorted(u.text for u in session.exec(select(Update)))


@pytest.mark.parametrize("mode", ["http", "socket"])
async def test_what_happened_while_down_is_caught_up_once(fake, tmp_path, mode):
    paged = {"thread_page": 2}  # the thread comes in pages
    bot = await start_bot(fake, tmp_path, mode, adapter=paged)
    thread = await call_for_updates(bot)
    await bot.reply("USARAH", "kept as is", thread)
    draft = await bot.reply("USIMON", "draft words", thread)
    mistake = await bot.reply("UERIK", "posted by mistake", thread)
    await bot.command("USARAH", "/meeting", "compile")
    await fake.wait_for(lambda: fake.files, what="the digest's notes file")
    await bot.adapter.close()

    # While the bot is down (or acked these and crashed before storing them).
    fake.user_posts(CH, "UMIN", "posted while away", thread)
    fake.user_edits(CH, draft["ts"], "edited while away")
    fake.user_deletes(CH, mistake["ts"])

    bot = await start_bot(fake, tmp_path, mode, adapter=paged)
    await bot.adapter.idle()
    assert [bool(c.get("cursor")) for c in fake.calls_to("conversations.replies") if c["channel"] == CH] == [False, True]
    assert stored(bot) == ["edited while away", "kept as is", "posted while away"]
    text = notes(bot)
    for words in ("kept as is", "edited while away", "posted while away"):
        assert text.count(words) == 1, words
    assert "draft words" not in text and "posted by mistake" not in text
    # The digest is brought up to date in place, once, and the thread told once.
    await fake.wait_for(lambda: len(fake.files) == 2, what="the updated notes file")
    assert len(fake.updates) == 1 and "posted while away" in fake.file_text()
    posts = len(fake.calls_to("chat.postMessage"))
    await bot.adapter.close()

    bot = await start_bot(fake, tmp_path, mode, adapter=paged)  # the bot's own notice in the thread is skipped
    await bot.adapter.idle()
    assert notes(bot) == text
    assert (len(fake.updates), len(fake.files), len(fake.calls_to("chat.postMessage"))) == (1, 2, posts)
    await bot.adapter.close()


async def test_live_events_during_the_catch_up_are_applied_after_it(fake, tmp_path, caplog):
    bot = await start_bot(fake, tmp_path, "http")
    thread = await call_for_updates(bot)
    draft = await bot.reply("USIMON", "draft words", thread)
    mistake = await bot.reply("UERIK", "posted by mistake", thread)
    await bot.adapter.close()

    # The adapter reads the thread, then events arrive before the answer does: the reading is
    # stale by the time it is applied, and must not undo them.
    fake.slow("conversations.replies", 0.3)
    bot = new_bot(fake, tmp_path, "http")
    starting = asyncio.ensure_future(bot.adapter.start())
    await fake.wait_for_call("conversations.replies")
    for event in (fake.user_posts(CH, "UMIN", "posted live", thread),
                  fake.user_edits(CH, draft["ts"], "edited live"),
                  fake.user_deletes(CH, mistake["ts"])):
        status, _ = await fake.post_to_app(bot.url, json_body=event_callback(event))
        assert status == 200
    await starting
    await bot.adapter.idle()
    assert stored(bot) == ["edited live", "posted live"]
    await bot.adapter.close()

    # A thread Slack will not show is skipped with a warning; the start goes on.
    fake.fail("conversations.replies", "channel_not_found")
    with caplog.at_level(logging.WARNING, logger="adapters.slack.app"):
        bot = await start_bot(fake, tmp_path, "http")
    assert [r.getMessage() for r in caplog.records] == [
        f"slack: could not catch up on thread {thread} in {CH}: channel_not_found"]
    await bot.reply("UCALLUM", "still listening", thread)
    assert stored(bot) == ["edited live", "posted live", "still listening"]
    await bot.adapter.close()
