"""Meeting series declared in TOML, and the dated occurrences their schedules produce.

A schedule is an RFC 5545 RRULE or short English ("every 3rd tuesday"), expanded in wall-clock time.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import difflib
import json
import re
import tomllib
import urllib.parse
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import icalendar
from dateutil import rrule as du_rrule

from chatbot.text.durations import parse_offset

__all__ = [
    "EXAMPLE_CONFIG_TOML",
    "Config",
    "ConfigError",
    "DiscordTarget",
    "Occurrence",
    "Series",
    "SlackTarget",
    "Slot",
    "example_config",
    "load_config",
    "parse_config",
    "parse_schedule",
    "to_ics",
]

UTC = dt.timezone.utc

# Anchor for "every N weeks/months" rules when a series gives no `start`: a Monday that is also
# the first of a month and of a year, so rules without BY-parts default to Monday / the 1st / Jan 1.
EPOCH = dt.date(2001, 1, 1)

SCHEDULE_FORMS = (
    'an RFC 5545 RRULE such as "FREQ=MONTHLY;BYDAY=+3TU", or text such as "every 3rd tuesday", '
    '"every third tuesday of the month", "monthly on the first monday", "every last friday", '
    '"every 2nd and 4th wednesday", "every 2 weeks on thursday", "weekly on monday", '
    '"monthly on the 15th" or "every day"'
)


class ConfigError(ValueError):
    """A meeting config that cannot be used; the message names file, line and key and the fix."""

    def __init__(
        self, message: str, *, source: str = "", line: int | None = None, key: str | None = None
    ) -> None:
        super().__init__(message)
        self.source = source
        self.line = line
        self.key = key


@dataclass(frozen=True)
class Slot:
    """A wall-clock meeting time in an IANA time zone."""

    time: dt.time
    timezone: str


@dataclass(frozen=True)
class SlackTarget:
    channel: str
    digest_channel: str | None = None


@dataclass(frozen=True)
class DiscordTarget:
    channel: int
    digest_channel: int | None = None


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
    slack: SlackTarget | None = None
    discord: DiscordTarget | None = None
    start: dt.date | None = None  # first possible date; anchors "every 2 weeks" style rules

    _rule: du_rrule.rrule = field(init=False, repr=False, compare=False)
    _slots: tuple[tuple[dt.time, str, zoneinfo.ZoneInfo], ...] = field(
        init=False, repr=False, compare=False
    )
    _shiftable: bool = field(init=False, repr=False, compare=False)
    _freq: str = field(init=False, repr=False, compare=False)
    _interval: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        anchor = self.start or EPOCH
        body = _complete_rrule(_normalise_rrule(self.rrule), anchor)
        parts = _rrule_parts(body)
        if "COUNT" in parts and self.start is None:
            raise ValueError(
                "an RRULE with COUNT needs a `start` date to count from; "
                "give `start`, or use UNTIL=YYYYMMDD instead"
            )
        rule = du_rrule.rrulestr("RRULE:" + body, dtstart=_midnight(anchor))
        # A rule that matches nothing would make dateutil search to year 9999 on every call.
        if rule.replace(count=None, until=_midnight(anchor + dt.timedelta(days=3660))).after(
            _midnight(anchor), inc=True
        ) is None:
            raise ValueError(f"the schedule {body!r} matches no date within ten years of {anchor}")
        if self.time.tzinfo is not None:
            raise ValueError("`time` is a wall-clock time; give the zone in `timezone`")
        if self.duration <= dt.timedelta(0):
            raise ValueError(f"duration must be positive, not {self.duration}")
        slots = [(self.time, self.timezone, _zone(self.timezone))]
        slots += [(s.time, s.timezone, _zone(s.timezone)) for s in self.alternate]
        set_ = object.__setattr__
        set_(self, "rrule", body)
        set_(self, "_rule", rule)
        set_(self, "_slots", tuple(slots))
        # With COUNT the n-th date depends on every date before it, so never skip ahead.
        set_(self, "_shiftable", "COUNT" not in parts)
        set_(self, "_freq", parts["FREQ"])
        set_(self, "_interval", int(parts.get("INTERVAL", "1")))

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
        for moment in self._rule_from(first).xafter(_midnight(first), inc=True):
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
        moment = self._rule_from(day).after(_midnight(day), inc=True)
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
        return self._rule.replace(dtstart=_midnight(new))


def _in_order(occurrences: list[Occurrence]) -> list[Occurrence]:
    # A date that does not exist locally (Samoa skipped 2011-12-30) shifts a start onto the next
    # day's; keep one meeting per instant.
    out: list[Occurrence] = []
    for occ in sorted(occurrences, key=lambda o: (o.start, o.date)):
        if not out or occ.start > out[-1].start:
            out.append(occ)
    return out


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(_zone_hint(name)) from None


def _zone_hint(name: object) -> str:
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


# --- schedules ---------------------------------------------------------------------------------

_RRULE_NAMES = frozenset(
    "FREQ INTERVAL COUNT UNTIL WKST BYSETPOS BYMONTH BYMONTHDAY BYYEARDAY BYWEEKNO BYDAY".split()
)
_FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def parse_schedule(text: str) -> str:
    """The normalised RRULE body for an RRULE or an English schedule; ValueError says the forms."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"the schedule is empty; write {SCHEDULE_FORMS}")
    if re.search(r"\bFREQ\s*=", text, re.IGNORECASE) or re.match(r"\s*RRULE:", text, re.I):
        return _normalise_rrule(text)
    return _normalise_rrule(_english_rrule(text))


