"""The bridge between the database and Redis: arm, cancel, enqueue, reconcile.

The database is the truth; Redis holds, per enabled schedule, one pending fire in
rq-scheduler's sorted set (member `{prefix}-fire-{schedule_id}`, score = next_run_at as a
Unix time, plus rq-scheduler's JSON job hash), and per retry waiting out its backoff a
member `{prefix}-retry-{run_id}`. Anything here can be rebuilt from the database by
:func:`reconcile_full`, which the scheduler runs at start and whenever its cheap check
(:func:`reconcile_check`) finds Redis out of step.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import Flask, current_app
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue
from rq.job import JobStatus
from rq.serializers import JSONSerializer
from rq_scheduler import Scheduler

from app.extensions import db, redis_client, rkey
from app.models import Run, Schedule, utcnow
from app.redisjobs import JSONJob, run_queue
from app.signals import schedule_deleted, schedule_saved

log = logging.getLogger(__name__)

FIRE_FUNC = "app.runs.jobs.fire"
RUN_FUNC = "app.runs.jobs.execute_run"
# Failed run jobs stay in Redis a day for inspection with RQ's tools; the database keeps the
# run itself for good. Successful ones expire after a minute: RQ deletes a job kept for 0 s
# with nine more round trips per run (status checks one by one), an expiry costs none.
FAILURE_TTL = 86_400
RESULT_TTL = 60

# Add or move a member; if it became the earliest, wake the sleeping scheduler so a fire
# armed earlier than its current sleep target is not late. One round trip, atomic.
_ARM = """
redis.call('zadd', KEYS[1], ARGV[1], ARGV[2])
local first = redis.call('zrange', KEYS[1], 0, 0)
if first[1] == ARGV[2] then
  redis.call('publish', KEYS[2], ARGV[1])
end
return 1
"""


class TaskplanScheduler(Scheduler):
    """rq-scheduler with its sorted set under this install's prefix (so installs can share a
    Redis) and JSON jobs (never pickle)."""

    def __init__(self, connection, queue_name: str, prefix: str) -> None:
        super().__init__(queue_name=queue_name, connection=connection, job_class=JSONJob)
        self.scheduled_jobs_key = f"{prefix}:rq:scheduler:scheduled_jobs"


def scheduler() -> TaskplanScheduler:
    app = current_app
    return TaskplanScheduler(redis_client(), app.config["QUEUE_NAME"], app.config["REDIS_PREFIX"])


def fires_key() -> str:
    return f"{current_app.config['REDIS_PREFIX']}:rq:scheduler:scheduled_jobs"


def wake_channel() -> str:
    return rkey("scheduler", "wake")


def synced_key() -> str:
    """Set by a full reconcile; its absence means Redis was flushed or replaced."""
    return rkey("scheduler", "synced")


def _job_prefix() -> str:
    # RQ job ids allow only letters, digits, "_" and "-"; the sorted set's members are job ids.
    return re.sub(r"[^A-Za-z0-9_-]", "_", current_app.config["REDIS_PREFIX"])


def fire_member(schedule_id: int) -> str:
    """The pending fire's job id and sorted-set member: `{prefix}-fire-{schedule_id}`."""
    return f"{_job_prefix()}-fire-{schedule_id}"


def retry_member(run_id: int) -> str:
    return f"{_job_prefix()}-retry-{run_id}"


def run_job_id(run_id: int) -> str:
    # Deterministic: enqueueing the same run twice overwrites one job instead of adding a
    # second, and the worker's PENDING → RUNNING claim makes a second delivery a no-op.
    return f"{_job_prefix()}-run-{run_id}"


def parse_member(member: bytes | str) -> tuple[str, int] | None:
    """("fire", schedule_id) or ("retry", run_id) from a sorted-set member."""
    text = member.decode() if isinstance(member, bytes) else member
    prefix, _, rest = text.rpartition("-")
    prefix, _, kind = prefix.rpartition("-")
    if prefix != _job_prefix() or kind not in ("fire", "retry") or not rest.isdigit():
        return None
    return kind, int(rest)


def _unix(moment: datetime) -> float:
    return moment.timestamp()


def _arm_script():
    connection = redis_client()
    script = current_app.extensions.get("taskplan_arm_script")
    if script is None:
        script = current_app.extensions["taskplan_arm_script"] = connection.register_script(_ARM)
    return script


