"""What every use case stands on: the bot's setup, the lookups of series, meeting and person, and
the typed context of one command call."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from chatbot.commands import Command, Invocation
from chatbot.events import TERMINAL, Actor, CommandCall, Place
from chatbot.schedule.series import Config, Occurrence, Series
from chatbot.storage.models import (
    Identity,
    Meeting,
    MeetingStatus,
    Person,
    Role,
    SeriesRecord,
)
from chatbot.storage.store import session_scope
from chatbot.text import posts


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


class Refusal(Exception):
    """A request the bot turns down; the message goes back to the person."""


@dataclass(frozen=True)
class Target:
    """Where a series posts on one platform."""

    platform: str
    channel: str
    digest_channel: str


@dataclass(frozen=True)
class Core:
    """What the use cases share: the database, the series, the platforms posted to, the clock."""

    db: Engine
    config: Config
    platforms: frozenset[str]
    clock: Callable[[], datetime]
    archive_dir: Path | None = None

    def now(self) -> datetime:
        return utc(self.clock())

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
        config = self.config
        if place.platform == TERMINAL:
            return config.get(place.channel) if place.channel else config.series[0]
        for series in config.series:
            spec = series.targets.get(place.platform)
            if spec is not None and place.channel in (spec.channel, spec.digest_channel):
                return series
        if len(config.series) == 1:
            return config.series[0]
        where = [
            f"{s.name}: {posts.channel_ref(place.platform, s.targets[place.platform].channel)}"
            for s in config.series
            if place.platform in s.targets
        ]
        raise Refusal(
            "This channel has no meeting series. Use the command in the series' channel: "
            + ("; ".join(where) if where else "none is configured for this platform yet.")
        )


def record_series(db: Engine, config: Config) -> None:
    """Every configured series has its row, whichever process starts first."""
    with session_scope(db) as session:
        for series in config.series:
            if session.get(SeriesRecord, series.id) is None:
                try:
                    with session.begin_nested():  # another process may add it at the same time
                        session.add(SeriesRecord(id=series.id, name=series.name))
                except IntegrityError:
                    pass


# -- meetings ------------------------------------------------------------------------------------


def meeting_row(session: Session, occurrence: Occurrence) -> Meeting:
    """The stored meeting of an occurrence, created on first use."""
    found = session.exec(
        select(Meeting).where(Meeting.series_id == occurrence.series_id, Meeting.date == occurrence.date)
    ).first()
    if found:
        return found
    meeting = Meeting(series_id=occurrence.series_id, date=occurrence.date,
                      start=utc(occurrence.start), end=utc(occurrence.end),
                      status=MeetingStatus.SKIPPED if occurrence.skipped else MeetingStatus.SCHEDULED)
    try:
        with session.begin_nested():
            session.add(meeting)
    except IntegrityError:  # another process created it first
        return session.exec(
            select(Meeting).where(Meeting.series_id == occurrence.series_id,
                                  Meeting.date == occurrence.date)
        ).one()
    return meeting


def next_meeting(core: Core, session: Session, series: Series) -> Meeting:
    """The live meeting, else the first one that has not ended and is not skipped."""
    live = session.exec(
        select(Meeting).where(Meeting.series_id == series.id, Meeting.status == MeetingStatus.LIVE)
    ).first()
    if live:
        return live
    for occurrence in series.occurrences(core.clock() - series.duration, 12):
        meeting = meeting_row(session, occurrence)
        if meeting.status == MeetingStatus.SCHEDULED:
            return meeting
    raise Refusal(f"{series.name} has no upcoming meeting in the next 12 occurrences.")


def meeting_on(core: Core, session: Session, series: Series, day: date | None) -> Meeting:
    if day is None:
        return next_meeting(core, session, series)
    occurrence = series.occurrence_on(day)
    if occurrence is None:
        raise Refusal(f"{series.name} has no meeting on {day:%Y-%m-%d}.")
    return meeting_row(session, occurrence)


def following_meeting(session: Session, series: Series, meeting: Meeting,
                      after: datetime | None = None) -> Meeting:
    """The first meeting still to be held after this one's start (or after `after`)."""
    for occurrence in series.occurrences(utc(after or meeting.start), 12):
        candidate = meeting_row(session, occurrence)
        if candidate.status == MeetingStatus.SCHEDULED:
            return candidate
    raise Refusal(f"{series.name} has no later meeting to carry items to.")


def occurrence_of(series: Series, meeting: Meeting) -> Occurrence:
    found = series.occurrence_on(meeting.date)
    if found is None:  # the schedule changed since; keep the stored instant
        return Occurrence(series.id, meeting.date, utc(meeting.start), utc(meeting.end),
                          series.time, series.timezone, False)
    return found


def role_holder(session: Session, meeting: Meeting, role: str) -> int | None:
    found = session.exec(select(Role).where(Role.meeting_id == meeting.id, Role.role == role)).first()
    return found.person_id if found else None


# -- people --------------------------------------------------------------------------------------


def person_of(session: Session, actor: Actor) -> Person:
    """The person behind a platform account, created on first sight; the name follows the platform's."""
    identity = session.exec(
        select(Identity).where(Identity.platform == actor.platform, Identity.user_id == actor.user_id)
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
            return person_of(session, actor)
        return person
    if actor.name and identity.name != actor.name:
        identity.name = actor.name
    return session.get(Person, identity.person_id)


def display_names(session: Session, person_ids: Iterable[int]) -> dict[int, str]:
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


def is_series_admin(session: Session, series: Series, person: Person) -> bool:
    if not series.admins:
        return False
    keys = {f"{i.platform}:{i.user_id}" for i in
            session.exec(select(Identity).where(Identity.person_id == person.id))}
    return bool(keys & set(series.admins))


# -- one command call ----------------------------------------------------------------------------


class CommandContext:
    """One command call and what it acts on: the series, its next meeting, the caller and where
    they stand. Each is resolved on first use and once (`/meeting help` needs none of them)."""

    def __init__(self, core: Core, session: Session, call: CommandCall, invocation: Invocation) -> None:
        self.core = core
        self.session = session
        self.call = call
        self.command: Command = invocation.command
        self.args: dict = invocation.args

    @cached_property
    def series(self) -> Series:
        return self.core.series_for(self.call.place)

    @cached_property
    def meeting(self) -> Meeting:
        return next_meeting(self.core, self.session, self.series)

    @cached_property
    def person(self) -> Person:
        return person_of(self.session, self.call.actor)

    @cached_property
    def chair_id(self) -> int | None:
        """The person holding the meeting's chair, if anyone does."""
        return role_holder(self.session, self.meeting, "chair")

    @cached_property
    def is_admin(self) -> bool:
        return is_series_admin(self.session, self.series, self.person)

    def mentioned(self, user_id: str) -> Person:
        """The person an @mention in the command names."""
        return person_of(self.session, Actor(self.call.actor.platform, user_id,
                                             self.call.users.get(user_id, "")))

    def name(self, person: Person) -> str:
        return display_names(self.session, [person.id])[person.id]
