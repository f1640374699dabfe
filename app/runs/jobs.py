"""The RQ jobs. They take ids, never objects, and reload everything from the database.

They run inside the app context the worker opens (app/runs/worker.py); nothing here builds
an app.
"""

from __future__ import annotations

import logging
import time
from zoneinfo import ZoneInfo

from flask import current_app
from rq.timeouts import JobTimeoutException
from sqlalchemy import update

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


def fire(schedule_id: int) -> None:
    """What rq-scheduler's fire job does if a stock rq-scheduler ever enqueues it: the same
    claim the scheduler process makes, so it can never add a second run of a slot."""
    engine.fire_due([schedule_id])


def _session_for(run: Run, schedule: Schedule) -> ChatSession:
    config = schedule.session_config or {}
    if config.get("use_existing"):
        session = None
        if config.get("session_id"):
            session = db.session.get(ChatSession, config["session_id"])
        if session is None:
            # "Created at the first run and kept": the schedule's latest session.
            session = db.session.execute(
                db.select(ChatSession)
                .where(ChatSession.schedule_id == schedule.id)
                .order_by(ChatSession.id.desc())
                .limit(1)
            ).scalar_one_or_none()
        if session is not None:
            return session
    local = run.scheduled_for.astimezone(ZoneInfo(schedule.timezone))
    session = ChatSession(
        organization_id=schedule.organization_id,
        schedule_id=schedule.id,
        name=f"Scheduled: {schedule.name} - {local:%Y-%m-%d %H:%M:%S}",
    )
    db.session.add(session)
    return session


def _history(session: ChatSession) -> list[dict]:
    """The continuous session's earlier messages, oldest first, capped with the newest kept."""
    limit = current_app.config.get("AGENT_HISTORY_MESSAGES", 50)
    if session.id is None or limit <= 0:
        return []
    rows = db.session.execute(
        db.select(Message.role, Message.content, Message.created_at)
        .where(Message.session_id == session.id)
        .order_by(Message.id.desc())
        .limit(limit)
    ).all()
    return [
        {"role": role, "content": content, "created_at": iso_z(created_at)}
        for role, content, created_at in reversed(rows)
    ]


def slot_of(run: Run):
    """The slot a run belongs to: a retry keeps its slot; a manual run has its own moment."""
    return run.slot_at or run.scheduled_for


def idempotency_key(run: Run) -> str:
    """The same for every delivery of one attempt of one slot, different for the next attempt
    (SPEC §5.1): an endpoint that honours it never acts twice on a re-delivered job."""
    return f"taskplan:{run.schedule_id}:{iso_z(slot_of(run))}:{run.attempt}"


def _render(run: Run, schedule: Schedule, run_number: int) -> str:
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
        run_number=run_number,
        last_run_status=last.status if last else None,
        last_run_scheduled_for=last.scheduled_for if last else None,
    )
    return prompts.render(schedule.prompt, values)


def execute_run(run_id: int) -> None:
    """PENDING → RUNNING → SUCCESS / FAILED / SKIPPED, with times, worker and the session."""
    now = utcnow()
    # The claim: only one delivery of this job may start the run (a job can be delivered
    # twice after a requeue; the run may have been failed as lost meanwhile).
    started = db.session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == "PENDING", Run.reason.is_(None))
        .values(status="RUNNING", started_at=now, worker=WORKER_NAME)
        .execution_options(synchronize_session=False)
    )
    if started.rowcount != 1:
        db.session.rollback()
        log.info("run %s is not pending any more; nothing to do", run_id)
        return
    run = db.session.get(Run, run_id)
    schedule = db.session.get(Schedule, run.schedule_id)
    # The schedule's timeout bounds the agent call too; RQ's own timeout (the same number,
    # counted from the job's start) stays the hard stop.
    deadline = time.monotonic() + schedule.timeout_seconds
    run_number = db.session.execute(
        update(Schedule)
        .where(Schedule.id == schedule.id)
        .values(run_count=Schedule.run_count + 1, last_run_at=now, updated_at=Schedule.updated_at)
        .returning(Schedule.run_count)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    try:
        prompt = _render(run, schedule, run_number)
    except prompts.PromptError as exc:
        db.session.commit()
        engine.finish_run(run_id, "FAILED", "template_error", str(exc))
        return
    session = _session_for(run, schedule)
    history = _history(session)
    label = "[Run now]" if run.trigger == "manual" else "[Scheduled]"
    message = f"{label} {prompt}"
    db.session.add(Message(session=session, run_id=run.id, role="user", content=message))
    db.session.flush()
    run.session_id = session.id
    context = {
        "organization_id": schedule.organization_id,
        "idempotency_key": idempotency_key(run),
        "message": message,
        "timeout_seconds": schedule.timeout_seconds,
        "deadline": deadline,
        "schedule": {"id": schedule.id, "name": schedule.name, "timezone": schedule.timezone},
        "run": {
            "id": run.id,
            "trigger": run.trigger,
            "scheduled_for": iso_z(slot_of(run)),
            "attempt": run.attempt,
            "run_number": run_number,
        },
        "session": {"id": session.id, "name": session.name},
    }
    agent_name, timeout = schedule.agent_name, schedule.timeout_seconds
    session_id = session.id
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

    db.session.add(
        Message(
            session_id=session_id,
            run_id=run_id,
            role="assistant",
            content=reply.text,
            tool_calls=reply.tool_calls or None,
        )
    )
    db.session.flush()
    usage = {
        "prompt_tokens": reply.usage.get("prompt_tokens"),
        "completion_tokens": reply.usage.get("completion_tokens"),
        "cost": reply.usage.get("cost"),
    }
    if reply.skip:
        engine.finish_run(run_id, "SKIPPED", "agent_skip", **usage)
    else:
        engine.finish_run(run_id, "SUCCESS", **usage)