def _save_fire_job(pipe: Pipeline, schedule_id: int) -> None:
    """rq-scheduler's job hash for the fire: what a stock rq-scheduler would enqueue, so even
    a plain `rqscheduler` pointed at this set would run the same claim (app.runs.jobs.fire)."""
    job = JSONJob.create(
        FIRE_FUNC,
        args=[schedule_id],
        id=fire_member(schedule_id),
        connection=redis_client(),
        serializer=JSONSerializer,
        status=JobStatus.SCHEDULED,
        result_ttl=0,
    )
    job.origin = current_app.config["QUEUE_NAME"]
    job.save(pipeline=pipe)


def arm(schedule_id: int, when: datetime) -> None:
    arm_many([(schedule_id, when)])


def arm_many(fires: Iterable[tuple[int, datetime]], with_job: bool = True) -> None:
    """Put (or move) the pending fire of each schedule; wakes the scheduler if needed."""
    fires = list(fires)
    if not fires:
        return
    script = _arm_script()
    with redis_client().pipeline(transaction=False) as pipe:
        for schedule_id, when in fires:
            if with_job:
                _save_fire_job(pipe, schedule_id)
            script(
                keys=[fires_key(), wake_channel()],
                args=[_unix(when), fire_member(schedule_id)],
                client=pipe,
            )
        pipe.execute()


def rearm_many(fires: Iterable[tuple[int, datetime | None]]) -> None:
    """After firing: move each fire to its next slot (its job hash is already there), or
    remove it when the schedule has no next slot. The caller is the scheduler itself, so
    there is nobody to wake."""
    fires = list(fires)
    if not fires:
        return
    with redis_client().pipeline(transaction=False) as pipe:
        for schedule_id, when in fires:
            if when is None:
                _cancel(pipe, schedule_id)
            else:
                pipe.zadd(fires_key(), {fire_member(schedule_id): _unix(when)})
        pipe.execute()


def _cancel(pipe: Pipeline, schedule_id: int) -> None:
    pipe.zrem(fires_key(), fire_member(schedule_id))
    pipe.delete(JSONJob.key_for(fire_member(schedule_id)))


def cancel(schedule_id: int) -> None:
    with redis_client().pipeline(transaction=False) as pipe:
        _cancel(pipe, schedule_id)
        pipe.execute()


def schedule_retry(run_id: int, when: datetime) -> None:
    _arm_script()(keys=[fires_key(), wake_channel()], args=[_unix(when), retry_member(run_id)])


def remove_members(members: Iterable[bytes | str]) -> None:
    members = list(members)
    if members:
        redis_client().zrem(fires_key(), *members)


def enqueue_runs(runs: Iterable[tuple[int, int]]) -> None:
    """Put runs (run_id, timeout_seconds) on the run queue, in one round trip.

    The job carries only the run's id; the worker reloads everything from the database.
    """
    runs = list(runs)
    if not runs:
        return
    queue = run_queue()
    data = [
        Queue.prepare_data(
            RUN_FUNC,
            args=[run_id],
            job_id=run_job_id(run_id),
            timeout=timeout,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
        )
        for run_id, timeout in runs
    ]
    queue.enqueue_many(data)


def run_job_exists(run_ids: list[int]) -> dict[int, bool]:
    if not run_ids:
        return {}
    with redis_client().pipeline(transaction=False) as pipe:
        for run_id in run_ids:
            pipe.exists(JSONJob.key_for(run_job_id(run_id)))
        found = pipe.execute()
    return dict(zip(run_ids, map(bool, found), strict=True))


def earliest() -> float | None:
    """The Unix time of the earliest pending fire or retry, or None."""
    first = redis_client().zrange(fires_key(), 0, 0, withscores=True)
    return first[0][1] if first else None


def due(now: float, limit: int = 500) -> list[bytes]:
    return redis_client().zrangebyscore(fires_key(), "-inf", now, start=0, num=limit)


def pending_count() -> int:
    return redis_client().zcard(fires_key())


# ---- reconciling Redis with the database


def _wanted() -> tuple[dict[str, float], set[int]]:
    """Every member the database says should be in the sorted set, with its score."""
    wanted: dict[str, float] = {}
    fires = db.session.execute(
        db.select(Schedule.id, Schedule.next_run_at).where(
            Schedule.enabled.is_(True), Schedule.next_run_at.is_not(None)
        )
    ).all()
    for schedule_id, when in fires:
        wanted[fire_member(schedule_id)] = _unix(when)
    retries = db.session.execute(
        db.select(Run.id, Run.scheduled_for).where(Run.status == "PENDING", Run.reason == "backoff")
    ).all()
    for run_id, when in retries:
        wanted[retry_member(run_id)] = _unix(when)
    return wanted, {schedule_id for schedule_id, _ in fires}


