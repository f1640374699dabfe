"""The run state machine on the database, and what it asks of Redis (through the bridge).

Every decision comes from app/runs/decisions.py; this module gathers the facts, writes the
rows and, only after the commit, touches Redis. A Run row always exists before its job is
queued, so whatever Redis loses can be found again in the database.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, case, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db, redis_client, rkey
from app.models import ACTIVE_STATUSES, AuditEvent, Run, Schedule, final_fields, utcnow
from app.runs import decisions
from app.scheduling import bridge
from app.scheduling.timing import TimingError

log = logging.getLogger(__name__)

# A run RUNNING this long past its timeout, on a worker that still beats, is stuck in code
# the timeout signal cannot interrupt: it is failed so its overlap lock is released.
STUCK_GRACE_SECONDS = 60


class RunRefused(Exception):
    """Run Now refused by the overlap policy (the API answers 409)."""


def _insert():
    """INSERT … ON CONFLICT DO NOTHING for this database: the slot claim (SPEC §3.1)."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(Run.__table__)


def keep_updated_at():
    # Schedule.updated_at means "last edited by a person": the engine's own writes must not
    # touch it, and the reconciler relies on that to look only at edited schedules.
    return {"updated_at": Schedule.__table__.c.updated_at}


def lock_schedules(schedule_ids: list[int]) -> None:
    """Serialise the overlap decisions of one schedule: Run Now, the scheduler's fire and the
    release of a queue_one waiter each count the runs in progress and then add one, so two of
    them must not count at the same time. This no-op UPDATE, the transaction's first write,
    takes the schedules' row locks on PostgreSQL and the database's write lock on SQLite,
    held until the commit; the counts read after it see every run committed before it."""
    if schedule_ids:
        table = Schedule.__table__
        db.session.execute(
            update(table).where(table.c.id.in_(schedule_ids)).values(**keep_updated_at())
        )


# Runs that hold a schedule's overlap lock: queued or running, plus retries waiting out
# their backoff (the slot they belong to is not finished yet).
_IN_PROGRESS = or_(
    Run.status == "RUNNING",
    and_(Run.status == "PENDING", or_(Run.reason.is_(None), Run.reason == "backoff")),
)
_WAITING = and_(Run.status == "PENDING", Run.reason == "overlap")


def overlap_counts(schedule_ids: list[int]) -> dict[int, tuple[int, int]]:
    """schedule_id → (runs in progress, runs waiting under queue_one)."""
    if not schedule_ids:
        return {}
    rows = db.session.execute(
        db.select(
            Run.schedule_id,
            func.sum(case((_IN_PROGRESS, 1), else_=0)),
            func.sum(case((_WAITING, 1), else_=0)),
        )
        .where(Run.schedule_id.in_(schedule_ids), Run.status.in_(ACTIVE_STATUSES))
        .group_by(Run.schedule_id)
    ).all()
    return {sid: (int(a or 0), int(w or 0)) for sid, a, w in rows}


# ---- firing due slots (the scheduler leader)


@dataclass
class FireOutcome:
    enqueued: int = 0
    skipped: int = 0
    missed: int = 0
    lost_claims: int = 0  # slots another scheduler had already claimed


