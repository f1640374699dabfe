"""Timing rules of SPEC §2: schedule types, cron text, bounds, descriptions, validation."""

import json
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.scheduling.timing import SCHEDULE_TYPES, Timing, TimingError, build_timing


def utc(*parts):
    return datetime(*parts, tzinfo=UTC)


def cron(expression, zone="UTC", **bounds):
    return build_timing("CRON", {"expression": expression}, zone, **bounds)


def errors_of(*args, **kwargs):
    with pytest.raises(TimingError) as caught:
        build_timing(*args, **kwargs)
    return caught.value.fields


# ----------------------------------------------------------------- the interface


def test_the_schedule_types_are_the_five_of_the_spec():
    assert SCHEDULE_TYPES == ("ONCE", "DAILY", "WEEKLY", "MONTHLY", "CRON")


def test_the_schedule_type_is_accepted_in_any_case_and_stored_in_upper_case():
    assert build_timing(" daily ", {"hour": 8}).schedule_type == "DAILY"


def test_a_timing_error_is_a_value_error_with_messages_per_field():
    error = pytest.raises(TimingError, build_timing, "DAILY", {"hour": 99}).value
    assert isinstance(error, ValueError)
    assert error.fields == {"schedule_config.hour": ["Hour must be between 0 and 23."]}


def test_slots_are_aware_utc_whatever_zone_the_question_is_asked_in():
    timing = build_timing("DAILY", {"hour": 8, "minute": 0}, "Europe/Berlin")
    asked = datetime(2025, 6, 1, 12, 0, tzinfo=ZoneInfo("America/New_York"))
    slot = timing.next_after(asked)
    assert slot == utc(2025, 6, 2, 6, 0)
    assert slot.tzinfo is UTC


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        build_timing("DAILY", {"hour": 8}).next_after(datetime(2025, 1, 1))


def test_next_after_is_strictly_after_the_given_instant():
    timing = build_timing("DAILY", {"hour": 8, "minute": 0})
    assert timing.next_after(utc(2025, 1, 1, 8, 0)) == utc(2025, 1, 2, 8, 0)
    assert timing.next_after(utc(2025, 1, 1, 7, 59, 59, 999999)) == utc(2025, 1, 1, 8, 0)


def test_next_slots_and_slots_between_walk_slot_to_slot():
    timing = cron("*/15 * * * *")
    assert timing.next_slots(utc(2025, 1, 1), 3) == [
        utc(2025, 1, 1, 0, 15),
        utc(2025, 1, 1, 0, 30),
        utc(2025, 1, 1, 0, 45),
    ]
    # after < slot <= until, and at most `limit` slots.
    assert timing.slots_between(utc(2025, 1, 1), utc(2025, 1, 1, 1), 100) == [
        utc(2025, 1, 1, 0, 15),
        utc(2025, 1, 1, 0, 30),
        utc(2025, 1, 1, 0, 45),
        utc(2025, 1, 1, 1, 0),
    ]
    assert len(timing.slots_between(utc(2025, 1, 1), utc(2025, 1, 2), 5)) == 5
    assert timing.slots_between(utc(2025, 1, 1), utc(2025, 1, 1, 0, 14), 5) == []


@pytest.mark.parametrize(
    ("schedule_type", "config"),
    [
        ("ONCE", {"execute_at": "2025-12-31T23:59"}),
        ("ONCE", {}),
        ("DAILY", {"hour": "8"}),
        ("WEEKLY", {"day_of_week": ["Monday", "fri", 7], "hour": 17}),
        ("MONTHLY", {"day_of_month": "LAST", "hour": 6, "minute": 0}),
        ("CRON", {"expression": "  */15   9-17 * * MON-FRI "}),
        ("CRON", {"minute": 0, "hour": [8, 12], "second": 30}),
    ],
)
def test_the_normalized_config_is_json_and_builds_the_same_timing_again(schedule_type, config):
    timing = build_timing(schedule_type, config, "Europe/Berlin", "2025-01-01T00:00")
    json.dumps(timing.config)
    again = build_timing(
        timing.schedule_type, timing.config, timing.timezone, timing.start_at, timing.end_at
    )
    assert again == timing
    assert again.next_slots(utc(2025, 1, 1), 5) == timing.next_slots(utc(2025, 1, 1), 5)


