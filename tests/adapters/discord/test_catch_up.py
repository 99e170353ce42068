"""At start the bot reads its open threads: what was posted, edited or deleted there while it was
down is applied once, and a thread it can no longer read is skipped without touching its notes.
Messages read back carry no member, so their authors' names in the server are looked up."""

from __future__ import annotations

import logging

from sqlmodel import select

from chatbot.events import DISCORD
from chatbot.storage.models import Outbox, Update
from chatbot.storage.store import session_scope
from tests.adapters.discord.conftest import TIMEOUT

MEMBER = "/guilds/{guild_id}/members/{user_id}"


def _stored(bot) -> list[tuple]:
    with session_scope(bot.runtime.db) as session:
        updates = [(u.id, u.message_id, u.text) for u in session.exec(select(Update).order_by(Update.id))]
        posts = [(o.id, o.kind, o.status) for o in session.exec(select(Outbox).order_by(Outbox.id))]
    return updates + posts


async def test_what_happened_in_a_thread_while_the_bot_was_down_is_caught_up_once(bots, fake, world):
    first = await bots()
    await first.command(world.sarah, "meeting", "remind")
    (thread,) = await fake.wait_until(lambda: fake.threads(world.channel), TIMEOUT, "the updates thread")
    tid = int(thread["id"])
    kept = await fake.user_message(tid, world.simon, "Z2JH 2.0.0 is out")
    doomed = await fake.user_message(tid, world.min, "this one will be deleted")
    await first.settle()
    assert first.count(Update) == 2
    await first.stop()

    # While no bot is connected: a new reply, an edit, a deletion, and another bot's chatter.
    await fake.user_message(tid, world.rick, "posted while the bot was down", dispatch=False)
    await fake.edit_message(tid, int(kept["id"]), "Z2JH 2.0.1 is out")
    await fake.delete_message(tid, int(doomed["id"]))
    await fake.user_message(tid, world.other_bot, "I am a bot", dispatch=False)

    second = await bots()
    await second.settle()  # applied after the catch-up, which was queued before the bot was ready
    _, notes = second.runtime.engine.notes("hubs")
    lines = notes.splitlines()
    assert lines.count("- **Simon Li** Z2JH 2.0.1 is out") == 1
    assert lines.count("- **Rick Wagner** posted while the bot was down") == 1
    assert "2.0.0" not in notes and "will be deleted" not in notes and "I am a bot" not in notes
    assert second.count(Update) == 2
    assert fake.bot_messages(tid) == []  # caught up quietly
    stored = _stored(second)
    await second.stop()

    third = await bots()
    await third.settle()
    assert third.runtime.engine.notes("hubs") == (_, notes)
    assert _stored(third) == stored


async def test_a_thread_that_cannot_be_read_is_skipped_with_one_warning(bots, fake, world, caplog):
    first = await bots(config=world.config(second=True))
    await first.command(world.sarah, "meeting", "remind")
    await first.command(world.sarah, "meeting", "remind", channel=world.binder)
    (hubs,) = await fake.wait_until(lambda: fake.threads(world.channel), TIMEOUT, "the hubs thread")
    (binder,) = await fake.wait_until(lambda: fake.threads(world.binder), TIMEOUT, "the binder thread")
    await fake.user_message(int(hubs["id"]), world.simon, "kept although its thread is gone")
    await first.settle()
    await first.stop()

    await fake.delete_thread(int(hubs["id"]))
    await fake.user_message(int(binder["id"]), world.erik, "posted while the bot was down", dispatch=False)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="adapters.discord.bot"):
        second = await bots(config=world.config(second=True))
        await second.settle()
    warnings = [r.getMessage() for r in caplog.records if r.name == "adapters.discord.bot"]
    assert len(warnings) == 1 and hubs["id"] in warnings[0] and "404" in warnings[0]
    assert "- **Erik Sundell** posted while the bot was down" in second.runtime.engine.notes("binder")[1]
    assert "kept although its thread is gone" in second.runtime.engine.notes("hubs")[1]
    assert second.count(Update) == 2


async def _thread(bot, fake, world, channel: int) -> int:
    """A call for updates, recorded: its thread is caught up on at the next start."""
    await bot.command(world.sarah, "meeting", "remind", channel=channel)
    (thread,) = await fake.wait_until(lambda: fake.threads(channel), TIMEOUT, "the updates thread")
    await fake.wait_until(lambda: bot.runtime.engine.knows_post(DISCORD, thread["id"]), TIMEOUT,
                          "the call for updates to be recorded")
    return int(thread["id"])


async def test_catching_up_keeps_the_names_people_have_in_the_server(bots, fake, world):
    yuvi = fake.add_member(world.guild, None, "yuvipanda", global_name="Yuvi P", nick="Yuvi (2i2c)")
    lee = fake.add_member(world.guild, None, "leeward", global_name="Lee Ward", nick="Lee (infra)")
    first = await bots(config=world.config(second=True))
    hubs = await _thread(first, fake, world, world.channel)
    binder = await _thread(first, fake, world, world.binder)
    await fake.user_message(hubs, yuvi, "posted live")
    await first.settle()
    assert "- **Yuvi (2i2c)** posted live" in first.runtime.engine.notes("hubs")[1]
    await first.stop()

    # While no bot is connected: replies in both threads, then Lee leaves the server.
    await fake.user_message(hubs, yuvi, "posted while the bot was down", dispatch=False)
    await fake.user_message(binder, yuvi, "in the other thread", dispatch=False)
    await fake.user_message(hubs, world.simon, f"no nickname here, thanks <@{world.sarah}>",
                            dispatch=False)
    await fake.user_message(binder, lee, "my last update", dispatch=False)
    fake.remove_member(world.guild, lee)
    since = fake.mark()

    second = await bots(config=world.config(second=True))
    await second.settle()
    notes = second.runtime.engine.notes("hubs")[1] + second.runtime.engine.notes("binder")[1]
    for lines in ("- **Yuvi (2i2c)** posted live\n    - posted while the bot was down\n"
                  "- **Simon Li** no nickname here, thanks @Sarah Gibson\n",
                  "- **Yuvi (2i2c)** in the other thread\n- **Lee Ward** my last update\n"):
        assert lines in notes
    assert "Yuvi P" not in notes and "Sarah G " not in notes
    assert second.count(Update) == 5
    fetched = [r for r in fake.requests[since:] if r.route == MEMBER]
    assert sorted(r.path for r in fetched) == sorted(
        f"/guilds/{world.guild}/members/{user}" for user in (yuvi, world.simon, lee, world.sarah))
    assert [r.response["code"] for r in fetched if r.status == 404] == [10007]


async def test_a_name_discord_will_not_give_now_is_taken_from_the_message(bots, fake, world, caplog):
    yuvi = fake.add_member(world.guild, None, "yuvipanda", global_name="Yuvi P", nick="Yuvi (2i2c)")
    first = await bots()
    thread = await _thread(first, fake, world, world.channel)
    await first.stop()
    await fake.user_message(thread, yuvi, "posted while the bot was down", dispatch=False)
    fake.rate_limit("GET", r"/guilds/\d+/members/\d+$", retry_after=120)  # beyond the client's patience

    with caplog.at_level(logging.WARNING, logger="adapters.discord.bot"):
        second = await bots()
        await second.settle()
    assert "- **Yuvi P** posted while the bot was down" in second.runtime.engine.notes("hubs")[1].splitlines()
    assert any(str(yuvi) in r.getMessage() for r in caplog.records if r.name == "adapters.discord.bot")
    assert fake.rate_limit_hits == 1
