"""Quick updates, passes, apologies and celebrations, and the digest they change once it is out.

The one place that reads "pass" and "apologies, ..." out of what someone wrote.
"""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlmodel import Session, select

from chatbot.events import Answer, SendKind
from chatbot.meetings.context import CommandContext, Core
from chatbot.meetings.people import attendance_row, set_attendance
from chatbot.schedule.series import Series
from chatbot.storage import outbox
from chatbot.storage.models import Meeting, Outbox, OutboxStatus, Person, Report, Update
from chatbot.text import posts

_APOLOGIES = ("apologies", "apology", "regrets", "can't attend", "cannot attend", "can’t attend")
_APOLOGIES_LONGEST = max(map(len, _APOLOGIES))

# An apologies-only reply is kept too (kind "apologies", no text): its edit or deletion, and
# reading the thread back after a restart, must find it.
REPLY_ANSWERS = {"update": "Saved your update.", "pass": "Recorded your pass.",
                 "apologies": "Noted your apologies."}


def is_pass(text: str) -> bool:
    """`pass`, `Pass.` or `pass!`: nothing to report this time."""
    return text.strip().lower().rstrip(".!") == "pass"


def split_apologies(text: str) -> tuple[bool, str]:
    """`apologies, cannot attend. My update...` -> (True, "cannot attend. My update...")."""
    lowered = text.lstrip()[:_APOLOGIES_LONGEST].lower()  # a long update's start is enough
    for word in _APOLOGIES:
        if lowered.startswith(word):
            rest = text.lstrip()[len(word):]
            return True, rest.lstrip(" \t,.:;!-–—").strip()
    return False, text.strip()


def reply_kind(absent: bool, rest: str) -> tuple[str, str]:
    """What a call-for-updates reply records: (kind, text)."""
    if is_pass(rest):
        return "pass", ""
    if absent and not rest:
        return "apologies", ""
    return "update", rest


def read_reply(text: str) -> tuple[str, str, bool]:
    """What a call-for-updates reply records: (kind, text, whether it gives apologies)."""
    absent, rest = split_apologies(text)
    return *reply_kind(absent, rest), absent


def set_update(core: Core, session: Session, meeting: Meeting, person: Person, text: str,
               platform: str) -> None:
    """A person's update by command replaces their earlier ones; an empty text only clears them."""
    session.exec(delete(Update).where(Update.meeting_id == meeting.id, Update.person_id == person.id))
    if text:
        passed = is_pass(text)
        session.add(Update(meeting_id=meeting.id, person_id=person.id,
                           kind="pass" if passed else "update", text="" if passed else text,
                           platform=platform, created_at=core.now()))


def apologies_taken_back(session: Session, meeting_id: int, person_id: int) -> None:
    """A reply that gave apologies is gone or says otherwise now: unless another reply still
    gives them, attendance goes back to what the person said by command (or to nothing)."""
    session.flush()
    standing = session.exec(select(Update.id).where(
        Update.meeting_id == meeting_id, Update.person_id == person_id, Update.apologies)).first()
    found = attendance_row(session, meeting_id, person_id)
    if standing is not None or found is None or found.status != "apologies":
        return
    if found.by_command:
        found.status = found.by_command
    else:
        session.delete(found)


def late_change(core: Core, session: Session, series: Series, meeting: Meeting,
                thread: Outbox | None = None) -> None:
    """After the digest went out, a change updates it in place and says so once in the thread."""
    digests = session.exec(select(Outbox).where(Outbox.meeting_id == meeting.id,
                                                Outbox.kind == SendKind.DIGEST)).all()
    # A digest being sent right now was rendered before this change: it needs an edit too.
    if not any(d.status in (OutboxStatus.SENT, OutboxStatus.SENDING) for d in digests):
        return
    session.exec(update(Outbox).where(Outbox.meeting_id == meeting.id, Outbox.kind == SendKind.DIGEST,
                                      Outbox.status.in_((OutboxStatus.SENT, OutboxStatus.SENDING)))
                 .values(needs_edit=True))
    if thread is not None and thread.message_id:
        outbox.enqueue(session, series_id=series.id, occurrence=meeting.date,
                       meeting_id=meeting.id, kind=SendKind.LATE_NOTICE, platform=thread.platform,
                       channel=thread.channel, due=core.clock(), thread_of=thread.message_id)


# -- the commands --------------------------------------------------------------------------------


def quick_update(ctx: CommandContext) -> Answer:
    """`/update <text>` or `/update pass`."""
    series, meeting, person = ctx.series, ctx.meeting, ctx.person
    set_update(ctx.core, ctx.session, meeting, person, ctx.args["text"], ctx.call.actor.platform)
    late_change(ctx.core, ctx.session, series, meeting)
    when = posts.short_date(meeting.date)
    if is_pass(ctx.args["text"]):
        return Answer(f"Recorded a pass for {when}.")
    return Answer(f"Saved your update for {when}; `/update <text>` again replaces it.")


def apologies(ctx: CommandContext) -> Answer:
    series, meeting, person = ctx.series, ctx.meeting, ctx.person
    text = ctx.args["text"]
    set_attendance(ctx.session, meeting.id, person.id, "apologies")
    if text:
        set_update(ctx.core, ctx.session, meeting, person, text, ctx.call.actor.platform)
    late_change(ctx.core, ctx.session, series, meeting)
    extra = " and saved your update" if text else ""
    return Answer(f"Noted your apologies for {posts.short_date(meeting.date)}{extra}.")


def celebrate(ctx: CommandContext) -> Answer:
    series, meeting, person = ctx.series, ctx.meeting, ctx.person
    ctx.session.add(Report(meeting_id=meeting.id, person_id=person.id, text=ctx.args["text"],
                           platform=ctx.call.actor.platform, created_at=ctx.core.now()))
    late_change(ctx.core, ctx.session, series, meeting)
    return Answer(f"Added to reports and celebrations for {posts.short_date(meeting.date)}.")
