"""Meeting series: schedules, recurrence across DST, rotation, skips, links, ICS and config errors."""

from __future__ import annotations

import dataclasses
import re
import textwrap
import zoneinfo
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import icalendar
import pytest
from dateutil import rrule as du_rrule
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chatbot.schedule.calendar import to_ics
from chatbot.schedule.config import ConfigError, example_config, load_config, parse_config
from chatbot.schedule.recurrence import parse_schedule
from chatbot.schedule.series import Config, Occurrence, Series, Slot, Target

UTC = timezone.utc
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def series(schedule: str = "every 3rd tuesday", **fields) -> Series:
    fields.setdefault("time", time(17, 0))
    return Series(id="s", name="Team Meeting", schedule=schedule, rrule=parse_schedule(schedule), **fields)


# --- schedules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("every 3rd tuesday", "FREQ=MONTHLY;BYDAY=+3TU"),
        ("Every Third Tuesday of the Month", "FREQ=MONTHLY;BYDAY=+3TU"),
        ("monthly on the first monday", "FREQ=MONTHLY;BYDAY=+1MO"),
        ("every month on the 1st monday", "FREQ=MONTHLY;BYDAY=+1MO"),
        ("every last friday", "FREQ=MONTHLY;BYDAY=-1FR"),
        ("every last friday of each month", "FREQ=MONTHLY;BYDAY=-1FR"),
        ("every 2 weeks on thursday", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH"),
        ("every other week on thursday", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH"),
        ("every other thursday", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH"),
        ("every week on monday", "FREQ=WEEKLY;BYDAY=MO"),
        ("weekly on wednesday", "FREQ=WEEKLY;BYDAY=WE"),
        ("WEEKLY ON WEDNESDAYS", "FREQ=WEEKLY;BYDAY=WE"),
        ("every monday", "FREQ=WEEKLY;BYDAY=MO"),
        ("every mon, wed and fri", "FREQ=WEEKLY;BYDAY=MO,WE,FR"),
        ("every weekday", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
        ("every day", "FREQ=DAILY"),
        ("daily", "FREQ=DAILY"),
        ("every 3 days", "FREQ=DAILY;INTERVAL=3"),
        ("every 2nd and 4th wednesday", "FREQ=MONTHLY;BYDAY=+2WE,+4WE"),
        ("every second and fourth wednesday of the month", "FREQ=MONTHLY;BYDAY=+2WE,+4WE"),
        ("every 2 months on the first monday", "FREQ=MONTHLY;INTERVAL=2;BYDAY=+1MO"),
        ("monthly on the 15th", "FREQ=MONTHLY;BYMONTHDAY=15"),
        ("the last day of the month", "FREQ=MONTHLY;BYMONTHDAY=-1"),
        ("first weekday of the month", "FREQ=MONTHLY;BYSETPOS=1;BYDAY=MO,TU,WE,TH,FR"),
    ],
)
def test_english_schedules(text: str, rule: str) -> None:
    assert parse_schedule(text) == rule


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("FREQ=MONTHLY;BYDAY=+3TU", "FREQ=MONTHLY;BYDAY=+3TU"),
        ("RRULE:FREQ=MONTHLY;BYDAY=+3TU", "FREQ=MONTHLY;BYDAY=+3TU"),
        ("rrule:freq=monthly;byday=3tu", "FREQ=MONTHLY;BYDAY=+3TU"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;WKST=SU", "FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=TH"),
        ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO,TU,WE,TH,FR"),
        ("FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20261231T170000Z", "FREQ=MONTHLY;UNTIL=20261231T000000;BYDAY=-1FR"),
    ],
)
def test_rrule_passthrough(text: str, rule: str) -> None:
    assert parse_schedule(text) == rule
    du_rrule.rrulestr("RRULE:" + rule, dtstart=datetime(2026, 1, 1))  # still a valid RRULE


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "every 3rd tuesday"),
        ("every tusday", "did you mean 'tuesday'"),
        ("weekly", "weekly on monday"),
        ("monthly on tuesday", "every 3rd tuesday"),
        ("every 6th tuesday", "first to fifth"),
        ("every 2 tuesday", "every 2 weeks on thursday"),
        ("FREQ=HOURLY", "FREQ=DAILY, WEEKLY, MONTHLY or YEARLY"),
        ("FREQ=DAILY;BYHOUR=9", "`time`"),
        ("FREQ=MONTHLY;BYDAY=XX", "FREQ=MONTHLY;BYDAY=+3TU"),
        ("DTSTART:20260101\nRRULE:FREQ=DAILY", "`start`"),
    ],
)
def test_bad_schedules_explain_the_forms(text: str, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_schedule(text)
    assert says in str(caught.value)


def test_schedule_dates() -> None:
    after = datetime(2026, 1, 1, tzinfo=UTC)
    dates = [o.date for o in series("every 2nd and 4th wednesday").occurrences(after, 4)]
    assert dates == [date(2026, 1, 14), date(2026, 1, 28), date(2026, 2, 11), date(2026, 2, 25)]
    dates = [o.date for o in series("every last friday").occurrences(after, 2)]
    assert dates == [date(2026, 1, 30), date(2026, 2, 27)]


def test_interval_rules_are_anchored_by_start_not_by_the_query() -> None:
    biweekly = series("every 2 weeks on thursday", start=date(2026, 1, 8))
    first = [o.date for o in biweekly.occurrences(datetime(2025, 1, 1, tzinfo=UTC), 3)]
    assert first == [date(2026, 1, 8), date(2026, 1, 22), date(2026, 2, 5)]
    later = biweekly.occurrences(datetime(2031, 6, 1, tzinfo=UTC), 5)
    assert all((o.date - date(2026, 1, 8)).days % 14 == 0 for o in later)
    # Without a start, the phase is fixed too: the same dates whichever `after` is asked.
    plain = series("every 2 weeks on thursday")
    ten = plain.occurrences(datetime(2026, 1, 1, tzinfo=UTC), 10)
    assert plain.occurrences(ten[0].start, 9) == ten[1:]
    assert plain.occurrences(datetime(2040, 1, 1, tzinfo=UTC), 1)[0].date == date(2040, 1, 12)


def test_count_needs_a_start() -> None:
    with pytest.raises(ValueError, match="start"):
        series("FREQ=WEEKLY;COUNT=3;BYDAY=MO")
    done = series("FREQ=WEEKLY;COUNT=3;BYDAY=MO", start=date(2026, 1, 1))
    assert len(done.occurrences(datetime(2025, 1, 1, tzinfo=UTC), 10)) == 3


def test_rule_with_no_dates_is_refused() -> None:
    with pytest.raises(ValueError, match="no date"):
        series("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30")


# --- recurrence in time zones ------------------------------------------------------------------


def test_dst_keeps_the_local_wall_time() -> None:
    la = zoneinfo.ZoneInfo("America/Los_Angeles")
    s = series("every 3rd tuesday", timezone="America/Los_Angeles")
    occ = s.occurrences(datetime(2026, 1, 1, tzinfo=UTC), 24)
    assert len(occ) == 24
    assert occ[0].date == date(2026, 1, 20) and occ[-1].date == date(2027, 12, 21)
    for o in occ:
        assert o.start.tzinfo is not None and o.start.utcoffset() == timedelta(0)
        local = o.start.astimezone(la)
        assert (local.date(), local.time()) == (o.date, time(17, 0))
        assert o.local_start == local
        assert o.end - o.start == timedelta(minutes=60)
    assert {o.start.hour for o in occ} == {0, 1}  # 17:00 PDT is 00:00 UTC, PST is 01:00 UTC
    assert occ[0].start == datetime(2026, 1, 21, 1, 0, tzinfo=UTC)
    assert occ[5].start == datetime(2026, 6, 17, 0, 0, tzinfo=UTC)


def test_nonexistent_and_ambiguous_wall_times() -> None:
    s = series("every day", time=time(2, 30), timezone="America/New_York")
    by_date = {o.date: o for o in s.occurrences(datetime(2026, 3, 6, tzinfo=UTC), 4)}
    # 02:30 does not exist on 2026-03-08: the meeting moves forward by the gap, to 03:30 EDT.
    assert by_date[date(2026, 3, 8)].local_start.time() == time(3, 30)
    assert by_date[date(2026, 3, 8)].start == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    s = series("every day", time=time(1, 30), timezone="America/New_York")
    (o,) = [o for o in s.occurrences(datetime(2026, 10, 31, tzinfo=UTC), 3) if o.date == date(2026, 11, 1)]
    assert o.start == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # the first 01:30, still EDT


def test_after_must_be_aware_and_is_exclusive() -> None:
    s = series()
    with pytest.raises(ValueError, match="aware"):
        s.occurrences(datetime(2026, 1, 1), 1)
    (first,) = s.occurrences(datetime(2026, 1, 1, tzinfo=UTC), 1)
    (second,) = s.occurrences(first.start, 1)
    assert second.date == date(2026, 2, 17)
    (same,) = s.occurrences(first.start - timedelta(seconds=1), 1)
    assert same == first
    assert s.occurrences(first.start, 0) == []


def test_alternate_rotation_is_by_calendar_month() -> None:
    s = series(
        timezone="UTC",
        alternate=(Slot(time(9, 0), "Europe/London"), Slot(time(10, 0), "Asia/Tokyo")),
    )
    occ = s.occurrences(datetime(2026, 1, 1, tzinfo=UTC), 6)
    slots = [(o.time, o.timezone) for o in occ]
    assert [o.date.month for o in occ] == [1, 2, 3, 4, 5, 6]
    # (2026 * 12 + month - 1) % 3: January is index 0 (base) in 2026.
    expected = [(time(17), "UTC"), (time(9), "Europe/London"), (time(10), "Asia/Tokyo")] * 2
    assert slots == expected
    for o in occ:
        local = o.start.astimezone(zoneinfo.ZoneInfo(o.timezone))
        assert (local.date(), local.time()) == (o.date, o.time)
    # The rotation does not depend on where the query starts.
    later = s.occurrences(datetime(2026, 3, 1, tzinfo=UTC), 4)
    assert later == occ[2:6]
    assert s.slot_for(date(2026, 2, 17)) == Slot(time(9, 0), "Europe/London")
    assert s.slots[0] == Slot(time(17), "UTC")


def test_dst_warning_compares_with_the_last_meeting_in_the_same_zone() -> None:
    from chatbot.text.posts import dst_warning

    # Los Angeles and London alternate month by month (January in LA): the meeting before an LA
    # meeting is in London. LA's clocks moved on 8 March, between its January and March meetings;
    # London's on 29 March, between its February and April meetings.
    s = series(timezone="America/Los_Angeles", alternate=(Slot(time(9, 0), "Europe/London"),))
    jan, feb, mar, apr, may = s.occurrences(datetime(2026, 1, 1, tzinfo=UTC), 5)
    assert [o.timezone for o in (jan, feb, mar, apr, may)] == ["America/Los_Angeles", "Europe/London"] * 2 + [
        "America/Los_Angeles"]
    assert s.previous(mar) == feb and s.previous(mar, same_zone=True) == jan
    assert dst_warning(mar, s.previous(mar)) == ""  # another zone: nothing to compare with
    assert dst_warning(mar, jan) == (
        "🕑 Clocks changed in America/Los_Angeles since the last meeting there: "
        "it is still 17:00 there, but 00:00 UTC (was 01:00 UTC).")
    assert "Clocks changed in Europe/London" in dst_warning(apr, s.previous(apr, same_zone=True))
    assert dst_warning(may, s.previous(may, same_zone=True)) == ""  # March and May agree in LA
    assert s.previous(jan, same_zone=True).date == date(2025, 11, 18)
    first = series(start=date(2026, 1, 1), timezone="UTC")
    assert first.previous(first.occurrences(datetime(2026, 1, 1, tzinfo=UTC), 1)[0]) is None


def test_alternate_zones_far_apart_still_give_increasing_starts() -> None:
    # Base at 23:30 in UTC-10, alternate early in UTC+14: month ends swap order for a daily rule.
    s = series(
        "every day",
        time=time(23, 30),
        timezone="Pacific/Honolulu",
        alternate=(Slot(time(0, 30), "Pacific/Kiritimati"),),
    )
    occ = s.occurrences(datetime(2026, 1, 25, tzinfo=UTC), 20)
    starts = [o.start for o in occ]
    assert starts == sorted(set(starts)) and len(occ) == 20
    dates = [o.date for o in occ]
    assert dates.index(date(2026, 2, 1)) < dates.index(date(2026, 1, 31))


def test_skip_compares_local_dates() -> None:
    # 17:00 in Los Angeles on 2026-03-17 is already 2026-03-18 in UTC: the local date counts.
    s = series(timezone="America/Los_Angeles", skip=frozenset({date(2026, 3, 17)}))
    occ = s.occurrences(datetime(2026, 1, 1, tzinfo=UTC), 3)
    assert [o.date for o in occ] == [date(2026, 1, 20), date(2026, 2, 17), date(2026, 4, 21)]
    occ = s.occurrences(datetime(2026, 1, 1, tzinfo=UTC), 3, include_skipped=True)
    assert [(o.date, o.skipped) for o in occ] == [
        (date(2026, 1, 20), False),
        (date(2026, 2, 17), False),
        (date(2026, 3, 17), True),
    ]
    assert s.occurrence_on(date(2026, 3, 17)).skipped
    assert s.occurrence_on(date(2026, 4, 21)) == Occurrence(
        series_id="s",
        date=date(2026, 4, 21),
        start=datetime(2026, 4, 22, 0, 0, tzinfo=UTC),
        end=datetime(2026, 4, 22, 1, 0, tzinfo=UTC),
        time=time(17, 0),
        timezone="America/Los_Angeles",
        skipped=False,
    )
    assert s.occurrence_on(date(2026, 4, 22)) is None


# --- links and calendars -----------------------------------------------------------------------


def test_arewemeetingyet_url_for_the_reference_meeting() -> None:
    hubs = example_config().get("hubs")
    meeting = hubs.occurrence_on(date(2022, 7, 19))
    assert meeting is not None and meeting.start == datetime(2022, 7, 19, 17, 0, tzinfo=UTC)
    assert (
        meeting.arewemeetingyet_url("Hubs Team Meeting")
        == "https://arewemeetingyet.com/UTC/2022-07-19/17:00/Hubs-Team-Meeting"
    )


def test_arewemeetingyet_url_zone_title_and_join_button() -> None:
    s = series(timezone="Europe/London")
    o = s.occurrence_on(date(2026, 7, 21))
    assert o.arewemeetingyet_url("Hubs  Team/Meeting #3?") == (
        "https://arewemeetingyet.com/Europe/London/2026-07-21/17:00/Hubs-Team%2FMeeting-%233%3F"
    )
    url = o.arewemeetingyet_url("Hubs", join_url="https://meet.jit.si/Hubs")
    assert url.endswith("/Hubs#eyJ1cmwiOiJodHRwczovL21lZXQuaml0LnNpL0h1YnMifQ==")
    # Zones that are not UTC or Continent/City are given in UTC, where the site is sure to work.
    o = series(timezone="America/Argentina/Buenos_Aires").occurrence_on(date(2026, 7, 21))
    assert o.arewemeetingyet_url("X") == "https://arewemeetingyet.com/UTC/2026-07-21/20:00/X"


def test_ics_round_trip() -> None:
    s = dataclasses.replace(
        load_config(FIXTURES / "meetings.toml").get("hubs"), skip=frozenset({date(2026, 12, 15)})
    )
    occ = s.occurrences(datetime(2026, 6, 1, tzinfo=UTC), 12, include_skipped=True)
    stamp = datetime(2026, 5, 1, tzinfo=UTC)
    data = to_ics(s, occ, stamp=stamp)
    assert data == to_ics(s, occ, stamp=stamp)
    cal = icalendar.Calendar.from_ical(data)
    events = cal.walk("VEVENT")
    assert len(events) == 12
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == 12 and uids[0] == "hubs-20260616@chatbot"
    for event, o in zip(events, occ):
        assert event.decoded("DTSTART") == o.start and event.decoded("DTEND") == o.end
        assert event.decoded("DTSTART").utcoffset() == timedelta(0)
        assert str(event["SUMMARY"]) == "JupyterHub and BinderHub Team Meeting"
        assert str(event["URL"]) == "https://meet.jit.si/HubsTeamMeeting"
        description = str(event["DESCRIPTION"])
        assert "https://meet.jit.si/HubsTeamMeeting" in description
        assert "https://hackmd.io/@sgibson91/hubs-team-meeting" in description
        assert str(event["STATUS"]) == ("CANCELLED" if o.skipped else "CONFIRMED")
    assert sum(o.skipped for o in occ) == 1


# --- config files ------------------------------------------------------------------------------


def test_full_fixture_loads() -> None:
    config = load_config(FIXTURES / "meetings.toml")
    assert config.source.endswith("meetings.toml") and config.ids == ("hubs",)
    hubs = config.get("hubs")
    assert hubs.rrule == "FREQ=MONTHLY;BYDAY=+3TU" and hubs.schedule == "FREQ=MONTHLY;BYDAY=+3TU"
    assert (hubs.time, hubs.timezone, hubs.duration) == (time(17), "UTC", timedelta(minutes=60))
    assert hubs.reminders == (timedelta(days=7), timedelta(days=1), timedelta(hours=1))
    assert (hubs.updates_due, hubs.chair_item) == (timedelta(0), timedelta(minutes=2))
    assert hubs.alternate == (Slot(time(9), "Europe/London"),)
    assert hubs.skip == frozenset({date(2026, 12, 15)})
    assert hubs.targets["slack"] == Target("C0123456789", "C0987654321")
    assert hubs.targets["discord"] == Target("123456789012345678", "123456789012345679")
    assert (hubs.issue_url, hubs.calendar_url) == ("", "")


def test_example_config_is_the_fixture_without_channels() -> None:
    example = example_config()
    assert isinstance(example, Config)
    fixture = load_config(FIXTURES / "meetings.toml").get("hubs")
    assert example.get("hubs") == dataclasses.replace(fixture, targets={})


def test_defaults_and_other_value_forms() -> None:
    config = parse_config(
        textwrap.dedent(
            """\
            [[series]]
            id = "dev-sync"
            name = "Dev sync"
            schedule = "every 2 weeks on thursday"
            time = 09:30:00
            start = 2026-01-08
            reminders = ["1h", "1d", "1h"]
            skip = [2026-01-22]
            admins = ["slack:U123", "discord:1234", "terminal:min"]
            discord.channel = "123"

            [[series.alternate]]
            time = "18:00"
            """
        )
    )
    s = config.get("dev-sync")
    assert (s.time, s.timezone, s.duration, s.start) == (time(9, 30), "UTC", timedelta(hours=1), date(2026, 1, 8))
    assert s.reminders == (timedelta(days=1), timedelta(hours=1))
    assert s.alternate == (Slot(time(18), "UTC"),)
    assert s.skip == frozenset({date(2026, 1, 22)})
    assert s.admins == ("slack:U123", "discord:1234", "terminal:min")
    assert s.targets == {"discord": Target("123")}
    with pytest.raises(KeyError, match="dev-sync"):
        config.get("hubs")


BASE = """\
[[series]]
id = "hubs"
name = "Hubs"
schedule = "every 3rd tuesday"
time = "17:00"
"""

SECOND = """\

[[series]]
id = "other"
name = "Other"
schedule = "weekly on monday"
time = "09:00"
"""


def config_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="meetings.toml")
    return caught.value


