"""Durations people write: config offsets ("7d", "1h30m") and agenda time estimates ("(~5min)")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_OFFSET = re.compile(r"(\d+)\s*([wdhms])")
OFFSET_FORMS = '"7d", "1h", "90m", "1h30m" or "-15m"'


def parse_offset(text: str) -> timedelta:
    """A signed duration in weeks, days, hours, minutes and seconds: "7d", "1h30m", "-15m"."""
    raw = text.strip().lower()
    sign = -1 if raw.startswith("-") else 1
    body = raw.lstrip("+-").replace(" ", "")
    if not body or _OFFSET.sub("", body):
        raise ValueError(f"{text!r} is not a duration; write it like {OFFSET_FORMS}")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _OFFSET.findall(body))
    return timedelta(seconds=sign * seconds)


def format_offset(delta: timedelta) -> str:
    """The shortest "1d2h" form of a duration, the inverse of parse_offset."""
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0m"
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    parts = []
    for unit in "dhms":
        n, seconds = divmod(seconds, _UNIT_SECONDS[unit])
        if n:
            parts.append(f"{n}{unit}")
    return sign + "".join(parts)


DEFAULT_ESTIMATE_MINUTES = 5
MAX_ESTIMATE_MINUTES = 240
ESTIMATE_FORMS = "(~5min), (5 minutes), (<5 minutes), (2m) or 10 min"

_UNIT = r"(?P<unit>minutes?|mins?|m|hours?|hrs?|h)"
_NUMBER = r"(?P<low>\d{1,3}(?:\.\d+)?)(?:\s*(?:-|–|to)\s*(?P<high>\d{1,3}(?:\.\d+)?))?"
_PAREN_ESTIMATE = re.compile(
    # Each run of spaces belongs to one part of the pattern, so a long run cannot be split many ways.
    r"\(\s*(?P<inner>(?:(?P<approx>~|<|≈|(?:about|approx\.?|up\s+to)(?=\s))\s*)?"
    + _NUMBER + r"\s*" + _UNIT + r")\s*\)\s*:?",
    re.IGNORECASE,
)
_BARE_ESTIMATE = re.compile(
    r"(?<![\w/.#-])(?P<inner>(?P<approx>~)?" + _NUMBER + r"\s*(?P<unit>minutes?|mins?))\b\s*:?",
    re.IGNORECASE,
)
# A parenthesis that mentions a unit but did not parse: tell the person rather than guess.
_ATTEMPT = re.compile(r"\([^()]*\b(?:min|mins|minutes?|hours?|hrs?)\b[^()]*\)", re.IGNORECASE)
_OPTIONAL = re.compile(r"\(optional\)|\bif\s+there\s+is\s+time\b|\bif\s+time\s+allows\b", re.IGNORECASE)


@dataclass(frozen=True)
class Estimate:
    """What an agenda text says about its length."""

    title: str  # the text with the estimate taken out
    minutes: int | None  # None when the text gives no estimate
    written: str | None  # the estimate as written, without parentheses: "~5min"
    optional: bool


def parse_estimate(text: str) -> Estimate:
    """Take the first time estimate out of an agenda text; ValueError if one is there but unreadable."""
    match = _PAREN_ESTIMATE.search(text) or _BARE_ESTIMATE.search(text)
    optional = bool(_OPTIONAL.search(text))
    if match is None:
        attempt = _ATTEMPT.search(text)
        if attempt:
            raise ValueError(
                f"I could not read the time estimate {attempt.group(0)!r}; "
                f"write it like {ESTIMATE_FORMS}"
            )
        return Estimate(title=_tidy(text), minutes=None, written=None, optional=optional)
    number = float(match.group("high") or match.group("low"))
    unit = match.group("unit").lower()
    minutes = round(number * 60) if unit.startswith("h") else round(number)
    if minutes <= 0 or minutes > MAX_ESTIMATE_MINUTES:
        raise ValueError(
            f"the estimate {match.group('inner')!r} is out of range; "
            f"give between 1 and {MAX_ESTIMATE_MINUTES} minutes, like {ESTIMATE_FORMS}"
        )
    title = _tidy(text[: match.start()] + " " + text[match.end():])
    return Estimate(title=title, minutes=minutes, written=match.group("inner").strip(), optional=optional)


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]+", " ", text).strip()
    return re.sub(r"^[:\-–]\s*", "", text)
