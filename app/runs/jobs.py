"""The RQ jobs. They take ids, never objects, and reload everything from the database.

They run inside the app context the worker opens (app/runs/worker.py); nothing here builds
an app.

The run job is the hot path of the whole engine: at 1,000 schedules about 17 runs are due
at the same instant every second, and the last of them waits for the CPU the others spend.
So it works in table statements, not ORM objects: the claim and the schedule's counter are
UPDATE … RETURNING (the facts the run needs come back with the write), and the rows it adds
are plain INSERTs. See docs/engine.md ("Fire lag and the cost of a run") for the figures.
"""

from __future__ import annotations

import logging
import time
from zoneinfo import ZoneInfo

from flask import current_app
from rq.timeouts import JobTimeoutException
from sqlalchemy import Row, bindparam, insert, update

from app import agents, prompts
from app.extensions import db
from app.models import ChatSession, Message, Run, Schedule, utcnow
from app.runs import engine
from app.web import iso_z

log = logging.getLogger(__name__)

FINAL_STATUSES = ("SUCCESS", "FAILED", "SKIPPED", "MISSED")

# Set by the worker process at start: the name its heartbeat is published under, which a
# RUNNING run records so the scheduler can tell when that worker is gone.
WORKER_NAME: str | None = None

RUNS, SCHEDULES = Run.__table__, Schedule.__table__
SESSIONS, MESSAGES = ChatSession.__table__, Message.__table__


def fire(schedule_id: int) -> None:
    """What rq-scheduler's fire job does if a stock rq-scheduler ever enqueues it: the same
    claim the scheduler process makes, so it can never add a second run of a slot."""
    engine.fire_due([schedule_id])


def slot_of(run) -> object:
    """The slot a run belongs to: a retry keeps its slot; a manual run has its own moment."""
    return run.slot_at or run.scheduled_for


def idempotency_key(run) -> str:
    """The same for every delivery of one attempt of one slot, different for the next attempt
    (SPEC §5.1): an endpoint that honours it never acts twice on a re-delivered job."""
    return f"taskplan:{run.schedule_id}:{iso_z(slot_of(run))}:{run.attempt}"


# The run job's statements are built once: building a statement costs more than running it
# on a small table, and a reused statement also reuses its compiled form.
_CLAIM = (
    update(RUNS)
    .where(RUNS.c.id == bindparam("run_id"), RUNS.c.status == "PENDING", RUNS.c.reason.is_(None))
    .values(status="RUNNING", started_at=bindparam("now"), worker=bindparam("worker_name"))
    .returning(
        RUNS.c.id,
        RUNS.c.schedule_id,
        RUNS.c.organization_id,
        RUNS.c.trigger,
        RUNS.c.scheduled_for,
        RUNS.c.slot_at,
        RUNS.c.attempt,
    )  # fmt: skip
)
_COUNT_RUN = (
    update(SCHEDULES)
    .where(SCHEDULES.c.id == bindparam("schedule_id"))
    .values(
        run_count=SCHEDULES.c.run_count + 1,
        last_run_at=bindparam("now"),
        **engine.keep_updated_at(),
    )
    .returning(
        SCHEDULES.c.id,
        SCHEDULES.c.organization_id,
        SCHEDULES.c.name,
        SCHEDULES.c.description,
        SCHEDULES.c.prompt,
        SCHEDULES.c.agent_name,
        SCHEDULES.c.timezone,
        SCHEDULES.c.timeout_seconds,
        SCHEDULES.c.session_config,
        SCHEDULES.c.run_count,
    )  # fmt: skip
)
_NEW_SESSION = insert(SESSIONS).returning(SESSIONS.c.id)
_ADD_MESSAGE = insert(MESSAGES)
_SET_SESSION = (
    update(RUNS).where(RUNS.c.id == bindparam("run_id")).values(session_id=bindparam("sid"))
)


def _claim(run_id: int, now) -> Row | None:
    """PENDING → RUNNING, once: only one delivery of a job may start its run (a job can be
    delivered twice after a requeue, and the run may have been failed as lost meanwhile).
    Returns the run's facts, or None when the run is not pending any more."""
    params = {"run_id": run_id, "now": now, "worker_name": WORKER_NAME}
    return db.session.execute(_CLAIM, params).first()


def _count_run(schedule_id: int, now) -> Row:
    """The schedule's run counter and last run, with the settings the run needs."""
    return db.session.execute(_COUNT_RUN, {"schedule_id": schedule_id, "now": now}).one()


def _session_id(run: Row, schedule: Row, now) -> tuple[int, str, bool]:
    """(id, name, is new) of the session the run writes to: the continuous session of the
    schedule, or a new `Scheduled: {name} - {local time}` one."""
    config = schedule.session_config or {}
    if config.get("use_existing"):
        query = db.select(SESSIONS.c.id, SESSIONS.c.name)
        if config.get("session_id"):
            found = db.session.execute(query.where(SESSIONS.c.id == config["session_id"])).first()
        else:
            found = None
        if found is None:
            # "Created at the first run and kept": the schedule's latest session.
            found = db.session.execute(
                query.where(SESSIONS.c.schedule_id == schedule.id)
                .order_by(SESSIONS.c.id.desc())
                .limit(1)
            ).first()
        if found is not None:
            return found.id, found.name, False
    local = run.scheduled_for.astimezone(ZoneInfo(schedule.timezone))
    name = f"Scheduled: {schedule.name} - {local:%Y-%m-%d %H:%M:%S}"
    new_id = db.session.execute(
        _NEW_SESSION,
        {
            "organization_id": schedule.organization_id,
            "schedule_id": schedule.id,
            "name": name,
            "created_at": now,
            "updated_at": now,
        },  # fmt: skip
    ).scalar_one()
    return new_id, name, True


