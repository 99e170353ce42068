"""A meeting's life: status, the call for updates, the digest, start and end, skip or cancel."""

from __future__ import annotations

from sqlalchemy import func, update
from sqlmodel import Session, select

from chatbot import commands
from chatbot.events import Answer, SendKind
from chatbot.meetings import agenda
from chatbot.meetings.context import CommandContext, Core, Refusal, occurrence_of
from chatbot.meetings.snapshot import render_notes, snapshot
from chatbot.schedule.series import Series
from chatbot.storage import archive, outbox
from chatbot.storage.models import (
    ActionItem,
    AgendaItem,
    Attendance,
    Meeting,
    MeetingStatus,
    Note,
    Outbox,
    OutboxStatus,
    Report,
    Role,
    Update,
)
from chatbot.text import markdown as md, posts


def post_digest(core: Core, session: Session, series: Series, meeting: Meeting) -> str:
    """Post the digest of a meeting, or update it in place when it went out already."""
    if snapshot(session, series, meeting).is_empty:
        return (f"Nothing to compile for {posts.short_date(meeting.date)} yet: no roll call, "
                "updates, celebrations or agenda items.")
    meeting.compiled_at = core.now()
    fresh = False
    for target in core.targets(series):
        fresh |= outbox.enqueue(session, series_id=series.id, occurrence=meeting.date,
                                meeting_id=meeting.id, kind=SendKind.DIGEST, platform=target.platform,
                                channel=target.digest_channel, due=core.clock())
    if not fresh:
        session.exec(update(Outbox).where(Outbox.meeting_id == meeting.id, Outbox.kind == SendKind.DIGEST,
                                          Outbox.status == OutboxStatus.SENT).values(needs_edit=True))
        return f"Updated the digest for {posts.short_date(meeting.date)} in place."
    return f"Compiled the notes for {posts.short_date(meeting.date)}; posting the digest."


def finish(core: Core, session: Session, series: Series, meeting: Meeting) -> str:
    """After a meeting: digest, archive, and unfinished items carried to the next one."""
    # `/meeting end` and the scheduled finish may meet: the row lock lets one of them carry over.
    session.refresh(meeting, with_for_update=True)
    if meeting.status == MeetingStatus.ENDED:
        return f"The meeting of {posts.short_date(meeting.date)} has already ended."
    lines = [post_digest(core, session, series, meeting)]
    meeting.status = MeetingStatus.ENDED
    noted = set(session.exec(select(Note.item_id).join(AgendaItem)
                             .where(AgendaItem.meeting_id == meeting.id)))
    leftovers = []
    for item in agenda.open_items(session, meeting):
        if item.id in noted:
            item.status = "done"
        else:
            leftovers.append(item)
    if leftovers:
        target, _ = agenda.carry_over(core, session, series, meeting, leftovers)
        lines.append(f"Carried {len(leftovers)} items without notes to "
                     f"{posts.short_date(target.date)}: " + "; ".join(md.inline(i.title) for i in leftovers))
    if core.archive_dir is not None:
        session.flush()
        path = archive.write(core.archive_dir, series.id, meeting.date,
                             render_notes(session, series, meeting))
        meeting.archived_at = core.now()
        lines.append(f"Archived as {path}.")
    return "\n".join(lines)


def _counts(session: Session, meeting: Meeting) -> dict[str, int]:
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


# -- the commands --------------------------------------------------------------------------------


def status(ctx: CommandContext) -> Answer:
    """`/meeting`: when, where, and how it is filling up."""
    series, meeting = ctx.series, ctx.meeting
    occurrence = occurrence_of(series, meeting)
    items = agenda.open_items(ctx.session, meeting)
    return Answer(posts.status(series, occurrence, meeting.status, _counts(ctx.session, meeting),
                               agenda.plan(series, items), series.previous(occurrence, same_zone=True)))


def show_help(ctx: CommandContext) -> Answer:
    return Answer(commands.help_text())