def test_a_timing_constructed_directly_is_validated_too():
    assert Timing("DAILY", {"hour": 8, "minute": 0}, "UTC").next_after(utc(2025, 1, 1)) == utc(
        2025, 1, 1, 8
    )
    with pytest.raises(TimingError):
        Timing("DAILY", {"hour": 80}, "UTC")


# ----------------------------------------------------------------- ONCE


def test_once_runs_at_its_local_wall_time():
    timing = build_timing("ONCE", {"execute_at": "2025-12-31 23:59:00"}, "Europe/Berlin")
    assert timing.initial_slot(utc(2025, 6, 1)) == utc(2025, 12, 31, 22, 59)
    assert timing.next_after(utc(2025, 6, 1)) == utc(2025, 12, 31, 22, 59)


def test_once_with_an_offset_is_that_instant_whatever_the_zone():
    timing = build_timing("ONCE", {"execute_at": "2025-12-31T23:59:00+05:00"}, "Europe/Berlin")
    assert timing.initial_slot(utc(2025, 6, 1)) == utc(2025, 12, 31, 18, 59)
    zulu = build_timing("ONCE", {"execute_at": "2025-12-31T23:59:00Z"}, "Asia/Tokyo")
    assert zulu.initial_slot(utc(2025, 6, 1)) == utc(2025, 12, 31, 23, 59)


def test_once_in_the_past_runs_immediately_when_saved():
    timing = build_timing("ONCE", {"execute_at": "2020-01-01 09:00"}, "UTC")
    now = utc(2025, 6, 1, 12, 0, 5)
    assert timing.initial_slot(now) == now
    assert timing.next_after(now) is None  # after its run it is done


def test_once_without_a_time_runs_immediately_and_then_never_again():
    timing = build_timing("ONCE", {})
    now = utc(2025, 6, 1, 12, 0)
    assert timing.initial_slot(now) == now
    assert timing.next_after(now) is None
    assert timing.next_slots(now, 5) == []
    assert build_timing("ONCE", None).config == {}
    assert build_timing("ONCE", {"execute_at": ""}).config == {}


def test_once_fires_once_then_has_no_next_slot():
    timing = build_timing("ONCE", {"execute_at": "2030-01-01 00:00"})
    slot = timing.initial_slot(utc(2025, 1, 1))
    assert slot == utc(2030, 1, 1)
    assert timing.next_after(slot) is None


def test_once_in_a_spring_forward_gap_runs_at_the_end_of_the_gap():
    timing = build_timing("ONCE", {"execute_at": "2025-03-09 02:30"}, "America/New_York")
    assert timing.initial_slot(utc(2025, 1, 1)) == utc(2025, 3, 9, 7, 0)


def test_once_before_start_at_waits_for_start_at_and_says_so():
    timing = build_timing(
        "ONCE", {"execute_at": "2025-03-01 09:00"}, "UTC", start_at="2025-03-02T10:00"
    )
    assert timing.initial_slot(utc(2025, 1, 1)) == utc(2025, 3, 2, 10)
    assert timing.next_after(utc(2025, 1, 1)) == utc(2025, 3, 2, 10)
    assert timing.warnings == [
        "The run time is before start_at, so it will run at start_at instead."
    ]


def test_once_without_a_time_saved_before_start_at_runs_at_start_at():
    timing = build_timing("ONCE", {}, "UTC", start_at="2025-03-02T10:00")
    assert timing.initial_slot(utc(2025, 1, 1)) == utc(2025, 3, 2, 10)


def test_once_saved_after_end_at_never_runs():
    timing = build_timing("ONCE", {}, "UTC", end_at="2025-03-02T10:00")
    assert timing.initial_slot(utc(2025, 3, 2, 10)) == utc(2025, 3, 2, 10)
    assert timing.initial_slot(utc(2025, 3, 2, 10, 0, 1)) is None


