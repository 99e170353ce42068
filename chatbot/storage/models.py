"""Database tables and the statuses their rows go through, stored as plain strings. Values are
validated before they get here (table models skip validation); instants are in UTC."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a worker, which may have died with it
    SENT = "sent"
    FAILED = "failed"  # to be retried
    MISSED = "missed"  # fell due and was of no use any more before it could go out
    CANCELLED = "cancelled"


class SeriesRecord(SQLModel, table=True):
    __tablename__ = "series"
    id: str = Field(primary_key=True, max_length=64)
    name: str


class Meeting(SQLModel, table=True):
    """One occurrence of a series."""

    __table_args__ = (UniqueConstraint("series_id", "date"),)
    id: int | None = Field(default=None, primary_key=True)
    series_id: str = Field(foreign_key="series.id", index=True)
    date: date
    start: datetime
    end: datetime  
    status: str = MeetingStatus.SCHEDULED
    compiled_at: datetime | None = None
    archived_at: datetime | None = None


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = ""  # the name set by the person's profile, else empty
    institution: str = ""
    github: str = ""


class Identity(SQLModel, table=True):
    """A person's account on one platform; one person may have several."""

    __table_args__ = (UniqueConstraint("platform", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    platform: str
    user_id: str
    name: str = ""  # the platform's display name, refreshed when seen


class Role(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("meeting_id", "role"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    role: str  # chair, notetaker
    person_id: int = Field(foreign_key="person.id")


class Attendance(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("meeting_id", "person_id"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    status: str  # present, async, apologies
    # What the person last said by command (roll call, /apologies), else empty: apologies that
    # only thread replies gave fall back to it when no reply says them any more.
    by_command: str = ""


class Update(SQLModel, table=True):
    """One piece of a person's quick update; a thread reply keeps its message id for edits."""

    __table_args__ = (UniqueConstraint("platform", "message_id"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    kind: str = "update"  # update, pass, apologies
    text: str = ""
    apologies: bool = False  # the reply gave apologies (its text is what followed them)
    platform: str = ""
    message_id: str | None = None
    created_at: datetime


class Report(SQLModel, table=True):
    """A report or celebration."""

    __table_args__ = (UniqueConstraint("platform", "message_id"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    text: str
    platform: str = ""
    message_id: str | None = None
    created_at: datetime


class AgendaItem(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    presenter_id: int = Field(foreign_key="person.id")
    added_by_id: int = Field(foreign_key="person.id")
    title: str
    estimate_minutes: int | None = None
    estimate_text: str | None = None  # as written: "~5min"
    optional: bool = False
    links: str = ""  # space-separated URLs found in the title, for grouping
    position: int
    status: str = "open"  # open, deferred, removed, carried
    carried_over: int = 0
    created_at: datetime


class Note(SQLModel, table=True):
    """A note under an agenda item; lines after the first nest under it."""

    __table_args__ = (UniqueConstraint("platform", "message_id"),)
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="agendaitem.id", index=True)
    author_id: int = Field(foreign_key="person.id")
    text: str
    platform: str = ""
    message_id: str | None = None


class ActionItem(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    item_id: int | None = Field(default=None, foreign_key="agendaitem.id")
    assignee_id: int = Field(foreign_key="person.id")
    text: str
    created_at: datetime


class Outbox(SQLModel, table=True):
    """Every post the bot makes, once: the key makes a second enqueue a no-op."""

    __table_args__ = (UniqueConstraint("series_id", "occurrence", "kind", "platform", "channel"),)
    id: int | None = Field(default=None, primary_key=True)
    series_id: str = Field(index=True)
    occurrence: date
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id")
    kind: str  # a SendKind (chatbot.events), with its detail for reminders and agenda items
    platform: str
    channel: str
    due: datetime
    status: str = Field(default=OutboxStatus.PENDING, index=True)
    attempts: int = 0
    error: str = ""
    message_id: str | None = None
    extra_ids: str = ""  # further message ids when the post went out in parts
    thread_of: str | None = None
    needs_edit: bool = False  # a sent post whose content changed (a late reply to the digest)
    sent_at: datetime | None = None
    expires: datetime | None = None  # no use after this (a reminder once the meeting started)
    claimed_by: str = ""  # the worker sending it; a dead worker's claims are taken back


class ProcessedEvent(SQLModel, table=True):
    """Platform event ids already handled, so retries and duplicate deliveries are dropped."""

    __table_args__ = (UniqueConstraint("platform", "event_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str
    event_id: str
    received_at: datetime


class KeyValue(SQLModel, table=True):
    key: str = Field(primary_key=True)
    value: str
