"""The compiled meeting notes: a snapshot of a meeting rendered as Markdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chatbot.text import markdown as md

WELCOME = (
    "Hello!\n\n"
    "If you are joining the team video meeting, sign in below so we know who was here. Roll call:"
)
UPDATES_INTRO = (
    "60 second updates on things you have been up to, questions you have, or developments you "
    "think people should know about. Please add yourself, and if you do not have an update to "
    "share, you can pass."
)
REPORTS_INTRO = (
    "This is a place to make announcements (without a need for discussion). This is also a great "
    "place to give shout-outs to contributors! We'll read through these at the beginning of the "
    "meeting."
)
AGENDA_INTRO = (
    "Let's collect all potential agenda items here before the start of the meeting. We will then "
    "attempt to create a coherent agenda that fits in the {slot} meeting slot. If there are "
    "similar items try and group them together."
)


@dataclass(frozen=True)
class Entry:
    """A quick update or a report: who, and what they wrote (possibly several lines)."""

    name: str
    text: str
    apologies: bool = False
    passed: bool = False


@dataclass(frozen=True)
class NoteEntry:
    author: str | None  # None when the notetaker wrote it
    text: str


@dataclass(frozen=True)
class Action:
    assignee: str
    text: str


@dataclass(frozen=True)
class ItemEntry:
    presenter: str
    estimate: str | None
    title: str
    notes: tuple[NoteEntry, ...] = ()
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class MeetingNotes:
    title: str
    start: datetime  # aware, in the meeting's zone
    timezone: str
    slot: str  # "60m"
    timezone_url: str
    video_url: str = ""
    notes_url: str = ""
    issue_url: str = ""
    calendar_url: str = ""
    roll_call_header: str = "name / institution / GitHub handle"
    roll_call: tuple[str, ...] = ()
    updates: tuple[Entry, ...] = ()
    reports: tuple[Entry, ...] = ()
    chair_item: str = "2m"
    notetaker: str | None = None
    items: tuple[ItemEntry, ...] = ()
    actions: tuple[Action, ...] = field(default=())  # not tied to an agenda item

    @property
    def is_empty(self) -> bool:
        return not (self.roll_call or self.updates or self.reports or self.items or self.actions)


def ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def long_date(start: datetime) -> str:
    return f"{start:%A} {ordinal(start.day)} {start:%B %Y}"


def clock_time(start: datetime, timezone: str) -> str:
    hour = start.hour % 12 or 12
    minutes = f":{start.minute:02d}" if start.minute else ""
    return f"{hour}{minutes}{'AM' if start.hour < 12 else 'PM'} {timezone}"


def _bullets(out: list[str], depth: int, text: str, prefix: str = "") -> None:
    """Append someone's text as a bullet at `depth`, its later lines nested below it."""
    for offset, line in md.outline(text):
        lead = prefix if offset == 0 else ""
        out.append(f"{'    ' * (depth + offset)}- {lead}{line}".rstrip())


def _entry(out: list[str], entry: Entry) -> None:
    name = f"**{md.name(entry.name)}** "
    if entry.passed:
        out.append(f"- {name}pass")
    elif entry.apologies and not entry.text.strip():
        out.append(f"- {name}apologies")
    else:
        _bullets(out, 0, entry.text, name + ("apologies, " if entry.apologies else ""))


def render(notes: MeetingNotes) -> str:
    out: list[str] = [f"# {md.inline(notes.title)}", ""]
    out.append(f"- **Date:** {long_date(notes.start)}")
    out.append(f"- **Time:** {clock_time(notes.start, notes.timezone)}")
    out.append(f"  - **Your timezone:** <{notes.timezone_url}>")
    for label, url in (
        ("Video conference link", notes.video_url),
        ("Meeting notes", notes.notes_url),
        ("GitHub issue", notes.issue_url),
        ("Calendar for future meetings", notes.calendar_url),
    ):
        if url:
            out.append(f"- **{label}:** <{url}>")

    out += ["", "## Welcome to the Team Meeting", "", WELCOME, "", f"- {md.inline(notes.roll_call_header)}"]
    out += [f"- {md.inline(line)}" for line in notes.roll_call]

    out += ["", "## Quick updates", "", UPDATES_INTRO]
    if notes.updates:
        out.append("")
    for entry in sorted(notes.updates, key=lambda e: not e.apologies):
        _entry(out, entry)

    out += ["", "## Reports and celebrations", "", REPORTS_INTRO]
    if notes.reports:
        out.append("")
    for entry in notes.reports:
        _entry(out, entry)

    out += ["", "## Agenda items", "", AGENDA_INTRO.format(slot=notes.slot), ""]
    out.append(f"- **Session Chair** ({notes.chair_item}): Assigning a notetaker - volunteers welcome!")
    if notes.notetaker:
        out.append(f"    - Notetaker: {md.name(notes.notetaker)}")
    for item in notes.items:
        estimate = f" ({md.inline(item.estimate)})" if item.estimate else ""
        out.append(f"- **{md.name(item.presenter)}**{estimate} {md.inline(item.title)}")
        for note in item.notes:
            _bullets(out, 1, note.text, f"**{md.name(note.author)}** " if note.author else "")
        for action in item.actions:
            _bullets(out, 1, action.text, f"Action: **{md.name(action.assignee)}** ")
    if notes.actions:
        out.append("- **Action items**")
        for action in notes.actions:
            _bullets(out, 1, action.text, f"**{md.name(action.assignee)}** ")
    return "\n".join(out) + "\n"
