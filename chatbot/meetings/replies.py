"""Thread replies: stored in batches, edited, deleted, caught up on after a restart.

A reply to the call for updates is a quick update (see `updates`); under an agenda item, a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, or_, tuple_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from chatbot import commands
from chatbot.commands import UsageError
from chatbot.events import (
    TERMINAL,
    Actor,
    Answer,
    Event,
    Place,
    Reply,
    ReplyDeleted,
    ReplyEdited,
    SendKind,
    agenda_item_of,
)
from chatbot.meetings import updates
from chatbot.meetings.context import Core, person_of
from chatbot.meetings.people import set_attendance
from chatbot.storage.models import Identity, Meeting, Note, Outbox, OutboxStatus, Update
from chatbot.storage.store import insert_rows, session_scope


def thread_post(session: Session, place: Place) -> Outbox | None:
    """The bot's post a reply was made under, if the bot made it."""
    if place.thread is None:
        return None
    return session.exec(
        select(Outbox).where(Outbox.platform == place.platform, Outbox.message_id == place.thread)
    ).first()


def knows_post(core: Core, platform: str, message_id: str) -> bool:
    """Whether a post with this platform id is recorded, so that replies under it are read."""
    with session_scope(core.db) as session:
        return thread_post(session, Place(platform, "", message_id)) is not None


def take(core: Core, events: Sequence[Reply], *, look_up_stored: bool = True) -> list[list[Answer]]:
    """Thread replies, looked up together and stored in one statement: a call-for-updates reply
    is a quick update (or a pass, or apologies), an agenda item's reply is a note under it."""
    answers: list[list[Answer]] = [[] for _ in events]  # nothing to say to most replies
    with session_scope(core.db) as session, session.no_autoflush:
        posts_by_id = {(p.platform, p.message_id): p for p in session.exec(
            select(Outbox).where(Outbox.message_id.in_({e.place.thread for e in events if e.place.thread})))}
        # What a reply in each thread becomes, worked out once per thread: (post, meeting id,
        # the agenda item's id for an item's thread, or None for the call for updates).
        threads = {key: (post, post.meeting_id, agenda_item_of(post.kind))
                   for key, post in posts_by_id.items()
                   if post.meeting_id is not None
                   and (post.kind == SendKind.CALL_FOR_UPDATES or agenda_item_of(post.kind) is not None)}
        stored = _stored(session, events) if look_up_stored else set()
        identities = {(i.platform, i.user_id): i for i in session.exec(select(Identity).where(
            tuple_(Identity.platform, Identity.user_id).in_({(e.actor.platform, e.actor.user_id)
                                                             for e in events})))}
        person_ids: dict[Actor, int] = {}
        new_updates: list[dict] = []
        notes: list[dict] = []
        changed: dict[int, Outbox] = {}
        now = core.now()
        for index, event in enumerate(events):
            place = event.place
            thread = threads.get((place.platform, place.thread))
            if thread is None:
                continue  # a thread the bot did not open: not ours to read
            try:
                text = commands.check_text(event.text)
            except UsageError as error:
                answers[index] = [Answer(f"Your reply was not saved: {error}", ok=False)]
                continue
            key = (place.platform, event.message_id)
            if key in stored:
                continue  # a duplicate delivery of a reply already kept
            stored.add(key)
            person_id = person_ids.get(event.actor)
            if person_id is None:
                person_id = person_ids[event.actor] = _author(session, identities, event.actor)
            post, meeting_id, item_id = thread
            if item_id is None:
                kind, rest, absent = updates.read_reply(text)
                if absent:
                    set_attendance(session, meeting_id, person_id, "apologies", by_reply=True)
                new_updates.append(dict(meeting_id=meeting_id, person_id=person_id, kind=kind,
                                        text=rest, apologies=absent, platform=place.platform,
                                        message_id=event.message_id, created_at=now))
                changed[post.id] = post
                if place.platform == TERMINAL:
                    answers[index] = [Answer(updates.REPLY_ANSWERS[kind])]
            else:
                notes.append(dict(item_id=item_id, author_id=person_id, text=text,
                                  platform=place.platform, message_id=event.message_id))
        session.flush()
        insert_rows(session, Update.__table__, new_updates)
        insert_rows(session, Note.__table__, notes)
        for post in changed.values():
            meeting = session.get(Meeting, post.meeting_id)
            updates.late_change(core, session, core.config.get(meeting.series_id), meeting, thread=post)
    return answers


def take_batch(core: Core, events: Sequence[Reply]) -> list[list[Answer]]:
    """New replies are the rule and a second delivery of a stored one the exception, so the first
    try does not look for stored ones: the unique message id refuses a duplicate, and the second
    try looks them up. A third would only race another process: the caller goes one by one then
    (the second try's IntegrityError says so)."""
    try:
        return take(core, events, look_up_stored=False)
    except IntegrityError:
        return take(core, events, look_up_stored=True)


def _stored(session: Session, events: Sequence[Reply]) -> set[tuple[str, str]]:
    platforms, ids = {e.place.platform for e in events}, {e.message_id for e in events}
    return {(platform, message_id) for model in (Update, Note) for platform, message_id in session.exec(
        select(model.platform, model.message_id).where(model.platform.in_(platforms),
                                                       model.message_id.in_(ids)))}