def _history(session_id: int) -> list[dict]:
    """The continuous session's earlier messages, oldest first, capped with the newest kept."""
    limit = current_app.config.get("AGENT_HISTORY_MESSAGES", 50)
    if limit <= 0:
        return []
    c = MESSAGES.c
    rows = db.session.execute(
        db.select(c.role, c.content, c.created_at)
        .where(c.session_id == session_id)
        .order_by(c.id.desc())
        .limit(limit)
    ).all()
    return [
        {"role": role, "content": content, "created_at": iso_z(created_at)}
        for role, content, created_at in reversed(rows)
    ]


def _add_message(session_id: int, run_id: int, role: str, content: str, tool_calls=None) -> None:
    row = {"session_id": session_id, "run_id": run_id, "role": role, "content": content}
    if tool_calls:
        row["tool_calls"] = tool_calls
    db.session.execute(_ADD_MESSAGE, row)


def _render(run: Row, schedule: Row) -> str:
    if not prompts.is_template(schedule.prompt):
        return schedule.prompt  # no variables to fill: no query, no Jinja
    last = db.session.execute(
        db.select(Run.status, Run.scheduled_for)
        .where(Run.schedule_id == schedule.id, Run.id != run.id, Run.status.in_(FINAL_STATUSES))
        .order_by(Run.id.desc())
        .limit(1)
    ).first()
    values = prompts.variables(
        scheduled_for=slot_of(run),
        now=utcnow(),
        timezone=schedule.timezone,
        schedule_name=schedule.name,
        schedule_id=schedule.id,
        description=schedule.description,
        run_number=schedule.run_count,
        last_run_status=last.status if last else None,
        last_run_scheduled_for=last.scheduled_for if last else None,
    )
    return prompts.render(schedule.prompt, values)


def execute_run(run_id: int) -> None:
    """PENDING → RUNNING → SUCCESS / FAILED / SKIPPED, with times, worker and the session."""
    now = utcnow()
    run = _claim(run_id, now)
    if run is None:
        db.session.rollback()
        log.info("run %s is not pending any more; nothing to do", run_id)
        return
    schedule = _count_run(run.schedule_id, now)
    # The schedule's timeout bounds the agent call too; RQ's own timeout (the same number,
    # counted from the job's start) stays the hard stop.
    deadline = time.monotonic() + schedule.timeout_seconds
    try:
        prompt = _render(run, schedule)
    except prompts.PromptError as exc:
        db.session.commit()
        engine.finish_run(run_id, "FAILED", "template_error", str(exc))
        return
    session_id, session_name, new_session = _session_id(run, schedule, now)
    history = [] if new_session else _history(session_id)
    label = "[Run now]" if run.trigger == "manual" else "[Scheduled]"
    message = f"{label} {prompt}"
    _add_message(session_id, run_id, "user", message)
    db.session.execute(_SET_SESSION, {"run_id": run_id, "sid": session_id})
    context = {
        "organization_id": schedule.organization_id,
        "idempotency_key": idempotency_key(run),
        "message": message,
        "timeout_seconds": schedule.timeout_seconds,
        "deadline": deadline,
        "schedule": {"id": schedule.id, "name": schedule.name, "timezone": schedule.timezone},
        "run": {
            "id": run_id,
            "trigger": run.trigger,
            "scheduled_for": iso_z(slot_of(run)),
            "attempt": run.attempt,
            "run_number": schedule.run_count,
        },
        "session": {"id": session_id, "name": session_name},
    }
    agent_name, timeout = schedule.agent_name, schedule.timeout_seconds
    db.session.commit()  # RUNNING and the user message are visible while the agent works

    try:
        reply = agents.call(agent_name, prompt, history, context)
    except JobTimeoutException:
        # RQ's timeout (job.timeout = the schedule's timeout_seconds) interrupted the call.
        db.session.rollback()
        engine.finish_run(run_id, "FAILED", "timeout", f"Timeout after {timeout}s")
        raise  # RQ records the job as failed too
    except agents.AgentError as exc:
        db.session.rollback()
        log.info("run %s: agent %r failed: %s", run_id, agent_name, exc)
        engine.finish_run(run_id, "FAILED", exc.reason, str(exc))
        return
    except Exception as exc:
        db.session.rollback()
        engine.finish_run(run_id, "FAILED", "agent_error", f"{type(exc).__name__}: {exc}")
        raise

    _add_message(session_id, run_id, "assistant", reply.text, reply.tool_calls or None)
    usage = {
        "prompt_tokens": reply.usage.get("prompt_tokens"),
        "completion_tokens": reply.usage.get("completion_tokens"),
        "cost": reply.usage.get("cost"),
    }
    if reply.skip:
        engine.finish_run(run_id, "SKIPPED", "agent_skip", **usage)
    else:
        engine.finish_run(run_id, "SUCCESS", **usage)