# ----------------------------------------------------------------- DAILY, WEEKLY, MONTHLY


def test_daily_fires_every_day_at_its_wall_time():
    timing = build_timing("DAILY", {"hour": 8, "minute": 0}, "Asia/Tokyo")
    assert timing.next_slots(utc(2025, 1, 1), 2) == [utc(2025, 1, 1, 23), utc(2025, 1, 2, 23)]


def test_daily_minute_defaults_to_zero():
    assert build_timing("DAILY", {"hour": 8}).config == {"hour": 8, "minute": 0}


def test_daily_accepts_integers_and_digit_strings():
    assert build_timing("DAILY", {"hour": "08", "minute": "5"}).config == {"hour": 8, "minute": 5}


def test_weekly_seven_is_sunday_like_zero():
    timing = build_timing("WEEKLY", {"day_of_week": 7, "hour": 17, "minute": 0})
    assert timing.config["day_of_week"] == 0
    assert timing.next_after(utc(2025, 6, 2)) == utc(2025, 6, 8, 17)  # 2025-06-08 is a Sunday


def test_weekly_five_is_friday():
    timing = build_timing("WEEKLY", {"day_of_week": 5, "hour": 17, "minute": 0})
    assert timing.next_after(utc(2025, 6, 2)) == utc(2025, 6, 6, 17)


@pytest.mark.parametrize(
    "days", [["mon", "wed", "fri"], ["Monday", "Wednesday", "Friday"], [1, 3, 5], "mon,wed,fri"]
)
def test_weekly_accepts_lists_of_days_and_names(days):
    timing = build_timing("WEEKLY", {"day_of_week": days, "hour": 9})
    assert timing.config["day_of_week"] == [1, 3, 5]
    slots = timing.next_slots(utc(2025, 6, 1), 4)  # from Sunday
    assert slots == [utc(2025, 6, 2, 9), utc(2025, 6, 4, 9), utc(2025, 6, 6, 9), utc(2025, 6, 9, 9)]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (31, [(1, 31), (2, 28), (3, 31), (4, 30), (5, 31), (6, 30)]),
        (30, [(1, 30), (2, 28), (3, 30), (4, 30), (5, 30), (6, 30)]),
        (1, [(1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 1)]),
        ("last", [(1, 31), (2, 28), (3, 31), (4, 30), (5, 31), (6, 30)]),
    ],
)
def test_monthly_runs_on_the_last_day_of_months_that_lack_the_day(day, expected):
    timing = build_timing("MONTHLY", {"day_of_month": day, "hour": 6, "minute": 0})
    slots = timing.next_slots(utc(2025, 1, 1), 6)
    assert [(slot.month, slot.day) for slot in slots] == expected
    assert all(slot.hour == 6 for slot in slots)


def test_monthly_thirty_one_runs_on_february_29_in_a_leap_year():
    timing = build_timing("MONTHLY", {"day_of_month": 31, "hour": 6})
    assert timing.next_after(utc(2024, 2, 1)) == utc(2024, 2, 29, 6)
    assert timing.warnings == ["Months without day 31 run on their last day instead."]


# ----------------------------------------------------------------- CRON


def test_cron_without_seconds_fires_at_second_zero():
    assert cron("*/15 9-17 * * 1-5").next_after(utc(2025, 6, 2, 9, 7, 30)) == utc(2025, 6, 2, 9, 15)


def test_cron_with_six_fields_reads_seconds_first():
    timing = cron("30 */30 * * * *")
    assert timing.next_slots(utc(2025, 6, 2), 3) == [
        utc(2025, 6, 2, 0, 0, 30),
        utc(2025, 6, 2, 0, 30, 30),
        utc(2025, 6, 2, 1, 0, 30),
    ]


def test_cron_fields_accept_integers_and_leave_out_fields_as_stars():
    timing = build_timing("CRON", {"minute": 0, "hour": 8, "day_of_week": "1-5"})
    assert timing.config == {
        "minute": "0",
        "hour": "8",
        "day_of_month": "*",
        "month_of_year": "*",
        "day_of_week": "1-5",
    }
    assert timing.next_after(utc(2025, 6, 7)) == utc(2025, 6, 9, 8)  # Saturday -> Monday


