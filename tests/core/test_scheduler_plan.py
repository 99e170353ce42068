"""Planning the sends of a series: pure functions of the config and a time window."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatbot.events import SendKind, agenda_item_of
from chatbot.schedule.plan import ANNOUNCE_LEAD, plan, plan_occurrence, planned_kind
from chatbot.schedule.config import parse_config
from chatbot.schedule.recurrence import parse_schedule
from chatbot.schedule.series import Series, Slot

UTC = timezone.utc
LA = zoneinfo.ZoneInfo("America/Los_Angeles")
LONDON = zoneinfo.ZoneInfo("Europe/London")

HUBS = """
[[series]]
id = "hubs"
name = "Hubs Team Meeting"
schedule = "every 3rd tuesday"
time = "17:00"
timezone = "America/Los_Angeles"
alternate = [{ time = "09:00", timezone = "Europe/London" }]
skip = ["2026-05-19", "2027-03-16"]
"""


def hubs() -> Series:
    return parse_config(HUBS).get("hubs")


def by_meeting(window):
    return {occurrence.date: (occurrence, {s.kind: s for s in sends}) for occurrence, sends in window}


def test_two_years_of_a_third_tuesday_series_with_rotation_and_skips():
    series = hubs()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    window = plan(series, now, now + timedelta(days=730))
    meetings = by_meeting(window)
    assert len(meetings) == 24
    assert [d.month for d in meetings] == [m % 12 + 1 for m in range(24)]
    for day, (occurrence, sends) in meetings.items():
        assert day.weekday() == 1 and 15 <= day.day <= 21  # the third Tuesday
        zone = LA if day.month % 2 == 1 else LONDON  # January is the base slot, then they alternate
        local = occurrence.start.astimezone(zone)
        assert (local.date(), local.time()) == (day, time(17) if zone is LA else time(9))
        if day in (date(2026, 5, 19), date(2027, 3, 16)):
            assert list(sends) == ["notice"]
            assert sends["notice"].due < occurrence.start
            assert sends["notice"].expires == occurrence.end
            continue
        assert list(sends) == ["announcement", "call_for_updates", "reminder:1d", "reminder:1h",
                               "compile", "finish"]
        # Reminders count back in the meeting's own wall-clock time: 17:00 local a week before.
        for kind, back in (("call_for_updates", 7), ("reminder:1d", 1)):
            due = sends[kind].due.astimezone(zone)
            assert (due.date(), due.time()) == (day - timedelta(days=back), local.time())
        assert sends["reminder:1h"].due == occurrence.start - timedelta(hours=1)
        assert sends["compile"].due == occurrence.start
        assert sends["finish"].due == occurrence.end
        assert sends["reminder:1h"].expires == occurrence.start
        assert sends["call_for_updates"].expires == occurrence.end
        assert sends["compile"].expires is None and sends["finish"].expires is None
    # The announcement follows the previous meeting's end (a month earlier), but at most 14 days
    # ahead: 14 local days before the start.
    march = meetings[date(2026, 3, 17)]
    announce = march[1]["announcement"].due.astimezone(LA)
    assert (announce.date(), announce.time()) == (date(2026, 3, 3), time(17))
    # ...across the change to summer time on 8 March: 13 days and 23 hours in real time.
    assert march[0].start - march[1]["announcement"].due == timedelta(days=13, hours=23)


def test_planning_does_not_depend_on_the_window():
    series = hubs()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    whole = plan(series, start, start + timedelta(days=730))
    pieces = []
    for month in range(24):
        after = start + timedelta(days=730 * month / 24)
        pieces += plan(series, after, start + timedelta(days=730 * (month + 1) / 24))
    assert pieces == whole


def test_announcement_right_after_the_previous_meeting_when_that_is_later():
    weekly = Series(id="w", name="Weekly", schedule="every monday",
                    rrule=parse_schedule("every monday"), time=time(10), timezone="UTC",
                    reminders=(timedelta(days=2),))
    (first, _), (second, sends) = plan(weekly, datetime(2026, 1, 1, tzinfo=UTC),
                                       datetime(2026, 1, 13, tzinfo=UTC))
    kinds = {s.kind: s for s in sends}
    assert kinds["announcement"].due == first.end
    assert kinds["call_for_updates"].due == second.start - timedelta(days=2)


def test_no_announcement_when_the_call_for_updates_comes_first():
    weekly = Series(id="w", name="Weekly", schedule="every monday",
                    rrule=parse_schedule("every monday"), time=time(10), timezone="UTC")
    (_, _), (_, sends) = plan(weekly, datetime(2026, 1, 1, tzinfo=UTC),
                              datetime(2026, 1, 13, tzinfo=UTC))
    assert [s.kind for s in sends] == ["call_for_updates", "reminder:1d", "reminder:1h",
                                       "compile", "finish"]


def test_without_reminders_the_announcement_opens_the_thread():
    quiet = Series(id="q", name="Quiet", schedule="every 3rd tuesday",
                   rrule=parse_schedule("every 3rd tuesday"), time=time(17), reminders=(),
                   updates_due=timedelta(minutes=-30))
    occurrence = quiet.occurrences(datetime(2026, 1, 1, tzinfo=UTC), 1)[0]
    sends = plan_occurrence(quiet, occurrence)
    assert [s.kind for s in sends] == ["call_for_updates", "compile", "finish"]
    assert sends[0].due == occurrence.start - ANNOUNCE_LEAD
    assert sends[1].due == occurrence.start - timedelta(minutes=30)


def test_a_skipped_or_cancelled_meeting_gets_one_notice():
    series = hubs()
    occurrence = series.occurrences(datetime(2026, 1, 1, tzinfo=UTC), 1)[0]
    for status in ("skipped", "cancelled"):
        assert [s.kind for s in plan_occurrence(series, occurrence, None, status)] == ["notice"]


def test_a_reminder_at_the_start_is_still_worth_sending_for_a_while():
    series = Series(id="s", name="S", schedule="every 3rd tuesday",
                    rrule=parse_schedule("every 3rd tuesday"), time=time(17),
                    reminders=(timedelta(days=1), timedelta(0)))
    occurrence = series.occurrences(datetime(2026, 1, 1, tzinfo=UTC), 1)[0]
    last = plan_occurrence(series, occurrence)[2]
    assert last.kind == "reminder:0m" and last.due == occurrence.start
    assert last.expires > last.due


# --- properties over every zone -------------------------------------------------------------------

ZONES = sorted(zoneinfo.available_timezones())
RULES = ["every 3rd tuesday", "FREQ=MONTHLY;BYDAY=-1FR", "every 2 weeks on thursday",
         "every day", "monthly on the 15th", "FREQ=WEEKLY;BYDAY=MO,WE"]
OFFSETS = [timedelta(days=7), timedelta(days=2), timedelta(days=1), timedelta(hours=25),
           timedelta(hours=1), timedelta(minutes=15), timedelta(0)]


def exists(day: date, wall: time, zone: zoneinfo.ZoneInfo) -> bool:
    """False for a wall time the clocks skip that day (a DST gap)."""
    moment = datetime.combine(day, wall, tzinfo=zone)
    back = moment.astimezone(UTC).astimezone(zone)
    return (back.date(), back.time()) == (day, wall)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(ZONES),
    alternate=st.one_of(st.none(), st.sampled_from(ZONES)),
    rule=st.sampled_from(RULES),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]),
    reminders=st.sets(st.sampled_from(OFFSETS), max_size=4),
    updates_due=st.sampled_from([timedelta(0), timedelta(minutes=-30), timedelta(minutes=45)]),
    start=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2037, 1, 1),
                       timezones=st.just(UTC)),
)
def test_every_planned_instant_keeps_the_wall_time_and_nothing_is_planned_twice(
        zone, alternate, rule, hour, minute, reminders, updates_due, start):
    wall = time(hour, minute)
    slots = (Slot(time((hour + 7) % 24, minute), alternate),) if alternate else ()
    series = Series(id="p", name="Property", schedule=rule, rrule=parse_schedule(rule), time=wall,
                    timezone=zone, reminders=tuple(sorted(reminders, reverse=True)),
                    updates_due=updates_due, alternate=slots)
    window = plan(series, start, start + timedelta(days=75))
    keys = Counter((s.occurrence, s.kind) for _, sends in window for s in sends)
    assert all(n == 1 for n in keys.values()), keys.most_common(3)
    for occurrence, sends in window:
        local_zone = zoneinfo.ZoneInfo(occurrence.timezone)
        if exists(occurrence.date, occurrence.time, local_zone):
            local = occurrence.start.astimezone(local_zone)
            assert (local.date(), local.time()) == (occurrence.date, occurrence.time)
        for send in sends:
            assert send.due.tzinfo is not None and send.due.utcoffset() == timedelta(0)
            assert send.expires is None or send.expires > send.due
            offset = {"call_for_updates": max(reminders, default=None)}.get(send.kind)
            if send.kind.startswith("reminder:"):
                offset = next(o for o in reminders if f"reminder:{_fmt(o)}" == send.kind)
            if offset is None or offset % timedelta(days=1):
                continue
            # A whole-day reminder is at the meeting's wall time, that many local days before.
            day = occurrence.date - timedelta(days=offset // timedelta(days=1))
            if exists(day, occurrence.time, local_zone):
                local = send.due.astimezone(local_zone)
                assert (local.date(), local.time()) == (day, occurrence.time)


def _fmt(offset: timedelta) -> str:
    from chatbot.text.durations import format_offset

    return format_offset(offset)


def test_a_kind_with_a_detail_is_written_and_read_in_one_place():
    assert SendKind.REMINDER.of("1d") == "reminder:1d" and SendKind.AGENDA.of(12) == "agenda:12"
    assert agenda_item_of(SendKind.AGENDA.of(12)) == 12
    assert [agenda_item_of(k) for k in ("call_for_updates", "reminder:1d", "digest")] == [None] * 3
    # The planner owns its kinds (it re-dates and cancels them), never an agenda item's post.
    assert planned_kind("reminder:1d") and planned_kind(SendKind.NOTICE)
    assert not planned_kind("agenda:12") and not planned_kind(SendKind.DIGEST)