def fire_due(schedule_ids: list[int], now: datetime | None = None) -> FireOutcome:
    """Fire every due slot of these schedules, in one transaction and one Redis round trip.

    The claim is the INSERT of the slot's Run row against the unique key
    (schedule_id, slot_at, attempt); a row not returned was claimed by someone else and is
    neither queued nor counted. The next slot comes from the slot that fired.
    """
    now = now or utcnow()
    outcome = FireOutcome()
    lock_schedules(sorted(schedule_ids))
    schedules = {
        s.id: s
        for s in db.session.execute(db.select(Schedule).where(Schedule.id.in_(schedule_ids)))
        .scalars()
        .all()
    }
    to_cancel = [sid for sid in schedule_ids if sid not in schedules]
    rearm: dict[int, datetime | None] = {}
    counts = overlap_counts(list(schedules))
    rows: list[dict] = []
    moves: list[dict] = []
    once_done: set[int] = set()
    for schedule in schedules.values():
        slot = schedule.next_run_at
        if not schedule.enabled or slot is None:
            to_cancel.append(schedule.id)
            continue
        if slot > now:
            rearm[schedule.id] = slot  # the fire was early or stale: follow the database
            continue
        try:
            plan = decisions.plan_fire(
                schedule.timing(), slot, now, schedule.catchup_window_seconds
            )
        except TimingError as exc:
            log.error("schedule %s has invalid timing, not firing: %s", schedule.id, exc)
            to_cancel.append(schedule.id)
            continue
        base = {
            "schedule_id": schedule.id,
            "organization_id": schedule.organization_id,
            "attempt": 1,
            "created_at": now,
        }
        for missed_slot, reason in plan.missed:
            rows.append(
                base
                | {
                    "trigger": "scheduled",
                    "scheduled_for": missed_slot,
                    "slot_at": missed_slot,
                    "status": "MISSED",
                    "reason": reason,
                    "enqueued_at": None,
                    "completed_at": now,
                }
            )
        in_progress, waiting = counts.get(schedule.id, (0, 0))
        for fire_slot, trigger in plan.fire:
            decision = decisions.overlap_decision(schedule.overlap_policy, in_progress, waiting)
            row = base | {
                "trigger": trigger,
                "scheduled_for": fire_slot,
                "slot_at": fire_slot,
                "status": "PENDING",
                "reason": None,
                "enqueued_at": now,
                "completed_at": None,
            }
            if decision == "run":
                in_progress += 1
            elif decision == "wait":
                waiting += 1
                row |= {"reason": "overlap", "enqueued_at": None}
            else:
                row |= {"status": "SKIPPED", "reason": "overlap", "completed_at": now}
            rows.append(row)
        if plan.unrecorded:
            first, last = plan.unrecorded
            AuditEvent.record(
                organization_id=schedule.organization_id,
                user=None,
                action="schedule.missed",
                obj=schedule,
                changes={"unrecorded_missed_slots": [first.isoformat(), last.isoformat()]},
            )
        moves.append({"sid": schedule.id, "old": slot, "new": plan.next_slot})
        if plan.next_slot is None and schedule.schedule_type == "ONCE":
            once_done.add(schedule.id)

    claimed: list[tuple[int, int, str, str | None]] = []
    if rows:
        # An executemany (the rows as parameters, batched by SQLAlchemy into multi-row
        # INSERTs) keeps one compiled statement for any number of rows.
        c = Run.__table__.c
        statement = (
            _insert()
            .on_conflict_do_nothing(index_elements=["schedule_id", "slot_at", "attempt"])
            .returning(c.id, c.schedule_id, c.status, c.reason)
        )
        claimed = [tuple(r) for r in db.session.execute(statement, rows).all()]
        outcome.lost_claims = len(rows) - len(claimed)
    if moves:
        # Conditional on the slot we fired from: an edit committed meanwhile wins.
        table = Schedule.__table__  # Core: an executemany, not an ORM bulk update by key
        db.session.execute(
            update(table)
            .where(table.c.id == bindparam("sid"), table.c.next_run_at == bindparam("old"))
            .values(next_run_at=bindparam("new"), **keep_updated_at()),
            moves,
        )
    to_queue = []
    claimed_for: dict[int, int] = defaultdict(int)
    live_for: dict[int, int] = defaultdict(int)
    for run_id, schedule_id, status, reason in claimed:
        claimed_for[schedule_id] += 1
        if status == "PENDING":
            live_for[schedule_id] += 1
            if reason is None:
                to_queue.append((run_id, schedules[schedule_id].timeout_seconds))
                outcome.enqueued += 1
        elif status == "SKIPPED":
            outcome.skipped += 1
        else:
            outcome.missed += 1
    # A ONCE schedule whose only slot ended without a run to wait for is complete now.
    complete = [sid for sid in once_done if claimed_for[sid] and not live_for[sid]]
    if complete:
        _complete_once(complete, now)
    db.session.commit()

    # Redis after the commit: the rows exist before their jobs do. The runs first, so the
    # workers start while the fires are moved to their next slots.
    bridge.enqueue_runs(to_queue)
    if moves or rearm:
        fresh = dict(
            db.session.execute(
                db.select(Schedule.id, Schedule.next_run_at).where(
                    Schedule.id.in_([m["sid"] for m in moves] + list(rearm)),
                    Schedule.enabled.is_(True),
                )
            ).all()
        )
        db.session.rollback()
        for move in moves:
            rearm[move["sid"]] = fresh.get(move["sid"])
        for sid in list(rearm):
            rearm[sid] = fresh.get(sid)
    bridge.rearm_many(list(rearm.items()) + [(sid, None) for sid in to_cancel])
    return outcome


