"""The engine's decisions, as pure functions of their inputs (no Flask, no database, no clock).

The scheduler and the worker gather the facts (the schedule's timing, the slot that came
due, `now`, the runs in progress) and ask these functions what to do, so every rule of
SPEC §3.3–3.5 can be tested with plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.scheduling.timing import Timing

# A slot fired within this long of its time is on time (trigger "scheduled"), provided no
# later slot is due too. Otherwise the scheduler was down or Redis lost the fire, and the
# catch-up rules apply (SPEC §3.4).
# Large enough that a burst of 1,000 due slots (queued within 2 s) never counts as missed.
MISFIRE_GRACE = timedelta(seconds=5)
# At most this many MISSED rows are written for one outage of one schedule; the rest are
# summarised in one audit event, so a week-long outage of an every-second schedule cannot
# flood the database.
MISSED_RECORD_LIMIT = 500
# Searching backwards for the latest missed slot, in widening windows (seconds). Slots are
# whole seconds, so a window of w seconds holds at most w + 1 of them: each probe is bounded.
_PROBE_WINDOWS = (60, 3600, 86_400, 31 * 86_400, 366 * 86_400, 50 * 366 * 86_400)


@dataclass
class FirePlan:
    """What to write for a schedule whose pending slot came due."""

    fire: list[tuple[datetime, str]] = field(default_factory=list)  # (slot, trigger)
    missed: list[tuple[datetime, str]] = field(default_factory=list)  # (slot, reason)
    # (first, last) of missed slots not written one by one (beyond MISSED_RECORD_LIMIT).
    unrecorded: tuple[datetime, datetime] | None = None
    next_slot: datetime | None = None


def latest_due_slot(timing: Timing, slot: datetime, now: datetime) -> datetime:
    """The last slot at or before `now`, given that `slot` (<= now) is due."""
    for window in _PROBE_WINDOWS:
        start = max(slot, now - timedelta(seconds=window))
        found = timing.slots_between(start, now, limit=window + 2)
        if found:
            return found[-1]
        if start == slot:
            break  # searched all the way back to the known due slot: it is the latest
    return slot


def plan_fire(
    timing: Timing,
    slot: datetime,
    now: datetime,
    catchup_window_seconds: int,
    grace: timedelta = MISFIRE_GRACE,
    record_limit: int = MISSED_RECORD_LIMIT,
) -> FirePlan:
    """Decide what happens to the due `slot` and to every slot since then (SPEC §3.1, §3.4).

    On time (the only due slot, within `grace`): the slot runs (trigger scheduled). Else the
    scheduler was away: the latest missed slot runs
    once as `catchup` if within the window, else MISSED `catchup_window`; every earlier
    missed slot is MISSED `scheduler_down`. The next slot is computed from the last slot
    accounted for, never from `now`, so nothing drifts.
    """
    plan = FirePlan()
    if slot > now:
        plan.next_slot = slot
        return plan
    latest = latest_due_slot(timing, slot, now)
    plan.next_slot = timing.next_after(latest)
    earlier = [slot] if slot < latest else []
    if slot < latest:
        between = timing.slots_between(slot, latest, limit=record_limit)
        if between and between[-1] == latest:
            between.pop()
        elif between:
            plan.unrecorded = (timing.next_after(between[-1]) or latest, latest)
        earlier += between
    if not earlier and now - latest <= grace:
        plan.fire.append((latest, "scheduled"))
        return plan
    # More than one slot came due, or the one due slot is well past its time: the scheduler
    # was down (or Redis lost the fire). Only the latest slot may still run.
    plan.missed = [(missed, "scheduler_down") for missed in earlier]
    if catchup_window_seconds > 0 and now - latest <= timedelta(seconds=catchup_window_seconds):
        plan.fire.append((latest, "catchup"))
    else:
        plan.missed.append((latest, "catchup_window"))
    return plan


def overlap_decision(policy: str, in_progress: int, waiting: int) -> str:
    """ "run", "wait" (queue_one: start when the previous run ends) or "skip" (SPEC §3.3).

    `in_progress`: runs of the schedule PENDING on the queue or RUNNING; `waiting`: runs
    held back by queue_one.
    """
    if policy == "allow" or (in_progress == 0 and waiting == 0):
        return "run"
    if policy == "queue_one" and waiting == 0:
        return "wait"
    return "skip"


def retry_delay(attempt: int, retry_delay_seconds: int) -> timedelta:
    """Backoff before `attempt` (2, 3, …): the delay, then twice it, four times it …"""
    return timedelta(seconds=retry_delay_seconds * 2 ** max(0, attempt - 2))


def should_retry(status: str, attempt: int, max_retries: int) -> bool:
    """A FAILED run is retried until it has had 1 + max_retries attempts (SPEC §3.5)."""
    return status == "FAILED" and attempt < 1 + max_retries