def line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the text")


@pytest.mark.parametrize(
    ("text", "key", "needle", "says"),
    [
        # unknown keys, at every level
        ('title = "x"\n' + BASE, "title", "title =", "known keys are series"),
        (BASE + SECOND + 'timezon = "UTC"\n', "timezon", "timezon", "did you mean 'timezone'"),
        (
            BASE + '[series.slack]\nchannel = "C1"\n' + SECOND + '[series.slack]\nchannel = "C2"\nchanel = "C3"\n',
            "slack.chanel",
            "chanel =",
            "did you mean 'channel'",
        ),
        (BASE + "[series.discord]\nchannel = 1\nthread = 2\n", "discord.thread", "thread", "digest_channel"),
        (BASE + 'slack.chanel = "C1"\n', "slack.chanel", "slack.chanel", "channel"),
        (
            BASE + 'alternate = [\n  { time = "09:00", timezone = "Europe/London" },\n'
            '  { time = "10:00", zone = "Asia/Tokyo" },\n]\n',
            "alternate[1].zone",
            "zone = \"Asia",
            "did you mean 'timezone'",
        ),
        (
            BASE + '[[series.alternate]]\ntime = "09:00"\n\n[[series.alternate]]\ntime = "10:00"\nzone = "x"\n',
            "alternate[1].zone",
            "zone =",
            "timezone",
        ),
        (
            BASE.replace('name = "Hubs"', 'name = """Hubs\n[[series]]\ncolour = "red"\n"""')
            + "colour = 'blue'\n",
            "colour",
            "colour = 'blue'",
            "known keys",
        ),
        (
            "# CRLF, quoted keys, spaced headers\r\n" + BASE.replace("\n", "\r\n")
            + '[ series . slack ] # x\r\n\t"channel" = "C1"\r\n"chanel" = \'C2\'\r\n',
            "slack.chanel",
            '"chanel"',
            "channel",
        ),
        # missing and mistyped values
        (BASE.replace('time = "17:00"\n', ""), "time", "[[series]]", "required"),
        (BASE + SECOND.replace('name = "Other"\n', ""), "name", 7, "required"),
        (BASE.replace('name = "Hubs"', "name = 5"), "name", "name =", "text in quotes"),
        (BASE.replace('id = "hubs"', 'id = "Hubs Team"'), "id", "id =", "lowercase letters, digits and dashes"),
        (BASE + SECOND.replace('"other"', '"hubs"'), "id", 8, "already used by the series on line 2"),
        (BASE + 'timezone = "Europe/Londn"\n', "timezone", "timezone", "did you mean 'Europe/London'"),
        (BASE + 'timezone = "america/los_angeles"\n', "timezone", "timezone", "'America/Los_Angeles'"),
        (BASE + "timezone = 1\n", "timezone", "timezone", "IANA"),
        (BASE.replace("every 3rd tuesday", "FREQ=MONTHLY;BYDAY=XX"), "schedule", "schedule", "BYDAY"),
        (BASE.replace("every 3rd tuesday", "every tusday"), "schedule", "schedule", "did you mean 'tuesday'"),
        (BASE.replace("17:00", "25:00"), "time", "time =", '"HH:MM"'),
        (
            BASE + 'alternate = [{ time = "9am", timezone = "Europe/London" }]\n',
            "alternate[0].time",
            "alternate",
            '"HH:MM"',
        ),
        (BASE + 'duration = "sixty"\n', "duration", "duration", '"1h30m"'),
        (BASE + "duration = 60\n", "duration", "duration", '"60m"'),
        (BASE + 'duration = "0m"\n', "duration", "duration", "positive"),
        (BASE + 'chair_item = "-2m"\n', "chair_item", "chair_item", "zero or more"),
        (BASE + 'reminders = [\n  "1d",\n  "soon",\n]\n', "reminders[1]", '"soon"', "duration"),
        (BASE + 'reminders = ["-1h"]\n', "reminders[0]", "reminders", "without a minus"),
        (BASE + 'reminders = "1d"\n', "reminders", "reminders", '["7d", "1d", "1h"]'),
        (BASE + 'skip = ["2026-12-15", "15/12/2026"]\n', "skip[1]", "skip", '"YYYY-MM-DD"'),
        (BASE + 'skip = ["2026-13-01"]\n', "skip[0]", "skip", '"YYYY-MM-DD"'),
        (BASE + 'skip = ["2026-12-16"]\n', "skip[0]", "skip", "2026-12-15"),
        (BASE + 'start = "soon"\n', "start", "start", '"YYYY-MM-DD"'),
        (BASE + 'video_url = "meet.jit.si/x"\n', "video_url", "video_url", "https://"),
        (BASE + 'admins = ["U123"]\n', "admins[0]", "admins", '"slack:<user id>"'),
        (BASE + '[series.slack]\nchannel = "#general"\n', "slack.channel", "#general", "channel's details"),
        (BASE + '[series.slack]\ndigest_channel = "C1"\n', "slack.channel", "[series.slack]", "required"),
        (BASE + '[series.discord]\nchannel = "general"\n', "discord.channel", "general", "Copy Channel ID"),
        (BASE + "slack = 5\n", "slack", "slack", "[series.slack]"),
        (BASE + 'roll_call = "name / institution"\n', "roll_call", "roll_call", "a GitHub handle among them"),
        (BASE + "roll_call = 3\n", "roll_call", "roll_call", "text in quotes"),
        (BASE + 'rollcall = "name / GitHub handle"\n', "rollcall", "rollcall", "did you mean 'roll_call'"),
    ],
)
def test_config_errors_name_file_line_and_key(text: str, key: str, needle: str | int, says: str) -> None:
    error = config_error(text)
    line = needle if isinstance(needle, int) else line_of(text, needle)
    message = str(error)
    assert (error.key, error.line, error.source) == (key, line, "meetings.toml")
    assert message.startswith(f"meetings.toml:{line}: ")
    assert f"'{key}'" in message
    assert says in message


