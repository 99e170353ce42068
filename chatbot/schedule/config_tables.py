"""The tables of meetings.toml as pydantic models: what each key may hold, and in the text of each
ValueError, what a new user reads when it holds something else."""

from __future__ import annotations

import datetime as dt
import re
import typing
from collections.abc import Callable
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, TypeAdapter

from chatbot.schedule.recurrence import parse_schedule
from chatbot.schedule.series import Series, Slot, Target, zone_hint, zone_info
from chatbot.text.durations import parse_offset
from chatbot.text.rollcall import DEFAULT_LAYOUT, parse_layout

__all__ = ["SKIP", "MeetingsFile", "SeriesTable", "Table", "inner_table"]

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SLACK_CHANNEL = re.compile(r"[CGD][A-Z0-9]+")
_ADMIN = re.compile(r"(slack|discord|terminal):\S+")


# --- one value each: the ValueError's text is the message the user reads ------------------------


def _kind(value: object) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text in quotes, got {_kind(value)} {value!r}")
    return value


def _slug(value: Any) -> str:
    if not _SLUG.fullmatch(_text(value)):
        raise ValueError(f"{value!r} is not a slug; use lowercase letters, digits and dashes, "
                         'at most 64, like "hubs" or "team-meeting"')
    return value


def _name(value: Any) -> str:
    if not _text(value).strip():
        raise ValueError('the name is empty; write e.g. name = "Team Meeting"')
    return value


def _schedule(value: Any) -> str:
    parse_schedule(_text(value))
    return value


def _time(value: Any) -> dt.time:
    if isinstance(value, dt.time) and not value.second and not value.microsecond:
        return value.replace(tzinfo=None)
    if isinstance(value, str) and (match := _TIME.fullmatch(value.strip())):
        return dt.time(int(match.group(1)), int(match.group(2)))
    raise ValueError(f'{value!r} is not a time of day; write 24-hour "HH:MM", e.g. "17:00" or "09:30"')


def _timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(zone_hint(value))
    zone_info(value)
    return value


def _offset(value: Any, example: str) -> dt.timedelta:
    if not isinstance(value, str):
        raise ValueError(f'expected a duration in quotes like "{example}", got {_kind(value)} {value!r}')
    return parse_offset(value)


def _duration(default: str, minimum: dt.timedelta | None) -> Callable[[Any], dt.timedelta]:
    def check(value: Any) -> dt.timedelta:
        offset = _offset(value, default)
        if minimum is not None and offset < minimum:
            need = "positive" if minimum else "zero or more"
            raise ValueError(f"{value!r} must be {need}, like \"{default}\"")
        return offset
    return check


def _reminder(value: Any) -> dt.timedelta:
    offset = _offset(value, "1d")
    if offset < dt.timedelta(0):
        raise ValueError(f"{value!r}: reminders count back from the start, so write them without a "
                         'minus, like "1d" for a day before')
    return offset


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f'{value!r} is not a date; write "YYYY-MM-DD", e.g. "2026-12-15"')


def _url(value: Any) -> str:
    value = _text(value).strip()
    if value and not re.match(r"https?://\S+$", value):
        raise ValueError(f"{value!r} is not a web address; write it like \"https://...\"")
    return value


def _admin(value: Any) -> str:
    if not isinstance(value, str) or not _ADMIN.fullmatch(value):
        raise ValueError(f'{value!r} is not an identity; write "slack:<user id>", "discord:<user id>" '
                         'or "terminal:<name>"')
    return value


def _roll_call(value: Any) -> str:
    parse_layout(_text(value))
    return " ".join(value.split())


def _slack_channel(value: Any) -> str:
    if isinstance(value, str) and _SLACK_CHANNEL.fullmatch(value.strip()):
        return value.strip()
    raise ValueError(f"{value!r} is not a Slack channel ID; copy the ID (like \"C0123456789\") from "
                     "the channel's details, not its #name")


def _discord_channel(value: Any) -> str:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    raise ValueError(f"{value!r} is not a Discord channel ID; use the number from \"Copy Channel ID\", "
                     "like 123456789012345678")


def _shaped(kind: type, message: str) -> BeforeValidator:
    """Refuse a value that is not a `kind` (a list, a table) with `message`, before its parts."""
    def check(value: Any) -> Any:
        if not isinstance(value, kind):
            raise ValueError(message.format(value=value))
        return value
    return BeforeValidator(check)


# --- the tables of the file ------------------------------------------------------------------------


class Table(BaseModel):
    """A TOML table: unknown keys are refused, so a typo is told rather than ignored."""

    model_config = ConfigDict(extra="forbid")
    where: ClassVar[str]  # how a message names this table
    missing: ClassVar[str]  # what a message says when a required key is missing


class SlotTable(Table):
    where: ClassVar[str] = "an alternate slot"
    missing: ClassVar[str] = 'each alternate slot needs a time, like { time = "09:00" }'
    time: Annotated[dt.time, BeforeValidator(_time)]
    timezone: Annotated[str | None, BeforeValidator(_timezone)] = None  # None: the series' zone


class TargetTable(Table):
    """Where a series posts on one platform; each field of SeriesTable holding one is a target,
    named by its key, so a platform's table is all a new adapter adds here."""

    channel: str
    digest_channel: str | None = None

    def target(self) -> Target:
        return Target(self.channel, self.digest_channel)


class SlackTable(TargetTable):
    where: ClassVar[str] = "[series.slack]"
    missing: ClassVar[str] = 'the required key is missing; add channel = "C0123456789"'
    channel: Annotated[str, BeforeValidator(_slack_channel)]
    digest_channel: Annotated[str | None, BeforeValidator(_slack_channel)] = None