def _normalise_rrule(text: str) -> str:
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    body = body.strip().rstrip(";").upper().replace(" ", "")
    if "\n" in body or "DTSTART" in body:
        raise ValueError(
            "give only the RRULE body, like \"FREQ=MONTHLY;BYDAY=+3TU\"; "
            "a first date goes in the series' `start` key"
        )
    parts: dict[str, str] = {}
    for part in body.split(";"):
        name, eq, value = part.partition("=")
        if not eq or not value:
            raise ValueError(f"RRULE part {part!r} is not NAME=VALUE; write {SCHEDULE_FORMS}")
        if name in ("BYHOUR", "BYMINUTE", "BYSECOND"):
            raise ValueError(f"RRULE part {name} is not allowed: the time of day comes from `time`")
        if name not in _RRULE_NAMES:
            raise ValueError(
                f"RRULE part {name!r} is not supported; use " + ", ".join(sorted(_RRULE_NAMES))
            )
        if name in parts:
            raise ValueError(f"RRULE part {name} is given twice")
        parts[name] = value
    if parts.get("FREQ") not in _FREQS:
        raise ValueError(
            f"an RRULE needs FREQ=DAILY, WEEKLY, MONTHLY or YEARLY, not {parts.get('FREQ')!r}; "
            f"for example \"FREQ=MONTHLY;BYDAY=+3TU\""
        )
    if "UNTIL" in parts:
        # Dates are expanded at midnight, so UNTIL is a whole last day; a UTC "Z" form would
        # clash with the zone-less expansion and is read as its date.
        match = re.fullmatch(r"(\d{8})(T\d{6}Z?)?", parts["UNTIL"])
        if not match:
            raise ValueError(f"UNTIL={parts['UNTIL']} is not a date; write UNTIL=YYYYMMDD")
        parts["UNTIL"] = match.group(1)
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValueError("an RRULE may have COUNT or UNTIL, not both")
    joined = ";".join(f"{k}={v}" for k, v in parts.items())
    try:
        rule = du_rrule.rrulestr("RRULE:" + joined, dtstart=_midnight(EPOCH))
    except Exception as exc:  # dateutil raises ValueError, KeyError or IndexError on bad parts
        raise ValueError(
            f"{joined!r} is not a valid RRULE ({exc}); write {SCHEDULE_FORMS}"
        ) from None
    return _rrule_body(rule)


def _rrule_body(rule: du_rrule.rrule) -> str:
    for line in str(rule).splitlines():
        if line.startswith("RRULE:"):
            return line[6:]
    raise AssertionError(f"dateutil printed no RRULE line for {rule!r}")


def _rrule_parts(body: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in body.split(";"))


def _complete_rrule(body: str, anchor: dt.date) -> str:
    """Spell out the BY-parts RFC 5545 would take from DTSTART, so the rule no longer needs it."""
    parts = _rrule_parts(body)
    if any(k in parts for k in ("BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY")):
        return body
    freq = parts["FREQ"]
    if freq == "YEARLY":
        parts.setdefault("BYMONTH", str(anchor.month))
        parts["BYMONTHDAY"] = str(anchor.day)
    elif freq == "MONTHLY":
        parts["BYMONTHDAY"] = str(anchor.day)
    elif freq == "WEEKLY":
        parts["BYDAY"] = _WEEKDAY_CODES[anchor.weekday()]
    else:
        return body
    return _normalise_rrule(";".join(f"{k}={v}" for k, v in parts.items()))


