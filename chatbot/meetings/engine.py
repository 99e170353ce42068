"""The meetings core behind one object, for the app, the scheduler, the outbox and the adapters.

Each method hands over to the module of its concern; none holds a use case of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from chatbot.events import (
    TERMINAL,
    Actor,
    Answer,
    CommandCall,
    Event,
    Place,
    Post,
    Reply,
)
from chatbot.meetings import agenda, context, dispatch, lifecycle, replies, snapshot
from chatbot.meetings.context import Core, Target, utcnow
from chatbot.schedule.series import Config, Occurrence, Series
from chatbot.storage.models import AgendaItem, Meeting, Outbox, Person
from chatbot.text.notes import MeetingNotes


class MeetingEngine:
    def __init__(
        self,
        db: Engine,
        config: Config,
        *,
        platforms: Iterable[str] = (TERMINAL,),
        clock: Callable[[], datetime] = utcnow,
        archive_dir: Path | None = None,
    ) -> None:
        self.core = Core(db, config, frozenset(platforms), clock, archive_dir)
        self.db, self.config = db, config  # what the scheduler and the command line read
        context.record_series(db, config)

    # -- events in ---------------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Answer]:
        return dispatch.handle(self.core, event)

    def handle_many(self, events: Sequence[Event]) -> list[list[Answer]]:
        return dispatch.handle_many(self.core, events)

    def command(self, call: CommandCall) -> Answer:
        return dispatch.command(self.core, call)

    def claim_event(self, platform: str, event_id: str) -> bool:
        return dispatch.claim_event(self.core, platform, event_id)

    def claim_events(self, platform: str, event_ids: Sequence[str]) -> list[bool]:
        return dispatch.claim_events(self.core, platform, event_ids)

    def open_threads(self, platform: str, *, within: timedelta = timedelta(days=7)) -> list[Place]:
        return replies.open_threads(self.core, platform, within=within)

    def catch_up(self, thread: Place, replies: Sequence[Reply]) -> list[list[Answer]]:
        return dispatch.catch_up(self.core, thread, replies)

    def knows_post(self, platform: str, message_id: str) -> bool:
        return replies.knows_post(self.core, platform, message_id)

    # -- lookups -----------------------------------------------------------------------------------

    def targets(self, series: Series) -> list[Target]:
        return self.core.targets(series)

    def series_for(self, place: Place) -> Series:
        return self.core.series_for(place)

    def meeting_for(self, session: Session, occurrence: Occurrence) -> Meeting:
        return context.meeting_row(session, occurrence)

    def next_meeting(self, session: Session, series: Series) -> Meeting:
        return context.next_meeting(self.core, session, series)

    def meeting_on(self, session: Session, series: Series, day: date | None) -> Meeting:
        return context.meeting_on(self.core, session, series, day)

    def occurrence(self, series: Series, meeting: Meeting) -> Occurrence:
        return context.occurrence_of(series, meeting)

    def person(self, session: Session, actor: Actor) -> Person:
        return context.person_of(session, actor)

    def display_names(self, session: Session, person_ids: Iterable[int]) -> dict[int, str]:
        return context.display_names(session, person_ids)

    # -- the meeting's life and its notes ----------------------------------------------------------

    def compile(self, session: Session, series: Series, meeting: Meeting) -> str:
        return lifecycle.post_digest(self.core, session, series, meeting)

    def finish(self, session: Session, series: Series, meeting: Meeting) -> str:
        return lifecycle.finish(self.core, session, series, meeting)

    def carry_over(self, session: Session, series: Series, meeting: Meeting,
                   items: list[AgendaItem] | None = None, *,
                   after: datetime | None = None) -> tuple[Meeting, list[AgendaItem]]:
        return agenda.carry_over(self.core, session, series, meeting, items, after=after)

    def snapshot(self, session: Session, series: Series, meeting: Meeting) -> MeetingNotes:
        return snapshot.snapshot(session, series, meeting)

    def render_notes(self, session: Session, series: Series, meeting: Meeting) -> str:
        return snapshot.render_notes(session, series, meeting)

    def notes(self, series_id: str, day: date | None = None) -> tuple[date, str]:
        return snapshot.notes(self.core, series_id, day)

    def open_thread(self, series_id: str, platform: str) -> str | None:
        return snapshot.open_thread(self.core, series_id, platform)

    def render_post(self, session: Session, row: Outbox) -> Post:
        return snapshot.render_post(self.core, session, row)
