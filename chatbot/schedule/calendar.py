"""Calendar export: a series' meetings as an iCalendar (RFC 5545) feed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import icalendar

from chatbot.schedule.series import UTC, Occurrence, Series

__all__ = ["to_ics"]


def to_ics(
    series: Series, occurrences: Sequence[Occurrence], *, stamp: dt.datetime | None = None
) -> bytes:
    """An iCalendar feed with one VEVENT per occurrence; skipped ones are marked cancelled.

    `stamp` (DTSTAMP) defaults to now; pass a fixed one for byte-identical output.
    """
    stamp = (stamp or dt.datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    cal = icalendar.Calendar()
    cal.add("prodid", "-//chatbot//meeting series//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", series.name)
    for occ in occurrences:
        event = icalendar.Event()
        # One UID per series and date, so a re-fetched feed updates events instead of adding.
        event.add("uid", f"{series.id}-{occ.date:%Y%m%d}@chatbot")
        event.add("dtstamp", stamp)
        event.add("dtstart", occ.start.astimezone(UTC))
        event.add("dtend", occ.end.astimezone(UTC))
        event.add("summary", series.name)
        lines = [
            f"{label}: {url}"
            for label, url in (
                ("Video", series.video_url),
                ("Notes", series.notes_url),
                ("Issue", series.issue_url),
            )
            if url
        ]
        lines.append("Your timezone: " + occ.arewemeetingyet_url(series.name))
        event.add("description", "\n".join(lines))
        if series.video_url:
            event.add("url", series.video_url)
            event.add("location", series.video_url)
        event.add("status", "CANCELLED" if occ.skipped else "CONFIRMED")
        cal.add_component(event)
    return cal.to_ical()