_DAY_WORDS: dict[str, str] = {}
for _code, _full, _abbrevs in (
    ("MO", "monday", ("mon",)),
    ("TU", "tuesday", ("tue", "tues")),
    ("WE", "wednesday", ("wed", "weds")),
    ("TH", "thursday", ("thu", "thur", "thurs")),
    ("FR", "friday", ("fri",)),
    ("SA", "saturday", ("sat",)),
    ("SU", "sunday", ("sun",)),
):
    for _word in (_full, _full + "s", *_abbrevs):
        _DAY_WORDS[_word] = _code
del _code, _full, _abbrevs, _word

_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1,
    "penultimate": -2, "second-to-last": -2, "next-to-last": -2,
}
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "other": 2,
}
_UNITS = {
    "day": ("DAILY", 1), "days": ("DAILY", 1),
    "week": ("WEEKLY", 1), "weeks": ("WEEKLY", 1), "fortnight": ("WEEKLY", 2),
    "month": ("MONTHLY", 1), "months": ("MONTHLY", 1),
}
_ADVERBS = {
    "daily": ("DAILY", 1), "weekly": ("WEEKLY", 1), "monthly": ("MONTHLY", 1),
    "biweekly": ("WEEKLY", 2), "fortnightly": ("WEEKLY", 2),
}
_FILLER = frozenset("every each on the of and a in at per meeting meets".split())


def _english_rrule(text: str) -> str:
    """Translate short English ("every 2nd and 4th wednesday") to an RRULE body."""
    words = re.sub(r"[,&/+]", " ", text.lower()).replace(".", " ").split()
    freq: tuple[str, int] | None = None
    days: list[str] = []
    ordinals: list[int] = []
    weekdays = False  # "weekday": Monday to Friday
    monthday = False  # "the 15th" or "the last day": days of the month, not weekdays

    def set_freq(value: tuple[str, int], word: str) -> None:
        nonlocal freq
        if freq is not None and freq != value:
            raise ValueError(f"{text!r} gives the repetition twice ({word!r}); write {SCHEDULE_FORMS}")
        freq = value

    i = 0
    while i < len(words):
        word = words[i]
        following = words[i + 1] if i + 1 < len(words) else ""
        if word in _FILLER:
            pass
        elif word in _DAY_WORDS:
            if _DAY_WORDS[word] not in days:
                days.append(_DAY_WORDS[word])
        elif word in ("weekday", "weekdays"):
            weekdays = True
        elif word in _ORDINAL_WORDS or re.fullmatch(r"\d+(st|nd|rd|th)", word):
            n = _ORDINAL_WORDS.get(word) or int(re.sub(r"\D", "", word))
            if n not in ordinals:
                ordinals.append(n)
            if following == "day":
                monthday = True
                i += 1
        elif word == "other" and following in _DAY_WORDS:  # "every other tuesday"
            set_freq(("WEEKLY", 2), word)
        elif word.isdigit() or word in _NUMBER_WORDS:
            n = int(word) if word.isdigit() else _NUMBER_WORDS[word]
            if following not in _UNITS or n < 1:
                raise ValueError(
                    f"in {text!r}, {word!r} should be followed by days, weeks or months "
                    f"(\"every 2 weeks on thursday\"); write {SCHEDULE_FORMS}"
                )
            unit, times = _UNITS[following]
            set_freq((unit, n * times), following)
            i += 1
        elif word in _UNITS:
            set_freq(_UNITS[word], word)
        elif word in _ADVERBS:
            set_freq(_ADVERBS[word], word)
        else:
            close = difflib.get_close_matches(
                word, [*_DAY_WORDS, *_ORDINAL_WORDS, *_UNITS, *_ADVERBS], n=1
            )
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"in {text!r}, I do not understand {word!r}{hint}; write {SCHEDULE_FORMS}")
        i += 1

    unit, interval = freq or (None, 1)
    parts = []
    if ordinals:
        if unit not in (None, "MONTHLY"):
            raise ValueError(
                f"{text!r}: an ordinal like \"3rd\" means a day of the month, but the rule repeats "
                f"{unit.lower()}; write e.g. \"every 3rd tuesday\" or \"every 2 weeks on thursday\""
            )
        unit = "MONTHLY"
        if monthday or not (days or weekdays):
            if days or weekdays:
                raise ValueError(
                    f"{text!r} mixes days of the month with weekdays; write {SCHEDULE_FORMS}"
                )
            bad = [n for n in ordinals if not (1 <= n <= 31 or n in (-1, -2))]
            if bad:
                raise ValueError(f"{text!r}: a month has days 1 to 31, not {bad[0]}")
            parts.append("BYMONTHDAY=" + ",".join(map(str, ordinals)))
        else:
            bad = [n for n in ordinals if not (1 <= n <= 5 or n in (-1, -2))]
            if bad:
                raise ValueError(
                    f"{text!r}: a month has at most five of each weekday, so use first to fifth "
                    f"or last, not {bad[0]}"
                )
            if weekdays:
                byday = ",".join(_WEEKDAY_CODES[:5])
                parts.append("BYDAY=" + byday + ";BYSETPOS=" + ",".join(map(str, ordinals)))
            else:
                parts.append("BYDAY=" + ",".join(f"{n:+d}{d}" for n in ordinals for d in days))
    elif days or weekdays:
        if unit == "MONTHLY":
            raise ValueError(
                f"{text!r}: which one of the month? write e.g. \"every 3rd tuesday\" or "
                f"\"monthly on the last friday\""
            )
        if unit == "DAILY" and interval == 1:
            unit = None  # "every day on monday" is loose but clear enough: weekly
        if unit == "DAILY":
            raise ValueError(f"{text!r}: say \"every {interval} weeks on ...\" for named days")
        unit = "WEEKLY"
        codes = list(_WEEKDAY_CODES[:5]) if weekdays else []
        codes += [d for d in days if d not in codes]
        parts.append("BYDAY=" + ",".join(sorted(codes, key=_WEEKDAY_CODES.index)))
    elif unit == "DAILY":
        pass
    elif unit in ("WEEKLY", "MONTHLY"):
        example = "weekly on monday" if unit == "WEEKLY" else "monthly on the first monday"
        raise ValueError(f"{text!r} does not say which day; write e.g. {example!r}")
    else:
        raise ValueError(f"{text!r} is not a schedule I can read; write {SCHEDULE_FORMS}")
    head = f"FREQ={unit}" + (f";INTERVAL={interval}" if interval > 1 else "")
    return ";".join([head, *parts])


