"""What goes wrong on Discord: rate limits, reconnects, over-long text, pings, strangers' channels,
resends after a crash, and a digest too long for one message."""

from __future__ import annotations

import re

import pytest

from chatbot.ports import StartupError
from chatbot.events import Post
from chatbot.storage.models import Outbox, Report, Update
from tests.adapters.discord.conftest import TIMEOUT, start_bot


async def _open_updates_thread(bot, fake, world) -> int:
    await bot.command(world.sarah, "meeting", "remind")
    (thread,) = await fake.wait_until(lambda: fake.threads(world.channel), TIMEOUT, "the updates thread")
    return int(thread["id"])


async def test_a_429_with_retry_after_is_waited_out_and_posts_once(bot, fake, world):
    fake.rate_limit("POST", r"^/channels/\d+/messages$", times=1, retry_after=0.3)
    thread = await _open_updates_thread(bot, fake, world)
    posts = [r for r in fake.requests if r.method == "POST" and r.path == f"/channels/{world.channel}/messages"]
    assert [r.status for r in posts] == [429, 200] and fake.rate_limit_hits == 1
    assert posts[1].at - posts[0].at >= 0.25  # discord.py waited as told
    assert [m["id"] for m in fake.bot_messages(world.channel)] == [str(thread)]
    await fake.wait_until(lambda: bot.count(Outbox, Outbox.status == "sent"), TIMEOUT, "the post recorded")


async def test_a_gateway_reconnect_resumes_with_no_event_lost_or_doubled(bot, fake, world):
    thread = await _open_updates_thread(bot, fake, world)
    people = [world.simon, world.min, world.callum, world.erik, world.rick, world.sarah]
    handled = bot.adapter.handled
    for person in people[:2]:
        await fake.user_message(thread, person, f"before the reconnect from {person}")
    target = await fake.reconnect()  # op 7: events sent until the client resumes are replayed
    for person in people[2:4]:
        await fake.user_message(thread, person, f"while reconnecting from {person}")
    assert await fake.wait_resumed(target) == 1
    for person in people[4:]:
        await fake.user_message(thread, person, f"after the resume from {person}")
    await bot.settle()
    assert fake.identify_count == 1 and fake.resume_count == 1
    assert bot.adapter.handled - handled == len(people) + 1  # six replies and the settling command
    assert bot.count(Update) == len(people)


async def test_an_update_of_5000_characters_is_refused_clearly_and_nothing_is_stored(bot, fake, world):
    answer = await bot.command(world.simon, "update", text="x" * 5000)
    assert answer.startswith("⚠️") and "5,000 characters; the limit is 4,000" in answer
    thread = await _open_updates_thread(bot, fake, world)
    long_reply = await fake.user_message(thread, world.simon, "y" * 5000)
    answer = await fake.wait_for_message(thread, lambda m: m["author"]["id"] == str(fake.bot_user_id))
    assert "Your reply was not saved" in answer["content"] and "5,000 characters" in answer["content"]
    assert answer["message_reference"]["message_id"] == long_reply["id"]  # said under that reply
    assert fake.allowed_mentions(answer["id"]) == {"parse": []} and answer["mentions"] == []
    assert bot.count(Update) == 0


async def test_at_everyone_in_an_update_never_pings(bot, fake, world):
    role = fake.add_role(world.guild, None, "maintainers", mentionable=True)
    assert "Saved your update" in await bot.command(world.simon, "update", text="@everyone read this, @here too")
    await bot.command(world.min, "celebrate", text=f"@everyone we shipped! thanks <@&{role}>")
    answer = await bot.command(world.rick, "agenda", "add", text="(~5min) @everyone party planning")
    assert "@everyone" not in answer
    thread = await _open_updates_thread(bot, fake, world)
    await fake.user_message(thread, world.callum, "@here my update, cc @everyone")
    await bot.settle()
    await bot.command(world.sarah, "meeting", "compile")
    digest = await fake.wait_for_message(world.digest, lambda m: m["attachments"])
    notes = fake.message_files(digest)[0][1].decode()
    assert "@\u200beveryone read this, @\u200bhere too" in notes and "@\u200bhere my update" in notes
    assert "@maintainers" in notes  # a role mention reads as the role's name
    for text in [notes] + [m["content"] for c in (world.channel, world.digest, thread)
                           for m in fake.bot_messages(c)]:
        assert not re.search(r"@(everyone|here)\b", text)
    for channel in (world.channel, world.digest, thread):
        for message in fake.bot_messages(channel):
            assert fake.allowed_mentions(message["id"]) == {"parse": []}
            assert not message["mention_everyone"] and not message["mentions"] and not message["mention_roles"]


