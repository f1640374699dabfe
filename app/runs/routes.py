"""Run pages: one run's detail, and the history row that polls while a run is in progress."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_htmx import make_response

from app.auth.access import get_scoped_or_404, role_required
from app.extensions import db, htmx
from app.models import ChatSession, Run, Schedule

bp = Blueprint("runs", __name__)


@bp.get("/runs/<int:run_id>")
@role_required("viewer")
def detail(run_id: int):
    """Everything about one run (SPEC §3), refreshing itself while it is in progress."""
    run = get_scoped_or_404(Run, run_id)
    if htmx and htmx.target == "run-facts":
        return _polled("runs/_facts.html", run)
    session = db.session.get(ChatSession, run.session_id) if run.session_id else None
    retries = list(
        db.session.execute(
            db.select(Run).where(Run.retry_of_id == run.id).order_by(Run.id)
        ).scalars()
    )
    return render_template(
        "runs/detail.html",
        run=run,
        schedule=db.session.get(Schedule, run.schedule_id),
        session=session,
        retries=retries,
    )


@bp.get("/runs/<int:run_id>/row")
@role_required("viewer")
def row(run_id: int):
    """A history row. Polled every 2 s while the run is in progress; the finished run's row
    carries no polling attribute, so the polling stops by itself."""
    return _polled("runs/_row.html", get_scoped_or_404(Run, run_id))


def _polled(template: str, run: Run):
    body = render_template(template, run=run)
    # The poller saw the run end: the schedule's summary and chart refresh once.
    return make_response(body, trigger=None if run.is_active else "run-finished")