@pytest.mark.parametrize(
    ("text", "key", "needle"),
    [
        # a table written in parts, around another one
        (BASE + '[series.slack]\nchannel = "C1"\n[series.discord]\nchannel = 1\n[series.slack.q]\nz = 1\n',
         "slack.q", "[series.slack.q]"),
        # dotted keys, one of them quoted
        (BASE + 'slack.channel = "C1"\nslack."chanel" = 2\n', "slack.chanel", '"chanel"'),
        # a table made only by dotted keys points at its first key
        (BASE + 'slack.digest_channel = "C1"\n', "slack.channel", "slack.digest_channel"),
    ],
)
def test_config_errors_find_the_line_in_any_layout(text: str, key: str, needle: str) -> None:
    error = config_error(text)
    assert (error.key, error.line) == (key, line_of(text, needle))


def test_a_series_sets_its_roll_call_layout() -> None:
    header = "Name (pronouns) / GitHub handle / affiliation / geographic location"
    series = parse_config(BASE + f'roll_call = "{header}"\n').series[0]
    assert series.layout.fields == ("name", "github", "institution", "extra")
    assert parse_config(BASE).series[0].roll_call == "name / institution / GitHub handle"


def test_config_errors_without_a_key() -> None:
    error = config_error("[[series]\n")
    assert error.line == 1 and "not valid TOML" in str(error)
    error = config_error("# nothing yet\n")
    assert "[[series]]" in str(error) and error.line is None
    error = config_error("series = 3\n")
    assert error.line == 1 and "[[series]]" in str(error)


