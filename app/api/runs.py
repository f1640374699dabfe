"""/api/v1 runs: Run Now, a schedule's history, one run (SPEC §3, §7)."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from app.api import bp
from app.api.common import page_params, paginated
from app.api.openapi import documented
from app.auth.access import get_scoped_or_404, role_required
from app.errors import api_error
from app.extensions import db
from app.models import Run, Schedule
from app.runs import engine
from app.web import iso_z


def run_json(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "schedule_id": run.schedule_id,
        "trigger": run.trigger,
        "scheduled_for": iso_z(run.scheduled_for),
        "status": run.status,
        "reason": run.reason,
        "attempt": run.attempt,
        "retry_of_id": run.retry_of_id,
        "enqueued_at": iso_z(run.enqueued_at),
        "started_at": iso_z(run.started_at),
        "completed_at": iso_z(run.completed_at),
        "duration_ms": run.duration_ms,
        "session_id": run.session_id,
        "error": run.error,
        "worker": run.worker,
        "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens,
        "cost": run.cost,
    }


@bp.post("/schedules/<int:schedule_id>/run")
@role_required("admin")
@documented(
    response="Run",
    status=202,
    errors={409: "The overlap policy refuses a run while one is in progress"},
)
def run_schedule_now(schedule_id: int):
    """Run Now: 202 with the run, 409 when the overlap policy refuses."""
    schedule = get_scoped_or_404(Schedule, schedule_id)
    try:
        run = engine.run_now(schedule, g.user)
    except engine.RunRefused as refused:
        return api_error(409, str(refused))
    return jsonify(run_json(run)), 202


@bp.get("/schedules/<int:schedule_id>/runs")
@role_required("viewer")
@documented(response="Run", paginated=True, query=("limit", "before"))
def schedule_runs(schedule_id: int):
    """A schedule's history, newest first, keyset-paginated on the run id."""
    schedule = get_scoped_or_404(Schedule, schedule_id)
    limit, before = page_params()
    query = db.select(Run).where(Run.schedule_id == schedule.id)
    if before is not None:
        query = query.where(Run.id < before)
    runs = db.session.execute(query.order_by(Run.id.desc()).limit(limit + 1)).scalars().all()
    return paginated([run_json(run) for run in runs], limit)


@bp.get("/runs/<int:run_id>")
@role_required("viewer")
@documented(response="Run")
def get_run(run_id: int):
    """One run."""
    return jsonify(run_json(get_scoped_or_404(Run, run_id)))
