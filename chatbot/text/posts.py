"""The words of everything the bot says, in neutral Markdown; adapters render them per platform."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from chatbot.text import markdown as md
from chatbot.meetings.fit import Plan
from chatbot.text.durations import DEFAULT_ESTIMATE_MINUTES, format_offset
from chatbot.events import Attachment, SendKind
from chatbot.text.notes import MeetingNotes
from chatbot.text.rollcall import Layout
from chatbot.schedule.series import Occurrence, Series


def minutes(delta: timedelta) -> str:
    return format_offset(delta) if delta % timedelta(hours=1) else f"{int(delta.total_seconds() // 60)}m"


def short_date(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def when(occurrence: Occurrence) -> str:
    """The start as a marker each adapter shows in the reader's own zone."""
    local = occurrence.local_start
    fallback = f"{local:%A} {local.day} {local:%B %Y} {local:%H:%M} {occurrence.timezone}"
    return f"<time:{int(occurrence.start.timestamp())}|{fallback}>"


def channel_ref(platform: str, channel: str) -> str:
    return f"#{channel}" if platform == "terminal" else f"<#{channel}>"


def roll_call_line(person, name: str, layout: Layout) -> str:
    return layout.render(person.name or name, person.institution, person.github)


def item_line(presenter: str, item) -> str:
    estimate = f" ({md.inline(item.estimate_text)})" if item.estimate_text else ""
    carried = f" _(carried over {item.carried_over}×)_" if item.carried_over else ""
    return f"**{md.name(presenter)}**{estimate} {md.inline(item.title)}{carried}"


def plan_summary(plan: Plan) -> str:
    line = (f"Agenda: {plan.total_minutes} of {plan.available_minutes} min "
            f"({plan.slot_minutes}m slot minus the {plan.chair_minutes}m chair item).")
    if plan.overbooked_by:
        line += f"\n⚠️ Overbooked by {plan.overbooked_by} min: defer or shorten something."
    if plan.unestimated:
        numbers = ", ".join(str(n) for n in plan.unestimated)
        line += f"\nItems without an estimate, counted at {DEFAULT_ESTIMATE_MINUTES} min each: {numbers}."
    return line


def agenda_listing(series: Series, occurrence: Occurrence, items: Sequence, names: dict[int, str],
                   plan: Plan) -> str:
    lines = [f"**Agenda for {md.inline(series.name)}, {short_date(occurrence.date)}**",
             f"0. **Session Chair** ({minutes(series.chair_item)}): assigning a notetaker"]
    running = 0
    for number, item in enumerate(items, 1):
        running += item.estimate_minutes or DEFAULT_ESTIMATE_MINUTES
        flag = "" if item.estimate_minutes else " (no estimate)"
        optional = " (optional, last)" if item.optional else ""
        lines.append(f"{number}. {item_line(names[item.presenter_id], item)}"
                     f" · {running} min{flag}{optional}")
    if not items:
        lines.append("No items yet. Add one with `/agenda add (~5min) <title>`.")
    lines.append(plan_summary(plan))
    return "\n".join(lines)


def status(series: Series, occurrence: Occurrence, state: str, counts: dict[str, int], plan: Plan,
           previous: Occurrence | None) -> str:
    lines = [f"**{md.inline(series.name)}**: {when(occurrence)}" + (" (live now)" if state == "live" else ""),
             f"Your timezone: <{occurrence.arewemeetingyet_url(series.name)}>"]
    links = [f"{label}: <{url}>" for label, url in (("Video", series.video_url),
                                                      ("Notes", series.notes_url),
                                                      ("Issue", series.issue_url)) if url]
    if links:
        lines.append(" · ".join(links))
    lines.append(f"Updates: {counts['updates']} · passes: {counts['passes']} · present: "
                 f"{counts['present']} · apologies: {counts['apologies']} · "
                 f"celebrations: {counts['reports']} · agenda items: {counts['items']}")
    lines.append(plan_summary(plan))
    warning = dst_warning(occurrence, previous)
    if warning:
        lines.append(warning)
    return "\n".join(lines)