def _author(session: Session, identities: dict[tuple[str, str], Identity], actor: Actor) -> int:
    """The person behind a reply, from the identities read for the batch (or a new one)."""
    identity = identities.get((actor.platform, actor.user_id))
    if identity is None:
        return person_of(session, actor).id
    if actor.name and identity.name != actor.name:
        identity.name = actor.name
    return identity.person_id


def edited(core: Core, event: ReplyEdited) -> list[Answer]:
    with session_scope(core.db) as session:
        platform, message_id = event.place.platform, event.message_id
        try:
            text = commands.check_text(event.text)
        except UsageError as error:
            return [Answer(f"Your edit was not saved; the earlier text stays: {error}", ok=False)]
        found = session.exec(select(Update).where(Update.platform == platform,
                                                  Update.message_id == message_id)).first()
        if found is not None:
            meeting = session.get(Meeting, found.meeting_id)
            kind, new_text, absent = updates.read_reply(text)
            if (found.kind, found.text, found.apologies) == (kind, new_text, absent):
                return []  # an unchanged text (Slack sends these for link previews)
            gave, found.kind, found.text, found.apologies = found.apologies, kind, new_text, absent
            if absent and not gave:
                set_attendance(session, meeting.id, found.person_id, "apologies", by_reply=True)
            elif gave and not absent:
                updates.apologies_taken_back(session, meeting.id, found.person_id)
            updates.late_change(core, session, core.config.get(meeting.series_id), meeting)
            return []
        note = session.exec(select(Note).where(Note.platform == platform,
                                               Note.message_id == message_id)).first()
        if note is not None:
            note.text = text
            return []
        ours = thread_post(session, event.place) is not None
    if ours and event.actor is not None:
        # An edit of a reply we never stored (sent while the bot was away): take it as new.
        return take(core, [Reply(event.actor, event.place, message_id, text)])[0]
    return []


def deleted(core: Core, event: ReplyDeleted) -> list[Answer]:
    with session_scope(core.db) as session:
        platform, message_id = event.place.platform, event.message_id
        found = session.exec(select(Update).where(Update.platform == platform,
                                                  Update.message_id == message_id)).first()
        if found is not None:
            meeting = session.get(Meeting, found.meeting_id)
            session.delete(found)
            if found.apologies:
                updates.apologies_taken_back(session, meeting.id, found.person_id)
            updates.late_change(core, session, core.config.get(meeting.series_id), meeting)
        session.exec(delete(Note).where(Note.platform == platform, Note.message_id == message_id))
        return []


# -- catching up after a restart -----------------------------------------------------------------


def open_threads(core: Core, platform: str, *, within: timedelta = timedelta(days=7)) -> list[Place]:
    """Threads the bot opened on a platform for meetings not long over, to catch up on at start."""
    since = core.clock() - within
    with session_scope(core.db) as session:
        rows = session.exec(
            select(Outbox).join(Meeting, Meeting.id == Outbox.meeting_id)
            .where(Outbox.platform == platform, Outbox.status == OutboxStatus.SENT,
                   Outbox.message_id.is_not(None), Meeting.end >= since,
                   or_(Outbox.kind == SendKind.CALL_FOR_UPDATES, Outbox.kind.startswith(SendKind.AGENDA.prefix)))
            .order_by(Outbox.id)).all()
        return [Place(platform, row.channel, row.message_id) for row in rows]


def missed(core: Core, thread: Place, replies: Sequence[Reply]) -> list[Event]:
    """What happened in a thread while the bot was away (or in a crash after an ack), as events:
    replies posted, edited or deleted since. `replies` must be the whole thread, apart from the
    opening post and bots' messages."""
    seen = {reply.message_id for reply in replies}
    with session_scope(core.db) as session:
        post = thread_post(session, thread)
        if post is None or post.meeting_id is None:
            return []
        item_id = agenda_item_of(post.kind)
        if post.kind == SendKind.CALL_FOR_UPDATES:
            stored = {m: (kind, text, absent) for m, kind, text, absent in session.exec(
                select(Update.message_id, Update.kind, Update.text, Update.apologies).where(
                    Update.meeting_id == post.meeting_id, Update.platform == thread.platform))}
        elif item_id is not None:
            stored = {m: ("note", text) for m, text in session.exec(
                select(Note.message_id, Note.text).where(
                    Note.item_id == item_id, Note.platform == thread.platform))}
        else:
            return []  # a post nobody replies to for the record (a digest, a notice)
    stored.pop(None, None)

    def as_stored(reply: Reply) -> tuple:
        text = commands.clean(reply.text).strip()
        return ("note", text) if item_id is not None else updates.read_reply(text)

    events: list[Event] = [r for r in replies if r.message_id not in stored]
    events += [ReplyEdited(thread, r.message_id, r.text, r.actor) for r in replies
               if r.message_id in stored and stored[r.message_id] != as_stored(r)]
    events += [ReplyDeleted(thread, message_id) for message_id in sorted(stored.keys() - seen)]
    return events
