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
ESTIMATE_FORMS = "(~5min), (5 minutes), (<5 minutes), (2m), [10m?] or 10 min"

_NUMBER = r"(?P<low>\d{1,3}(?:\.\d{1,2})?)(?:[ \t]{0,3}(?:-|–|to|turned)[ \t]{0,3}(?P<high>\d{1,3}(?:\.\d{1,2})?))?"
_APPROX = r"(?P<approx>~|<|≈|about[ \t]{1,3}|approx\.?[ \t]{0,3}|up[ \t]to[ \t]{1,3})?[ \t]{0,3}"
# Inside brackets: a number and any unit, "?" after it when unsure ("(10m?)", "[Tim, 5-10min]").
_GROUPED = re.compile(
    r"(?<![\w.])(?P<inner>" + _APPROX + _NUMBER + r"[ \t]{0,3}(?P<unit>minutes?|mins?|m|hours?|hrs?|h)\b"
    r"(?:[ \t]{0,3}\?)?)",
    re.IGNORECASE,
)
# Outside brackets: minutes spelled out, and only where an estimate stands (the start, the end,
# or before a colon), so "I have a 3 minute speaking slot" stays talk content.
_BARE = re.compile(
    r"(?<![\w/.#-])(?P<inner>(?P<approx>~)?" + _NUMBER + r"[ \t]{0,3}(?P<unit>minutes?|mins?)\b"
    r"(?:[ \t]{0,3}\?)?)",
    re.IGNORECASE,
)
# A bracketed group: a Markdown link's text or target is not one, so neither is read.
_GROUP = re.compile(r"(?<!\])\((?P<paren>[^()\[\]\n]{1,120})\)|\[(?P<square>[^()\[\]\n]{1,120})\](?!\()")
_TIME_TAG = re.compile(r"\[time=(?P<tag>[^\[\]\n]{0,60})\]", re.IGNORECASE)
_LEAD_NAME = re.compile(r"\A\s{0,20}\[name=[^\[\]\n]{0,80}\]")
# A group that names a unit but holds no number it could read: ask rather than guess. "Min" with
# a capital is a person, not a unit.
_ATTEMPT = re.compile(r"\b(?:min|mins|[Mm]inutes?|[Hh]ours?|hrs?)\b")
_OPTIONAL = re.compile(
    r"\((?:optional|if[ \t]time|not[ \t]a[ \t]priority)\)|\bif[ \t]there(?:[ \t]is|'s|’s)[ \t]time\b"
    r"|\bif[ \t]time[ \t]allows\b|\bif[ \t]we[ \t]have[ \t]time\b|\Aif[ \t]time\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Estimate:
    """What an agenda text says about its length."""

    title: str  # the text with the estimate taken out
    minutes: int | None  # None when the text gives no estimate
    written: str | None  # the estimate as written, without brackets: "~5min"
    optional: bool


def parse_estimate(text: str) -> Estimate:
    """Take the first time estimate out of an agenda text; ValueError if one is there but unreadable.

    In order: HackMD's `[time=5 minutes]`, an estimate in () or [] (taken out with its brackets
    unless something else is in them), then minutes written bare where an estimate stands.
    """
    optional = bool(_OPTIONAL.search(text))
    text = _LEAD_NAME.sub("", text, count=1)  # HackMD's presenter tag: the presenter is known
    found = _in_time_tag(text) or _in_group(text) or _bare(text)
    if found is None:
        for group in _GROUP.finditer(text):
            inside = group.group("paren") or group.group("square")
            if _ATTEMPT.search(inside) and not inside.startswith("name="):
                raise ValueError(f"I could not read the time estimate {group.group(0)!r}; "
                                 f"write it like {ESTIMATE_FORMS}")
        return Estimate(title=_tidy(text), minutes=None, written=None, optional=optional)
    match, start, end = found
    number = float(match.group("high") or match.group("low"))
    minutes = round(number * 60) if match.group("unit").lower().startswith("h") else round(number)
    if minutes <= 0 or minutes > MAX_ESTIMATE_MINUTES:
        raise ValueError(
            f"the estimate {match.group('inner')!r} is out of range; "
            f"give between 1 and {MAX_ESTIMATE_MINUTES} minutes, like {ESTIMATE_FORMS}"
        )
    title = _tidy(text[:start] + " " + text[end:])
    return Estimate(title=title, minutes=minutes, written=match.group("inner").strip(), optional=optional)


_Found = tuple[re.Match, int, int]  # the estimate, and the span of text it takes out of the title


def _in_time_tag(text: str) -> _Found | None:
    for tag in _TIME_TAG.finditer(text):
        if match := _GROUPED.fullmatch(tag.group("tag").strip()):
            return match, tag.start(), tag.end()
    return None


def _in_group(text: str) -> _Found | None:
    for group in _GROUP.finditer(text):
        inside = group.group("paren") or group.group("square")
        match = _GROUPED.search(inside)
        if match is None:
            continue
        rest = re.findall(r"\w+", inside[: match.start()] + inside[match.end():])
        # "(**last** 5 mins)" and "(5-10 min discussion)" only qualify the estimate; a name or a
        # sentence beside it ("[Tim, 5m]", "(Simon, 10 min)") stays in the title.
        if not rest or (group.group("paren") and len(rest) <= 2 and all(w.islower() for w in rest)):
            return match, group.start(), group.end()
        offset = group.start() + 1
        return match, offset + match.start(), offset + match.end()
    return None


def _bare(text: str) -> _Found | None:
    lead = len(text) - len(text.lstrip(" \t*_-:(["))
    tail = len(text.rstrip(" \t.!)*_"))
    for match in _BARE.finditer(text):
        if (match.start() <= lead or match.end() >= tail
                or text[match.end(): match.end() + 6].lstrip(" \t").startswith((":", "- ", "– "))):
            return match, match.start(), match.end()
    return None


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]+", " ", text).strip()
    return re.sub(r"\A[:\-–](?:\s|\Z)\s*", "", text)