def test_cron_fields_take_an_optional_second():
    timing = build_timing("CRON", {"second": 15, "minute": "*/10"})
    assert timing.next_slots(utc(2025, 6, 2), 2) == [
        utc(2025, 6, 2, 0, 0, 15),
        utc(2025, 6, 2, 0, 10, 15),
    ]


def test_cron_understands_month_and_day_names_in_any_case():
    timing = cron("0 9 * JAN-mar Mon,wed")
    assert timing.next_after(utc(2025, 3, 28)) == utc(2025, 3, 31, 9)  # a Monday
    assert timing.next_after(utc(2025, 3, 31, 9)) == utc(2026, 1, 5, 9)


def test_cron_a_step_from_a_start_value_runs_to_the_end_of_the_field():
    assert cron("5/20 * * * *").next_slots(utc(2025, 1, 1), 4) == [
        utc(2025, 1, 1, 0, 5),
        utc(2025, 1, 1, 0, 25),
        utc(2025, 1, 1, 0, 45),
        utc(2025, 1, 1, 1, 5),
    ]


def test_cron_a_day_of_week_step_ends_on_saturday_so_one_over_two_is_monday_wednesday_friday():
    slots = cron("0 0 * * 1/2").next_slots(utc(2025, 6, 1), 4)  # from Sunday
    assert [slot.day for slot in slots] == [2, 4, 6, 9]


def test_cron_a_range_of_one_value_is_that_value():
    assert cron("0 0 * * thu-thu").next_slots(utc(2025, 6, 1), 2) == [
        utc(2025, 6, 5),
        utc(2025, 6, 12),
    ]


def test_cron_ranges_with_steps_and_lists_combine():
    timing = cron("0 1-10/3,22 * * *")
    assert [slot.hour for slot in timing.next_slots(utc(2025, 1, 1), 5)] == [1, 4, 7, 10, 22]


def test_cron_day_fields_both_restricted_fire_on_either_with_a_warning():
    timing = cron("0 0 13 * 5")  # the 13th, or any Friday
    slots = timing.next_slots(utc(2025, 6, 1), 4)
    assert slots == [utc(2025, 6, 6), utc(2025, 6, 13), utc(2025, 6, 20), utc(2025, 6, 27)]
    assert timing.next_after(utc(2025, 7, 4)) == utc(2025, 7, 11)
    assert timing.next_after(utc(2025, 7, 11)) == utc(2025, 7, 13)  # a Sunday
    assert timing.warnings == [
        "Both day of month and day of week are set, so this runs on days matching either one "
        "(standard cron behaviour), not only on days matching both."
    ]


def test_cron_a_day_field_starting_with_a_star_is_not_restricted_so_both_must_match():
    timing = cron("0 0 */2 * 1")  # odd days of the month that are Mondays
    slots = timing.next_slots(utc(2025, 6, 1), 3)
    assert slots == [utc(2025, 6, 9), utc(2025, 6, 23), utc(2025, 7, 7)]
    assert timing.warnings == [
        "Day of month '*/2' starts with '*', so cron does not count it as set: "
        "a day must match both day fields."
    ]
    assert timing.describe() == "At 00:00, every 2 days, but only on Monday (UTC)"


def test_cron_leap_day_fires_only_on_february_29():
    timing = cron("0 0 29 2 *")
    assert timing.next_after(utc(2025, 1, 1)) == utc(2028, 2, 29)
    assert timing.next_after(utc(2028, 2, 29)) == utc(2032, 2, 29)
    assert timing.next_after(utc(2096, 3, 1)) == utc(2104, 2, 29)  # 2100 is not a leap year


def test_cron_day_31_skips_months_without_it():
    slots = cron("0 0 31 * *").next_slots(utc(2025, 1, 1), 4)
    assert slots == [utc(2025, 1, 31), utc(2025, 3, 31), utc(2025, 5, 31), utc(2025, 7, 31)]


