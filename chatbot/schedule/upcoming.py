"""What `chatbot schedule` shows: the coming sends of each series, with what the outbox says."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from chatbot.schedule.plan import DAY, UTC, PlannedSend, destinations, plan
from chatbot.schedule.series import Occurrence, Series
from chatbot.storage.models import Meeting, Outbox
from chatbot.storage.store import session_scope


@dataclass(frozen=True)
class Upcoming:
    send: PlannedSend
    occurrence: Occurrence
    destinations: tuple[tuple[str, str], ...]
    status: str  # planned (no row yet), or the rows' statuses


def upcoming(engine, series: Series, now: datetime, *, meetings: int = 3) -> list[Upcoming]:
    """The sends of the next few meetings that are still ahead, with what the outbox says of them."""
    found = []
    with session_scope(engine.db) as session:
        statuses = {m.date: m.status for m in session.exec(
            select(Meeting).where(Meeting.series_id == series.id,
                                  Meeting.date >= (now - 2 * DAY).date()))}
        rows = session.exec(select(Outbox).where(Outbox.series_id == series.id,
                                                 Outbox.occurrence >= (now - 2 * DAY).date())).all()
    by_key: dict[tuple[date, str], list[str]] = {}
    for row in rows:
        by_key.setdefault((row.occurrence, row.kind), []).append(row.status)
    targets = engine.targets(series)
    reach = series.duration + max(series.updates_due, timedelta(0))
    ahead = series.occurrences(now - reach, meetings, include_skipped=True)
    if not ahead:
        return []
    window = plan(series, ahead[0].start - timedelta(microseconds=1), ahead[-1].start, statuses)
    for occurrence, sends in window:
        for send in sends:
            if send.due < now:
                continue
            states = by_key.get((occurrence.date, send.kind))
            status = ",".join(sorted(set(states))) if states else "planned"
            found.append(Upcoming(send, occurrence, tuple(destinations(send, targets)), status))
    return sorted(found, key=lambda u: (u.send.due, u.send.kind))


def format_upcoming(series: Series, items: Iterable[Upcoming]) -> str:
    """One line per send: UTC, the meeting's own zone (an alternate slot's when it rotates), kind."""
    lines = [f"{series.id}: {series.name} (times in UTC and in {series.timezone})"]
    for item in items:
        zone = item.occurrence.timezone
        local = item.send.due.astimezone(ZoneInfo(zone))
        label = f"{local:%Z}" + (f" {zone}" if zone != series.timezone else "")
        where = ", ".join(f"{p}:{c}" if c else p for p, c in item.destinations) or "no platform"
        lines.append(f"  {item.send.due.astimezone(UTC):%Y-%m-%d %H:%M} UTC  "
                     f"{local:%Y-%m-%d %H:%M} {label:<6}  {item.send.kind:<17} "
                     f"meeting {item.occurrence.date}  {where}  [{item.status}]")
    if len(lines) == 1:
        lines.append("  nothing planned")
    return "\n".join(lines)
