"""The RQ jobs. They take ids, never objects, and reload everything from the database.

They run inside the app context the worker opens (app/runs/worker.py); nothing here builds
an app.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from rq.timeouts import JobTimeoutException
from sqlalchemy import update

from app import agents
from app.extensions import db
from app.models import ChatSession, Message, Run, Schedule, utcnow
from app.runs import engine

log = logging.getLogger(__name__)

HISTORY_LIMIT = 50  # earlier messages a continuous session passes to the agent (newest kept)

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
    if session.id is None:
        return []
    rows = db.session.execute(
        db.select(Message.role, Message.content)
        .where(Message.session_id == session.id)
        .order_by(Message.id.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    return [{"role": role, "content": content} for role, content in reversed(rows)]


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
    db.session.execute(
        update(Schedule)
        .where(Schedule.id == schedule.id)
        .values(run_count=Schedule.run_count + 1, last_run_at=now, updated_at=Schedule.updated_at)
        .execution_options(synchronize_session=False)
    )
    session = _session_for(run, schedule)
    history = _history(session)
    label = "[Run now]" if run.trigger == "manual" else "[Scheduled]"
    db.session.add(
        Message(session=session, run_id=run.id, role="user", content=f"{label} {schedule.prompt}")
    )
    db.session.flush()
    run.session_id = session.id
    context = {
        "organization_id": schedule.organization_id,
        "schedule_id": schedule.id,
        "run_id": run.id,
        "scheduled_for": run.scheduled_for.isoformat(),
        "attempt": run.attempt,
        "idempotency_key": f"{schedule.id}:{run.scheduled_for.isoformat()}:{run.attempt}",
    }
    agent_name, prompt, timeout = schedule.agent_name, schedule.prompt, schedule.timeout_seconds
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