def test_cron_finds_a_february_29_that_is_a_sunday_forty_years_away():
    assert cron("0 0 29 2 */7").next_after(utc(2088, 3, 1)) == utc(2128, 2, 29)


def test_the_search_stops_at_year_9999():
    assert cron("0 0 * * *").next_after(utc(9999, 12, 31, 12)) is None


@pytest.mark.parametrize(
    ("macro", "expected"),
    [
        ("@yearly", utc(2026, 1, 1)),
        ("@annually", utc(2026, 1, 1)),
        ("@monthly", utc(2025, 7, 1)),
        ("@weekly", utc(2025, 6, 8)),
        ("@daily", utc(2025, 6, 4)),
        ("@midnight", utc(2025, 6, 4)),
        ("@hourly", utc(2025, 6, 3, 13)),
        ("@DAILY", utc(2025, 6, 4)),
    ],
)
def test_cron_macros(macro, expected):
    assert cron(macro).next_after(utc(2025, 6, 3, 12, 30)) == expected


# ----------------------------------------------------------------- start_at and end_at


def test_start_at_is_inclusive():
    timing = build_timing("DAILY", {"hour": 8}, "UTC", start_at=utc(2025, 6, 10, 8))
    assert timing.next_after(utc(2025, 1, 1)) == utc(2025, 6, 10, 8)
    assert timing.initial_slot(utc(2025, 1, 1)) == utc(2025, 6, 10, 8)


def test_nothing_fires_before_start_at():
    timing = build_timing("DAILY", {"hour": 8}, "UTC", start_at=utc(2025, 6, 10, 8, 0, 1))
    assert timing.next_after(utc(2025, 1, 1)) == utc(2025, 6, 11, 8)


def test_end_at_is_inclusive_and_nothing_fires_after_it():
    timing = build_timing("DAILY", {"hour": 8}, "UTC", end_at=utc(2025, 6, 10, 8))
    assert timing.next_after(utc(2025, 6, 9, 8)) == utc(2025, 6, 10, 8)
    assert timing.next_after(utc(2025, 6, 10, 8)) is None
    assert timing.slots_between(utc(2025, 6, 8, 8), utc(2025, 7, 1), 10) == [
        utc(2025, 6, 9, 8),
        utc(2025, 6, 10, 8),
    ]


def test_naive_bounds_are_wall_times_in_the_schedule_zone():
    timing = build_timing(
        "DAILY", {"hour": 8}, "Europe/Berlin", "2025-06-10T08:00", "2025-06-12 08:00:00"
    )
    assert timing.start_at == utc(2025, 6, 10, 6)
    assert timing.end_at == utc(2025, 6, 12, 6)
    assert len(timing.next_slots(utc(2025, 1, 1), 10)) == 3


def test_bounds_with_an_offset_are_that_instant():
    timing = build_timing("DAILY", {"hour": 8}, "Europe/Berlin", "2025-06-10T08:00+00:00")
    assert timing.start_at == utc(2025, 6, 10, 8)
    aware = build_timing(
        "DAILY", {"hour": 8}, "UTC", datetime(2025, 6, 10, 8, tzinfo=timezone(timedelta(hours=2)))
    )
    assert aware.start_at == utc(2025, 6, 10, 6)


# ----------------------------------------------------------------- descriptions


