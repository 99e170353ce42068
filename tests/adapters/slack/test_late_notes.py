"""Late changes to a meeting edit the digest in place and leave exactly one current notes file,
also when a person deleted it by hand, an attempt failed halfway, or the bot restarted."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

from sqlmodel import select

from chatbot.storage.models import Outbox
from chatbot.storage.store import session_scope
from tests.adapters.slack.conftest import CH, DIGEST, start_bot


async def meeting_with_digest(bot) -> str:
    """A call for updates with one reply, compiled: the thread's ts once the notes are shared."""
    fake = bot.fake
    await bot.command("USARAH", "/meeting", "remind")
    thread = (await fake.wait_for_messages(CH))[0]["ts"]
    await bot.reply("USARAH", "on time", thread)
    await bot.command("USARAH", "/meeting", "compile")
    await fake.wait_for(lambda: fake.shared_files(DIGEST), what="the notes file")
    return thread


def digest_row(bot) -> Outbox:
    with session_scope(bot.runtime.db) as session:
        return session.exec(select(Outbox).where(Outbox.kind == "digest")).one()


async def one_current_file(fake, words: str) -> dict:
    """The only notes file Slack shows, once it has the words; it is in the digest's thread."""
    (current,) = await fake.wait_for(
        lambda: (lambda shown: shown if len(shown) == 1 and words in shown[0]["text"] else None)(
            fake.shared_files(DIGEST)),
        what=f"one notes file with {words!r}")
    summary = next(m for m in fake.messages(DIGEST) if m.get("blocks"))
    assert current["thread_ts"] == summary["ts"]
    return current


async def test_three_late_replies_leave_one_notes_file_with_the_latest_text(bot):
    fake = bot.fake
    thread = await meeting_with_digest(bot)
    (first,) = fake.files
    assert digest_row(bot).extra_ids == f"file:{first['id']}"

    for user, words in [("UMIN", "late one"), ("USIMON", "late two"), ("UERIK", "late three")]:
        await bot.reply(user, words, thread)
    current = await one_current_file(fake, "late three")
    assert all(words in current["text"] for words in ("on time", "late one", "late two"))
    assert 1 <= len(fake.updates) <= 3 and "quick updates: 4" in fake.updates[-1]["message"]["blocks"][0]["text"]["text"]
    assert [f["deleted"] for f in fake.files] == [True] * (len(fake.files) - 1) + [False]
    assert len(fake.calls_to("files.delete")) == len(fake.files) - 1
    row = digest_row(bot)
    assert (row.status, row.needs_edit, row.error, row.extra_ids) == ("sent", False, "", f"file:{current['id']}")


async def test_a_notes_file_deleted_by_hand_is_replaced_without_an_error(bot):
    fake = bot.fake
    thread = await meeting_with_digest(bot)
    fake.delete_file(fake.files[0]["id"])
    assert fake.shared_files(DIGEST) == []

    await bot.reply("UMIN", "late words", thread)
    current = await one_current_file(fake, "late words")
    assert [c["file"] for c in fake.calls_to("files.delete")] == [fake.files[0]["id"]]  # answered file_deleted
    row = digest_row(bot)
    assert (row.status, row.needs_edit, row.error, row.extra_ids) == ("sent", False, "", f"file:{current['id']}")


@asynccontextmanager
async def running(fake, tmp_path, **options):
    """One process of the bot on the database in tmp_path."""
    bot = await start_bot(fake, tmp_path, "http", **options)
    try:
        yield bot
    finally:
        await bot.adapter.close()


async def test_restarts_and_a_failure_between_upload_and_record_leave_one_notes_file(fake, tmp_path):
    ahead = [timedelta(0)]
    clock = dict(clock=lambda: datetime.now(timezone.utc) + ahead[0])
    async with running(fake, tmp_path, **clock) as bot:
        thread = await meeting_with_digest(bot)

    # A new process knows the first file (shared in the channel, not the thread) from the outbox.
    async with running(fake, tmp_path, **clock) as bot:
        await bot.reply("UMIN", "late one", thread)
        await one_current_file(fake, "late one")
        assert fake.files[0]["deleted"]

        # The new file is shared, but the old one is not deleted and nothing is recorded: as if
        # the process had died between the two. The edit is kept for a retry; the notes are there.
        fake.fail("files.delete", "internal_error")
        await bot.reply("USIMON", "late two", thread)
        await fake.wait_for(lambda: len(fake.shared_files(DIGEST)) == 2, what="the second upload")
        row = digest_row(bot)
        assert (row.status, row.needs_edit, row.extra_ids) == ("sent", True, f"file:{fake.files[1]['id']}")
        assert "internal_error" in row.error

    ahead[0] = timedelta(minutes=5)  # past the retry's back-off
    async with running(fake, tmp_path, **clock) as bot:
        await bot.reply("UERIK", "late three", thread)
        current = await one_current_file(fake, "late three")
        assert "late two" in current["text"]
        assert digest_row(bot).extra_ids == f"file:{current['id']}"
        assert len(fake.messages(CH, thread_ts=thread)) == 6  # the call, four replies, one late notice
