"""`handle_many` applies a stream of events exactly as `handle` one at a time would."""

from __future__ import annotations

import pytest
from sqlmodel import select

from chatbot.events import (
    Actor,
    CommandCall,
    Delivered,
    Place,
    Reply,
    ReplyDeleted,
    ReplyEdited,
)
from chatbot.storage import outbox
from chatbot.storage.models import Attendance, Identity, Note, Update
from chatbot.storage.store import session_scope
from tests.core.discord_series import CHANNEL, NOW, discord_runtime


def _runtime(url: str, archive):
    runtime = discord_runtime(url, archive)
    engine = runtime.engine
    who = Actor("discord", "1", "Sarah Gibson")
    engine.handle(CommandCall(who, CHANNEL, "meeting", "remind"))
    engine.handle(CommandCall(who, CHANNEL, "agenda", "add (~5min) JupyterHub 3.0"))
    engine.handle(CommandCall(who, CHANNEL, "meeting", "start"))
    claims, _ = outbox.claim(runtime.db, NOW, worker="test", platforms=["discord"])
    for number, claimed in enumerate(claims, 1):  # the call for updates, then the item
        outbox.mark_sent(runtime.db, claimed.id, Delivered(f"T{number}"), NOW)
    return runtime


def _stream() -> list:
    people = [Actor("discord", str(n), f"Person {n}") for n in range(2, 9)]
    updates, item = Place("discord", "100", "T1"), Place("discord", "100", "T2")
    events = []
    for n in range(40):
        person = people[n % len(people)]
        text = ["my update number %d" % n, "pass", "apologies, away this week. Did X.", "regrets",
                "x" * 5000, "line one\n  - nested"][n % 6]
        events.append(Reply(person, updates, f"m{n}", text))
    events += [Reply(people[0], updates, "m1", "a duplicate delivery"),
               Reply(people[1], Place("discord", "100", "elsewhere"), "s1", "not our thread"),
               Reply(people[2], item, "n1", "a note under the item"),
               Reply(Actor("discord", "1", "Sarah G."), updates, "m99", "the chair, renamed")]
    events += [ReplyEdited(updates, "m0", "edited", people[0]), ReplyDeleted(updates, "m6"),
               ReplyEdited(updates, "m2", "back after all. Did X.", people[2]), ReplyDeleted(updates, "m3"),
               CommandCall(people[3], CHANNEL, "update", "set by command")]
    events += [Reply(people[n % 3], updates, f"late{n}", f"after the command {n}") for n in range(5)]
    events += [Reply(Actor("discord", "50", "Newcomer"), item, "n2", "first seen here")]
    return events


def _state(runtime) -> tuple:
    with session_scope(runtime.db) as session:
        updates = [(u.person_id, u.kind, u.text, u.apologies, u.message_id)
                   for u in session.exec(select(Update).order_by(Update.id))]
        notes = [(n.author_id, n.text, n.message_id) for n in session.exec(select(Note).order_by(Note.id))]
        present = sorted((a.person_id, a.status, a.by_command) for a in session.exec(select(Attendance)))
        names = sorted((i.user_id, i.name, i.person_id) for i in session.exec(select(Identity)))
    return updates, notes, present, names, runtime.engine.notes("hubs")[1]


@pytest.mark.parametrize("size", [2, 7, 100])
def test_handle_many_is_handle_one_by_one(tmp_path, database_url, size):
    """One by one on SQLite; in batches on each database. Batches of 2 and 7 bring replies stored
    by an earlier batch again, which the batch path only finds out when the insert refuses them."""
    one = _runtime(f"sqlite:///{tmp_path / 'one.db'}", tmp_path / "one")
    many = _runtime(database_url, tmp_path / "many")
    events = _stream()
    expected = [one.engine.handle(event) for event in events]
    got = [answer for start in range(0, len(events), size)
           for answer in many.engine.handle_many(events[start:start + size])]
    assert got == expected
    assert _state(many) == _state(one)
    assert any(not a.ok for answers in got for a in answers)  # the over-long reply was refused
