"""What reaches the app: signatures, retries, duplicates, over-long text, pings, unmapped channels."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from chatbot.storage.models import AgendaItem, ProcessedEvent, Update
from tests.adapters.slack.conftest import BINDER, CH, DIGEST, ELSEWHERE, SECOND_SERIES, SERIES, start_bot
from tests.fakes.slack import event_callback


async def open_thread(bot) -> str:
    await bot.command("USARAH", "/meeting", "remind")
    await bot.fake.wait_for_call("chat.postMessage")
    return bot.fake.messages(CH)[0]["ts"]


@pytest.fixture
async def http_bot(fake, tmp_path):
    started = await start_bot(fake, tmp_path, "http")
    yield started
    await started.adapter.close()


async def test_unsigned_wrongly_signed_and_stale_requests_get_401_and_change_nothing(http_bot):
    fake = http_bot.fake
    thread = await open_thread(http_bot)
    calls, claimed = len(fake.calls), http_bot.count(ProcessedEvent)
    body = event_callback(fake.user_posts(CH, "USIMON", "my update", thread))
    command = fake.slash_command("/agenda", "add (~5min) Sneaky item", "USIMON", CH)
    for options in ({"signed": False}, {"signing_secret": "someone-else"},
                    {"timestamp": int(time.time()) - 6 * 60}):
        assert (await fake.post_to_app(http_bot.url, json_body=body, **options))[0] == 401
        assert (await fake.post_to_app(http_bot.url, form=command, **options))[0] == 401
    await http_bot.adapter.idle()
    assert (http_bot.count(Update), http_bot.count(AgendaItem), http_bot.count(ProcessedEvent)) == (0, 0, claimed)
    assert len(fake.calls) == calls  # not even a users.info look-up

    assert (await fake.post_to_app(http_bot.url, json_body=body))[0] == 200  # the same, signed
    await http_bot.adapter.idle()
    assert http_bot.count(Update) == 1


async def test_health_check(http_bot):
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{http_bot.adapter.port}/healthz") as response:
            assert response.status == 200 and (await response.json()) == {"ok": True}


async def test_a_retried_event_is_stored_once(bot):
    thread = await open_thread(bot)
    body = event_callback(bot.fake.user_posts(CH, "USIMON", "Z2JH 2.0 is out", thread))
    await bot.deliver(body)
    await bot.deliver(body, retry_num=1)
    await bot.deliver(body, retry_num=2)
    await bot.deliver(body)  # a duplicate delivery without the retry header
    assert bot.count(Update) == 1
    assert "Z2JH 2.0 is out" in bot.runtime.engine.notes("hubs")[1]


async def test_a_repeated_slash_command_is_applied_once(http_bot):
    form = http_bot.fake.slash_command("/agenda", "add (~5min) Release plan", "UMIN", CH)
    for _ in range(2):
        status, _ = await http_bot.fake.post_to_app(http_bot.url, form=form)
        assert status == 200
    await http_bot.adapter.idle()
    assert http_bot.count(AgendaItem) == 1


async def test_a_50000_character_update_is_refused_clearly_and_nothing_is_stored(bot):
    thread = await open_thread(bot)
    answer = await bot.command("USIMON", "/update", "x" * 50_000)
    assert "50,000 characters; the limit is 4,000" in answer
    await bot.reply("USIMON", "y" * 50_000, thread)
    (told,) = await bot.fake.wait_for(lambda: bot.fake.ephemerals, what="the answer to the reply")
    assert told["user"] == "USIMON" and told["thread_ts"] == thread and told["channel"] == CH
    assert "not saved" in told["text"] and "the limit is 4,000" in told["text"]
    assert bot.count(Update) == 0


_PING = re.compile(r"<!(channel|here|everyone)|(?<![\w\u200b])@(channel|here|everyone)\b", re.IGNORECASE)


def every_text(fake) -> list[str]:
    """Every text the app sent to the fake: messages, blocks, edits, ephemerals, files, responses."""
    texts = []
    for call in fake.calls:
        for key in ("text", "initial_comment", "blocks"):
            if call.args.get(key):
                texts.append(str(call.args[key]))
    texts += [str(f["text"]) for f in fake.files]
    texts += [str(r) for responses in fake.responses.values() for r in responses]
    texts += [str(a) for a in fake.acks]
    return texts


async def test_channel_pings_never_reach_a_posted_text(bot):
    fake = bot.fake
    thread = await open_thread(bot)
    await bot.reply("USIMON", "<!channel> look at this <!here|here> and <!everyone>, @channel @here", thread,
                    escape_text=False)
    answers = [
        await bot.command("UMIN", "/update", "<!channel> my update @everyone"),
        await bot.command("UERIK", "/celebrate", "@here we shipped <!here>"),
        await bot.command("URICK", "/agenda", "add (~5min) <!channel> urgent @channel"),
        await bot.command("USARAH", "/meeting", "profile <!channel> / @here inc"),
        await bot.command("USARAH", "/meeting", "compile"),
    ]
    await fake.wait_for(lambda: fake.files, what="the notes file")
    await bot.reply("UCALLUM", "late <!everyone>", thread, escape_text=False)
    await fake.wait_for(lambda: len(fake.files) == 2, what="the updated notes")
    texts = every_text(fake) + answers
    assert any("look at this" in t for t in texts) and any("urgent" in t for t in texts)
    assert [t for t in texts if _PING.search(t)] == []


async def test_a_command_from_an_unmapped_channel_says_which_channels_to_use(fake, tmp_path):
    bot = await start_bot(fake, tmp_path, "http", SERIES + SECOND_SERIES)
    try:
        answer = await bot.command("USIMON", "/agenda", "add (~5min) Where does this go", channel=ELSEWHERE)
        assert "no meeting series" in answer
        assert f"JupyterHub and BinderHub Team Meeting: <#{CH}>" in answer
        assert f"Binder Operations: <#{BINDER}>" in answer
        assert bot.count(AgendaItem) == 0
        assert "Added item 1" in await bot.command("USIMON", "/agenda", "add (~5min) Ops review", channel=BINDER)
        assert "Added item 1" in await bot.command("USIMON", "/agenda", "add (~5min) Hub item", channel=DIGEST)
        assert bot.count(AgendaItem) == 2
    finally:
        await bot.adapter.close()


async def test_bots_other_channels_and_top_level_messages_are_ignored(bot):
    fake = bot.fake
    thread = await open_thread(bot)
    claimed = bot.count(ProcessedEvent)
    other_bot = fake.user_posts(CH, "USIMON", "a bot's words", thread)
    other_bot.update(bot_id="BOTHER", subtype="bot_message")
    await bot.deliver(other_bot)
    await bot.deliver(fake.user_posts(CH, "USIMON", "top level chatter"))
    parent = await bot.adapter.client.chat_postMessage(channel=ELSEWHERE, text="someone else's thread")
    await bot.deliver(fake.user_posts(ELSEWHERE, "USIMON", "reply elsewhere", parent["ts"]))
    assert bot.count(Update) == 0 and bot.count(ProcessedEvent) == claimed


async def test_a_reply_that_beats_the_record_of_its_thread_is_kept(bot):
    fake = bot.fake
    fake.slow("chat.postMessage", 0.5)  # the call is visible before the bot learns its ts
    remind = asyncio.ensure_future(bot.command("USARAH", "/meeting", "remind"))
    (parent,) = await fake.wait_for_messages(CH)
    assert not bot.runtime.engine.knows_post("slack", parent["ts"])
    await bot.deliver(fake.user_posts(CH, "USIMON", "first!", parent["ts"]))
    await remind
    assert bot.count(Update) == 1 and "first!" in bot.runtime.engine.notes("hubs")[1]