@pytest.mark.parametrize(
    ("schedule_type", "config", "zone", "text"),
    [
        (
            "CRON",
            {"expression": "0 8 * * 1-5"},
            "Europe/Berlin",
            "At 08:00, Monday through Friday (Europe/Berlin)",
        ),
        (
            "WEEKLY",
            {"day_of_week": [1, 2, 3, 4, 5], "hour": 8},
            "Europe/Berlin",
            "At 08:00, Monday through Friday (Europe/Berlin)",
        ),
        (
            "WEEKLY",
            {"day_of_week": 7, "hour": 17, "minute": 30},
            "UTC",
            "At 17:30, only on Sunday (UTC)",
        ),
        ("DAILY", {"hour": 17, "minute": 30}, "UTC", "At 17:30 (UTC)"),
        (
            "MONTHLY",
            {"day_of_month": "last", "hour": 6},
            "UTC",
            "At 06:00, on the last day of the month (UTC)",
        ),
        (
            "MONTHLY",
            {"day_of_month": 31, "hour": 6},
            "UTC",
            "At 06:00, on day 31 of the month, or on the last day of shorter months (UTC)",
        ),
        (
            "ONCE",
            {"execute_at": "2025-12-31 23:59:00"},
            "Europe/Berlin",
            "Once at 2025-12-31 23:59 (Europe/Berlin)",
        ),
        ("ONCE", {}, "Europe/Berlin", "Once, immediately when saved"),
        (
            "CRON",
            {"expression": "0 */30 * * * *"},
            "Asia/Kolkata",
            "Every 30 minutes (Asia/Kolkata)",
        ),
        ("CRON", {"expression": "@hourly"}, "UTC", "Every hour (UTC)"),
    ],
)
def test_descriptions_name_the_zone_and_use_a_24_hour_clock(schedule_type, config, zone, text):
    assert build_timing(schedule_type, config, zone).describe() == text


def test_the_description_mentions_the_bounds_in_the_schedule_zone():
    timing = build_timing(
        "DAILY", {"hour": 8}, "Europe/Berlin", "2025-01-01T09:00", "2025-06-30 18:00"
    )
    assert (
        timing.describe()
        == "At 08:00 (Europe/Berlin), from 2025-01-01 09:00, until 2025-06-30 18:00"
    )


def test_a_plain_schedule_has_no_warnings():
    assert cron("*/15 9-17 * * 1-5").warnings == []


# ----------------------------------------------------------------- validation messages


def test_an_unknown_schedule_type_is_refused():
    assert errors_of("HOURLY", {}) == {
        "schedule_type": ["Schedule type must be one of ONCE, DAILY, WEEKLY, MONTHLY, CRON."]
    }


def test_an_unknown_time_zone_is_refused():
    assert errors_of("DAILY", {"hour": 8}, "Mars/Olympus") == {
        "timezone": ["Unknown time zone 'Mars/Olympus'."]
    }


def test_a_time_zone_that_is_not_text_is_refused():
    assert errors_of("DAILY", {"hour": 8}, 5) == {
        "timezone": ["Time zone must be an IANA name such as 'Europe/Berlin'."]
    }


def test_an_hour_out_of_range_is_refused():
    assert errors_of("DAILY", {"hour": 24}) == {
        "schedule_config.hour": ["Hour must be between 0 and 23."]
    }


def test_a_minute_out_of_range_is_refused():
    assert errors_of("WEEKLY", {"day_of_week": 1, "hour": 8, "minute": 60}) == {
        "schedule_config.minute": ["Minute must be between 0 and 59."]
    }


def test_a_missing_hour_is_refused():
    assert errors_of("DAILY", {"minute": 5}) == {"schedule_config.hour": ["Hour is required."]}


@pytest.mark.parametrize("value", ["eight", True, 8.5, [8]])
def test_an_hour_that_is_not_a_whole_number_is_refused(value):
    assert errors_of("DAILY", {"hour": value}) == {
        "schedule_config.hour": ["Hour must be a whole number."]
    }


def test_a_missing_day_of_week_is_refused():
    assert errors_of("WEEKLY", {"hour": 8}) == {
        "schedule_config.day_of_week": ["Day of week is required."]
    }


def test_an_unknown_day_name_is_refused():
    assert errors_of("WEEKLY", {"day_of_week": "funday", "hour": 8}) == {
        "schedule_config.day_of_week": [
            "'funday' is not a day of the week; use 0-7 or a name like 'mon'."
        ]
    }


def test_a_day_of_week_out_of_range_is_refused():
    assert errors_of("WEEKLY", {"day_of_week": [1, 8], "hour": 8}) == {
        "schedule_config.day_of_week": ["Day of week must be between 0 and 7 (0 and 7 are Sunday)."]
    }