async def test_commands_outside_the_configured_channels_are_refused_with_directions(bots, fake, world):
    bot = await bots(config=world.config(second=True))
    answer = await bot.command(world.simon, "meeting", "status", channel=world.elsewhere)
    assert answer.startswith("⚠️") and "This channel has no meeting series" in answer
    assert f"<#{world.channel}>" in answer and f"<#{world.binder}>" in answer
    answer = await bot.command(world.simon, "update", channel=world.elsewhere, text="lost?")
    assert "no meeting series" in answer and bot.count(Update) == 0
    assert "Binder Operations" in await bot.command(world.simon, "meeting", "status", channel=world.binder)
    assert "JupyterHub and BinderHub" in await bot.command(world.simon, "meeting", channel=world.channel)

    # In the series' thread, a command acts on that series.
    thread = await _open_updates_thread(bot, fake, world)
    assert "Saved your update" in await bot.command(world.simon, "update", channel=thread, text="from the thread")
    # A thread someone else opened in a channel the bot does not serve is not read.
    stray = await fake.create_thread(world.elsewhere, "chatter", owner_id=world.min)
    await fake.user_message(int(stray["id"]), world.min, "not an update")
    await bot.settle()
    assert bot.count(Update) == 1


async def test_the_command_tree_is_synced_only_when_it_changed(bots, fake, world):
    first = await bots()
    assert len(fake.command_syncs) == 1
    assert "on the roll call" in await first.command(world.simon, "meeting", "here")
    await first.stop()
    second = await bots()  # same database, same tree: no sync
    assert len(fake.command_syncs) == 1
    assert "on the roll call" in await second.command(world.min, "meeting", "here")
    await bots(database="other.db")  # a database that never synced this tree
    assert len(fake.command_syncs) == 2


async def test_a_resend_after_a_crash_does_not_duplicate(bot, fake, world):
    post = Post(key="hubs/2026-03-17/announcement/discord/x", kind="announcement", platform="discord",
                channel=str(world.channel), text="**Next meeting** soon")
    first = await bot.adapter.delivery.post(post)
    again = await bot.adapter.delivery.post(post)  # the outbox never heard the first answer
    assert first == again and len(fake.bot_messages(world.channel)) == 1
    assert fake.requests[-1].deduplicated
    # Long after Discord forgot the nonce, the outbox says it may have been sent: look first.
    fake.nonce_ttl = 0
    later = await bot.adapter.delivery.post(Post(**{**post.__dict__, "maybe_sent": True}))
    assert later == first and len(fake.bot_messages(world.channel)) == 1


async def test_a_long_digest_is_split_at_line_ends_with_the_notes_on_the_last_part(bot, fake, world):
    def title(n: int) -> str:
        return f"(~2min) Topic {n:02d}: " + " ".join(["a long description of what we will discuss"] * 3)

    for n in range(1, 21):
        assert "Added item" in await bot.command(world.min, "agenda", "add", text=title(n))
    await bot.command(world.sarah, "meeting", "compile")
    await fake.wait_until(lambda: bot.count(Outbox, Outbox.kind == "digest", Outbox.status == "sent"),
                          TIMEOUT, "the digest to go out")
    parts = fake.bot_messages(world.digest)
    assert len(parts) == 2 and all(len(p["content"]) <= 2000 for p in parts)
    assert [bool(p["attachments"]) for p in parts] == [False, True]
    lines = "\n".join(p["content"] for p in parts).splitlines()
    assert sum(1 for line in lines if line.startswith("- **Min RK** (~2min) Topic")) == 20  # no line cut
    assert lines[-1] == "The full notes are attached."

    # Recompiled with more items, it is edited in place and grows a part.
    for n in range(21, 36):
        await bot.command(world.min, "agenda", "add", text=title(n))
    assert "Updated the digest" in await bot.command(world.sarah, "meeting", "compile")
    first_parts = [p["id"] for p in parts]
    await fake.wait_until(lambda: "Topic 35" in fake.bot_messages(world.digest)[-1]["content"], TIMEOUT,
                          "the digest to grow")
    await fake.wait_until(lambda: bot.count(Outbox, Outbox.kind == "digest", Outbox.status == "sent",
                                            Outbox.needs_edit == False), TIMEOUT, "the edit recorded")  # noqa: E712
    parts = fake.bot_messages(world.digest)
    assert len(parts) > 2 and [p["id"] for p in parts[:2]] == first_parts  # edited in place
    assert all(len(p["content"]) <= 2000 for p in parts)
    assert [bool(p["attachments"]) for p in parts] == [False] * (len(parts) - 1) + [True]
    assert "Topic 35" in fake.message_files(parts[-1])[0][1].decode()

    # And shrinks again: the parts no longer needed are deleted.
    for _ in range(30):
        await bot.command(world.min, "agenda", "remove", number=1)
    await bot.command(world.sarah, "meeting", "compile")
    await fake.wait_until(lambda: len(fake.bot_messages(world.digest)) == 1, TIMEOUT, "one part left")
    await fake.wait_until(lambda: fake.bot_messages(world.digest)[0]["attachments"], TIMEOUT, "the file moved")
    (part,) = fake.bot_messages(world.digest)
    assert "agenda items: 5" in part["content"] and part["id"] == parts[0]["id"]
    notes = fake.message_files(part)[0][1].decode()
    assert "Topic 35" in notes and "Topic 05" not in notes
    assert bot.count(Report) == 0


async def test_refused_credentials_stop_the_start_with_what_to_do(fake, world, tmp_path):
    with pytest.raises(StartupError, match="DISCORD_TOKEN was refused"):
        await start_bot(fake, world, tmp_path, database="refused.db", token="not-the-token")
    fake.privileged_intents = False
    with pytest.raises(StartupError, match="Message Content Intent"):
        await start_bot(fake, world, tmp_path, database="intents.db")
