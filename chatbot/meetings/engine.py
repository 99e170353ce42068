"""Every use case of the bot, as methods on one engine: normalised events in, answers out.

The engine talks to the database and writes posts to the outbox; it never talks to a platform.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Engine, delete, func, or_, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from chatbot import commands
from chatbot.meetings import fit as agenda
from chatbot.storage import archive
from chatbot.storage import outbox
from chatbot.text import posts
from chatbot.commands import UsageError
from chatbot.text.durations import DEFAULT_ESTIMATE_MINUTES, parse_estimate
from chatbot.events import (
    TERMINAL,
    Actor,
    Answer,
    CommandCall,
    Event,
    Place,
    Post,
    Reply,
    ReplyDeleted,
    ReplyEdited,
    SendKind,
    agenda_item_of,
)
from chatbot.storage.models import (
    ActionItem,
    AgendaItem,
    Attendance,
    Identity,
    Meeting,
    Note,
    Outbox,
    Person,
    ProcessedEvent,
    Report,
    Role,
    SeriesRecord,
    Update,
)
from chatbot.text.notes import Action, Entry, ItemEntry, MeetingNotes, NoteEntry, render
from chatbot.schedule.series import Config, Occurrence, Series
from chatbot.storage.store import insert_rows, session_scope

log = logging.getLogger(__name__)

_APOLOGIES = ("apologies", "apology", "regrets", "can't attend", "cannot attend", "can’t attend")
_APOLOGIES_LONGEST = max(map(len, _APOLOGIES))
_ACTIVE = ("scheduled", "live")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


class Refusal(Exception):
    """A request the engine turns down; the message goes back to the person."""


@dataclass(frozen=True)
class Target:
    """Where a series posts on one platform."""

    platform: str
    channel: str
    digest_channel: str


def split_apologies(text: str) -> tuple[bool, str]:
    """`apologies, cannot attend. My update...` -> (True, "cannot attend. My update...")."""
    lowered = text.lstrip()[:_APOLOGIES_LONGEST].lower()  # a long update's start is enough
    for word in _APOLOGIES:
        if lowered.startswith(word):
            rest = text.lstrip()[len(word):]
            return True, rest.lstrip(" \t,.:;!-–—").strip()
    return False, text.strip()


# An apologies-only reply is kept too (kind "apologies", no text): its edit or deletion, and
# reading the thread back after a restart, must find it.
REPLY_ANSWERS = {"update": "Saved your update.", "pass": "Recorded your pass.",
                 "apologies": "Noted your apologies."}


def reply_kind(absent: bool, rest: str) -> tuple[str, str]:
    """What a call-for-updates reply records: (kind, text)."""
    if rest.lower().rstrip(".!") == "pass":
        return "pass", ""
    if absent and not rest:
        return "apologies", ""
    return "update", rest


def read_reply(text: str) -> tuple[str, str, bool]:
    """What a call-for-updates reply records: (kind, text, whether it gives apologies)."""
    absent, rest = split_apologies(text)
    return *reply_kind(absent, rest), absent


class MeetingEngine:
    def __init__(
        self,
        db: Engine,
        config: Config,
        *,
        platforms: Iterable[str] = (TERMINAL,),
        clock: Callable[[], datetime] = utcnow,
        archive_dir: Path | None = None,
        notes_base_url: str = "",
    ) -> None:
        self.db = db
        self.config = config
        self.platforms = frozenset(platforms)
        self.clock = clock
        self.archive_dir = archive_dir
        self.notes_base_url = notes_base_url
        self._handlers: dict[str, Callable] = {
            "agenda add": self._agenda_add,
            "agenda list": self._agenda_list,
            "agenda remove": self._agenda_remove,
            "agenda move": self._agenda_move,
            "agenda defer": self._agenda_defer,
            "agenda note": self._agenda_note,
            "update": self._update,
            "apologies": self._apologies,
            "celebrate": self._celebrate,
            "meeting": self._status,
            "meeting help": self._help,
            "meeting here": self._here,
            "meeting profile": self._profile,
            "meeting chair": self._role,
            "meeting notetaker": self._role,
            "meeting remind": self._remind,
            "meeting compile": self._compile,
            "meeting start": self._start,
            "meeting end": self._end,
            "meeting action": self._action,
            "meeting skip": self._skip,
            "meeting cancel": self._skip,
        }
        with session_scope(db) as session:
            for series in config.series:
                if session.get(SeriesRecord, series.id) is None:
                    try:
                        with session.begin_nested():  # another process may add it at the same time
                            session.add(SeriesRecord(id=series.id, name=series.name))
                    except IntegrityError:
                        pass

    # -- entry points ---------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Answer]:
        """Apply one event; the answers go back to whoever caused it."""
        try:
            if isinstance(event, CommandCall):
                return [self.command(event)]
            if isinstance(event, Reply):
                return self._reply(event)
            if isinstance(event, ReplyEdited):
                return self._reply_edited(event)
            if isinstance(event, ReplyDeleted):
                return self._reply_deleted(event)
        except Refusal as refusal:
            return [Answer(str(refusal), ok=False)]
        raise TypeError(f"not an event: {event!r}")

    def handle_many(self, events: Sequence[Event]) -> list[list[Answer]]:
        """Apply events in order, as `handle` one by one would. A run of thread replies shares one
        transaction and a handful of queries, so a busy thread does not cost a transaction each."""
        results: list[list[Answer]] = []
        start = 0
        while start < len(events):
            end = start
            while end < len(events) and isinstance(events[end], Reply):
                end += 1
            if end > start:
                results += self._replies_together(events[start:end])
                start = end
            else:
                results.append(self.handle(events[start]))
                start += 1
        return results

    def command(self, call: CommandCall) -> Answer:
        try:
            invocation = commands.parse(call.command, call.text)
            handler = self._handlers[invocation.command.key]
            with session_scope(self.db) as session:
                return handler(session, call, invocation)
        except (UsageError, Refusal) as error:
            return Answer(str(error), ok=False)

    def claim_event(self, platform: str, event_id: str) -> bool:
        """True the first time a platform event id is seen, in any process sharing the database."""
        try:
            with session_scope(self.db) as session:
                session.add(ProcessedEvent(platform=platform, event_id=event_id,
                                           received_at=utc(self.clock())))
            return True
        except IntegrityError:
            return False

    def claim_events(self, platform: str, event_ids: Sequence[str]) -> list[bool]:
        """`claim_event` for each id in order, in one transaction for a busy stream of events."""
        fresh = list(dict.fromkeys(event_ids))
        try:
            with session_scope(self.db) as session:
                taken = set(session.exec(select(ProcessedEvent.event_id).where(
                    ProcessedEvent.platform == platform, ProcessedEvent.event_id.in_(fresh))))
                now = utc(self.clock())
                rows = [dict(platform=platform, event_id=e, received_at=now) for e in fresh if e not in taken]
                insert_rows(session, ProcessedEvent.__table__, rows)
            claimed = {e for e in fresh if e not in taken}
        except IntegrityError:  # another process claimed one of them meanwhile: one by one
            claimed = {e for e in fresh if self.claim_event(platform, e)}
        seen: set[str] = set()
        result = []
        for event_id in event_ids:
            result.append(event_id in claimed and event_id not in seen)
            seen.add(event_id)
        return result

    # -- lookups ---------------------------------------------------------------------------------

    def targets(self, series: Series) -> list[Target]:
        found = []
        if TERMINAL in self.platforms:
            found.append(Target(TERMINAL, series.id, series.id))
        for platform, spec in series.targets.items():
            if platform in self.platforms:
                found.append(Target(platform, spec.channel, spec.digest_channel or spec.channel))
        return found

    def series_for(self, place: Place) -> Series:
        """The series a command in this place acts on."""
        if place.platform == TERMINAL:
            return self.config.get(place.channel) if place.channel else self.config.series[0]
        for series in self.config.series:
            spec = series.targets.get(place.platform)
            if spec is not None and place.channel in (spec.channel, spec.digest_channel):
                return series
        if len(self.config.series) == 1:
            return self.config.series[0]
        where = [
            f"{s.name}: {posts.channel_ref(place.platform, s.targets[place.platform].channel)}"
            for s in self.config.series
            if place.platform in s.targets
        ]
        raise Refusal(
            "This channel has no meeting series. Use the command in the series' channel: "
            + ("; ".join(where) if where else "none is configured for this platform yet.")
        )

    def meeting_for(self, session: Session, occurrence: Occurrence) -> Meeting:
        """The stored meeting of an occurrence, created on first use."""
        return self._meeting_row(session, occurrence)

    def _meeting_row(self, session: Session, occurrence: Occurrence) -> Meeting:
        found = session.exec(
            select(Meeting).where(Meeting.series_id == occurrence.series_id,
                                  Meeting.date == occurrence.date)
        ).first()
        if found:
            return found
        meeting = Meeting(series_id=occurrence.series_id, date=occurrence.date,
                          start=utc(occurrence.start), end=utc(occurrence.end),
                          status="skipped" if occurrence.skipped else "scheduled")
        try:
            with session.begin_nested():
                session.add(meeting)
        except IntegrityError:  # another process created it first
            return session.exec(
                select(Meeting).where(Meeting.series_id == occurrence.series_id,
                                      Meeting.date == occurrence.date)
            ).one()
        return meeting

    def next_meeting(self, session: Session, series: Series) -> Meeting:
        """The live meeting, else the first one that has not ended and is not skipped."""
        live = session.exec(
            select(Meeting).where(Meeting.series_id == series.id, Meeting.status == "live")
        ).first()
        if live:
            return live
        now = self.clock()
        for occurrence in series.occurrences(now - series.duration, 12):
            meeting = self._meeting_row(session, occurrence)
            if meeting.status == "scheduled":
                return meeting
        raise Refusal(f"{series.name} has no upcoming meeting in the next 12 occurrences.")

    def meeting_on(self, session: Session, series: Series, day: date | None) -> Meeting:
        if day is None:
            return self.next_meeting(session, series)
        occurrence = series.occurrence_on(day)
        if occurrence is None:
            raise Refusal(f"{series.name} has no meeting on {day:%Y-%m-%d}.")
        return self._meeting_row(session, occurrence)

    def occurrence(self, series: Series, meeting: Meeting) -> Occurrence:
        found = series.occurrence_on(meeting.date)
        if found is None:  # the schedule changed since; keep the stored instant
            return Occurrence(series.id, meeting.date, utc(meeting.start), utc(meeting.end),
                              series.time, series.timezone, False)
        return found

    def person(self, session: Session, actor: Actor) -> Person:
        identity = session.exec(
            select(Identity).where(Identity.platform == actor.platform,
                                   Identity.user_id == actor.user_id)
        ).first()
        if identity is None:
            person = Person()
            session.add(person)
            session.flush()
            identity = Identity(person_id=person.id, platform=actor.platform,
                                user_id=actor.user_id, name=actor.name or actor.user_id)
            try:
                with session.begin_nested():
                    session.add(identity)
            except IntegrityError:  # the same account seen by another process just now
                session.delete(person)
                return self.person(session, actor)
            return person
        if actor.name and identity.name != actor.name:
            identity.name = actor.name
        return session.get(Person, identity.person_id)

    def _mentioned(self, session: Session, call: CommandCall, user_id: str) -> Person:
        name = call.users.get(user_id, "")
        return self.person(session, Actor(call.actor.platform, user_id, name))

    def display_names(self, session: Session, person_ids: Iterable[int]) -> dict[int, str]:
        ids = set(person_ids)
        if not ids:
            return {}
        names = dict(session.exec(select(Person.id, Person.name).where(Person.id.in_(ids))).all())
        for person_id, name, user_id in session.exec(
                select(Identity.person_id, Identity.name, Identity.user_id)
                .where(Identity.person_id.in_(ids))):
            if not names.get(person_id):
                names[person_id] = name or user_id
        return names

    def _name(self, session: Session, person: Person) -> str:
        return self.display_names(session, [person.id])[person.id]

    def _is_admin(self, session: Session, series: Series, person: Person) -> bool:
        if not series.admins:
            return False
        keys = {f"{i.platform}:{i.user_id}" for i in
                session.exec(select(Identity).where(Identity.person_id == person.id))}
        return bool(keys & set(series.admins))

    def _role_holder(self, session: Session, meeting: Meeting, role: str) -> int | None:
        found = session.exec(
            select(Role).where(Role.meeting_id == meeting.id, Role.role == role)
        ).first()
        return found.person_id if found else None

    def _may_manage(self, session: Session, series: Series, meeting: Meeting, person: Person) -> bool:
        chair = self._role_holder(session, meeting, "chair")
        if chair is None and not series.admins:
            return True  # nobody is in charge yet: anyone may run the meeting
        return chair == person.id or self._is_admin(session, series, person)

    def _require_manager(self, session, series, meeting, person, what: str) -> None:
        if not self._may_manage(session, series, meeting, person):
            raise Refusal(f"Only the chair or an admin of {series.name} can {what}.")

    # -- agenda ----------------------------------------------------------------------------------

    def _open_items(self, session: Session, meeting: Meeting) -> list[AgendaItem]:
        return list(session.exec(
            select(AgendaItem).where(AgendaItem.meeting_id == meeting.id, AgendaItem.status == "open")
            .order_by(AgendaItem.position, AgendaItem.id)
        ))

    @staticmethod
    def _facts(item: AgendaItem) -> agenda.ItemFacts:
        return agenda.ItemFacts(item.id or 0, item.title, tuple(item.links.split()),
                                item.estimate_minutes, item.optional)

    def _plan(self, series: Series, items: list[AgendaItem]) -> agenda.Plan:
        return agenda.plan([self._facts(i) for i in items],
                           slot_minutes=int(series.duration.total_seconds() // 60),
                           chair_minutes=int(series.chair_item.total_seconds() // 60))

    def _insert_item(self, session: Session, meeting: Meeting, item: AgendaItem,
                     *, front: bool = False) -> AgendaItem | None:
        items = self._open_items(session, meeting)
        if front:
            index, grouped = sum(1 for i in items if i.carried_over), None
        else:
            index, grouped_facts = agenda.insertion_index([self._facts(i) for i in items],
                                                          self._facts(item))
            grouped = next((i for i in items if grouped_facts and i.id == grouped_facts.id), None)
        items.insert(index, item)
        session.add(item)
        for position, each in enumerate(items, 1):
            each.position = position
        session.flush()
        return grouped

    def _item_number(self, items: list[AgendaItem], number: int) -> AgendaItem:
        if not items:
            raise Refusal("The agenda is empty. Add an item with `/agenda add (~5min) <title>`.")
        if not 1 <= number <= len(items):
            raise Refusal(f"There is no item {number}; the agenda has items 1 to {len(items)} "
                          "(see `/agenda list`).")
        return items[number - 1]

    def _may_edit(self, session, series, meeting, person, owner_ids: Iterable[int]) -> bool:
        return person.id in set(owner_ids) or self._is_chair_or_admin(session, series, meeting, person)

    def _is_chair_or_admin(self, session, series, meeting, person) -> bool:
        chair = self._role_holder(session, meeting, "chair")
        return chair == person.id or self._is_admin(session, series, person)

    def _agenda_add(self, session, call, inv) -> Answer:
        series = self.series_for(call.place)
        meeting = self.next_meeting(session, series)
        caller = self.person(session, call.actor)
        presenter = (self._mentioned(session, call, inv.args["presenter"])
                     if inv.args["presenter"] else caller)
        try:
            estimate = parse_estimate(inv.args["text"])
        except ValueError as error:
            raise Refusal(f"{str(error)[0].upper()}{str(error)[1:]}. Nothing was added.") from None
        if not estimate.title:
            raise Refusal("The item needs a title as well as an estimate. "
                          "Write it as `/agenda add (~5min) JupyterHub 3.0`.")
        item = AgendaItem(
            meeting_id=meeting.id, presenter_id=presenter.id, added_by_id=caller.id,
            title=estimate.title, estimate_minutes=estimate.minutes, estimate_text=estimate.written,
            optional=estimate.optional, links=" ".join(agenda.links_in(estimate.title)),
            position=0, created_at=utc(self.clock()),
        )
        grouped = self._insert_item(session, meeting, item)
        items = self._open_items(session, meeting)
        plan = self._plan(series, items)
        number = items.index(item) + 1
        lines = [f"Added item {number}: {posts.item_line(self._name(session, presenter), item)}"]
        if grouped:
            lines.append(f"Grouped with the similar item {items.index(grouped) + 1}: {grouped.title}")
        if item.estimate_minutes is None:
            lines.append(f"No time estimate, so it counts as {DEFAULT_ESTIMATE_MINUTES} min; "
                         "add one like (~5min) to be exact.")
        lines.append(posts.plan_summary(plan))
        if meeting.status == "live":
            self._enqueue_item_posts(session, series, meeting, [item])
        return Answer("\n".join(lines))

    def _agenda_list(self, session, call, inv) -> Answer:
        series = self.series_for(call.place)
        meeting = self.next_meeting(session, series)
        items = self._open_items(session, meeting)
        names = self.display_names(session, [i.presenter_id for i in items])
        occurrence = self.occurrence(series, meeting)
        return Answer(posts.agenda_listing(series, occurrence, items, names, self._plan(series, items)))

    def _editable_item(self, session, call, number: int, what: str):
        series = self.series_for(call.place)
        meeting = self.next_meeting(session, series)
        items = self._open_items(session, meeting)
        item = self._item_number(items, number)
        person = self.person(session, call.actor)
        if not self._may_edit(session, series, meeting, person, (item.presenter_id, item.added_by_id)):
            raise Refusal(f"Item {number} is not yours; only its presenter, the chair or an admin "
                          f"can {what} it.")
        return series, meeting, items, item

    def _agenda_remove(self, session, call, inv) -> Answer:
        number = inv.args["number"]
        series, meeting, items, item = self._editable_item(session, call, number, "remove")
        item.status = "removed"
        items.remove(item)
        for position, each in enumerate(items, 1):
            each.position = position
        return Answer(f"Removed item {number}: {item.title}\n{posts.plan_summary(self._plan(series, items))}")

    def _agenda_move(self, session, call, inv) -> Answer:
        number, to = inv.args["number"], inv.args["to"]
        series, meeting, items, item = self._editable_item(session, call, number, "move")
        if not 1 <= to <= len(items):
            raise Refusal(f"Place {to} is outside the agenda; use 1 to {len(items)}.")
        if to == number:
            raise Refusal(f"Item {number} is already at place {to}; nothing to move.")
        items.remove(item)
        items.insert(to - 1, item)
        for position, each in enumerate(items, 1):
            each.position = position
        return Answer(f"Moved item {number} to place {to}: {item.title}")

    def _agenda_defer(self, session, call, inv) -> Answer:
        number = inv.args["number"]
        series, meeting, items, item = self._editable_item(session, call, number, "defer")
        target = self._following_meeting(session, series, meeting)
        self._carry(session, item, target, status="deferred")
        items.remove(item)
        for position, each in enumerate(items, 1):
            each.position = position
        return Answer(f"Deferred item {number} to {posts.short_date(target.date)}: {item.title}")

    def _following_meeting(self, session, series: Series, meeting: Meeting,
                           after: datetime | None = None) -> Meeting:
        """The first meeting still to be held after this one's start (or after `after`)."""
        for occurrence in series.occurrences(utc(after or meeting.start), 12):
            candidate = self._meeting_row(session, occurrence)
            if candidate.status == "scheduled":
                return candidate
        raise Refusal(f"{series.name} has no later meeting to carry items to.")

    def carry_over(self, session, series: Series, meeting: Meeting,
                   items: list[AgendaItem] | None = None, *,
                   after: datetime | None = None) -> tuple[Meeting, list[AgendaItem]]:
        """Move a meeting's open agenda items (or the ones given) to the next meeting of the series
        (the first after `after`, if given), ahead of its own; that meeting and the items moved."""
        target = self._following_meeting(session, series, meeting, after)
        items = self._open_items(session, meeting) if items is None else items
        for item in items:
            self._carry(session, item, target, status="carried")
        return target, items

    def _carry(self, session, item: AgendaItem, target: Meeting, *, status: str) -> None:
        item.status = status
        copy = AgendaItem(
            meeting_id=target.id, presenter_id=item.presenter_id, added_by_id=item.added_by_id,
            title=item.title, estimate_minutes=item.estimate_minutes,
            estimate_text=item.estimate_text, optional=item.optional, links=item.links,
            position=0, carried_over=item.carried_over + 1, created_at=utc(self.clock()),
        )
        self._insert_item(session, target, copy, front=True)

    def _agenda_note(self, session, call, inv) -> Answer:
        series = self.series_for(call.place)
        meeting = self.next_meeting(session, series)
        item = self._item_number(self._open_items(session, meeting), inv.args["number"])
        person = self.person(session, call.actor)
        session.add(Note(item_id=item.id, author_id=person.id, text=inv.args["text"],
                         platform=call.actor.platform))
        return Answer(f"Noted under item {inv.args['number']}: {item.title}")

    # -- updates, apologies, celebrations ---------------------------------------------------------

    def _set_update(self, session, meeting: Meeting, person: Person, text: str, platform: str) -> None:
        session.exec(delete(Update).where(Update.meeting_id == meeting.id,
                                          Update.person_id == person.id))
        if text:
            passed = text.strip().lower().rstrip(".!") == "pass"
            session.add(Update(meeting_id=meeting.id, person_id=person.id,
                               kind="pass" if passed else "update", text="" if passed else text,
                               platform=platform, created_at=utc(self.clock())))

    def _attendance(self, session, meeting_id: int, person_id: int, status: str, *,
                    by_reply: bool = False) -> None:
        found = self._attendance_row(session, meeting_id, person_id)
        if found is None:
            found = Attendance(meeting_id=meeting_id, person_id=person_id, status=status)
            session.add(found)
        found.status = status
        if not by_reply:
            found.by_command = status

    @staticmethod
    def _attendance_row(session, meeting_id: int, person_id: int) -> Attendance | None:
        session.flush()  # a batch of replies may have added it just now, under no_autoflush
        return session.exec(select(Attendance).where(Attendance.meeting_id == meeting_id,
                                                     Attendance.person_id == person_id)).first()

    def _reply_apologies_taken_back(self, session, meeting_id: int, person_id: int) -> None:
        """A reply that gave apologies is gone or says otherwise now: unless another reply still
        gives them, attendance goes back to what the person said by command (or to nothing)."""
        session.flush()
        standing = session.exec(select(Update.id).where(
            Update.meeting_id == meeting_id, Update.person_id == person_id, Update.apologies)).first()
        found = self._attendance_row(session, meeting_id, person_id)
        if standing is not None or found is None or found.status != "apologies":
            return
        if found.by_command:
            found.status = found.by_command
        else:
            session.delete(found)

    def _update(self, session, call, inv) -> Answer:
        series = self.series_for(call.place)
        meeting = self.next_meeting(session, series)
        person = self.person(session, call.actor)
        self._set_update(session, meeting, person, inv.args["text"], call.actor.platform)
        self._late_change(session, series, meeting)
        when = posts.short_date(meeting.date)
        if inv.args["text"].strip().lower().rstrip(".!") == "pass":
            return Answer(f"Recorded a pass for {when}.")
        return Answer(f"Saved your update for {when}; `/update <text>` again replaces it.")

    def _apologies(self, session, call, inv) -> Answer:
        series = self.series_for(call.place)
        meeting = self.next_meeting(session, series)
        person = self.person(session, call.actor)
        self._attendance(session, meeting.id, person.id, "apologies")
        if inv.args["text"]:
            self._set_update(session, meeting, person, inv.args["text"], call.actor.platform)
        self._late_change(session, series, meeting)
        extra = " and saved your update" if inv.args["text"] else ""
        return Answer(f"Noted your apologies for {posts.short_date(meeting.date)}{extra}.")

    def _celebrate(self, session, call, inv) -> Answer:
        series = self.series_for(call.place)
        meeting = self.next_meeting(session, series)
        person = self.person(session, call.actor)
        session.add(Report(meeting_id=meeting.id, person_id=person.id, text=inv.args["text"],
                           platform=call.actor.platform, created_at=utc(self.clock())))
        self._late_change(session, series, meeting)
        return Answer(f"Added to reports and celebrations for {posts.short_date(meeting.date)}.")

    # -- thread replies --------------------------------------------------------------------------

    def _thread_post(self, session, place: Place) -> Outbox | None:
        if place.thread is None:
            return None
        return session.exec(
            select(Outbox).where(Outbox.platform == place.platform, Outbox.message_id == place.thread)
        ).first()

    def _replies_together(self, events: Sequence[Reply]) -> list[list[Answer]]:
        """New replies are the rule and a second delivery of a stored one the exception, so the
        first try does not look for stored ones: the unique message id refuses a duplicate, and
        the second try looks them up. A third would only race another process: one by one then."""
        for look_up in (False, True):
            try:
                return self._replies(events, look_up_stored=look_up)
            except IntegrityError:
                pass
        return [self.handle(event) for event in events]

    def _replies(self, events: Sequence[Reply], *, look_up_stored: bool = True) -> list[list[Answer]]:
        """Thread replies, looked up together and stored in one statement: a call-for-updates reply
        is a quick update (or a pass, or apologies), an agenda item's reply is a note under it."""
        answers: list[list[Answer]] = [[] for _ in events]  # nothing to say to most replies
        with session_scope(self.db) as session, session.no_autoflush:
            posts_by_id = {(p.platform, p.message_id): p for p in session.exec(
                select(Outbox).where(Outbox.message_id.in_({e.place.thread for e in events if e.place.thread})))}
            # What a reply in each thread becomes, worked out once per thread: (post, meeting id,
            # the agenda item's id for an item's thread, or None for the call for updates).
            threads = {key: (post, post.meeting_id, agenda_item_of(post.kind))
                       for key, post in posts_by_id.items() if post.meeting_id is not None
                       and (post.kind == "call_for_updates" or agenda_item_of(post.kind) is not None)}
            stored = self._stored_replies(session, events) if look_up_stored else set()
            identities = {(i.platform, i.user_id): i for i in session.exec(select(Identity).where(
                tuple_(Identity.platform, Identity.user_id).in_({(e.actor.platform, e.actor.user_id)
                                                                 for e in events})))}
            person_ids: dict[Actor, int] = {}
            updates: list[dict] = []
            notes: list[dict] = []
            changed: dict[int, Outbox] = {}
            now = utc(self.clock())
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
                    person_id = person_ids[event.actor] = self._reply_author(session, identities, event.actor)
                post, meeting_id, item_id = thread
                if item_id is None:
                    kind, rest, absent = read_reply(text)
                    if absent:
                        self._attendance(session, meeting_id, person_id, "apologies", by_reply=True)
                    updates.append(dict(meeting_id=meeting_id, person_id=person_id, kind=kind, text=rest,
                                        apologies=absent, platform=place.platform,
                                        message_id=event.message_id, created_at=now))
                    changed[post.id] = post
                    if place.platform == TERMINAL:
                        answers[index] = [Answer(REPLY_ANSWERS[kind])]
                else:
                    notes.append(dict(item_id=item_id, author_id=person_id, text=text,
                                      platform=place.platform, message_id=event.message_id))
            session.flush()
            insert_rows(session, Update.__table__, updates)
            insert_rows(session, Note.__table__, notes)
            for post in changed.values():
                meeting = session.get(Meeting, post.meeting_id)
                self._late_change(session, self.config.get(meeting.series_id), meeting, thread=post)
        return answers

    @staticmethod
    def _stored_replies(session, events: Sequence[Reply]) -> set[tuple[str, str]]:
        platforms, ids = {e.place.platform for e in events}, {e.message_id for e in events}
        return {(platform, message_id) for model in (Update, Note) for platform, message_id in session.exec(
            select(model.platform, model.message_id).where(model.platform.in_(platforms),
                                                           model.message_id.in_(ids)))}

    def _reply_author(self, session, identities: dict[tuple[str, str], Identity], actor: Actor) -> int:
        """The person behind a reply, from the identities read for the batch (or a new one)."""
        identity = identities.get((actor.platform, actor.user_id))
        if identity is None:
            return self.person(session, actor).id
        if actor.name and identity.name != actor.name:
            identity.name = actor.name
        return identity.person_id

    def _reply(self, event: Reply) -> list[Answer]:
        return self._replies([event])[0]

    def _reply_edited(self, event: ReplyEdited) -> list[Answer]:
        with session_scope(self.db) as session:
            platform, message_id = event.place.platform, event.message_id
            try:
                text = commands.check_text(event.text)
            except UsageError as error:
                return [Answer(f"Your edit was not saved; the earlier text stays: {error}", ok=False)]
            found = session.exec(select(Update).where(Update.platform == platform,
                                                      Update.message_id == message_id)).first()
            if found is not None:
                meeting = session.get(Meeting, found.meeting_id)
                kind, new_text, absent = read_reply(text)
                if (found.kind, found.text, found.apologies) == (kind, new_text, absent):
                    return []  # an unchanged text (Slack sends these for link previews)
                gave, found.kind, found.text, found.apologies = found.apologies, kind, new_text, absent
                if absent and not gave:
                    self._attendance(session, meeting.id, found.person_id, "apologies", by_reply=True)
                elif gave and not absent:
                    self._reply_apologies_taken_back(session, meeting.id, found.person_id)
                self._late_change(session, self.config.get(meeting.series_id), meeting)
                return []
            note = session.exec(select(Note).where(Note.platform == platform,
                                                   Note.message_id == message_id)).first()
            if note is not None:
                note.text = text
                return []
            ours = self._thread_post(session, event.place) is not None
        if ours and event.actor is not None:
            # An edit of a reply we never stored (sent while the bot was away): take it as new.
            return self._reply(Reply(event.actor, event.place, message_id, text))
        return []

    def open_threads(self, platform: str, *, within: timedelta = timedelta(days=7)) -> list[Place]:
        """Threads the bot opened on a platform for meetings not long over, to catch up on at start."""
        since = self.clock() - within
        with session_scope(self.db) as session:
            rows = session.exec(
                select(Outbox).join(Meeting, Meeting.id == Outbox.meeting_id)
                .where(Outbox.platform == platform, Outbox.status == "sent",
                       Outbox.message_id.is_not(None), Meeting.end >= since,
                       or_(Outbox.kind == "call_for_updates",
                           Outbox.kind.startswith(SendKind.AGENDA.prefix)))
                .order_by(Outbox.id)).all()
            return [Place(platform, row.channel, row.message_id) for row in rows]

    def catch_up(self, thread: Place, replies: Sequence[Reply]) -> list[list[Answer]]:
        """Bring a thread in line with what the platform shows now: replies posted, edited or
        deleted while the bot was away (or in a crash after an ack) are applied, each once.

        `replies` must be the whole thread, apart from the opening post and bots' messages.
        """
        seen = {reply.message_id for reply in replies}
        with session_scope(self.db) as session:
            post = self._thread_post(session, thread)
            if post is None or post.meeting_id is None:
                return []
            if post.kind == "call_for_updates":
                stored = {m: (kind, text, absent) for m, kind, text, absent in session.exec(
                    select(Update.message_id, Update.kind, Update.text, Update.apologies).where(
                        Update.meeting_id == post.meeting_id, Update.platform == thread.platform))}
            else:
                item_id = agenda_item_of(post.kind)
                stored = {m: ("note", text) for m, text in session.exec(
                    select(Note.message_id, Note.text).where(
                        Note.item_id == item_id, Note.platform == thread.platform))}
        stored.pop(None, None)

        def as_stored(reply: Reply) -> tuple:
            text = commands.clean(reply.text).strip()
            return ("note", text) if post.kind != "call_for_updates" else read_reply(text)

        events: list[Event] = [r for r in replies if r.message_id not in stored]
        events += [ReplyEdited(thread, r.message_id, r.text, r.actor) for r in replies
                   if r.message_id in stored and stored[r.message_id] != as_stored(r)]
        events += [ReplyDeleted(thread, message_id) for message_id in sorted(stored.keys() - seen)]
        return self.handle_many(events)

    def _reply_deleted(self, event: ReplyDeleted) -> list[Answer]:
        with session_scope(self.db) as session:
            platform, message_id = event.place.platform, event.message_id
            found = session.exec(select(Update).where(Update.platform == platform,
                                                      Update.message_id == message_id)).first()
            if found is not None:
                meeting = session.get(Meeting, found.meeting_id)
                session.delete(found)
                if found.apologies:
                    self._reply_apologies_taken_back(session, meeting.id, found.person_id)
                self._late_change(session, self.config.get(meeting.series_id), meeting)
            session.exec(delete(Note).where(Note.platform == platform, Note.message_id == message_id))
            return []

    def _late_change(self, session, series: Series, meeting: Meeting, thread: Outbox | None = None) -> None:
        """After the digest went out, a change updates it in place and says so once in the thread."""
        digests = session.exec(select(Outbox).where(Outbox.meeting_id == meeting.id,
                                                    Outbox.kind == "digest")).all()
        # A digest being sent right now was rendered before this change: it needs an edit too.
        if not any(d.status in ("sent", "sending") for d in digests):
            return
        session.exec(update(Outbox).where(Outbox.meeting_id == meeting.id, Outbox.kind == "digest",
                                          Outbox.status.in_(("sent", "sending")))
                     .values(needs_edit=True))
        if thread is not None and thread.message_id:
            outbox.enqueue(session, series_id=series.id, occurrence=meeting.date,
                           meeting_id=meeting.id, kind="late_notice", platform=thread.platform,
                           channel=thread.channel, due=self.clock(), thread_of=thread.message_id)

    # -- meeting ---------------------------------------------------------------------------------

    def _status(self, session, call, inv) -> Answer:
        series = self.series_for(call.place)
        meeting = self.next_meeting(session, series)
        occurrence = self.occurrence(series, meeting)
        items = self._open_items(session, meeting)
        counts = self._counts(session, meeting)
        return Answer(posts.status(series, occurrence, meeting.status, counts, self._plan(series, items),
                                   series.previous(occurrence, same_zone=True)))

    def _counts(self, session, meeting: Meeting) -> dict[str, int]:
        def count(model, *where):
            return session.exec(select(func.count()).select_from(model).where(*where)).one()

        return {
            "updates": count(Update, Update.meeting_id == meeting.id, Update.kind == "update"),
            "passes": count(Update, Update.meeting_id == meeting.id, Update.kind == "pass"),
            "present": count(Attendance, Attendance.meeting_id == meeting.id,
                             Attendance.status == "present"),
            "apologies": count(Attendance, Attendance.meeting_id == meeting.id,
                               Attendance.status == "apologies"),
            "reports": count(Report, Report.meeting_id == meeting.id),
            "items": count(AgendaItem, AgendaItem.meeting_id == meeting.id, AgendaItem.status == "open"),
        }

    def _help(self, session, call, inv) -> Answer:
        return Answer(commands.help_text())

    def _here(self, session, call, inv) -> Answer:
        series = self.series_for(call.place)
        meeting = self.next_meeting(session, series)
        person = self.person(session, call.actor)
        self._attendance(session, meeting.id, person.id, "present")
        line = posts.roll_call_line(person, self._name(session, person))
        hint = "" if person.name else " Set your line with `/meeting profile <name> / <institution> / <github>`."
        return Answer(f"You are on the roll call for {posts.short_date(meeting.date)}: {line}.{hint}")

    def _profile(self, session, call, inv) -> Answer:
        profile = inv.args["profile"]
        person = self.person(session, call.actor)
        if profile.github:
            person = self._link_by_github(session, person, call.actor, profile.github)
        person.name, person.institution, person.github = profile.name, profile.institution, profile.github
        return Answer(f"Your roll-call line is now: {posts.roll_call_line(person, person.name)}")

    def _link_by_github(self, session, person: Person, actor: Actor, github: str) -> Person:
        """The same GitHub handle on another platform is the same person: one roster across chats."""
        other = session.exec(select(Person).where(func.lower(Person.github) == github.lower(),
                                                  Person.id != person.id)).first()
        if other is None:
            return person
        platforms = {i.platform for i in session.exec(select(Identity).where(Identity.person_id == other.id))}
        if actor.platform in platforms:
            raise Refusal(f"@{github} is already the profile of someone else on this platform; "
                          "check the handle.")
        for model, column in ((Update, Update.person_id), (Report, Report.person_id),
                              (AgendaItem, AgendaItem.presenter_id), (AgendaItem, AgendaItem.added_by_id),
                              (Note, Note.author_id), (ActionItem, ActionItem.assignee_id),
                              (Role, Role.person_id), (Identity, Identity.person_id)):
            session.exec(update(model).where(column == person.id).values({column.key: other.id}))
        taken = {a.meeting_id for a in session.exec(select(Attendance).where(Attendance.person_id == other.id))}
        for attendance in session.exec(select(Attendance).where(Attendance.person_id == person.id)).all():
            if attendance.meeting_id in taken:
                session.delete(attendance)
            else:
                attendance.person_id = other.id
        session.flush()
        session.delete(person)
        return other

    def _role(self, session, call, inv) -> Answer:
        role = inv.command.name
        series = self.series_for(call.place)
        meeting = self.next_meeting(session, series)
        caller = self.person(session, call.actor)
        holder = self._role_holder(session, meeting, "chair")
        if holder is not None and not self._is_chair_or_admin(session, series, meeting, caller):
            raise Refusal(f"Only the chair or an admin can set the {role}.")
        person = self._mentioned(session, call, inv.args["user"])
        found = session.exec(select(Role).where(Role.meeting_id == meeting.id, Role.role == role)).first()
        if found:
            found.person_id = person.id
        else:
            session.add(Role(meeting_id=meeting.id, role=role, person_id=person.id))
        return Answer(f"{self._name(session, person)} is the {role} for {posts.short_date(meeting.date)}.")

    def _remind(self, session, call, inv) -> Answer:
        series = self.series_for(call.place)
        meeting = self.next_meeting(session, series)
        fresh = [t.platform for t in self.targets(series)
                 if outbox.enqueue(session, series_id=series.id, occurrence=meeting.date,
                                   meeting_id=meeting.id, kind="call_for_updates",
                                   platform=t.platform, channel=t.channel, due=self.clock())]
        # One already planned for later by the schedule goes out now instead.
        brought = session.exec(
            update(Outbox).where(Outbox.meeting_id == meeting.id, Outbox.kind == "call_for_updates",
                                 Outbox.status == "pending", Outbox.due > self.clock())
            .values(due=self.clock())).rowcount
        if not fresh and not brought:
            return Answer(f"The call for updates for {posts.short_date(meeting.date)} is already "
                          "open; reply in its thread.")
        return Answer(f"Posting the call for updates for {posts.short_date(meeting.date)}; "
                      "replies in its thread are quick updates.")

    def _compile(self, session, call, inv) -> Answer:
        series = self.series_for(call.place)
        meeting = self.next_meeting(session, series)
        return Answer(self._post_digest(session, series, meeting))

    def compile(self, session, series: Series, meeting: Meeting) -> str:
        """Post the digest of a meeting, or update it in place when it went out already."""
        return self._post_digest(session, series, meeting)

    def _post_digest(self, session, series: Series, meeting: Meeting) -> str:
        if self.snapshot(session, series, meeting).is_empty:
            return (f"Nothing to compile for {posts.short_date(meeting.date)} yet: no roll call, "
                    "updates, celebrations or agenda items.")
        meeting.compiled_at = utc(self.clock())
        fresh = False
        for target in self.targets(series):
            fresh |= outbox.enqueue(session, series_id=series.id, occurrence=meeting.date,
                                    meeting_id=meeting.id, kind="digest", platform=target.platform,
                                    channel=target.digest_channel, due=self.clock())
        if not fresh:
            session.exec(update(Outbox).where(Outbox.meeting_id == meeting.id, Outbox.kind == "digest",
                                              Outbox.status == "sent").values(needs_edit=True))
            return f"Updated the digest for {posts.short_date(meeting.date)} in place."
        return f"Compiled the notes for {posts.short_date(meeting.date)}; posting the digest."

    def _start(self, session, call, inv) -> Answer:
        series = self.series_for(call.place)
        meeting = self.next_meeting(session, series)
        person = self.person(session, call.actor)
        self._require_manager(session, series, meeting, person, "start the meeting")
        if meeting.status == "live":
            raise Refusal("The meeting is already live; `/meeting end` ends it.")
        meeting.status = "live"
        if self._role_holder(session, meeting, "chair") is None:
            session.add(Role(meeting_id=meeting.id, role="chair", person_id=person.id))
        items = self._open_items(session, meeting)
        self._enqueue_item_posts(session, series, meeting, items)
        return Answer(f"The meeting is live with {len(items)} agenda items; replies under each "
                      "item are its notes. `/meeting end` compiles and archives.")

    def _enqueue_item_posts(self, session, series, meeting, items) -> None:
        for target in self.targets(series):
            for item in items:
                outbox.enqueue(session, series_id=series.id, occurrence=meeting.date,
                               meeting_id=meeting.id, kind=SendKind.AGENDA.of(item.id),
                               platform=target.platform, channel=target.channel, due=self.clock())

    def _end(self, session, call, inv) -> Answer:
        series = self.series_for(call.place)
        meeting = self.next_meeting(session, series)
        person = self.person(session, call.actor)
        self._require_manager(session, series, meeting, person, "end the meeting")
        return Answer(self.finish(session, series, meeting))

    def finish(self, session, series: Series, meeting: Meeting) -> str:
        """After a meeting: digest, archive, and unfinished items carried to the next one."""
        # `/meeting end` and the scheduled finish may meet: the row lock lets one of them carry over.
        session.refresh(meeting, with_for_update=True)
        if meeting.status == "ended":
            return f"The meeting of {posts.short_date(meeting.date)} has already ended."
        lines = [self._post_digest(session, series, meeting)]
        meeting.status = "ended"
        noted = set(session.exec(select(Note.item_id).join(AgendaItem)
                                 .where(AgendaItem.meeting_id == meeting.id)))
        leftovers = []
        for item in self._open_items(session, meeting):
            if item.id in noted:
                item.status = "done"
            else:
                leftovers.append(item)
        if leftovers:
            target, _ = self.carry_over(session, series, meeting, leftovers)
            lines.append(f"Carried {len(leftovers)} items without notes to "
                         f"{posts.short_date(target.date)}: " + "; ".join(i.title for i in leftovers))
        if self.archive_dir is not None:
            session.flush()
            path = archive.write(self.archive_dir, series.id, meeting.date,
                                 self.render_notes(session, series, meeting))
            meeting.archived_at = utc(self.clock())
            lines.append(f"Archived as {path}.")
        return "\n".join(lines)

    def _action(self, session, call, inv) -> Answer:
        series = self.series_for(call.place)
        meeting = self.next_meeting(session, series)
        assignee = self._mentioned(session, call, inv.args["user"])
        latest = session.exec(
            select(Note.item_id).join(AgendaItem).where(AgendaItem.meeting_id == meeting.id)
            .order_by(Note.id.desc())
        ).first() if meeting.status == "live" else None
        session.add(ActionItem(meeting_id=meeting.id, item_id=latest, assignee_id=assignee.id,
                               text=inv.args["text"], created_at=utc(self.clock())))
        return Answer(f"Action for {self._name(session, assignee)}: {inv.args['text']}")

    def _skip(self, session, call, inv) -> Answer:
        verb = inv.command.name  # skip or cancel
        series = self.series_for(call.place)
        meeting = self.next_meeting(session, series)
        person = self.person(session, call.actor)
        self._require_manager(session, series, meeting, person, f"{verb} a meeting")
        if meeting.status == "live":
            raise Refusal("The meeting is live; `/meeting end` ends it.")
        meeting.status = "skipped" if verb == "skip" else "cancelled"
        outbox.cancel_pending(session, meeting.id)
        for target in self.targets(series):
            outbox.enqueue(session, series_id=series.id, occurrence=meeting.date, meeting_id=meeting.id,
                           kind="notice", platform=target.platform, channel=target.channel,
                           due=self.clock())
        following, moved = self.carry_over(session, series, meeting)
        word = "Skipped" if verb == "skip" else "Cancelled"
        return Answer(f"{word} the meeting of {posts.short_date(meeting.date)}; a notice is posted. "
                      f"The next one is {posts.short_date(following.date)}"
                      + (f", with {len(moved)} agenda items moved to it." if moved else "."))

    # -- compiled notes --------------------------------------------------------------------------

    def snapshot(self, session: Session, series: Series, meeting: Meeting) -> MeetingNotes:
        """Everything the notes show, read in a handful of queries."""
        mid = meeting.id
        occurrence = self.occurrence(series, meeting)
        updates = session.exec(select(Update.person_id, Update.kind, Update.text)
                               .where(Update.meeting_id == mid).order_by(Update.id)).all()
        attendance = session.exec(select(Attendance.person_id, Attendance.status)
                                  .where(Attendance.meeting_id == mid).order_by(Attendance.id)).all()
        reports = session.exec(select(Report.person_id, Report.text)
                               .where(Report.meeting_id == mid).order_by(Report.id)).all()
        # Items the meeting had, including those it finished or did not reach (carried on).
        items = list(session.exec(
            select(AgendaItem).where(AgendaItem.meeting_id == mid,
                                     AgendaItem.status.in_(("open", "done", "carried")))
            .order_by(AgendaItem.position, AgendaItem.id)))
        item_ids = [i.id for i in items]
        notes = session.exec(select(Note.item_id, Note.author_id, Note.text)
                             .where(Note.item_id.in_(item_ids)).order_by(Note.id)).all() if items else []
        actions = session.exec(select(ActionItem.item_id, ActionItem.assignee_id, ActionItem.text)
                               .where(ActionItem.meeting_id == mid).order_by(ActionItem.id)).all()
        roles = {r.role: r.person_id for r in session.exec(select(Role).where(Role.meeting_id == mid))}
        people = {u[0] for u in updates} | {a[0] for a in attendance} | {r[0] for r in reports}
        people |= {i.presenter_id for i in items} | {n[1] for n in notes} | {a[1] for a in actions}
        people |= set(roles.values())
        names = self.display_names(session, people)
        profiles = {p.id: p for p in session.exec(select(Person).where(Person.id.in_(
            [a[0] for a in attendance if a[1] == "present"])))} if attendance else {}

        absent = {pid for pid, status in attendance if status == "apologies"}
        texts: dict[int, list[str]] = {}
        passed: set[int] = set()
        for pid, kind, text in updates:
            if kind == "pass":
                passed.add(pid)
            elif text:
                texts.setdefault(pid, []).append(text)
        order = list(dict.fromkeys([pid for pid, *_ in updates] +
                                   [pid for pid, status in attendance if status == "apologies"]))
        entries = tuple(
            Entry(names[pid], "\n".join(texts.get(pid, [])), apologies=pid in absent,
                  passed=pid in passed and pid not in texts)
            for pid in order
        )
        notetaker = roles.get("notetaker")
        by_item: dict[int, list[NoteEntry]] = {}
        for item_id, author, text in notes:
            by_item.setdefault(item_id, []).append(
                NoteEntry(None if author == notetaker else names[author], text))
        actions_by_item: dict[int | None, list[Action]] = {}
        for item_id, assignee, text in actions:
            actions_by_item.setdefault(item_id, []).append(Action(names[assignee], text))
        return MeetingNotes(
            title=series.name,
            start=occurrence.local_start,
            timezone=occurrence.timezone,
            slot=posts.minutes(series.duration),
            timezone_url=occurrence.arewemeetingyet_url(series.name),
            video_url=series.video_url, notes_url=series.notes_url, issue_url=series.issue_url,
            calendar_url=series.calendar_url,
            roll_call=tuple(posts.roll_call_line(profiles[pid], names[pid])
                            for pid, status in attendance if status == "present"),
            updates=entries,
            reports=tuple(Entry(names[pid], text) for pid, text in reports),
            chair_item=posts.minutes(series.chair_item),
            notetaker=names[notetaker] if notetaker else None,
            items=tuple(
                ItemEntry(names[i.presenter_id], i.estimate_text, i.title,
                          tuple(by_item.get(i.id, ())), tuple(actions_by_item.get(i.id, ())))
                for i in items
            ),
            actions=tuple(actions_by_item.get(None, ())),
        )

    def render_notes(self, session: Session, series: Series, meeting: Meeting) -> str:
        return render(self.snapshot(session, series, meeting))

    def notes(self, series_id: str, day: date | None = None) -> tuple[date, str]:
        """A meeting's date and compiled notes; the next meeting's when no day is given."""
        with session_scope(self.db) as session:
            series = self.config.get(series_id)
            meeting = self.meeting_on(session, series, day)
            return meeting.date, self.render_notes(session, series, meeting)

    def open_thread(self, series_id: str, platform: str) -> str | None:
        """The message id of the newest call for updates posted on a platform for a series."""
        with session_scope(self.db) as session:
            found = session.exec(
                select(Outbox).where(Outbox.series_id == series_id, Outbox.platform == platform,
                                     Outbox.kind == "call_for_updates", Outbox.status == "sent")
                .order_by(Outbox.occurrence.desc())
            ).first()
            return found.message_id if found else None

    def knows_post(self, platform: str, message_id: str) -> bool:
        """Whether a post with this platform id is recorded, so that replies under it are read."""
        with session_scope(self.db) as session:
            return self._thread_post(session, Place(platform, "", message_id)) is not None

    # -- what the outbox posts -------------------------------------------------------------------

    def render_post(self, session: Session, row: Outbox) -> Post:
        """The content of an outbox row, rendered when it is sent so that it is current."""
        series = self.config.get(row.series_id)
        meeting = session.get(Meeting, row.meeting_id) if row.meeting_id else None
        occurrence = (self.occurrence(series, meeting) if meeting
                      else series.occurrence_on(row.occurrence))
        common = dict(key=f"{row.series_id}/{row.occurrence}/{row.kind}/{row.platform}/{row.channel}",
                      kind=row.kind, platform=row.platform, channel=row.channel,
                      thread_of=row.thread_of, maybe_sent=row.attempts > 0)
        if row.kind == "digest":
            notes = self.snapshot(session, series, meeting)
            return Post(text=posts.digest_summary(series, occurrence, notes,
                                                  self._plan(series, self._open_items(session, meeting))),
                        attachment=posts.notes_attachment(series, occurrence, render(notes)),
                        edit_of=row.message_id,
                        extra_ids=tuple(row.extra_ids.split()), **common)
        if (item_id := agenda_item_of(row.kind)) is not None:
            item = session.get(AgendaItem, item_id)
            name = self.display_names(session, [item.presenter_id])[item.presenter_id]
            return Post(text=posts.item_line(name, item), opens_thread=item.title[:90], **common)
        status = meeting.status if meeting else "scheduled"
        text, opens = posts.scheduled_text(row.kind, series, occurrence, status)
        if row.kind in ("announcement", "call_for_updates") or row.kind.startswith("reminder"):
            warning = posts.dst_warning(occurrence, series.previous(occurrence, same_zone=True))
            text += f"\n{warning}" if warning else ""
        return Post(text=text, opens_thread=opens, **common)