def dst_warning(occurrence: Occurrence, previous: Occurrence | None) -> str:
    """Say so when the clocks changed in the meeting's zone since its last meeting there (give
    `Series.previous(occurrence, same_zone=True)`): the time moved for everyone elsewhere."""
    if previous is None or occurrence.timezone != previous.timezone:
        return ""
    if occurrence.local_start.utcoffset() == previous.local_start.utcoffset():
        return ""
    there = f"{occurrence.local_start:%H:%M} there"
    if occurrence.local_start.time() == previous.local_start.time():
        there = f"still {there}"
    return (f"🕑 Clocks changed in {occurrence.timezone} since the last meeting there: it is "
            f"{there}, but {occurrence.start:%H:%M} UTC (was {previous.start:%H:%M} UTC).")


def digest_summary(series: Series, occurrence: Occurrence, notes: MeetingNotes, plan: Plan) -> str:
    apologies = [e.name for e in notes.updates if e.apologies]
    updates = sum(1 for e in notes.updates if not e.passed and e.text)
    passes = sum(1 for e in notes.updates if e.passed)
    lines = [f"**Notes: {md.inline(series.name)}, {short_date(occurrence.date)}**",
             f"Present: {len(notes.roll_call)} · quick updates: {updates} · passes: {passes} · "
             f"celebrations: {len(notes.reports)} · agenda items: {len(notes.items)}"]
    if apologies:
        lines.append("Apologies: " + ", ".join(md.name(n) for n in apologies))
    lines.append(plan_summary(plan))
    for item in notes.items:
        estimate = f" ({md.inline(item.estimate)})" if item.estimate else ""
        lines.append(f"- **{md.name(item.presenter)}**{estimate} {md.inline(item.title)}")
    if series.notes_url:
        lines.append(f"Shared notes: <{series.notes_url}>")
    lines.append("The full notes are attached.")
    return "\n".join(lines)


def notes_attachment(series: Series, occurrence: Occurrence, text: str) -> Attachment:
    return Attachment(f"{series.id}-{occurrence.date:%Y-%m-%d}.md", text)


def scheduled_text(kind: str, series: Series, occurrence: Occurrence, state: str) -> tuple[str, str | None]:
    """Announcements, reminders, the call for updates and notices: (text, thread title or None)."""
    name = md.inline(series.name)
    links = " · ".join(f"{label}: <{url}>" for label, url in (("Video", series.video_url),
                                                              ("Notes", series.notes_url)) if url)
    tz_link = f"Your timezone: <{occurrence.arewemeetingyet_url(series.name)}>"
    if kind == SendKind.CALL_FOR_UPDATES:
        return (
            f"**Call for updates: {name}, {when(occurrence)}**\n"
            "Reply in this thread with your 60-second update, or `pass`. Can't make it? Start your "
            "reply with \"apologies\" and add your update after it.\n"
            "Agenda items: `/agenda add (~5min) <title>`. Celebrations: `/celebrate <text>`.\n"
            + tz_link + (f"\n{links}" if links else ""),
            f"Updates for {short_date(occurrence.date)}",
        )
    if kind == SendKind.ANNOUNCEMENT:
        return (f"**Next {name}: {when(occurrence)}**\n{tz_link}" + (f"\n{links}" if links else ""), None)
    if kind.startswith(SendKind.REMINDER):
        offset = kind.partition(":")[2]
        return (f"**Reminder: {name} {('in ' + offset) if offset else 'soon'}, {when(occurrence)}**\n"
                "Add your update in the call-for-updates thread, or `/update <text>`.\n"
                + tz_link + (f"\n{links}" if links else ""), None)
    if kind == SendKind.NOTICE:
        word = {"skipped": "skipped", "cancelled": "cancelled"}.get(state, "changed")
        return (f"**{name} on {short_date(occurrence.date)} is {word}.** "
                "Agenda items move to the next meeting.", None)
    if kind == SendKind.LATE_NOTICE:
        return ("Thanks: late replies are added to the notes, and the digest was updated in place.", None)
    raise ValueError(f"no text for outbox kind {kind!r}")
