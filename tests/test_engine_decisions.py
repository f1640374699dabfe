"""The engine's pure decisions (app/runs/decisions.py): catch-up, overlap, retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.runs.decisions import (
    latest_due_slot,
    overlap_decision,
    plan_fire,
    retry_delay,
    should_retry,
)
from app.scheduling.timing import build_timing

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
EVERY_MINUTE = build_timing("CRON", {"expression": "* * * * *"}, "UTC")
EVERY_SECOND = build_timing("CRON", {"expression": "* * * * * *"}, "UTC")


def test_an_on_time_slot_fires_once_and_the_next_comes_from_the_slot_not_from_now():
    plan = plan_fire(EVERY_MINUTE, T0, T0 + timedelta(milliseconds=40), 3600)
    assert plan.fire == [(T0, "scheduled")]
    assert plan.missed == []
    assert plan.next_slot == T0 + timedelta(minutes=1)


def test_a_slot_that_is_not_due_yet_is_left_alone():
    plan = plan_fire(EVERY_MINUTE, T0, T0 - timedelta(seconds=1), 3600)
    assert plan.fire == [] and plan.missed == [] and plan.next_slot == T0


def test_after_downtime_the_latest_slot_catches_up_and_the_others_are_missed():
    now = T0 + timedelta(minutes=3, seconds=30)
    plan = plan_fire(EVERY_MINUTE, T0, now, 3600)
    assert plan.fire == [(T0 + timedelta(minutes=3), "catchup")]
    assert plan.missed == [(T0 + timedelta(minutes=m), "scheduler_down") for m in range(3)]
    assert plan.next_slot == T0 + timedelta(minutes=4)


def test_a_latest_slot_older_than_the_window_is_missed_for_the_window():
    now = T0 + timedelta(minutes=2, seconds=30)
    plan = plan_fire(EVERY_MINUTE, T0, now, catchup_window_seconds=10)
    assert plan.fire == []
    assert plan.missed[-1] == (T0 + timedelta(minutes=2), "catchup_window")
    assert [reason for _, reason in plan.missed[:-1]] == ["scheduler_down"] * 2


def test_two_due_slots_mean_downtime_even_when_both_are_recent():
    plan = plan_fire(EVERY_SECOND, T0, T0 + timedelta(seconds=1, milliseconds=300), 3600)
    assert plan.fire == [(T0 + timedelta(seconds=1), "catchup")]
    assert plan.missed == [(T0, "scheduler_down")]


def test_one_slot_far_past_its_time_is_a_catchup():
    plan = plan_fire(EVERY_MINUTE, T0, T0 + timedelta(seconds=30), 3600)
    assert plan.fire == [(T0, "catchup")] and plan.missed == []


def test_a_window_of_zero_only_records():
    plan = plan_fire(EVERY_MINUTE, T0, T0 + timedelta(seconds=30), catchup_window_seconds=0)
    assert plan.fire == [] and plan.missed == [(T0, "catchup_window")]


def test_a_long_outage_is_bounded_and_summarised():
    now = T0 + timedelta(hours=2)  # 7,200 missed one-second slots
    plan = plan_fire(EVERY_SECOND, T0, now, 3600, record_limit=100)
    assert len(plan.missed) == 101  # the first slot plus the limit
    assert plan.fire == [(now, "catchup")]
    assert plan.unrecorded is not None
    first, last = plan.unrecorded
    assert first == T0 + timedelta(seconds=101) and last == now


def test_the_latest_due_slot_is_found_far_back_for_rare_schedules():
    yearly = build_timing("CRON", {"expression": "0 0 1 1 *"}, "UTC")
    slot = datetime(2020, 1, 1, tzinfo=UTC)
    assert latest_due_slot(yearly, slot, datetime(2023, 6, 1, tzinfo=UTC)) == datetime(
        2023, 1, 1, tzinfo=UTC
    )


def test_overlap_policies():
    assert overlap_decision("skip", 0, 0) == "run"
    assert overlap_decision("skip", 1, 0) == "skip"
    assert overlap_decision("queue_one", 1, 0) == "wait"
    assert overlap_decision("queue_one", 1, 1) == "skip"
    assert overlap_decision("queue_one", 0, 1) == "skip"  # the waiter goes first
    assert overlap_decision("allow", 3, 0) == "run"


def test_retries_back_off_exponentially_up_to_max_retries():
    assert [retry_delay(a, 60).total_seconds() for a in (2, 3, 4)] == [60, 120, 240]
    assert should_retry("FAILED", 1, 2) and should_retry("FAILED", 2, 2)
    assert not should_retry("FAILED", 3, 2)
    assert not should_retry("SUCCESS", 1, 2)
    assert not should_retry("FAILED", 1, 0)
