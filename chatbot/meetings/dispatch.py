"""Events in, answers out: each event is applied once, and a command call runs the handler its
entry in the command table names, with the permissions the entry asks for."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from chatbot import commands
from chatbot.commands import Command, UsageError
from chatbot.events import (
    Answer,
    CommandCall,
    Event,
    Place,
    Reply,
    ReplyDeleted,
    ReplyEdited,
)
from chatbot.meetings import permissions, replies
from chatbot.meetings.context import CommandContext, Core, Refusal
from chatbot.storage.models import ProcessedEvent
from chatbot.storage.store import insert_rows, session_scope

Handler = Callable[[CommandContext], Answer]


def handler_of(command: Command) -> Handler:
    """The function a table entry names: `"agenda.add"` is `add` in `chatbot.meetings.agenda`."""
    module, _, function = command.handler.rpartition(".")
    return getattr(importlib.import_module(f"chatbot.meetings.{module}"), function)


def command(core: Core, call: CommandCall) -> Answer:
    try:
        invocation = commands.parse(call.command, call.text)
        handler = handler_of(invocation.command)
        with session_scope(core.db) as session:
            ctx = CommandContext(core, session, call, invocation)
            permissions.enforce(ctx)
            return handler(ctx)
    except (UsageError, Refusal) as error:
        return Answer(str(error), ok=False)


def handle(core: Core, event: Event) -> list[Answer]:
    """Apply one event; the answers go back to whoever caused it."""
    try:
        if isinstance(event, CommandCall):
            return [command(core, event)]
        if isinstance(event, Reply):
            return replies.take(core, [event])[0]
        if isinstance(event, ReplyEdited):
            return replies.edited(core, event)
        if isinstance(event, ReplyDeleted):
            return replies.deleted(core, event)
    except Refusal as refusal:
        return [Answer(str(refusal), ok=False)]
    raise TypeError(f"not an event: {event!r}")


def handle_many(core: Core, events: Sequence[Event]) -> list[list[Answer]]:
    """Apply events in order, as `handle` one by one would. A run of thread replies shares one
    transaction and a handful of queries, so a busy thread does not cost a transaction each."""
    results: list[list[Answer]] = []
    start = 0
    while start < len(events):
        end = start
        while end < len(events) and isinstance(events[end], Reply):
            end += 1
        if end > start:
            run = events[start:end]
            try:
                results += replies.take_batch(core, run)
            except IntegrityError:  # racing another process: one by one
                results += [handle(core, event) for event in run]
            start = end
        else:
            results.append(handle(core, events[start]))
            start += 1
    return results


def catch_up(core: Core, thread: Place, thread_replies: Sequence[Reply]) -> list[list[Answer]]:
    """Bring a thread in line with what the platform shows now: replies posted, edited or deleted
    while the bot was away (or in a crash after an ack) are applied, each once.

    `thread_replies` must be the whole thread, apart from the opening post and bots' messages.
    """
    return handle_many(core, replies.missed(core, thread, thread_replies))


def claim_event(core: Core, platform: str, event_id: str) -> bool:
    """True the first time a platform event id is seen, in any process sharing the database."""
    try:
        with session_scope(core.db) as session:
            session.add(ProcessedEvent(platform=platform, event_id=event_id, received_at=core.now()))
        return True
    except IntegrityError:
        return False


def claim_events(core: Core, platform: str, event_ids: Sequence[str]) -> list[bool]:
    """`claim_event` for each id in order, in one transaction for a busy stream of events."""
    fresh = list(dict.fromkeys(event_ids))
    try:
        with session_scope(core.db) as session:
            taken = set(session.exec(select(ProcessedEvent.event_id).where(
                ProcessedEvent.platform == platform, ProcessedEvent.event_id.in_(fresh))))
            now = core.now()
            rows = [dict(platform=platform, event_id=e, received_at=now) for e in fresh if e not in taken]
            insert_rows(session, ProcessedEvent.__table__, rows)
        claimed = {e for e in fresh if e not in taken}
    except IntegrityError:  # another process claimed one of them meanwhile: one by one
        claimed = {e for e in fresh if claim_event(core, platform, e)}
    seen: set[str] = set()
    result = []
    for event_id in event_ids:
        result.append(event_id in claimed and event_id not in seen)
        seen.add(event_id)
    return result
