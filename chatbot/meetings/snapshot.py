"""The notes of a meeting read in one snapshot, and what each outbox row posts, rendered when sent."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from chatbot.events import Post, SendKind, agenda_item_of
from chatbot.meetings import agenda
from chatbot.meetings.context import Core, display_names, meeting_on, occurrence_of
from chatbot.schedule.series import Series
from chatbot.storage.models import (
    ActionItem,
    AgendaItem,
    Attendance,
    Meeting,
    MeetingStatus,
    Note,
    Outbox,
    OutboxStatus,
    Person,
    Report,
    Role,
    Update,
)
from chatbot.storage.store import session_scope
from chatbot.text import posts
from chatbot.text.notes import Action, Entry, ItemEntry, MeetingNotes, NoteEntry, render


def snapshot(session: Session, series: Series, meeting: Meeting) -> MeetingNotes:
    """Everything the notes show, read in a handful of queries."""
    mid = meeting.id
    occurrence = occurrence_of(series, meeting)
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
    names = display_names(session, people)
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
        roll_call_header=series.layout.header,
        roll_call=tuple(posts.roll_call_line(profiles[pid], names[pid], series.layout)
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


def render_notes(session: Session, series: Series, meeting: Meeting) -> str:
    return render(snapshot(session, series, meeting))


def notes(core: Core, series_id: str, day: date | None = None) -> tuple[date, str]:
    """A meeting's date and compiled notes; the next meeting's when no day is given."""
    with session_scope(core.db) as session:
        series = core.config.get(series_id)
        meeting = meeting_on(core, session, series, day)
        return meeting.date, render_notes(session, series, meeting)


def open_thread(core: Core, series_id: str, platform: str) -> str | None:
    """The message id of the newest call for updates posted on a platform for a series."""
    with session_scope(core.db) as session:
        found = session.exec(
            select(Outbox).where(Outbox.series_id == series_id, Outbox.platform == platform,
                                 Outbox.kind == SendKind.CALL_FOR_UPDATES, Outbox.status == OutboxStatus.SENT)
            .order_by(Outbox.occurrence.desc())
        ).first()
        return found.message_id if found else None


def render_post(core: Core, session: Session, row: Outbox) -> Post:
    """The content of an outbox row, rendered when it is sent so that it is current."""
    series = core.config.get(row.series_id)
    meeting = session.get(Meeting, row.meeting_id) if row.meeting_id else None
    occurrence = occurrence_of(series, meeting) if meeting else series.occurrence_on(row.occurrence)
    common = dict(key=f"{row.series_id}/{row.occurrence}/{row.kind}/{row.platform}/{row.channel}",
                  kind=row.kind, platform=row.platform, channel=row.channel,
                  thread_of=row.thread_of, maybe_sent=row.attempts > 0)
    if row.kind == SendKind.DIGEST:
        notes = snapshot(session, series, meeting)
        return Post(text=posts.digest_summary(series, occurrence, notes,
                                              agenda.plan(series, agenda.open_items(session, meeting))),
                    attachment=posts.notes_attachment(series, occurrence, render(notes)),
                    edit_of=row.message_id,
                    extra_ids=tuple(row.extra_ids.split()), **common)
    item_id = agenda_item_of(row.kind)
    if item_id is not None:
        item = session.get(AgendaItem, item_id)
        name = display_names(session, [item.presenter_id])[item.presenter_id]
        return Post(text=posts.item_line(name, item), opens_thread=item.title[:90], **common)
    status = meeting.status if meeting else MeetingStatus.SCHEDULED
    text, opens = posts.scheduled_text(row.kind, series, occurrence, status)
    if row.kind in (SendKind.ANNOUNCEMENT, SendKind.CALL_FOR_UPDATES) or row.kind.startswith(SendKind.REMINDER):
        warning = posts.dst_warning(occurrence, series.previous(occurrence, same_zone=True))
        text += f"\n{warning}" if warning else ""
    return Post(text=text, opens_thread=opens, **common)