# --- config files ------------------------------------------------------------------------------

_SERIES_KEYS = (
    "id", "name", "schedule", "time", "timezone", "duration", "start", "video_url", "notes_url",
    "issue_url", "calendar_url", "reminders", "updates_due", "chair_item", "alternate", "skip",
    "admins", "slack", "discord",
)
_REQUIRED = ("id", "name", "schedule", "time")
_SLOT_KEYS = ("time", "timezone")
_TARGET_KEYS = ("channel", "digest_channel")
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SLACK_CHANNEL = re.compile(r"[CGD][A-Z0-9]+")
_ADMIN = re.compile(r"(slack|discord|terminal):\S+")

_KeyPath = tuple[str | int, ...]


def load_config(path: Path) -> Config:
    """Read and check a meetings TOML file; OSError if it cannot be read, else ConfigError."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: the file is not UTF-8 text ({exc}); save it as UTF-8", source=str(path)
        ) from None
    return parse_config(text, source=str(path))


def parse_config(text: str, source: str = "meetings.toml") -> Config:
    """Check a meetings TOML document; the first problem found is raised as a ConfigError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = int(match.group(1)) if match else None
        where = f"{source}:{line}" if line else source
        raise ConfigError(
            f"{where}: not valid TOML: {exc}. Each series starts with [[series]] and has lines "
            f'like  time = "17:00"',
            source=source,
            line=line,
        ) from None
    return _ConfigReader(text, source).read(data)