def remind(ctx: CommandContext) -> Answer:
    series, meeting, session, core = ctx.series, ctx.meeting, ctx.session, ctx.core
    fresh = [t.platform for t in core.targets(series)
             if outbox.enqueue(session, series_id=series.id, occurrence=meeting.date,
                               meeting_id=meeting.id, kind=SendKind.CALL_FOR_UPDATES,
                               platform=t.platform, channel=t.channel, due=core.clock())]
    # One already planned for later by the schedule goes out now instead.
    brought = session.exec(
        update(Outbox).where(Outbox.meeting_id == meeting.id, Outbox.kind == SendKind.CALL_FOR_UPDATES,
                             Outbox.status == OutboxStatus.PENDING, Outbox.due > core.clock())
        .values(due=core.clock())).rowcount
    if not fresh and not brought:
        return Answer(f"The call for updates for {posts.short_date(meeting.date)} is already "
                      "open; reply in its thread.")
    return Answer(f"Posting the call for updates for {posts.short_date(meeting.date)}; "
                  "replies in its thread are quick updates.")


def compile_now(ctx: CommandContext) -> Answer:
    return Answer(post_digest(ctx.core, ctx.session, ctx.series, ctx.meeting))


def start(ctx: CommandContext) -> Answer:
    series, meeting, session = ctx.series, ctx.meeting, ctx.session
    if meeting.status == MeetingStatus.LIVE:
        raise Refusal("The meeting is already live; `/meeting end` ends it.")
    meeting.status = MeetingStatus.LIVE
    if ctx.chair_id is None:
        session.add(Role(meeting_id=meeting.id, role="chair", person_id=ctx.person.id))
    items = agenda.open_items(session, meeting)
    agenda.post_items(ctx.core, session, series, meeting, items)
    return Answer(f"The meeting is live with {len(items)} agenda items; replies under each "
                  "item are its notes. `/meeting end` compiles and archives.")


def end(ctx: CommandContext) -> Answer:
    return Answer(finish(ctx.core, ctx.session, ctx.series, ctx.meeting))


def action(ctx: CommandContext) -> Answer:
    meeting, session = ctx.meeting, ctx.session
    assignee = ctx.mentioned(ctx.args["user"])
    latest = session.exec(
        select(Note.item_id).join(AgendaItem).where(AgendaItem.meeting_id == meeting.id)
        .order_by(Note.id.desc())
    ).first() if meeting.status == MeetingStatus.LIVE else None
    session.add(ActionItem(meeting_id=meeting.id, item_id=latest, assignee_id=assignee.id,
                           text=ctx.args["text"], created_at=ctx.core.now()))
    return Answer(f"Action for {md.name(ctx.name(assignee))}: {md.inline(ctx.args['text'])}")


def skip(ctx: CommandContext) -> Answer:
    """`/meeting skip` and `/meeting cancel`: a notice goes out and the agenda moves on."""
    verb, series, meeting, session, core = ctx.command.name, ctx.series, ctx.meeting, ctx.session, ctx.core
    if meeting.status == MeetingStatus.LIVE:
        raise Refusal("The meeting is live; `/meeting end` ends it.")
    meeting.status = MeetingStatus.SKIPPED if verb == "skip" else MeetingStatus.CANCELLED
    outbox.cancel_pending(session, meeting.id)
    for target in core.targets(series):
        outbox.enqueue(session, series_id=series.id, occurrence=meeting.date, meeting_id=meeting.id,
                       kind=SendKind.NOTICE, platform=target.platform, channel=target.channel,
                       due=core.clock())
    following, moved = agenda.carry_over(core, session, series, meeting)
    word = "Skipped" if verb == "skip" else "Cancelled"
    return Answer(f"{word} the meeting of {posts.short_date(meeting.date)}; a notice is posted. "
                  f"The next one is {posts.short_date(following.date)}"
                  + (f", with {len(moved)} agenda items moved to it." if moved else "."))