class DiscordTable(TargetTable):
    where: ClassVar[str] = "[series.discord]"
    missing: ClassVar[str] = "the required key is missing; add channel = 123456789012345678"
    channel: Annotated[str, BeforeValidator(_discord_channel)]
    digest_channel: Annotated[str | None, BeforeValidator(_discord_channel)] = None


_REQUIRED = ("id", "name", "schedule", "time")


class SeriesTable(Table):
    """One [[series]]; the field order is the order of "known keys" in messages."""

    where: ClassVar[str] = "[[series]]"
    missing: ClassVar[str] = (
        "this required key is missing; every [[series]] needs " + ", ".join(_REQUIRED)
        + ' (e.g. id = "hubs", schedule = "every 3rd tuesday", time = "17:00")'
    )
    id: Annotated[str, BeforeValidator(_slug)]
    name: Annotated[str, BeforeValidator(_name)]
    schedule: Annotated[str, BeforeValidator(_schedule)]
    time: Annotated[dt.time, BeforeValidator(_time)]
    timezone: Annotated[str, BeforeValidator(_timezone)] = "UTC"
    duration: Annotated[dt.timedelta, BeforeValidator(_duration("60m", dt.timedelta(seconds=1)))] = \
        dt.timedelta(minutes=60)
    start: Annotated[dt.date | None, BeforeValidator(_date)] = None
    video_url: Annotated[str, BeforeValidator(_url)] = ""
    notes_url: Annotated[str, BeforeValidator(_url)] = ""
    issue_url: Annotated[str, BeforeValidator(_url)] = ""
    calendar_url: Annotated[str, BeforeValidator(_url)] = ""
    reminders: Annotated[
        tuple[Annotated[dt.timedelta, BeforeValidator(_reminder)], ...],
        _shaped(list, 'expected a list like ["7d", "1d", "1h"], got {value!r}'),
        AfterValidator(lambda found: tuple(sorted(set(found), reverse=True))),  # earliest first, once
    ] = Series.__dataclass_fields__["reminders"].default
    updates_due: Annotated[dt.timedelta, BeforeValidator(_duration("0m", None))] = dt.timedelta(0)
    chair_item: Annotated[dt.timedelta, BeforeValidator(_duration("2m", dt.timedelta(0)))] = \
        dt.timedelta(minutes=2)
    alternate: Annotated[
        tuple[Annotated[SlotTable, _shaped(dict, 'expected {{ time = "09:00", timezone = '
                                                 '"Europe/London" }}, got {value!r}')], ...],
        _shaped(list, 'expected a list of slots like [{{ time = "09:00", timezone = "Europe/London" }}]'),
    ] = ()
    skip: Any = ()  # read once the series exists: a skipped date must be one of its dates
    roll_call: Annotated[str, BeforeValidator(_roll_call)] = DEFAULT_LAYOUT
    admins: Annotated[
        tuple[Annotated[str, BeforeValidator(_admin)], ...],
        _shaped(list, 'expected a list like ["slack:U0123ABCD", "discord:1234"], got {value!r}'),
    ] = ()
    slack: Annotated[
        SlackTable | None, _shaped(dict, 'expected a [series.slack] table with channel = "C0123456789"')
    ] = None
    discord: Annotated[
        DiscordTable | None,
        _shaped(dict, "expected a [series.discord] table with channel = 123456789012345678"),
    ] = None

    def to_series(self) -> Series:
        """The series this table declares, skipping no date yet; ValueError if its rule cannot run."""
        targets = {platform: table.target() for platform in type(self).model_fields
                   if isinstance(table := getattr(self, platform), TargetTable)}
        return Series(
            id=self.id, name=self.name, schedule=self.schedule, rrule=parse_schedule(self.schedule),
            time=self.time, timezone=self.timezone, duration=self.duration, video_url=self.video_url,
            notes_url=self.notes_url, issue_url=self.issue_url, calendar_url=self.calendar_url,
            reminders=self.reminders, updates_due=self.updates_due, chair_item=self.chair_item,
            alternate=tuple(Slot(s.time, s.timezone or self.timezone) for s in self.alternate),
            admins=self.admins, targets=targets, start=self.start, roll_call=self.roll_call,
        )


_DECLARE = (
    "declare each meeting series as a [[series]] table with id, name, schedule and "
    'time, e.g.\n[[series]]\nid = "hubs"\nname = "Team Meeting"\n'
    'schedule = "every 3rd tuesday"\ntime = "17:00"'
)


def _series_tables(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value or not all(isinstance(t, dict) for t in value):
        raise ValueError(_DECLARE)
    return value


class MeetingsFile(Table):
    where: ClassVar[str] = "the top level"
    missing: ClassVar[str] = _DECLARE
    series: Annotated[list[Any], BeforeValidator(_series_tables)]  # each checked on its own, in order


SKIP = TypeAdapter(Annotated[
    tuple[Annotated[dt.date, BeforeValidator(_date)], ...],
    _shaped(list, 'expected a list of dates like ["2026-12-15"], got {value!r}'),
])


def inner_table(annotation: Any) -> type[Table] | None:
    """The table model inside a field's type (SlotTable in tuple[SlotTable, ...]), if any."""
    if isinstance(annotation, type) and issubclass(annotation, Table):
        return annotation
    for arg in typing.get_args(annotation):
        if found := inner_table(arg):
            return found
    return None