class _ConfigReader:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.lines = _key_lines(text)
        self.ids: dict[int, str] = {}  # series index -> id, to name a series in messages

    def line(self, path: _KeyPath) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def error(self, path: _KeyPath, message: str) -> ConfigError:
        line = self.line(path)
        where = f"{self.source}:{line}" if line else self.source
        key = _key_name(path)
        what = f"key {key!r}: " if key else ""
        return ConfigError(
            f"{where}: {self.label(path)}{what}{message}",
            source=self.source,
            line=line,
            key=key or None,
        )

    def label(self, path: _KeyPath) -> str:
        if len(path) >= 2 and path[0] == "series" and isinstance(path[1], int):
            sid = self.ids.get(path[1])
            return f"[[series]] {sid!r}, " if sid else f"[[series]] #{path[1] + 1}, "
        return ""

    def unknown_keys(
        self, table: dict[str, Any], known: Sequence[str], path: _KeyPath, what: str
    ) -> None:
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise self.error(
                    (*path, key),
                    f"unknown key in {what}; {hint}known keys are " + ", ".join(known),
                )

    def read(self, data: dict[str, Any]) -> Config:
        self.unknown_keys(data, ("series",), (), "the top level")
        tables = data.get("series")
        if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
            raise self.error(
                ("series",) if "series" in data else (),
                "declare each meeting series as a [[series]] table with id, name, schedule and "
                'time, e.g.\n[[series]]\nid = "hubs"\nname = "Team Meeting"\n'
                'schedule = "every 3rd tuesday"\ntime = "17:00"',
            )
        self.ids = {
            i: t["id"] for i, t in enumerate(tables) if isinstance(t.get("id"), str) and t["id"]
        }
        seen: dict[str, int] = {}
        series = []
        for index, table in enumerate(tables):
            one = self.series(table, ("series", index))
            if one.id in seen:
                first = self.line(("series", seen[one.id], "id"))
                raise self.error(
                    ("series", index, "id"),
                    f"the id {one.id!r} is already used by the series on line {first}; "
                    "give each series its own id",
                )
            seen[one.id] = index
            series.append(one)
        return Config(series=tuple(series), source=self.source)

    def series(self, table: dict[str, Any], path: _KeyPath) -> Series:
        self.unknown_keys(table, _SERIES_KEYS, path, "[[series]]")
        for key in _REQUIRED:
            if key not in table:
                raise self.error(
                    (*path, key),
                    "this required key is missing; every [[series]] needs "
                    + ", ".join(_REQUIRED)
                    + ' (e.g. id = "hubs", schedule = "every 3rd tuesday", time = "17:00")',
                )
        sid = self.string(table, "id", path)
        if not _SLUG.fullmatch(sid):
            raise self.error(
                (*path, "id"),
                f"{sid!r} is not a slug; use lowercase letters, digits and dashes, "
                'at most 64, like "hubs" or "team-meeting"',
            )
        name = self.string(table, "name", path)
        if not name.strip():
            raise self.error((*path, "name"), 'the name is empty; write e.g. name = "Team Meeting"')
        schedule = self.string(table, "schedule", path)
        try:
            rule = parse_schedule(schedule)
        except ValueError as exc:
            raise self.error((*path, "schedule"), str(exc)) from None
        time = self.time(table["time"], (*path, "time"))
        timezone = self.timezone(table.get("timezone", "UTC"), (*path, "timezone"))
        duration = self.duration(table, "duration", path, "60m", minimum=dt.timedelta(seconds=1))
        start = self.date(table["start"], (*path, "start")) if "start" in table else None
        urls = {key: self.url(table, key, path) for key in _SERIES_KEYS if key.endswith("_url")}
        reminders = self.reminders(table, path)
        updates_due = self.duration(table, "updates_due", path, "0m", minimum=None)
        chair_item = self.duration(table, "chair_item", path, "2m", minimum=dt.timedelta(0))
        alternate = self.alternate(table, path, timezone)
        admins = self.admins(table, path)
        slack = self.slack(table["slack"], (*path, "slack")) if "slack" in table else None
        discord = self.discord(table["discord"], (*path, "discord")) if "discord" in table else None
        try:
            series = Series(
                id=sid, name=name, schedule=schedule, rrule=rule, time=time, timezone=timezone,
                duration=duration, reminders=reminders, updates_due=updates_due,
                chair_item=chair_item, alternate=alternate, admins=admins, slack=slack,
                discord=discord, start=start, **urls,
            )
        except ValueError as exc:
            raise self.error((*path, "schedule"), str(exc)) from None
        skip = self.skip(table, path, series)
        return dataclasses.replace(series, skip=skip) if skip else series

    # -- typed values

    def string(self, table: dict[str, Any], key: str, path: _KeyPath) -> str:
        value = table[key]
        if not isinstance(value, str):
            raise self.error(
                (*path, key), f"expected text in quotes, got {_kind(value)} {value!r}"
            )
        return value

    def time(self, value: Any, path: _KeyPath) -> dt.time:
        if isinstance(value, dt.time) and not value.second and not value.microsecond:
            return value.replace(tzinfo=None)
        if isinstance(value, str) and (match := _TIME.fullmatch(value.strip())):
            return dt.time(int(match.group(1)), int(match.group(2)))
        raise self.error(
            path, f'{value!r} is not a time of day; write 24-hour "HH:MM", e.g. "17:00" or "09:30"'
        )

    def timezone(self, value: Any, path: _KeyPath) -> str:
        if not isinstance(value, str):
            raise self.error(path, _zone_hint(value))
        try:
            _zone(value)
        except ValueError as exc:
            raise self.error(path, str(exc)) from None
        return value

    def offset(self, value: Any, path: _KeyPath, example: str) -> dt.timedelta:
        if not isinstance(value, str):
            raise self.error(
                path, f'expected a duration in quotes like "{example}", got {_kind(value)} {value!r}'
            )
        try:
            return parse_offset(value)
        except ValueError as exc:
            raise self.error(path, str(exc)) from None

    def duration(
        self, table: dict[str, Any], key: str, path: _KeyPath, default: str,
        minimum: dt.timedelta | None,
    ) -> dt.timedelta:
        if key not in table:
            return parse_offset(default)
        value = self.offset(table[key], (*path, key), default)
        if minimum is not None and value < minimum:
            need = "positive" if minimum else "zero or more"
            raise self.error((*path, key), f"{table[key]!r} must be {need}, like \"{default}\"")
        return value

    def reminders(self, table: dict[str, Any], path: _KeyPath) -> tuple[dt.timedelta, ...]:
        if "reminders" not in table:
            return Series.__dataclass_fields__["reminders"].default
        value = table["reminders"]
        if not isinstance(value, list):
            raise self.error(
                (*path, "reminders"), f'expected a list like ["7d", "1d", "1h"], got {value!r}'
            )
        found = []
        for i, item in enumerate(value):
            offset = self.offset(item, (*path, "reminders", i), "1d")
            if offset < dt.timedelta(0):
                raise self.error(
                    (*path, "reminders", i),
                    f"{item!r}: reminders count back from the start, so write them without a "
                    'minus, like "1d" for a day before',
                )
            found.append(offset)
        # Earliest reminder first, each once.
        return tuple(sorted(set(found), reverse=True))

    def date(self, value: Any, path: _KeyPath) -> dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str) and _DATE.fullmatch(value.strip()):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.error(path, f'{value!r} is not a date; write "YYYY-MM-DD", e.g. "2026-12-15"')

    def url(self, table: dict[str, Any], key: str, path: _KeyPath) -> str:
        if key not in table:
            return ""
        value = self.string(table, key, path).strip()
        if value and not re.match(r"https?://\S+$", value):
            raise self.error(
                (*path, key), f"{value!r} is not a web address; write it like \"https://...\""
            )
        return value

    def alternate(self, table: dict[str, Any], path: _KeyPath, default_zone: str) -> tuple[Slot, ...]:
        value = table.get("alternate", [])
        where = (*path, "alternate")
        if not isinstance(value, list):
            raise self.error(
                where,
                'expected a list of slots like [{ time = "09:00", timezone = "Europe/London" }]',
            )
        slots = []
        for i, item in enumerate(value):
            here = (*where, i)
            if not isinstance(item, dict):
                raise self.error(
                    here, f'expected {{ time = "09:00", timezone = "Europe/London" }}, got {item!r}'
                )
            self.unknown_keys(item, _SLOT_KEYS, here, "an alternate slot")
            if "time" not in item:
                raise self.error(
                    (*here, "time"), 'each alternate slot needs a time, like { time = "09:00" }'
                )
            time = self.time(item["time"], (*here, "time"))
            zone = self.timezone(item.get("timezone", default_zone), (*here, "timezone"))
            slots.append(Slot(time=time, timezone=zone))
        return tuple(slots)

    def skip(self, table: dict[str, Any], path: _KeyPath, series: Series) -> frozenset[dt.date]:
        value = table.get("skip", [])
        if not isinstance(value, list):
            raise self.error(
                (*path, "skip"), f'expected a list of dates like ["2026-12-15"], got {value!r}'
            )
        days = set()
        for i, item in enumerate(value):
            day = self.date(item, (*path, "skip", i))
            if series.occurrence_on(day) is None:
                # A date the rule never meets on is almost always a typo: say which dates are near.
                near = _nearby(series, day)
                raise self.error(
                    (*path, "skip", i),
                    f"{day} is not a meeting date of this series ({series.rrule}); "
                    f"the nearest are {near}",
                )
            days.add(day)
        return frozenset(days)

    def admins(self, table: dict[str, Any], path: _KeyPath) -> tuple[str, ...]:
        value = table.get("admins", [])
        if not isinstance(value, list):
            raise self.error(
                (*path, "admins"),
                f'expected a list like ["slack:U0123ABCD", "discord:1234"], got {value!r}'
            )
        for i, item in enumerate(value):
            if not isinstance(item, str) or not _ADMIN.fullmatch(item):
                raise self.error(
                    (*path, "admins", i),
                    f'{item!r} is not an identity; write "slack:<user id>", "discord:<user id>" '
                    'or "terminal:<name>"',
                )
        return tuple(value)

    def slack(self, value: Any, path: _KeyPath) -> SlackTarget:
        if not isinstance(value, dict):
            raise self.error(path, 'expected a [series.slack] table with channel = "C0123456789"')
        self.unknown_keys(value, _TARGET_KEYS, path, "[series.slack]")
        if "channel" not in value:
            raise self.error(
                (*path, "channel"), 'the required key is missing; add channel = "C0123456789"'
            )
        ids = []
        for key in _TARGET_KEYS:
            item = value.get(key)
            if item is None:
                ids.append(None)
            elif isinstance(item, str) and _SLACK_CHANNEL.fullmatch(item.strip()):
                ids.append(item.strip())
            else:
                raise self.error(
                    (*path, key),
                    f"{item!r} is not a Slack channel ID; copy the ID (like \"C0123456789\") from "
                    "the channel's details, not its #name",
                )
        return SlackTarget(channel=ids[0], digest_channel=ids[1])

    def discord(self, value: Any, path: _KeyPath) -> DiscordTarget:
        if not isinstance(value, dict):
            raise self.error(
                path, "expected a [series.discord] table with channel = 123456789012345678"
            )
        self.unknown_keys(value, _TARGET_KEYS, path, "[series.discord]")
        if "channel" not in value:
            raise self.error(
                (*path, "channel"), "the required key is missing; add channel = 123456789012345678"
            )
        ids = []
        for key in _TARGET_KEYS:
            item = value.get(key)
            if isinstance(item, str) and item.strip().isdigit():
                item = int(item.strip())
            if item is None:
                ids.append(None)
            elif isinstance(item, int) and not isinstance(item, bool) and item > 0:
                ids.append(item)
            else:
                raise self.error(
                    (*path, key),
                    f"{item!r} is not a Discord channel ID; use the number from \"Copy Channel ID\", "
                    "like 123456789012345678",
                )
        return DiscordTarget(channel=ids[0], digest_channel=ids[1])


