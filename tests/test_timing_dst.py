"""DST rules of SPEC §2, zone by zone, both transitions.

- A wall time that does not exist (spring forward) fires once, at the first instant after the gap.
- A wall time that occurs twice (fall back) fires once, at its first occurrence.
- Hour "*" or an hour step keeps real-time cadence: no burst, no hole (the repeated hour fires
  twice, the skipped hour has no instants).

2025 transitions used below (local wall times):
  America/New_York     Mar 9  02:00 EST -> 03:00 EDT    Nov 2  02:00 EDT -> 01:00 EST
  Europe/London        Mar 30 01:00 GMT -> 02:00 BST    Oct 26 02:00 BST -> 01:00 GMT
  Australia/Lord_Howe  Oct 5  02:00 +1030 -> 02:30 +11  Apr 6  02:00 +11 -> 01:30 +1030
"""

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from app.scheduling.cron import parse_field, split_expression
from app.scheduling.timing import build_timing

SPRING = {
    "America/New_York": date(2025, 3, 9),
    "Europe/London": date(2025, 3, 30),
    "Australia/Lord_Howe": date(2025, 10, 5),
}
AUTUMN = {
    "America/New_York": date(2025, 11, 2),
    "Europe/London": date(2025, 10, 26),
    "Australia/Lord_Howe": date(2025, 4, 6),
}


def utc(*parts):
    return datetime(*parts, tzinfo=UTC)


def day_bounds(zone, day):
    """The UTC instants of local midnight at the start and end of ``day``."""
    tz = ZoneInfo(zone)
    start = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=tz).astimezone(UTC)
    return start, end


def slots_on(timing, zone, day, limit=100_000):
    start, end = day_bounds(zone, day)
    return timing.slots_between(
        start - timedelta(microseconds=1), end - timedelta(microseconds=1), limit
    )


# ----------------------------------------------------------------- fixed-time daily schedules

DAILY_CASES = [
    # zone, day, hour, minute, the one UTC slot that day, what the case shows
    ("America/New_York", SPRING["America/New_York"], 2, 30, utc(2025, 3, 9, 7, 0), "in the gap"),
    ("America/New_York", SPRING["America/New_York"], 1, 30, utc(2025, 3, 9, 6, 30), "before it"),
    ("America/New_York", SPRING["America/New_York"], 9, 0, utc(2025, 3, 9, 13, 0), "ordinary"),
    ("America/New_York", AUTUMN["America/New_York"], 1, 30, utc(2025, 11, 2, 5, 30), "repeated"),
    ("America/New_York", AUTUMN["America/New_York"], 9, 0, utc(2025, 11, 2, 14, 0), "ordinary"),
    ("Europe/London", SPRING["Europe/London"], 1, 30, utc(2025, 3, 30, 1, 0), "in the gap"),
    ("Europe/London", SPRING["Europe/London"], 9, 0, utc(2025, 3, 30, 8, 0), "ordinary"),
    ("Europe/London", AUTUMN["Europe/London"], 1, 30, utc(2025, 10, 26, 0, 30), "repeated"),
    ("Europe/London", AUTUMN["Europe/London"], 9, 0, utc(2025, 10, 26, 9, 0), "ordinary"),
    ("Australia/Lord_Howe", SPRING["Australia/Lord_Howe"], 2, 15, utc(2025, 10, 4, 15, 30), "gap"),
    ("Australia/Lord_Howe", SPRING["Australia/Lord_Howe"], 2, 30, utc(2025, 10, 4, 15, 30), "end"),
    (
        "Australia/Lord_Howe",
        SPRING["Australia/Lord_Howe"],
        9,
        0,
        utc(2025, 10, 4, 22, 0),
        "ordinary",
    ),
    (
        "Australia/Lord_Howe",
        AUTUMN["Australia/Lord_Howe"],
        1,
        45,
        utc(2025, 4, 5, 14, 45),
        "repeat",
    ),
    (
        "Australia/Lord_Howe",
        AUTUMN["Australia/Lord_Howe"],
        9,
        0,
        utc(2025, 4, 5, 22, 30),
        "ordinary",
    ),
]


