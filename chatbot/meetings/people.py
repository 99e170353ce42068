"""People: the roll call and apologies, profiles (one person across platforms), chair and notetaker."""

from __future__ import annotations

from sqlalchemy import func, update
from sqlmodel import Session, select

from chatbot.events import Actor, Answer
from chatbot.meetings import permissions
from chatbot.meetings.context import CommandContext, Refusal
from chatbot.storage.models import (
    ActionItem,
    AgendaItem,
    Attendance,
    Identity,
    Note,
    Person,
    Report,
    Role,
    Update,
)
from chatbot.text import markdown as md
from chatbot.text import posts
from chatbot.text.rollcall import (
    DEFAULT_LAYOUT,
    Layout,
    ProfileError,
    explain,
    parse_layout,
    parse_profile,
)


def attendance_row(session: Session, meeting_id: int, person_id: int) -> Attendance | None:
    session.flush()  # a batch of replies may have added it just now, under no_autoflush
    return session.exec(select(Attendance).where(Attendance.meeting_id == meeting_id,
                                                 Attendance.person_id == person_id)).first()


def set_attendance(session: Session, meeting_id: int, person_id: int, status: str, *,
                   by_reply: bool = False) -> None:
    """Present or apologies; what a command said is remembered apart from what replies say."""
    found = attendance_row(session, meeting_id, person_id)
    if found is None:
        found = Attendance(meeting_id=meeting_id, person_id=person_id, status=status)
        session.add(found)
    found.status = status
    if not by_reply:
        found.by_command = status


def link_by_github(session: Session, person: Person, actor: Actor, github: str) -> Person:
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


# -- the commands --------------------------------------------------------------------------------


def layout_of(ctx: CommandContext) -> Layout:
    """The roll-call layout of the caller's series; the reference's where no series is."""
    try:
        return ctx.series.layout
    except Refusal:
        return parse_layout(DEFAULT_LAYOUT)


def here(ctx: CommandContext) -> Answer:
    meeting, person = ctx.meeting, ctx.person
    set_attendance(ctx.session, meeting.id, person.id, "present")
    line = posts.roll_call_line(person, ctx.name(person), ctx.series.layout)
    hint = "" if person.name else " Set your line with `/meeting profile <name> / <institution> / <github>`."
    return Answer(f"You are on the roll call for {posts.short_date(meeting.date)}: {md.inline(line)}.{hint}")


def profile(ctx: CommandContext) -> Answer:
    layout = layout_of(ctx)
    try:
        given = parse_profile(ctx.args["profile"], layout)
    except ProfileError as error:
        raise Refusal(str(error)) from None
    person = ctx.person
    if given.github:
        person = link_by_github(ctx.session, person, ctx.call.actor, given.github)
    person.name, person.institution, person.github = given.name, given.institution, given.github
    line = posts.roll_call_line(person, person.name, layout)
    return Answer(f"Your roll-call line is now: {md.inline(line)}\n{explain(given, layout)}")


def appoint(ctx: CommandContext) -> Answer:
    """`/meeting chair @user` and `/meeting notetaker @user`."""
    role, meeting, session = ctx.command.name, ctx.meeting, ctx.session
    permissions.require_may_appoint(ctx, role)
    person = ctx.mentioned(ctx.args["user"])
    found = session.exec(select(Role).where(Role.meeting_id == meeting.id, Role.role == role)).first()
    if found:
        found.person_id = person.id
    else:
        session.add(Role(meeting_id=meeting.id, role=role, person_id=person.id))
    return Answer(f"{md.name(ctx.name(person))} is the {role} for {posts.short_date(meeting.date)}.")
