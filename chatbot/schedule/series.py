"""The meeting series model: a series, its slots and chat targets, and the dated meetings it yields,
expanded in wall-clock time in each slot's zone (recurrence.py reads and checks the rule)."""

from __future__ import annotations

import base64
import datetime as dt
import difflib
import json
import urllib.parse
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from dateutil import rrule as du_rrule

from chatbot.schedule.recurrence import EPOCH, complete_rrule, midnight, normalise_rrule, rrule_parts
from chatbot.text.rollcall import DEFAULT_LAYOUT, Layout, parse_layout

__all__ = ["Config", "Occurrence", "Series", "Slot", "Target", "zone_hint", "zone_info"]

UTC = dt.timezone.utc


@dataclass(frozen=True)
class Slot:
    """A wall-clock meeting time in an IANA time zone."""

    time: dt.time
    timezone: str


@dataclass(frozen=True)
class Target:
    """Where a series posts on one platform: channel IDs as that platform writes them."""

    channel: str
    digest_channel: str | None = None


@dataclass(frozen=True)
class Occurrence:
    """One dated meeting of a series."""

    series_id: str
    date: dt.date  # the rule's calendar date, in the slot's zone
    start: dt.datetime  # aware, UTC
    end: dt.datetime  # aware, UTC
    time: dt.time  # the wall-clock slot used (base or alternate)
    timezone: str
    skipped: bool = False

    @property
    def local_start(self) -> dt.datetime:
        return self.start.astimezone(zoneinfo.ZoneInfo(self.timezone))

    def arewemeetingyet_url(self, title: str, *, join_url: str = "") -> str:
        """A "this meeting in your timezone" link; `join_url` adds the site's join button."""
        local = self.local_start
        zone = self.timezone
        if not _arewemeetingyet_zone(zone):
            # The site understands "UTC" and "Continent/City"; any other zone is shown in UTC.
            local, zone = self.start, "UTC"
        slug = "-".join(title.split()) or "Meeting"
        url = (
            f"https://arewemeetingyet.com/{zone}/{local:%Y-%m-%d}/{local:%H:%M}/"
            + urllib.parse.quote(slug, safe="-_.~")
        )
        if join_url:
            payload = json.dumps({"url": join_url}, separators=(",", ":")).encode()
            url += "#" + base64.b64encode(payload).decode()
        return url


_CONTINENTS = frozenset(
    "Africa America Antarctica Arctic Asia Atlantic Australia Europe Indian Pacific".split()
)


def _arewemeetingyet_zone(zone: str) -> bool:
    if zone == "UTC":
        return True
    parts = zone.split("/")
    return len(parts) == 2 and parts[0] in _CONTINENTS


