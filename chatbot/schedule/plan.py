"""What each meeting needs sent and when: pure functions of the config, no database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from chatbot.events import SendKind
from chatbot.schedule.series import Occurrence, Series
from chatbot.storage.models import MeetingStatus
from chatbot.storage.outbox import INTERNAL
from chatbot.text.durations import format_offset

UTC = timezone.utc
DAY = timedelta(days=1)
ANNOUNCE_LEAD = timedelta(days=14)  # announce no earlier than this before the start
GRACE = timedelta(minutes=10)  # a send is never called useless before it is this late
JOBS = frozenset({SendKind.COMPILE, SendKind.FINISH})  # work for the core at an instant, not posted
PLANNED = frozenset({SendKind.ANNOUNCEMENT, SendKind.CALL_FOR_UPDATES, SendKind.NOTICE, *JOBS})


@dataclass(frozen=True)
class PlannedSend:
    series_id: str
    occurrence: date
    kind: str  # a SendKind; a reminder's with its offset, "reminder:1d"
    due: datetime  # UTC
    expires: datetime | None  # no use from this instant on; None: always worth doing

    @property
    def internal(self) -> bool:
        return self.kind in JOBS


def shift(occurrence: Occurrence, delta: timedelta) -> datetime:
    """The start moved by `delta`: whole days on the local calendar, so "7d" before a 17:00 meeting
    is 17:00 local a week earlier even across a DST change; the rest of `delta` in real time."""
    sign = -1 if delta < timedelta(0) else 1
    days, rest = divmod(abs(delta), DAY)
    local = datetime.combine(occurrence.date + sign * days * DAY, occurrence.time.replace(fold=0),
                             tzinfo=ZoneInfo(occurrence.timezone))
    return local.astimezone(UTC) + sign * rest


def planned_kind(kind: str) -> bool:
    """Whether the planner makes sends of this kind (and so may re-date or cancel them)."""
    return kind in PLANNED or kind.startswith(SendKind.REMINDER.prefix)


def plan_occurrence(series: Series, occurrence: Occurrence, previous: Occurrence | None = None,
                    status: str = MeetingStatus.SCHEDULED) -> list[PlannedSend]:
    """Every send one meeting needs, in time order.

    The announcement follows the end of the previous meeting, but comes at most 14 days ahead;
    the first reminder is the call for updates (the thread people reply in); the digest is
    compiled at `updates_due`; after the end the notes are finished (digest, archive, carry-over).
    A skipped or cancelled meeting gets one notice instead.
    """
    start, end = occurrence.start, occurrence.end

    def send(kind: str, due: datetime, expires: datetime | None) -> PlannedSend:
        if expires is not None:
            expires = max(expires, due + GRACE)
        return PlannedSend(series.id, occurrence.date, kind, due, expires)

    announce = shift(occurrence, -ANNOUNCE_LEAD)
    if previous is not None:
        announce = min(max(announce, previous.end), start)
    if occurrence.skipped or status in (MeetingStatus.SKIPPED, MeetingStatus.CANCELLED):
        return [send(SendKind.NOTICE, announce, end)]
    reminders = sorted(set(series.reminders), reverse=True)
    opens = shift(occurrence, -reminders[0]) if reminders else announce
    sends = []
    if announce < opens:
        sends.append(send(SendKind.ANNOUNCEMENT, announce, start))
    sends.append(send(SendKind.CALL_FOR_UPDATES, opens, end))
    last = opens
    for offset in reminders[1:]:
        due = shift(occurrence, -offset)
        if due <= last:  # e.g. "1d" and "23h" on the day the clocks go forward: one is enough
            continue
        sends.append(send(SendKind.REMINDER.of(format_offset(offset)), due, start))
        last = due
    compiled = shift(occurrence, series.updates_due)
    sends.append(send(SendKind.COMPILE, compiled, None))
    sends.append(send(SendKind.FINISH, max(end, compiled), None))
    return sorted(sends, key=lambda s: s.due)


def occurrences_between(series: Series, after: datetime, until: datetime) -> list[Occurrence]:
    """Every occurrence, skipped ones too, starting after `after` and not after `until`."""
    found: list[Occurrence] = []
    cursor = after
    while True:
        batch = series.occurrences(cursor, 32, include_skipped=True)
        for occurrence in batch:
            if occurrence.start > until:
                return found
            found.append(occurrence)
        if len(batch) < 32:
            return found
        cursor = batch[-1].start


def _previous_reach(series: Series) -> timedelta:
    # An earlier meeting matters to the announcement only if it ends within 14 days of the start.
    return ANNOUNCE_LEAD + series.duration + 2 * DAY


def plan(series: Series, after: datetime, until: datetime,
         statuses: Mapping[date, str] | None = None) -> list[tuple[Occurrence, list[PlannedSend]]]:
    """The sends of every meeting starting in (after, until], meeting by meeting."""
    statuses = statuses or {}
    previous = None
    out = []
    for occurrence in occurrences_between(series, after - _previous_reach(series), until):
        if occurrence.start > after:
            status = statuses.get(occurrence.date, MeetingStatus.SCHEDULED)
            out.append((occurrence, plan_occurrence(series, occurrence, previous, status)))
        previous = occurrence
    return out


def destinations(send: PlannedSend, targets) -> list[tuple[str, str]]:
    """(platform, channel) of each outbox row for a planned send."""
    if send.internal:
        return [(INTERNAL, "")]
    return [(t.platform, t.channel) for t in targets]