def test_load_config_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "meetings.toml"
    path.write_text(BASE + 'timezone = "Mars/Olympus"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="^" + re.escape(f"{path}:6: ")):
        load_config(path)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.toml")


def test_series_is_hashable_and_equal_by_value() -> None:
    assert series() == series() and hash(series()) == hash(series())
    assert series().rrule == "FREQ=MONTHLY;BYDAY=+3TU"
    assert series("FREQ=MONTHLY").rrule == "FREQ=MONTHLY;BYMONTHDAY=1"  # defaults spelled out


def test_targets_are_keyed_by_platform_name_and_read_only() -> None:
    s = series(targets={"web": Target("room-1")})  # a platform the model knows nothing about
    assert s.targets == {"web": Target("room-1")} and s == series(targets={"web": Target("room-1")})
    assert hash(s) == hash(series())
    with pytest.raises(TypeError):
        s.targets["slack"] = Target("C1")  # type: ignore[index]


# --- properties --------------------------------------------------------------------------------

ZONES = sorted(zoneinfo.available_timezones())
SIMPLE_RULES = [
    "every day",
    "every 3rd tuesday",
    "every last friday",
    "every 2nd and 4th wednesday",
    "weekly on monday",
    "every 2 weeks on thursday",
    "monthly on the 31st",
    "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
]


def _exists(day: date, wall: time, zone: zoneinfo.ZoneInfo) -> bool:
    naive = datetime.combine(day, wall)
    back = datetime.combine(day, wall, tzinfo=zone).astimezone(UTC).astimezone(zone)
    return back.replace(tzinfo=None) == naive


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    rule=st.sampled_from(SIMPLE_RULES),
    wall=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    after=st.datetimes(datetime(1995, 1, 1), datetime(2045, 1, 1), timezones=st.just(UTC)),
)
@example(zone="Arctic/Longyearbyen", rule="every day", wall=time(2, 0, fold=1),
         after=datetime(2001, 3, 13, 1, 0, tzinfo=UTC))  # a wall time with fold=1 in a gap