def _complete_once(schedule_ids: list[int], now: datetime) -> None:
    db.session.execute(
        update(Schedule)
        .where(Schedule.id.in_(schedule_ids), Schedule.schedule_type == "ONCE")
        .values(enabled=False, completed_at=now, next_run_at=None, **keep_updated_at())
        .execution_options(synchronize_session=False)
    )


def fire_retries(run_ids: list[int], now: datetime | None = None) -> int:
    """Queue retries whose backoff is over (their Run rows were written when they failed)."""
    now = now or utcnow()
    rows = db.session.execute(
        db.select(Run.id, Schedule.timeout_seconds)
        .join(Schedule, Schedule.id == Run.schedule_id)
        .where(Run.id.in_(run_ids), Run.status == "PENDING", Run.reason == "backoff")
    ).all()
    if rows:
        db.session.execute(
            update(Run)
            .where(Run.id.in_([r[0] for r in rows]), Run.reason == "backoff")
            .values(reason=None, enqueued_at=now)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    bridge.remove_members(bridge.retry_member(rid) for rid in run_ids)
    bridge.enqueue_runs([(rid, timeout) for rid, timeout in rows])
    return len(rows)


# ---- Run Now (SPEC §3.2)


def run_now(schedule: Schedule, user=None, now: datetime | None = None) -> Run:
    """A manual run at once. next_run_at does not move; a disabled schedule stays disabled."""
    now = now or utcnow()
    lock_schedules([schedule.id])
    in_progress, waiting = overlap_counts([schedule.id]).get(schedule.id, (0, 0))
    decision = decisions.overlap_decision(schedule.overlap_policy, in_progress, waiting)
    if decision == "skip":
        db.session.rollback()
        raise RunRefused(
            f"A run of '{schedule.name}' is already in progress, and its overlap policy "
            f"({schedule.overlap_policy}) does not start another. Try again when it has ended."
        )
    run = Run(
        schedule_id=schedule.id,
        organization_id=schedule.organization_id,
        trigger="manual",
        scheduled_for=now,
        slot_at=None,
        attempt=1,
        status="PENDING",
        reason="overlap" if decision == "wait" else None,
        enqueued_at=None if decision == "wait" else now,
    )
    db.session.add(run)
    db.session.flush()
    AuditEvent.record(
        organization_id=schedule.organization_id,
        user=user,
        action="schedule.run",
        obj=schedule,
        changes={"run_id": [None, run.id]},
    )
    db.session.commit()
    if decision == "run":
        bridge.enqueue_runs([(run.id, schedule.timeout_seconds)])
    return run


# ---- the end of a run: retries, ONCE completion, the queue_one waiter


_RUNS, _SCHEDULES = Run.__table__, Schedule.__table__
_ACTIVE_RUN = and_(_RUNS.c.id == bindparam("run_id"), _RUNS.c.status.in_(ACTIVE_STATUSES))
_RUN_TO_FINISH = db.select(
    _RUNS.c.schedule_id, _RUNS.c.organization_id, _RUNS.c.trigger, _RUNS.c.slot_at,
    _RUNS.c.attempt, _RUNS.c.started_at, _RUNS.c.session_id,
).where(_ACTIVE_RUN)  # fmt: skip
_FINISH = (
    update(_RUNS)
    .where(_ACTIVE_RUN)
    .values({
        name: bindparam(f"new_{name}")
        for name in (
            "status", "reason", "error", "completed_at", "duration_ms", "prompt_tokens",
            "completion_tokens", "cost",
        )
    })
)  # fmt: skip
_SCHEDULE_OF_FINISHED = db.select(
    _SCHEDULES.c.id, _SCHEDULES.c.schedule_type, _SCHEDULES.c.next_run_at,
    _SCHEDULES.c.max_retries, _SCHEDULES.c.retry_delay_seconds, _SCHEDULES.c.timeout_seconds,
    _SCHEDULES.c.overlap_policy, _SCHEDULES.c.session_config,
).where(_SCHEDULES.c.id == bindparam("schedule_id"))  # fmt: skip


def finish_run(
    run_id: int,
    status: str,
    reason: str | None = None,
    error: str | None = None,
    *,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    cost: float | None = None,
) -> bool:
    """End an active run, once: the UPDATE is conditional on the run still being active, so
    a worker finishing late cannot overwrite `worker_lost`, nor the other way round.
    Returns whether this call ended it. Commits.

    Every run ends here, so it works on table rows with statements built once, like the run
    job (app/runs/jobs.py): one read of the run, the conditional UPDATE, one read of the
    schedule.
    """
    now = utcnow()
    run = db.session.execute(_RUN_TO_FINISH, {"run_id": run_id}).first()
    if run is None:
        db.session.rollback()
        return False
    values = final_fields(status, reason, error, run.started_at, now) | {
        "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "cost": cost,
    }  # fmt: skip
    params = {f"new_{name}": value for name, value in values.items()}
    done = db.session.execute(_FINISH, params | {"run_id": run_id})
    if done.rowcount != 1:
        db.session.rollback()
        return False
    schedule = db.session.execute(_SCHEDULE_OF_FINISHED, {"schedule_id": run.schedule_id}).first()
    retry = None
    if schedule is not None and decisions.should_retry(status, run.attempt, schedule.max_retries):
        attempt = run.attempt + 1
        delay = decisions.retry_delay(attempt, schedule.retry_delay_seconds)
        retry = Run(
            schedule_id=run.schedule_id,
            organization_id=run.organization_id,
            trigger="retry",
            scheduled_for=now + delay,
            slot_at=run.slot_at,
            attempt=attempt,
            retry_of_id=run_id,
            status="PENDING",
            reason="backoff" if delay.total_seconds() > 0 else None,
            enqueued_at=None if delay.total_seconds() > 0 else now,
            session_id=run.session_id if _continuous(schedule) else None,
        )
        db.session.add(retry)
    elif (
        schedule is not None
        and schedule.schedule_type == "ONCE"
        and run.trigger != "manual"
        and schedule.next_run_at is None
    ):
        _complete_once([schedule.id], now)
    db.session.commit()
    if retry is not None:
        if retry.reason == "backoff":
            bridge.schedule_retry(retry.id, retry.scheduled_for)
        else:
            bridge.enqueue_runs([(retry.id, schedule.timeout_seconds)])
    elif schedule is not None and schedule.overlap_policy == "queue_one":
        release_waiting([schedule.id])  # only queue_one has waiters (the sweep is a backstop)
    return True


def _continuous(schedule) -> bool:
    return bool((schedule.session_config or {}).get("use_existing"))


def release_waiting(schedule_ids: list[int]) -> int:
    """queue_one: start the waiting run of each schedule whose previous run has ended."""

    def ready_of(counts):
        return [
            sid for sid, (in_progress, waiting) in counts.items() if waiting and not in_progress
        ]

    # Most runs end with nobody waiting: look first, and lock only when there is a waiter.
    ready = ready_of(overlap_counts(schedule_ids))
    if ready:
        lock_schedules(ready)
        ready = ready_of(overlap_counts(ready))
    if not ready:
        db.session.rollback()
        return 0
    now = utcnow()
    waiting = db.session.execute(
        db.select(Run.id, Run.schedule_id, Schedule.timeout_seconds)
        .join(Schedule, Schedule.id == Run.schedule_id)
        .where(Run.schedule_id.in_(ready), _WAITING)
        .order_by(Run.id)
    ).all()
    first: dict[int, tuple[int, int]] = {}
    for run_id, schedule_id, timeout in waiting:
        first.setdefault(schedule_id, (run_id, timeout))
    released = []
    for run_id, timeout in first.values():
        done = db.session.execute(
            update(Run)
            .where(Run.id == run_id, _WAITING)
            .values(reason=None, enqueued_at=now)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount == 1:
            released.append((run_id, timeout))
    db.session.commit()
    bridge.enqueue_runs(released)
    return len(released)


# ---- lost workers and lost jobs (run by the scheduler, so it works with no worker alive)


def worker_alive(names: list[str]) -> dict[str, bool]:
    if not names:
        return {}
    with redis_client().pipeline(transaction=False) as pipe:
        for name in names:
            pipe.exists(rkey("heartbeat", "worker", name))
        alive = pipe.execute()
    return dict(zip(names, map(bool, alive), strict=True))


@dataclass
class SweepOutcome:
    lost: int = 0
    stuck: int = 0
    requeued: int = 0
    released: int = 0


def sweep(now: datetime | None = None, requeue_after_seconds: float = 5.0) -> SweepOutcome:
    """Find runs nobody will finish, and finish or requeue them.

    - RUNNING on a worker whose heartbeat expired: FAILED `worker_lost` (SPEC §3.5).
    - RUNNING far past its timeout on a live worker: FAILED `timeout`.
    - PENDING on the queue whose RQ job is gone (Redis flushed): queued again; it never
      started, so running it now is not a second run.
    - queue_one waiters whose predecessor ended: started.
    Idle cost: one indexed query, no Redis command.
    """
    now = now or utcnow()
    outcome = SweepOutcome()
    active = db.session.execute(
        db.select(
            Run.id,
            Run.schedule_id,
            Run.status,
            Run.reason,
            Run.worker,
            Run.started_at,
            Run.enqueued_at,
            Schedule.timeout_seconds,
        )
        .join(Schedule, Schedule.id == Run.schedule_id)
        .where(Run.status.in_(ACTIVE_STATUSES))
    ).all()
    db.session.rollback()
    if not active:
        return outcome
    running = [r for r in active if r.status == "RUNNING"]
    alive = worker_alive(sorted({r.worker for r in running if r.worker}))
    for r in running:
        if r.worker and not alive.get(r.worker):
            if finish_run(r.id, "FAILED", "worker_lost", f"Worker {r.worker} stopped mid-run"):
                outcome.lost += 1
        elif (
            r.started_at is not None
            and (now - r.started_at).total_seconds() > r.timeout_seconds + STUCK_GRACE_SECONDS
            and finish_run(r.id, "FAILED", "timeout", f"Timeout after {r.timeout_seconds}s")
        ):
            outcome.stuck += 1
    queued = [
        r
        for r in active
        if r.status == "PENDING"
        and r.reason is None
        and r.enqueued_at is not None
        and (now - r.enqueued_at).total_seconds() > requeue_after_seconds
    ]
    exists = bridge.run_job_exists([r.id for r in queued])
    missing = [(r.id, r.timeout_seconds) for r in queued if not exists[r.id]]
    if missing:
        log.warning("requeueing %d runs whose jobs left Redis", len(missing))
        bridge.enqueue_runs(missing)
        outcome.requeued = len(missing)
    outcome.released = release_waiting(sorted({r.schedule_id for r in active}))
    return outcome