@pytest.mark.parametrize(("zone", "day", "hour", "minute", "expected", "case"), DAILY_CASES)
def test_a_fixed_time_daily_schedule_fires_exactly_once_on_each_transition_day(
    zone, day, hour, minute, expected, case
):
    timing = build_timing("DAILY", {"hour": hour, "minute": minute}, zone)
    assert slots_on(timing, zone, day) == [expected]


@pytest.mark.parametrize(("zone", "day", "hour", "minute", "expected", "case"), DAILY_CASES)
def test_the_slot_after_a_transition_day_slot_is_the_next_day(
    zone, day, hour, minute, expected, case
):
    timing = build_timing("DAILY", {"hour": hour, "minute": minute}, zone)
    following = timing.next_after(expected)
    local = following.astimezone(ZoneInfo(zone))
    assert local.date() == day + timedelta(days=1)
    assert (local.hour, local.minute) == (hour, minute)


def test_a_daily_schedule_fires_once_on_the_spring_forward_day():
    timing = build_timing("DAILY", {"hour": 2, "minute": 30}, "America/New_York")
    slots = timing.next_slots(utc(2025, 3, 8, 0, 0), 3)
    assert slots == [utc(2025, 3, 8, 7, 30), utc(2025, 3, 9, 7, 0), utc(2025, 3, 10, 6, 30)]


def test_a_daily_schedule_does_not_fire_at_the_second_occurrence_of_a_repeated_time():
    timing = build_timing("DAILY", {"hour": 1, "minute": 30}, "America/New_York")
    first = utc(2025, 11, 2, 5, 30)  # 01:30 EDT
    assert timing.next_after(first) == utc(2025, 11, 3, 6, 30)  # not 06:30 UTC = 01:30 EST
    # Asked from inside the second pass through 01:00-02:00, it still goes to the next day.
    assert timing.next_after(utc(2025, 11, 2, 6, 10)) == utc(2025, 11, 3, 6, 30)


def test_a_fixed_hour_range_fires_the_skipped_hour_once_at_the_end_of_the_gap():
    # 01:00 EST, then 02:00 (does not exist) and 03:00 EDT are the same instant: one slot.
    timing = build_timing("CRON", {"expression": "0 1-3 * * *"}, "America/New_York")
    assert slots_on(timing, "America/New_York", SPRING["America/New_York"]) == [
        utc(2025, 3, 9, 6, 0),
        utc(2025, 3, 9, 7, 0),
    ]


def test_every_minute_of_a_fixed_hour_inside_the_gap_collapses_into_one_slot():
    timing = build_timing("CRON", {"expression": "* 2 * * *"}, "America/New_York")
    assert slots_on(timing, "America/New_York", SPRING["America/New_York"]) == [utc(2025, 3, 9, 7)]


def test_a_fixed_hour_with_every_minute_fires_the_repeated_hour_only_once():
    timing = build_timing("CRON", {"expression": "* 1 * * *"}, "America/New_York")
    slots = slots_on(timing, "America/New_York", AUTUMN["America/New_York"])
    assert len(slots) == 60
    assert slots[0] == utc(2025, 11, 2, 5, 0) and slots[-1] == utc(2025, 11, 2, 5, 59)


# ----------------------------------------------------------------- real-time cadence

CADENCE_COUNTS = [
    ("America/New_York", SPRING["America/New_York"], 92),
    ("America/New_York", AUTUMN["America/New_York"], 100),
    ("Europe/London", SPRING["Europe/London"], 92),
    ("Europe/London", AUTUMN["Europe/London"], 100),
    # Lord Howe shifts by 30 minutes: its transition days last 23.5 h and 24.5 h.
    ("Australia/Lord_Howe", SPRING["Australia/Lord_Howe"], 94),
    ("Australia/Lord_Howe", AUTUMN["Australia/Lord_Howe"], 98),
    ("Asia/Kolkata", date(2025, 3, 9), 96),
    ("Asia/Kathmandu", date(2025, 3, 9), 96),
]


