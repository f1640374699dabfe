from __future__ import annotations

from zoneinfo import available_timezones

from flask import flash, g, redirect, render_template, request, url_for
from wtforms import SelectChoice

from app.auth.access import get_scoped_or_404, role_required
from app.errors import ValidationFailed
from app.extensions import db
from app.models import Agent, Run, Schedule
from app.schedules import bp, service
from app.schedules.forms import ScheduleForm
from app.schedules.preview import preview_of

ZONES = sorted(available_timezones() - {"localtime", "Factory"})


@bp.get("/")
def home():
    """The console starts at the schedules list."""
    return redirect(url_for("schedules.index"))


@bp.get("/schedules")
@role_required("viewer")
def index():
    """The schedules of the current organization."""
    schedules = list(
        db.session.execute(
            db.select(Schedule)
            .where(Schedule.organization_id == g.org.id)
            .order_by(Schedule.name_key)
        ).scalars()
    )
    running = service.running_ids([s.id for s in schedules])
    return render_template(
        "schedules/index.html",
        rows=[(s, service.status_of(s, s.id in running)) for s in schedules],
    )


def _form() -> ScheduleForm:
    form = ScheduleForm()
    names = db.session.execute(
        db.select(Agent.name).where(Agent.organization_id == g.org.id).order_by(Agent.name_key)
    ).scalars()
    form.agent.choices = [SelectChoice(n, n) for n in (service.DEFAULT_AGENT, *names)]
    return form


def _render_form(form: ScheduleForm, schedule: Schedule | None = None, status: int = 200):
    return render_template("schedules/form.html", form=form, schedule=schedule, zones=ZONES), status


@bp.get("/schedules/new")
@role_required("admin")
def new():
    """The create form."""
    return _render_form(_form())


@bp.post("/schedules")
@role_required("admin")
def create():
    """Create a schedule from the form; on error, show the messages and keep the input."""
    form = _form()
    if not form.validate_on_submit():
        return _render_form(form, status=400)
    try:
        schedule = service.create_schedule(g.org.id, g.user, form.data_for_service())
    except ValidationFailed as exc:
        form.show_errors(exc.fields)
        return _render_form(form, status=exc.status)
    flash(f"Schedule '{schedule.name}' created.", "success")
    return redirect(url_for("schedules.detail", schedule_id=schedule.id))


@bp.get("/schedules/<int:schedule_id>/edit")
@role_required("admin")
def edit(schedule_id: int):
    """The edit form, filled with the schedule's settings."""
    schedule = get_scoped_or_404(Schedule, schedule_id)
    form = _form()
    form.fill_from(schedule)
    return _render_form(form, schedule)


@bp.post("/schedules/<int:schedule_id>/edit")
@role_required("admin")
def update(schedule_id: int):
    """Save an edit; a change that does not touch timing keeps the next run where it is."""
    schedule = get_scoped_or_404(Schedule, schedule_id)
    form = _form()
    if not form.validate_on_submit():
        return _render_form(form, schedule, 400)
    try:
        service.update_schedule(schedule, g.user, form.data_for_service())
    except ValidationFailed as exc:
        db.session.rollback()
        form.show_errors(exc.fields)
        return _render_form(form, schedule, exc.status)
    flash("Changes saved.", "success")
    return redirect(url_for("schedules.detail", schedule_id=schedule.id))


@bp.post("/schedules/preview")
@role_required("viewer")
def preview():
    """The form's live preview: description and next five runs (changes nothing)."""
    form = _form()
    try:
        result, error = preview_of(form.timing_data(), 5), None
    except ValidationFailed as exc:
        result, error = None, exc.fields
    return render_template("schedules/_preview.html", preview=result, errors=error)


@bp.get("/schedules/<int:schedule_id>")
@role_required("viewer")
def detail(schedule_id: int):
    """A schedule: its settings, what comes next, and its history."""
    schedule = get_scoped_or_404(Schedule, schedule_id)
    runs = db.session.execute(
        db.select(Run)
        .where(Run.schedule_id == schedule.id)
        .order_by(Run.id.desc())
        .limit(request.args.get("limit", 50, type=int))
    ).scalars()
    running = bool(service.running_ids([schedule.id]))
    try:
        upcoming = preview_of(service.snapshot(schedule), 5) if schedule.enabled else None
    except ValidationFailed:
        upcoming = None
    return render_template(
        "schedules/detail.html",
        schedule=schedule,
        status=service.status_of(schedule, running),
        upcoming=upcoming,
        runs=list(runs),
    )
