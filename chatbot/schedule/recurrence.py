"""Schedules: RFC 5545 RRULEs normalised, and short English ("every 3rd tuesday") turned into them."""

from __future__ import annotations

import datetime as dt
import difflib
import re

from dateutil import rrule as du_rrule

__all__ = ["EPOCH", "SCHEDULE_FORMS", "complete_rrule", "midnight", "normalise_rrule", "parse_schedule",
           "rrule_parts"]

# Anchor for "every N weeks/months" rules when a series gives no `start`: a Monday that is also
# the first of a month and of a year, so rules without BY-parts default to Monday / the 1st / Jan 1.
EPOCH = dt.date(2001, 1, 1)

SCHEDULE_FORMS = (
    'an RFC 5545 RRULE such as "FREQ=MONTHLY;BYDAY=+3TU", or text such as "every 3rd tuesday", '
    '"every third tuesday of the month", "monthly on the first monday", "every last friday", '
    '"every 2nd and 4th wednesday", "every 2 weeks on thursday", "weekly on monday", '
    '"monthly on the 15th" or "every day"'
)


def midnight(day: dt.date) -> dt.datetime:
    """The naive start of `day`: rules are expanded at midnight, in wall-clock time."""
    return dt.datetime(day.year, day.month, day.day)


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
        return normalise_rrule(text)
    return normalise_rrule(_english_rrule(text))


def normalise_rrule(text: str) -> str:
    """An RRULE body checked and printed the way dateutil prints it; ValueError says what is wrong."""
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
        rule = du_rrule.rrulestr("RRULE:" + joined, dtstart=midnight(EPOCH))
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


def rrule_parts(body: str) -> dict[str, str]:
    """"FREQ=MONTHLY;BYDAY=+3TU" -> {"FREQ": "MONTHLY", "BYDAY": "+3TU"}."""
    return dict(part.split("=", 1) for part in body.split(";"))


def complete_rrule(body: str, anchor: dt.date) -> str:
    """Spell out the BY-parts RFC 5545 would take from DTSTART, so the rule no longer needs it."""
    parts = rrule_parts(body)
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
    return normalise_rrule(";".join(f"{k}={v}" for k, v in parts.items()))


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