@pytest.mark.parametrize(("zone", "day", "count"), CADENCE_COUNTS)
def test_every_fifteen_minutes_keeps_its_cadence_through_the_transition_day(zone, day, count):
    timing = build_timing("CRON", {"expression": "*/15 * * * *"}, zone)
    slots = slots_on(timing, zone, day)
    assert len(slots) == count
    start, end = day_bounds(zone, day)
    assert slots[0] == start and slots[-1] == end - timedelta(minutes=15)
    assert {b - a for a, b in pairwise(slots)} == {timedelta(minutes=15)}


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/London", "Australia/Lord_Howe"])
@pytest.mark.parametrize("days", [SPRING, AUTUMN], ids=["spring", "autumn"])
def test_an_every_twenty_seconds_expression_keeps_its_cadence(zone, days):
    timing = build_timing("CRON", {"expression": "*/20 * * * * *"}, zone)
    slots = slots_on(timing, zone, days[zone])
    start, end = day_bounds(zone, days[zone])
    assert len(slots) == (end - start) // timedelta(seconds=20)
    assert {b - a for a, b in pairwise(slots)} == {timedelta(seconds=20)}


def test_an_hourly_schedule_fires_both_passes_of_the_repeated_hour():
    timing = build_timing("CRON", {"expression": "@hourly"}, "America/New_York")
    slots = timing.next_slots(utc(2025, 11, 2, 3, 30), 4)  # from 23:30 EDT
    assert slots == [
        utc(2025, 11, 2, 4),
        utc(2025, 11, 2, 5),
        utc(2025, 11, 2, 6),
        utc(2025, 11, 2, 7),
    ]


def test_an_hour_step_skips_the_hour_that_does_not_exist_instead_of_moving_it():
    # "*/2" is a step, so it keeps cadence: 02:00 on the spring-forward day simply has no instant.
    timing = build_timing("CRON", {"expression": "0 */2 * * *"}, "America/New_York")
    slots = slots_on(timing, "America/New_York", SPRING["America/New_York"])
    assert len(slots) == 11
    assert utc(2025, 3, 9, 7, 0) not in slots


def test_a_range_step_in_the_hour_field_also_keeps_cadence():
    timing = build_timing("CRON", {"expression": "30 0-23/1 * * *"}, "America/New_York")
    assert len(slots_on(timing, "America/New_York", AUTUMN["America/New_York"])) == 25


@pytest.mark.parametrize(
    ("zone", "offset"),
    [
        ("Asia/Kolkata", timedelta(hours=5, minutes=30)),
        ("Asia/Kathmandu", timedelta(hours=5, minutes=45)),
    ],
)
def test_half_and_three_quarter_hour_zones_place_wall_times_exactly(zone, offset):
    timing = build_timing("DAILY", {"hour": 8, "minute": 0}, zone)
    assert timing.next_after(utc(2025, 6, 1)) == utc(2025, 6, 1, 8) - offset


# ----------------------------------------------------------------- an independent oracle

# A slow, obviously-correct reading of SPEC's rules, checked minute by minute in UTC around
# every 2025 transition of several zones: America/Santiago changes at midnight, Europe/Dublin
# has "negative" DST, Australia/Lord_Howe moves by 30 minutes.
ORACLE_ZONES = (
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Australia/Sydney",
    "America/Santiago",
    "Europe/Dublin",
)
ORACLE_EXPRESSIONS = (
    "*/15 * * * *",
    "30 * * * *",
    "0 */2 * * *",
    "30 1 * * *",
    "30 2 * * *",
    "15,45 0-3 * * *",
    "* 2 * * *",
    "*/7 0-4 * * *",
    "0 0 * * *",
    "10 23,0 * * *",
    "0-59/20 1-2/1 * * *",
)


