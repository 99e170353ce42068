"""Reading meetings.toml: pydantic models check every key, and each problem is told with its file,
line and key and how to fix it, because that message is what a new user sees first."""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chatbot.schedule.config_tables import SKIP, MeetingsFile, SeriesTable, Table, inner_table
from chatbot.schedule.series import UTC, Config, Series

__all__ = ["EXAMPLE_CONFIG_TOML", "ConfigError", "example_config", "load_config", "parse_config"]

KeyPath = tuple[str | int, ...]


class ConfigError(ValueError):
    """A meeting config that cannot be used; the message names file, line and key and the fix."""

    def __init__(
        self, message: str, *, source: str = "", line: int | None = None, key: str | None = None
    ) -> None:
        super().__init__(message)
        self.source = source
        self.line = line
        self.key = key


# --- reading a file ------------------------------------------------------------------------------


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
    return _Reader(text, source).read(data)


class _Reader:
    """Checks one document top-down, series by series, and names the first problem it meets."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.ids: dict[int, str] = {}  # series index -> id, to name a series in messages

    def read(self, data: dict[str, Any]) -> Config:
        self.check(MeetingsFile.model_validate, MeetingsFile, data, ())
        tables = data["series"]
        self.ids = {
            i: t["id"] for i, t in enumerate(tables) if isinstance(t.get("id"), str) and t["id"]
        }
        seen: dict[str, int] = {}
        series = []
        for index, table in enumerate(tables):
            one = self.series(table, ("series", index))
            if one.id in seen:
                first = key_line(self.text, ("series", seen[one.id], "id"))
                raise self.error(
                    ("series", index, "id"),
                    f"the id {one.id!r} is already used by the series on line {first}; "
                    "give each series its own id",
                )
            seen[one.id] = index
            series.append(one)
        return Config(series=tuple(series), source=self.source)

    def series(self, raw: dict[str, Any], path: KeyPath) -> Series:
        table = self.check(SeriesTable.model_validate, SeriesTable, raw, path)
        try:
            series = table.to_series()
        except ValueError as exc:
            raise self.error((*path, "schedule"), str(exc)) from None
        skip = self.check(SKIP.validate_python, None, raw.get("skip", []), (*path, "skip"))
        for i, day in enumerate(skip):
            if series.occurrence_on(day) is None:
                # A date the rule never meets on is almost always a typo: say which dates are near.
                raise self.error(
                    (*path, "skip", i),
                    f"{day} is not a meeting date of this series ({series.rrule}); "
                    f"the nearest are {_nearby(series, day)}",
                )
        return dataclasses.replace(series, skip=frozenset(skip)) if skip else series

    def check(self, validate: Callable[[Any], Any], model: type[Table] | None, raw: Any,
              path: KeyPath) -> Any:
        try:
            return validate(raw)
        except ValidationError as exc:
            loc, message = _first_problem(exc, model, raw)
            if loc == ("series",) and not path and "series" not in raw:
                loc = ()  # no [[series]] at all: there is no key to point at
            raise self.error((*path, *loc), message) from None

    def error(self, path: KeyPath, message: str) -> ConfigError:
        line = key_line(self.text, path)
        where = f"{self.source}:{line}" if line else self.source
        key = _key_name(path)
        what = f"key {key!r}: " if key else ""
        return ConfigError(
            f"{where}: {self.label(path)}{what}{message}", source=self.source, line=line, key=key or None
        )

    def label(self, path: KeyPath) -> str:
        if len(path) >= 2 and path[0] == "series" and isinstance(path[1], int):
            sid = self.ids.get(path[1])
            return f"[[series]] {sid!r}, " if sid else f"[[series]] #{path[1] + 1}, "
        return ""


def _first_problem(exc: ValidationError, model: type[Table] | None, raw: Any) -> tuple[KeyPath, str]:
    """The problem a reader going down the table meets first, and what to tell about it.

    At each level that is an unknown key (in the file's order), then a missing one, then a bad
    value in the order of the fields; pydantic lists them all, in an order of its own.
    """
    def table_of(loc: tuple) -> tuple[type[Table] | None, Any]:
        here, node = model, raw
        for part in loc[:-1]:
            node = node[part]
            if isinstance(part, str) and here is not None:
                here = inner_table(here.model_fields[part].annotation)
        return here, node

    def rank(error: Any) -> list[tuple[int, int]]:
        loc, key = error["loc"], []
        for depth in range(len(loc)):
            here, node = table_of(loc[: depth + 1])
            part, last = loc[depth], depth == len(loc) - 1
            if isinstance(part, int) or here is None:
                key.append((2, part if isinstance(part, int) else 0))
            elif last and error["type"] == "extra_forbidden":
                key.append((0, list(node).index(part)))
            else:
                key.append((1 if last and error["type"] == "missing" else 2,
                            list(here.model_fields).index(part)))
        return key

    error = min(exc.errors(), key=rank)
    loc = tuple(error["loc"])
    here, _ = table_of(loc)
    if error["type"] == "extra_forbidden" and here is not None:
        known = list(here.model_fields)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return loc, f"unknown key in {here.where}; {hint}known keys are " + ", ".join(known)
    if error["type"] == "missing" and here is not None:
        return loc, here.missing
    return loc, str(error.get("ctx", {}).get("error", error["msg"]))


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


def _key_name(path: KeyPath) -> str:
    # ("series", 0, "alternate", 1, "timezone") -> "alternate[1].timezone"
    rest = path[2:] if len(path) >= 2 and path[0] == "series" and isinstance(path[1], int) else path
    name = ""
    for part in rest:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    return name


def key_line(text: str, path: KeyPath) -> int | None:
    """The 1-based line of the key at `path`, or else of the nearest table around it that has one.

    tomllib keeps no positions, and tomlkit keeps the text exactly: put a mark where the key is
    written, render, and count the lines before the mark.
    """
    from tomlkit.exceptions import TOMLKitError  # only when a message needs a line

    mark = "@@chatbot-key-line@@"
    while mark in text:
        mark += "@"
    while path:
        try:
            rendered = _marked(text, path, mark)
        except TOMLKitError:  # tomlkit refusing a document tomllib took: no line rather than a crash
            return None
        if rendered is not None:
            return rendered.count("\n", 0, rendered.index(mark)) + 1
        path = path[:-1]
    return None


def _marked(text: str, path: KeyPath, mark: str) -> str | None:
    """The document rendered with `mark` where the key or table at `path` is written, if it is."""
    import tomlkit
    from tomlkit.items import AoT, Array

    document = tomlkit.parse(text)
    parent, node = None, document
    for part in path:
        parent = node
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(part, str) and isinstance(node, Mapping) and part in node:
            node = node.item(part) if hasattr(node, "item") else node[part]
        else:
            return None
    head = node[0] if isinstance(node, AoT) else node
    if isinstance(parent, Array):
        parent[path[-1]] = mark  # an array element has no indent of its own: replace it
    elif hasattr(head, "trivia"):
        head.trivia.indent = mark + head.trivia.indent
    rendered = document.as_string()
    if mark in rendered:
        return rendered
    if isinstance(node, Mapping) and (first := next(iter(node), None)) is not None:
        # A table made by dotted keys (slack.channel = ...), or written in parts, has no header
        # of its own: point at its first key.
        return _marked(text, (*path, first), mark)
    return None


# --- the built-in example ------------------------------------------------------------------------

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
roll_call = "name / institution / GitHub handle"   # the roll call's header: the order people sign in

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