@dataclass(frozen=True)
class Series:
    """A recurring meeting. Construction normalises `rrule` and checks zones and durations."""

    id: str
    name: str
    schedule: str  # as written
    rrule: str  # normalised RRULE body, defaults filled in: "FREQ=MONTHLY;BYDAY=+3TU"
    time: dt.time
    timezone: str = "UTC"
    duration: dt.timedelta = dt.timedelta(minutes=60)
    video_url: str = ""
    notes_url: str = ""
    issue_url: str = ""
    calendar_url: str = ""
    reminders: tuple[dt.timedelta, ...] = (
        dt.timedelta(days=7),
        dt.timedelta(days=1),
        dt.timedelta(hours=1),
    )
    updates_due: dt.timedelta = dt.timedelta(0)  # relative to the start; negative is before
    chair_item: dt.timedelta = dt.timedelta(minutes=2)
    alternate: tuple[Slot, ...] = ()
    skip: frozenset[dt.date] = frozenset()
    admins: tuple[str, ...] = ()
    # By platform name. Out of the hash, as a mapping has none; equality still compares it.
    targets: Mapping[str, Target] = field(default_factory=dict, hash=False)
    start: dt.date | None = None  # first possible date; anchors "every 2 weeks" style rules
    roll_call: str = DEFAULT_LAYOUT  # the roll call's header: the order people write their line in

    _rule: du_rrule.rrule = field(init=False, repr=False, compare=False)
    _slots: tuple[tuple[dt.time, str, zoneinfo.ZoneInfo], ...] = field(
        init=False, repr=False, compare=False
    )
    _shiftable: bool = field(init=False, repr=False, compare=False)
    _freq: str = field(init=False, repr=False, compare=False)
    _interval: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        anchor = self.start or EPOCH
        body = complete_rrule(normalise_rrule(self.rrule), anchor)
        parts = rrule_parts(body)
        if "COUNT" in parts and self.start is None:
            raise ValueError(
                "an RRULE with COUNT needs a `start` date to count from; "
                "give `start`, or use UNTIL=YYYYMMDD instead"
            )
        rule = du_rrule.rrulestr("RRULE:" + body, dtstart=midnight(anchor))
        # A rule that matches nothing would make dateutil search to year 9999 on every call.
        if rule.replace(count=None, until=midnight(anchor + dt.timedelta(days=3660))).after(
            midnight(anchor), inc=True
        ) is None:
            raise ValueError(f"the schedule {body!r} matches no date within ten years of {anchor}")
        if self.time.tzinfo is not None:
            raise ValueError("`time` is a wall-clock time; give the zone in `timezone`")
        if self.duration <= dt.timedelta(0):
            raise ValueError(f"duration must be positive, not {self.duration}")
        parse_layout(self.roll_call)
        slots = [(self.time, self.timezone, zone_info(self.timezone))]
        slots += [(s.time, s.timezone, zone_info(s.timezone)) for s in self.alternate]
        set_ = object.__setattr__
        set_(self, "rrule", body)
        set_(self, "targets", MappingProxyType(dict(self.targets)))
        set_(self, "_rule", rule)
        set_(self, "_slots", tuple(slots))
        # With COUNT the n-th date depends on every date before it, so never skip ahead.
        set_(self, "_shiftable", "COUNT" not in parts)
        set_(self, "_freq", parts["FREQ"])
        set_(self, "_interval", int(parts.get("INTERVAL", "1")))

    @property
    def layout(self) -> Layout:
        return parse_layout(self.roll_call)

    @property
    def slots(self) -> tuple[Slot, ...]:
        """The rotation: the base slot, then each alternate."""
        return (Slot(self.time, self.timezone), *self.alternate)

    def slot_for(self, day: dt.date) -> Slot:
        """The slot used in the month of `day`: fixed by the calendar month, not by any query."""
        time, zone, _ = self._slots[(day.year * 12 + day.month - 1) % len(self._slots)]
        return Slot(time, zone)

    def previous(self, occurrence: Occurrence, *, same_zone: bool = False) -> Occurrence | None:
        """The meeting before `occurrence` within about a year; with `same_zone`, the last one
        held in its zone (with alternate slots, the one before may be in another zone)."""
        for days in (35, 400):  # a month back covers most series without expanding a year of them
            before = [o for o in self.occurrences(occurrence.start - dt.timedelta(days=days), 400)
                      if o.start < occurrence.start
                      and (not same_zone or o.timezone == occurrence.timezone)]
            if before:
                return before[-1]
        return None

    def occurrences(
        self, after: dt.datetime, count: int, *, include_skipped: bool = False
    ) -> list[Occurrence]:
        """The next `count` meetings starting strictly after the aware instant `after`."""
        if after.tzinfo is None or after.utcoffset() is None:
            raise ValueError("`after` must be timezone-aware, e.g. datetime.now(timezone.utc)")
        if count <= 0:
            return []
        after = after.astimezone(UTC)
        # Slot zones run from UTC-12 to UTC+14 and a skipped local day moves a start by up to a
        # day, so dates from two days back may still start after `after`.
        first = after.date() - dt.timedelta(days=2)
        found: list[Occurrence] = []
        stop: dt.date | None = None
        for moment in self._rule_from(first).xafter(midnight(first), inc=True):
            day = moment.date()
            occ = self._occurrence(day)
            if occ.start <= after or (occ.skipped and not include_skipped):
                continue
            found.append(occ)
            if len(found) < count:
                continue
            # Alternate zones can put a later date's start up to about a day earlier than an
            # earlier date's, so look two days past the count-th date before stopping.
            if stop is None:
                stop = day + dt.timedelta(days=2)
            elif day >= stop:
                if len(_in_order(found)) >= count:
                    break
                stop = day + dt.timedelta(days=2)  # starts collided: look a little further
        return _in_order(found)[:count]

    def occurrence_on(self, day: dt.date) -> Occurrence | None:
        """The meeting on local date `day` (skipped or not), or None if the rule has none then."""
        moment = self._rule_from(day).after(midnight(day), inc=True)
        if moment is None or moment.date() != day:
            return None
        return self._occurrence(day)

    def _occurrence(self, day: dt.date) -> Occurrence:
        time, name, zone = self._slots[(day.year * 12 + day.month - 1) % len(self._slots)]
        # fold=0: an ambiguous wall time (clocks going back) is its first instance; a wall time
        # in a gap (clocks going forward) keeps the earlier offset, so it lands later by the
        # gap's length, e.g. 02:30 becomes 03:30 on the morning the clocks spring forward.
        start = dt.datetime.combine(day, time.replace(fold=0), tzinfo=zone).astimezone(UTC)
        return Occurrence(
            series_id=self.id,
            date=day,
            start=start,
            end=start + self.duration,
            time=time,
            timezone=name,
            skipped=day in self.skip,
        )

    def _rule_from(self, day: dt.date) -> du_rrule.rrule:
        """The rule with its DTSTART moved to a period boundary at or before `day`.

        Expanding from the anchor would walk every date since 2001 on each call; moving DTSTART
        by whole periods of the rule (INTERVAL weeks, months, ...) keeps the same dates.
        """
        anchor = self.start or EPOCH
        if not self._shiftable or day <= anchor:
            return self._rule
        n = self._interval
        if self._freq == "DAILY":
            new = anchor + dt.timedelta(days=(day - anchor).days // n * n)
        elif self._freq == "WEEKLY":
            # One period further back: the first week may be partial, and BYSETPOS counts weeks.
            new = anchor + dt.timedelta(weeks=((day - anchor).days // 7 // n - 1) * n)
        elif self._freq == "MONTHLY":
            months = (day.year - anchor.year) * 12 + day.month - anchor.month
            index = anchor.year * 12 + anchor.month - 1 + months // n * n
            new = dt.date(index // 12, index % 12 + 1, 1)
        else:  # YEARLY
            new = dt.date(anchor.year + (day.year - anchor.year) // n * n, 1, 1)
        if new <= anchor:
            return self._rule
        return self._rule.replace(dtstart=midnight(new))


def _in_order(occurrences: list[Occurrence]) -> list[Occurrence]:
    # A date that does not exist locally (Samoa skipped 2011-12-30) shifts a start onto the next
    # day's; keep one meeting per instant.
    out: list[Occurrence] = []
    for occ in sorted(occurrences, key=lambda o: (o.start, o.date)):
        if not out or occ.start > out[-1].start:
            out.append(occ)
    return out


def zone_info(name: str) -> zoneinfo.ZoneInfo:
    """The zone called `name`; ValueError with a "did you mean" hint if there is none."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(zone_hint(name)) from None


def zone_hint(name: object) -> str:
    """Why `name` is not a zone, and the zone it most likely means."""
    message = f"{name!r} is not an IANA time zone name"
    if isinstance(name, str) and name:
        zones = sorted(zoneinfo.available_timezones())
        by_lower = {z.lower(): z for z in zones}
        match = by_lower.get(name.strip().lower().replace(" ", "_"))
        close = [match] if match else difflib.get_close_matches(name, zones, n=1, cutoff=0.6)
        if close:
            return message + f"; did you mean {close[0]!r}?"
    return message + '; write it like "Europe/London", "America/Los_Angeles" or "UTC".'


@dataclass(frozen=True)
class Config:
    """Every declared series, and where they came from."""

    series: tuple[Series, ...]
    source: str

    def get(self, series_id: str) -> Series:
        for series in self.series:
            if series.id == series_id:
                return series
        known = ", ".join(s.id for s in self.series) or "none"
        raise KeyError(f"no meeting series {series_id!r} in {self.source}; known ids: {known}")

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.series)