def _nearby(series: Series, day: dt.date) -> str:
    before = [
        o.date
        for o in series.occurrences(
            dt.datetime.combine(day - dt.timedelta(days=62), dt.time(), UTC), 6,
            include_skipped=True,
        )
    ]
    closest = sorted(before, key=lambda d: abs((d - day).days))[:2]
    return " and ".join(str(d) for d in sorted(closest)) or "(none)"


def _kind(value: object) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _key_name(path: _KeyPath) -> str:
    # ("series", 0, "alternate", 1, "timezone") -> "alternate[1].timezone"
    rest = path[2:] if len(path) >= 2 and path[0] == "series" and isinstance(path[1], int) else path
    name = ""
    for part in rest:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    return name


# --- where each key is written -----------------------------------------------------------------


def _key_lines(text: str) -> dict[_KeyPath, int]:
    """Map each key path, e.g. ("series", 0, "alternate", 1, "time"), to its 1-based line.

    tomllib reports no positions, so this walks the (already valid) TOML once, tracking tables,
    arrays of tables, dotted keys, inline tables, arrays and every kind of string.
    """
    scanner = _LineScanner(text)
    try:
        scanner.document()
    except (IndexError, ValueError):
        pass  # keep what was found; a key with no line falls back to its table's line
    return scanner.lines


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR = re.compile(r"[^,\]}\n#]+")  # numbers, booleans, dates: they hold no delimiters


