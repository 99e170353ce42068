"""The outbox kept in step with the plan: new sends written, changed ones re-dated or cancelled,
and a meeting whose date left the schedule moved or dropped."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlmodel import select

from chatbot.meetings.context import Refusal
from chatbot.schedule.plan import DAY, PlannedSend, destinations, plan, plan_occurrence, planned_kind
from chatbot.schedule.series import Occurrence, Series
from chatbot.storage import outbox
from chatbot.storage.models import Meeting, MeetingStatus, Outbox, OutboxStatus
from chatbot.storage.store import writing

log = logging.getLogger(__name__)

HORIZON = timedelta(days=40)  # sends are written to the outbox this far ahead


def reconcile(engine, now: datetime, *, horizon: timedelta = HORIZON) -> int:
    """Write the planned sends of the coming meetings into the outbox; the number of rows added.

    Idempotent (the outbox key is unique). Pending sends follow a changed config: they are
    re-dated, or cancelled when their meeting or kind is gone; a meeting whose date left the
    schedule moves, with everything it collected, to the nearest new date within a week, and
    without one its open agenda items move on to the next meeting.
    """
    added = 0
    for series in engine.config.series:
        added += _reconcile_series(engine, series, now, horizon)
    return added


def _reconcile_series(engine, series: Series, now: datetime, horizon: timedelta) -> int:
    targets = engine.targets(series)
    # Meetings whose finishing may still be ahead of us, up to the horizon.
    since = now - series.duration - max(series.updates_due, timedelta(0)) - DAY
    added = 0
    with writing(engine.db) as session:
        meetings = {m.date: m for m in session.exec(
            select(Meeting).where(Meeting.series_id == series.id,
                                  Meeting.date >= (since - 2 * DAY).date()))}
        window = plan(series, since, now + horizon, {d: m.status for d, m in meetings.items()})
        _follow_moved_dates(engine, session, series, meetings, [o for o, _ in window], now)
        for occurrence, sends in window:
            meeting = meetings.get(occurrence.date) or engine.meeting_for(session, occurrence)
            if meeting.status == MeetingStatus.SCHEDULED and occurrence.skipped:
                meeting.status = MeetingStatus.SKIPPED  # a skip date added to the config
                outbox.cancel_pending(session, meeting.id)
                sends = plan_occurrence(series, occurrence, None, MeetingStatus.SKIPPED)
            if meeting.status == MeetingStatus.SCHEDULED and (
                    (meeting.start, meeting.end) != (occurrence.start, occurrence.end)):
                meeting.start, meeting.end = occurrence.start, occurrence.end
            added += _sync_rows(session, series, meeting, sends, targets, now)
    return added


def _sync_rows(session, series: Series, meeting: Meeting, sends: list[PlannedSend], targets,
               now: datetime) -> int:
    rows = {(r.kind, r.platform, r.channel): r for r in session.exec(
        select(Outbox).where(Outbox.series_id == series.id, Outbox.occurrence == meeting.date))}
    wanted = set()
    added = 0
    for send in sends:
        for platform, channel in destinations(send, targets):
            key = (send.kind, platform, channel)
            wanted.add(key)
            row = rows.get(key)
            if row is None:
                if send.due <= now and (send.internal or (send.expires and send.expires <= now)):
                    continue  # planned before the bot ran, and of no use now
                added += outbox.enqueue(session, series_id=series.id, occurrence=meeting.date,
                                        meeting_id=meeting.id, kind=send.kind, platform=platform,
                                        channel=channel, due=send.due, expires=send.expires)
            elif row.status == OutboxStatus.PENDING and row.due > now and (
                    row.due != send.due or row.expires != send.expires):
                log.info("re-dating %s for %s %s from %s to %s", row.kind, series.id, meeting.date,
                         row.due.isoformat(), send.due.isoformat())
                row.due, row.expires = send.due, send.expires
    for key, row in rows.items():
        if (key not in wanted and planned_kind(row.kind) and row.status == OutboxStatus.PENDING
                and row.due > now):
            log.info("cancelling %s for %s %s on %s: no longer planned", row.kind, series.id,
                     meeting.date, row.platform)
            row.status = OutboxStatus.CANCELLED
    return added


def _follow_moved_dates(engine, session, series: Series, meetings: dict[date, Meeting],
                        window: list[Occurrence], now: datetime) -> None:
    """A meeting whose date the schedule no longer has takes the nearest free new date."""
    for day, meeting in sorted(meetings.items()):
        if (meeting.status != MeetingStatus.SCHEDULED or meeting.end <= now
                or series.occurrence_on(day)):
            continue
        free = [o for o in window if o.date not in meetings and abs((o.date - day).days) <= 7]
        if not free:
            _drop(engine, session, series, meetings, meeting, now)
            continue
        new = min(free, key=lambda o: (abs((o.date - day).days), o.date))
        log.info("%s: the meeting of %s moves to %s", series.id, day, new.date)
        for row in session.exec(select(Outbox).where(Outbox.meeting_id == meeting.id)):
            row.occurrence = new.date
        meeting.date, meeting.start, meeting.end = new.date, new.start, new.end
        del meetings[day]
        meetings[new.date] = meeting
    session.flush()


def _drop(engine, session, series: Series, meetings: dict[date, Meeting], meeting: Meeting,
          now: datetime) -> None:
    """A meeting that will not happen: its pending sends are cancelled and its agenda moves on to
    the next meeting to be held, which may come before the dropped date. Each reconcile looks
    again, so this does only what is left to do."""
    session.refresh(meeting, with_for_update=True)  # another process may be dropping it too
    if meeting.status != MeetingStatus.SCHEDULED or series.occurrence_on(meeting.date):
        return
    cancelled = 0
    for row in session.exec(select(Outbox).where(Outbox.meeting_id == meeting.id,
                                                 Outbox.status == OutboxStatus.PENDING)):
        if planned_kind(row.kind):
            row.status = OutboxStatus.CANCELLED
            cancelled += 1
    try:
        following, moved = engine.carry_over(session, series, meeting, after=now)
    except Refusal as refusal:
        following, moved = None, []
        log.warning("%s: the agenda of %s stays where it is: %s", series.id, meeting.date, refusal)
    else:
        meetings.setdefault(following.date, following)  # taken: no other meeting moves onto it
    if cancelled or moved:
        log.warning("%s: the meeting of %s is no longer in the schedule and has no new date near "
                    "it; its pending sends are cancelled%s", series.id, meeting.date,
                    f" and its {len(moved)} open agenda items move to {following.date}" if moved else "")