def test_an_empty_list_of_days_is_refused():
    assert errors_of("WEEKLY", {"day_of_week": [], "hour": 8}) == {
        "schedule_config.day_of_week": ["Choose at least one day of the week."]
    }


@pytest.mark.parametrize("day", [0, 32, "first"])
def test_a_day_of_month_out_of_range_is_refused(day):
    assert errors_of("MONTHLY", {"day_of_month": day, "hour": 8}) == {
        "schedule_config.day_of_month": ['Day of month must be between 1 and 31, or "last".']
    }


def test_a_missing_day_of_month_is_refused():
    assert errors_of("MONTHLY", {"hour": 8}) == {
        "schedule_config.day_of_month": ["Day of month is required."]
    }


@pytest.mark.parametrize(
    ("expression", "count"), [("0 8 * *", 4), ("0 0 8 * * * 2025", 7), ("0", 1)]
)
def test_a_cron_expression_with_the_wrong_number_of_fields_is_refused(expression, count):
    assert errors_of("CRON", {"expression": expression}) == {
        "schedule_config.expression": [
            f"A cron expression has 5 fields (or 6 with seconds first); this one has {count}."
        ]
    }


@pytest.mark.parametrize("expression", ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30-31 feb *"])
def test_a_cron_expression_that_can_never_fire_is_refused(expression):
    assert errors_of("CRON", {"expression": expression}) == {
        "schedule_config.expression": ["This cron expression can never fire."]
    }


def test_cron_fields_that_can_never_fire_are_refused():
    assert errors_of("CRON", {"day_of_month": 31, "month_of_year": "4,6,9,11"}) == {
        "schedule_config.day_of_month": ["This cron expression can never fire."]
    }


def test_an_impossible_date_can_still_fire_when_the_day_of_week_is_also_restricted():
    # Vixie OR: "the 30th of February, or any Monday in February" is every Monday in February.
    assert cron("0 0 30 2 1").next_after(utc(2025, 1, 1)) == utc(2025, 2, 3)


def test_a_cron_value_out_of_range_is_refused():
    assert errors_of("CRON", {"expression": "0 24 * * *"}) == {
        "schedule_config.expression": ["Hour must be between 0 and 23."]
    }


def test_a_cron_field_out_of_range_is_refused_under_its_own_key():
    assert errors_of("CRON", {"minute": "*/15", "hour": 24}) == {
        "schedule_config.hour": ["Hour must be between 0 and 23."]
    }


def test_every_bad_cron_field_is_reported():
    assert errors_of("CRON", {"expression": "61 24 0 13 8"}) == {
        "schedule_config.expression": [
            "Minute must be between 0 and 59.",
            "Hour must be between 0 and 23.",
            "Day of month must be between 1 and 31.",
            "Month must be between 1 and 12.",
            "Day of week must be between 0 and 7 (0 and 7 are Sunday).",
        ]
    }


def test_an_unknown_name_in_a_cron_field_is_refused():
    assert errors_of("CRON", {"expression": "0 0 * * funday"}) == {
        "schedule_config.expression": [
            "Day of week must be a number between 0 and 7 or a day name like 'sun'; "
            "'funday' is neither."
        ]
    }


def test_a_backwards_cron_range_is_refused():
    assert errors_of("CRON", {"expression": "0 0 * * fri-mon"}) == {
        "schedule_config.expression": [
            "Day of week range 'fri-mon' goes backwards; write the smaller value first."
        ]
    }


def test_a_zero_cron_step_is_refused():
    assert errors_of("CRON", {"expression": "*/0 * * * *"}) == {
        "schedule_config.expression": ["Minute step in '*/0' must be a whole number of 1 or more."]
    }


def test_a_malformed_cron_part_is_refused():
    assert errors_of("CRON", {"expression": "1--2 * * * *"}) == {
        "schedule_config.expression": ["Minute has an invalid part '1--2'."]
    }


def test_an_empty_cron_field_is_refused():
    assert errors_of("CRON", {"minute": ""}) == {
        "schedule_config.minute": ["Minute is empty; use '*' for every value."]
    }


def test_a_cron_field_of_the_wrong_type_is_refused():
    assert errors_of("CRON", {"minute": 1.5}) == {
        "schedule_config.minute": ["Minute must be a number or cron text like '*/15'."]
    }


def test_an_empty_cron_expression_is_refused():
    assert errors_of("CRON", {"expression": "  "}) == {
        "schedule_config.expression": ["The cron expression is empty."]
    }


def test_a_cron_expression_that_is_not_text_is_refused():
    assert errors_of("CRON", {"expression": 5}) == {
        "schedule_config.expression": ["The cron expression must be text like '*/15 9-17 * * 1-5'."]
    }


def test_an_unknown_cron_shortcut_is_refused():
    assert errors_of("CRON", {"expression": "@fortnightly"}) == {
        "schedule_config.expression": [
            "Unknown cron shortcut '@fortnightly'; use one of "
            "@yearly @annually @monthly @weekly @daily @midnight @hourly."
        ]
    }


def test_reboot_is_refused():
    assert errors_of("CRON", {"expression": "@reboot"}) == {
        "schedule_config.expression": ["@reboot is not supported: a schedule needs a time."]
    }


def test_an_expression_and_fields_together_are_refused():
    assert errors_of("CRON", {"expression": "* * * * *", "hour": 8}) == {
        "schedule_config": ["Give either a cron expression or the separate cron fields, not both."]
    }


def test_an_unknown_setting_is_refused():
    assert errors_of("DAILY", {"hours": 8}) == {
        "schedule_config": ["Unknown setting 'hours' for a DAILY schedule; allowed: hour, minute."]
    }


def test_settings_that_are_not_an_object_are_refused():
    assert errors_of("DAILY", ["hour", 8]) == {
        "schedule_config": ["The schedule settings must be a JSON object."]
    }


def test_a_malformed_run_time_is_refused():
    assert errors_of("ONCE", {"execute_at": "tomorrow"}) == {
        "schedule_config.execute_at": [
            "The run time must be a date and time like '2025-12-31 23:59:00'."
        ]
    }


def test_a_run_time_after_end_at_is_refused():
    assert errors_of(
        "ONCE", {"execute_at": "2025-07-01 00:00"}, "UTC", None, "2025-06-30T00:00"
    ) == {"schedule_config.execute_at": ["The run time is after end_at, so it would never run."]}


@pytest.mark.parametrize("key", ["start_at", "end_at"])
def test_a_malformed_bound_is_refused(key):
    assert errors_of("DAILY", {"hour": 8}, "UTC", **{key: "31/01/2025"}) == {
        key: [f"{key} must be a date and time in ISO 8601 form, e.g. '2025-01-31T09:00'."]
    }


@pytest.mark.parametrize("end", ["2025-01-01T00:00", "2024-12-31T23:59"])
def test_end_at_not_after_start_at_is_refused(end):
    assert errors_of("DAILY", {"hour": 8}, "UTC", "2025-01-01T00:00", end) == {
        "end_at": ["end_at must be after start_at."]
    }


def test_every_problem_is_reported_at_once():
    fields = errors_of(
        "DAILY",
        {"hour": 25, "minute": -1},
        "Mars/Olympus",
        "2025-02-01T00:00Z",
        "2025-01-01T00:00Z",
    )
    assert fields == {
        "timezone": ["Unknown time zone 'Mars/Olympus'."],
        "end_at": ["end_at must be after start_at."],
        "schedule_config.hour": ["Hour must be between 0 and 23."],
        "schedule_config.minute": ["Minute must be between 0 and 59."],
    }


def test_enabling_a_recurring_schedule_takes_the_next_slot_after_now_without_a_burst():
    timing = cron("*/15 * * * *")
    assert timing.initial_slot(utc(2025, 6, 1, 12, 7)) == utc(2025, 6, 1, 12, 15)
    assert timing.initial_slot(utc(2025, 6, 1, 12, 15)) == utc(2025, 6, 1, 12, 30)