class _LineScanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line_no = 1
        self.lines: dict[_KeyPath, int] = {}
        self.tree: dict[str, Any] = {}

    def peek(self, n: int = 1) -> str:
        return self.text[self.i : self.i + n]

    def advance(self, n: int = 1) -> None:
        self.line_no += self.text.count("\n", self.i, self.i + n)
        self.i += n

    def record(self, path: _KeyPath) -> None:
        self.lines.setdefault(path, self.line_no)

    def blank(self, newlines: bool) -> None:
        while self.i < len(self.text):
            c = self.text[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                end = self.text.find("\n", self.i)
                self.advance((len(self.text) if end < 0 else end) - self.i)
            else:
                return

    def document(self) -> None:
        table: _KeyPath = ()
        node = self.tree
        while True:
            self.blank(newlines=True)
            if self.i >= len(self.text):
                return
            if self.peek() == "[":
                table, node = self.header()
            else:
                self.key_value(table, node)
            self.blank(newlines=False)
            if self.peek() not in ("\n", ""):
                raise ValueError("expected the end of the line")

    def header(self) -> tuple[_KeyPath, dict[str, Any]]:
        array = self.peek(2) == "[["
        line = self.line_no
        self.advance(2 if array else 1)
        self.blank(newlines=False)
        keys = self.key()
        self.blank(newlines=False)
        self.advance(2 if array else 1)
        path: _KeyPath = ()
        node: Any = self.tree
        for depth, key in enumerate(keys):
            last = depth == len(keys) - 1
            path += (key,)
            if last and array:
                items = node.setdefault(key, [])
                items.append({})
                path += (len(items) - 1,)
                node = items[-1]
            else:
                child = node.setdefault(key, {})
                if isinstance(child, list):
                    path += (len(child) - 1,)
                    child = child[-1]
                node = child
            if last:
                self.lines.setdefault(path, line)
        return path, node

    def key_value(self, table: _KeyPath, node: dict[str, Any]) -> None:
        line = self.line_no
        keys = self.key()
        path = (*table, *keys)
        for depth in range(len(keys)):
            self.lines.setdefault((*table, *keys[: depth + 1]), line)
        for key in keys[:-1]:  # dotted keys make tables that later headers may extend
            child = node.setdefault(key, {})
            node = child if isinstance(child, dict) else {}
        self.blank(newlines=False)
        if self.peek() != "=":
            raise ValueError("expected '='")
        self.advance()
        self.blank(newlines=False)
        self.value(path)

    def key(self) -> list[str]:
        keys = []
        while True:
            self.blank(newlines=False)
            c = self.peek()
            if c in ('"', "'"):
                start = self.i
                self.string()
                keys.append(tomllib.loads("k = " + self.text[start : self.i])["k"])
            else:
                match = _BARE_KEY.match(self.text, self.i)
                if not match:
                    raise ValueError("expected a key")
                keys.append(match.group(0))
                self.advance(match.end() - self.i)
            self.blank(newlines=False)
            if self.peek() != ".":
                return keys
            self.advance()

    def string(self) -> None:
        quote = self.peek()
        if self.peek(3) == quote * 3:
            self.advance(3)
            while not (self.peek(3) == quote * 3):
                if quote == '"' and self.peek() == "\\":
                    self.advance()
                if self.i >= len(self.text):
                    raise ValueError("unterminated string")
                self.advance()
            self.advance(3)
            while self.peek() == quote:  # up to two quotes may end the content
                self.advance()
            return
        self.advance()
        while self.peek() != quote:
            if quote == '"' and self.peek() == "\\":
                self.advance()
            if self.i >= len(self.text) or self.peek() == "\n":
                raise ValueError("unterminated string")
            self.advance()
        self.advance()

    def value(self, path: _KeyPath) -> None:
        self.record(path)
        c = self.peek()
        if c in ('"', "'"):
            self.string()
        elif c == "[":
            self.advance()
            index = 0
            while True:
                self.blank(newlines=True)
                if self.peek() == "]":
                    break
                self.value((*path, index))
                index += 1
                self.blank(newlines=True)
                if self.peek() == ",":
                    self.advance()
            self.advance()
        elif c == "{":
            self.advance()
            while True:
                self.blank(newlines=True)
                if self.peek() == "}":
                    break
                line = self.line_no
                keys = self.key()
                for depth in range(len(keys)):
                    self.lines.setdefault((*path, *keys[: depth + 1]), line)
                self.blank(newlines=False)
                self.advance()  # "="
                self.blank(newlines=False)
                self.value((*path, *keys))
                self.blank(newlines=True)
                if self.peek() == ",":
                    self.advance()
            self.advance()
        else:
            match = _SCALAR.match(self.text, self.i)
            if not match:
                raise ValueError("expected a value")
            self.advance(match.end() - self.i)


# --- the built-in example and calendar export --------------------------------------------------

EXAMPLE_CONFIG_TOML = """\
# Meeting series for the bot. Every key is optional except id, name, schedule and time.
[[series]]
id = "hubs"                                   # slug, used in file names and commands
name = "JupyterHub and BinderHub Team Meeting"
schedule = "FREQ=MONTHLY;BYDAY=+3TU"          # RFC 5545 RRULE, or "every 3rd tuesday" style text
time = "17:00"                                # wall-clock time in `timezone`
timezone = "UTC"                              # IANA name; DST handled by the zone
duration = "60m"
video_url = "https://meet.jit.si/HubsTeamMeeting"
notes_url = "https://hackmd.io/@sgibson91/hubs-team-meeting"
issue_url = ""                                # optional
calendar_url = ""                             # default: the bot's own ICS feed when served
reminders = ["7d", "1d", "1h"]                # before the start
updates_due = "0m"                            # when the digest is compiled, relative to start
chair_item = "2m"                             # the "Session Chair: assign a notetaker" item
alternate = [{ time = "09:00", timezone = "Europe/London" }]   # optional rotation, month by month
skip = ["2026-12-15"]                         # optional

# [series.slack]                              # optional
# channel = "C0123456789"                     # reminders and update threads
# digest_channel = "C0987654321"

# [series.discord]                            # optional
# channel = 123456789012345678
# digest_channel = 123456789012345679
"""


def example_config() -> Config:
    """The JupyterHub team meeting, without chat channels: what runs when no config file exists."""
    return parse_config(EXAMPLE_CONFIG_TOML, source="built-in example")


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