def reconcile_full() -> int:
    """Make the sorted set equal what the database says. O(schedules); returns the fixes made."""
    wanted, schedule_ids = _wanted()
    db.session.rollback()  # end the read transaction; we only read
    r = redis_client()
    have = {m.decode(): s for m, s in r.zrange(fires_key(), 0, -1, withscores=True)}
    stray = [m for m in have if m not in wanted]
    fixes = 0
    script = _arm_script()
    with r.pipeline(transaction=False) as pipe:
        for member in stray:
            pipe.zrem(fires_key(), member)
            pipe.delete(JSONJob.key_for(member))
        for member, score in wanted.items():
            if have.get(member) != score:
                kind_id = parse_member(member)
                if kind_id and kind_id[0] == "fire":
                    _save_fire_job(pipe, kind_id[1])
                script(keys=[fires_key(), wake_channel()], args=[score, member], client=pipe)
                fixes += 1
        pipe.set(synced_key(), "1")
        pipe.execute()
    fixes += len(stray)
    if fixes:
        log.info("reconcile: %d fixes (%d schedules armed)", fixes, len(schedule_ids))
    return fixes


class ReconcileState:
    """What the cheap check remembers between ticks."""

    def __init__(self) -> None:
        self.checked_at: datetime | None = None


# Edits are seen through updated_at, stamped by the web process's clock: look back a
# little further than the last check so modest clock skew between machines loses nothing.
SKEW = timedelta(seconds=10)


def reconcile_check(state: ReconcileState) -> int:
    """The continuous reconciler: a cheap check that repairs only what changed.

    Idle cost: 2 Redis commands (EXISTS, ZCARD) and 3 small indexed queries. A flushed Redis
    (no `synced` marker) or a count mismatch triggers a full rebuild; otherwise only the
    schedules edited since the last check are compared, one ZSCORE each.
    """
    now = utcnow()
    since = (state.checked_at or now) - SKEW
    state.checked_at = now
    r = redis_client()
    with r.pipeline(transaction=False) as pipe:
        pipe.exists(synced_key())
        pipe.zcard(fires_key())
        synced, armed = pipe.execute()
    expected = db.session.execute(
        db.select(db.func.count())
        .select_from(Schedule)
        .where(Schedule.enabled.is_(True), Schedule.next_run_at.is_not(None))
    ).scalar_one()
    expected += db.session.execute(
        db.select(db.func.count())
        .select_from(Run)
        .where(Run.status == "PENDING", Run.reason == "backoff")
    ).scalar_one()
    if not synced or armed != expected:
        db.session.rollback()
        return reconcile_full()
    changed = db.session.execute(
        db.select(Schedule.id, Schedule.enabled, Schedule.next_run_at).where(
            Schedule.updated_at >= since
        )
    ).all()
    db.session.rollback()
    if not changed:
        return 0
    with r.pipeline(transaction=False) as pipe:
        for schedule_id, _enabled, _when in changed:
            pipe.zscore(fires_key(), fire_member(schedule_id))
        scores = pipe.execute()
    wrong_arm, wrong_cancel = [], []
    for (schedule_id, enabled, when), score in zip(changed, scores, strict=True):
        if enabled and when is not None:
            if score != _unix(when):
                wrong_arm.append((schedule_id, when))
        elif score is not None:
            wrong_cancel.append(schedule_id)
    arm_many(wrong_arm)
    for schedule_id in wrong_cancel:
        cancel(schedule_id)
    return len(wrong_arm) + len(wrong_cancel)


# ---- keeping Redis in step with schedule changes as they happen


def _on_saved(sender: Flask, schedule: Schedule, timing_changed: bool = False, **_) -> None:
    try:
        if schedule.enabled and schedule.next_run_at is not None:
            arm(schedule.id, schedule.next_run_at)
        else:
            cancel(schedule.id)
    except RedisError as exc:
        # The change is committed; the scheduler's reconciler arms it within seconds.
        log.warning("could not update the pending fire of schedule %s: %s", schedule.id, exc)


def _on_deleted(sender: Flask, schedule_id: int, organization_id: int, **_) -> None:
    try:
        cancel(schedule_id)
    except RedisError as exc:
        log.warning("could not remove the pending fire of schedule %s: %s", schedule_id, exc)


def init_bridge(app: Flask) -> None:
    """Listen to schedule changes. Connecting the same receiver again is a no-op, so every
    app built in one process (tests build many) shares one connection; each handler works
    on the app that sent the signal, whose context is current."""
    schedule_saved.connect(_on_saved, weak=False)
    schedule_deleted.connect(_on_deleted, weak=False)