def test_occurrences_keep_wall_time(zone: str, rule: str, wall: time, after: datetime) -> None:
    s = series(rule, time=wall, timezone=zone)
    tz = zoneinfo.ZoneInfo(zone)
    occ = s.occurrences(after, 12)
    assert len(occ) == 12
    assert occ[0].start > after
    assert all(a.start < b.start for a, b in zip(occ, occ[1:]))
    assert len({o.date for o in occ}) == 12
    for o in occ:
        local = o.start.astimezone(tz)
        if _exists(o.date, wall, tz):
            assert (local.date(), local.time()) == (o.date, wall)
        else:
            assert local.replace(tzinfo=None) > datetime.combine(o.date, wall)


@settings(max_examples=60, deadline=None)
@given(
    rule=st.sampled_from(
        [
            "FREQ=DAILY;INTERVAL=3",
            "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,TH",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;WKST=SU",
            "FREQ=MONTHLY;INTERVAL=5;BYDAY=+1MO",
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            "FREQ=YEARLY;INTERVAL=3",
            "FREQ=MONTHLY",
        ]
    ),
    start=st.none() | st.dates(date(2001, 1, 1), date(2020, 1, 1)),
    after=st.datetimes(datetime(1999, 1, 1), datetime(2032, 1, 1), timezones=st.just(UTC)),
)
def test_skipping_ahead_matches_expanding_from_the_anchor(rule: str, start, after: datetime) -> None:
    s = series(rule, start=start)
    anchor = datetime.combine(start or date(2001, 1, 1), time())
    full = du_rrule.rrulestr("RRULE:" + s.rrule, dtstart=anchor)
    expected = []
    for moment in full.xafter(anchor, inc=True):
        if datetime.combine(moment.date(), time(17), tzinfo=UTC) > after:
            expected.append(moment.date())
            if len(expected) == 6:
                break
    assert [o.date for o in s.occurrences(after, 6)] == expected