def _transitions_2025(zone):
    tz = ZoneInfo(zone)
    moments = []
    instant = utc(2025, 1, 1)
    while instant.year == 2025:
        following = instant + timedelta(hours=6)
        if instant.astimezone(tz).utcoffset() != following.astimezone(tz).utcoffset():
            moments.append(instant)
        instant = following
    return moments


def _oracle(expression, zone, start, end):
    parts = split_expression(expression)
    names = ("second", "minute", "hour", "day_of_month", "month_of_year", "day_of_week")
    sets = {name: set(parse_field(text, name)) for name, text in zip(names, parts, strict=True)}
    cadence = parts[2] == "*" or "/" in parts[2]
    tz = ZoneInfo(zone)

    def matches(wall):
        dom = wall.day in sets["day_of_month"]
        dow = (wall.weekday() + 1) % 7 in sets["day_of_week"]
        either = not parts[3].startswith("*") and not parts[5].startswith("*")
        return (
            wall.minute in sets["minute"]
            and wall.hour in sets["hour"]
            and wall.month in sets["month_of_year"]
            and ((dom or dow) if either else (dom and dow))
        )

    slots = []
    instant = start
    while instant <= end:
        local = instant.astimezone(tz)
        wall = local.replace(tzinfo=None, fold=0)
        fires = matches(wall) and (cadence or local.fold == 0)
        gap = local.utcoffset() - (instant - timedelta(minutes=1)).astimezone(tz).utcoffset()
        if not cadence and gap > timedelta(0):
            # The wall times [wall - gap, wall) were skipped: they fire now, once.
            skipped = (
                wall - timedelta(minutes=m) for m in range(1, gap // timedelta(minutes=1) + 1)
            )
            fires = fires or any(matches(w) for w in skipped)
        if fires:
            slots.append(instant)
        instant += timedelta(minutes=1)
    return slots


ORACLE_CASES = [
    (expression, zone, moment)
    for zone in ORACLE_ZONES
    for moment in _transitions_2025(zone)
    for expression in ORACLE_EXPRESSIONS
]


def test_the_oracle_sees_two_transitions_in_every_zone():
    assert all(len(_transitions_2025(zone)) == 2 for zone in ORACLE_ZONES)


@pytest.mark.parametrize(("expression", "zone", "moment"), ORACLE_CASES)
def test_slots_around_a_transition_match_a_minute_by_minute_reading_of_the_rules(
    expression, zone, moment
):
    start, end = moment - timedelta(hours=8), moment + timedelta(hours=30)
    timing = build_timing("CRON", {"expression": expression}, zone)
    expected = _oracle(expression, zone, start, end)
    assert timing.slots_between(start - timedelta(seconds=1), end, 10_000) == expected
    # And stepping one slot at a time from any instant lands on the same slots.
    for probe in (moment - timedelta(minutes=m) for m in (0, 1, 29, 30, 31, 59, 60, 61, 90)):
        later = [slot for slot in expected if slot > probe]
        if later and later[0] < end:
            assert timing.next_after(probe) == later[0]


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/London", "Australia/Lord_Howe"])
@pytest.mark.parametrize(("hour", "minute"), [(1, 30), (2, 15), (0, 0)])
def test_a_year_of_a_fixed_daily_time_has_exactly_one_slot_per_local_day(zone, hour, minute):
    timing = build_timing("DAILY", {"hour": hour, "minute": minute}, zone)
    slots = timing.next_slots(utc(2025, 1, 1), 365)
    days = [slot.astimezone(ZoneInfo(zone)).date() for slot in slots]
    assert all(a < b for a, b in pairwise(slots))
    assert all(b - a == timedelta(days=1) for a, b in pairwise(days))
