"""The one ingestion path: events applied in order and once, a just-opened thread waited for
without holding up the others, and a failure answered instead of lost."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError

from chatbot.events import (
    Actor,
    Answer,
    CommandCall,
    Delivered,
    Place,
    Post,
    Reply,
    ReplyEdited,
)
from chatbot.ingest import FAILED_COMMAND, FAILED_MESSAGE, Ingest
from chatbot.ports import Batching, Incoming
from tests.core.discord_series import CHANNEL, discord_runtime

SARAH, SIMON = Actor("discord", "1", "Sarah Gibson"), Actor("discord", "2", "Simon Li")


class HeldDelivery:
    """Posts go out only when the test lets them: until then the outbox has no record of them."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.release = asyncio.Event()

    async def post(self, post: Post) -> Delivered:
        self.posts.append(post)
        await self.release.wait()
        return Delivered(f"T{len(self.posts)}")


def _call(text: str, actor: Actor = SARAH) -> CommandCall:
    group, _, rest = text.partition(" ")
    return CommandCall(actor, CHANNEL, group, rest)


async def test_a_thread_not_yet_recorded_holds_its_own_events_and_no_others(database_url, tmp_path):
    runtime = discord_runtime(database_url, tmp_path)
    delivery = HeldDelivery()
    runtime.connect({"discord": delivery})
    core = runtime.port("discord")
    events = core.events(Batching(record_wait=10.0))
    try:
        (answer,) = await events.submit(Incoming(_call("meeting remind")))
        assert answer.ok
        await asyncio.wait_for(_until(lambda: delivery.posts), 5)
        thread = Place("discord", "100", "T1")  # already visible on the platform, not yet recorded
        events.enqueue(Incoming(Reply(SIMON, thread, "r1", "first words"), fresh_thread=True))
        events.enqueue(Incoming(ReplyEdited(thread, "r1", "Z2JH beta is out", SIMON), fresh_thread=True))
        # The others go on meanwhile.
        (answer,) = await asyncio.wait_for(events.submit(Incoming(_call("agenda add (~5min) Z2JH"))), 5)
        assert answer.ok and not events.settled
        assert "Z2JH beta" not in runtime.engine.notes("hubs")[1]

        delivery.release.set()
        await asyncio.wait_for(events.idle(), 5)
        notes = runtime.engine.notes("hubs")[1]
        assert "- **Simon Li** Z2JH beta is out" in notes and "first words" not in notes
        assert events.handled == 4
    finally:
        await events.close()
        await runtime.dispatcher.close()


async def test_an_event_delivered_twice_is_applied_once(database_url, tmp_path):
    runtime = discord_runtime(database_url, tmp_path)
    events = runtime.port("discord").events()
    try:
        add = Incoming(_call("agenda add (~5min) JupyterHub 3.0"), key="trigger-1")
        first, again = await asyncio.gather(events.submit(add), events.submit(add))
        assert "Added item 1" in first[0].text and again == []
        assert await events.submit(add) == []  # and later
        (listed,) = await events.submit(Incoming(_call("agenda list")))
        assert listed.text.count("JupyterHub 3.0") == 1
    finally:
        await events.close()


class FailingEngine:
    """An engine whose batch path fails, to see each event tried alone and answered."""

    def __init__(self) -> None:
        self.applied: list[str] = []

    def handle(self, event) -> list[Answer]:
        if event.text == "stored already":
            raise IntegrityError("insert", {}, Exception("duplicate"))
        if event.text == "breaks":
            raise RuntimeError("a bug")
        self.applied.append(event.text)
        return []

    def handle_many(self, events: Sequence) -> list[list[Answer]]:
        raise RuntimeError("the batch failed")

    def claim_events(self, platform: str, event_ids: Sequence[str]) -> list[bool]:
        return [True] * len(event_ids)

    def knows_post(self, platform: str, message_id: str) -> bool:
        return True

    def catch_up(self, thread, replies):
        return []


async def test_when_a_batch_fails_each_event_is_tried_alone_and_a_failure_answered():
    engine = FailingEngine()
    events = Ingest(engine, "discord", Batching(batch=10))
    thread = Place("discord", "100", "T1")
    answers: list[list[Answer]] = []
    try:
        for text in ("kept", "stored already", "breaks", "kept too"):
            events.enqueue(Incoming(Reply(SIMON, thread, text, text)), answers.append)
        failed_command = await events.submit(Incoming(CommandCall(SARAH, CHANNEL, "update", "breaks")))
        await events.idle()
    finally:
        await events.close()
    assert engine.applied == ["kept", "kept too"]
    assert answers == [[Answer(FAILED_MESSAGE, ok=False)]]
    assert failed_command == [Answer(FAILED_COMMAND, ok=False)]


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.01)
