from __future__ import annotations

from zoneinfo import available_timezones

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_htmx import make_response
from wtforms import SelectChoice

from app.auth.access import find_scoped, get_scoped_or_404, role_required
from app.errors import ValidationFailed
from app.extensions import db, htmx
from app.models import Agent, Schedule
from app.runs import engine
from app.schedules import bp, listing, service
from app.schedules.forms import ScheduleForm
from app.schedules.preview import preview_of
from app.web import bounded_id

ZONES = sorted(available_timezones() - {"localtime", "Factory"})


@bp.get("/")
def home():
    """The console starts at the schedules list."""
    return redirect(url_for("schedules.index"))


@bp.get("/schedules")
@role_required("viewer")
def index():
    """The schedules of the current organization: search, filters, pages."""
    filters = listing.Filters.from_args(request.args)
    page = listing.schedule_page(g.org.id, filters, current_app.config["PAGE_SIZE"])
    if htmx and htmx.target == "schedule-list":
        # Search as you type: only the table is replaced, and the URL follows the filters.
        return make_response(
            render_template("schedules/_list.html", page=page),
            push_url=url_for("schedules.index", **filters.args(page=page.page)),
        )
    return render_template("schedules/index.html", page=page, types=listing.TYPES,
                           statuses=listing.STATUSES)  # fmt: skip


@bp.get("/schedules/<int:schedule_id>/row")
@role_required("viewer")
def row(schedule_id: int):
    """One row of the list; a running schedule's row polls this until its run ends."""
    schedule = find_scoped(Schedule, schedule_id)
    if schedule is None:
        return ""  # deleted meanwhile: the row swaps to nothing and stops polling
    return render_template("schedules/_row.html", row=listing.row_for(schedule))


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


HISTORY_SIZE = 50


def _detail_context(schedule: Schedule) -> dict:
    running = bool(service.running_ids([schedule.id]))
    try:
        upcoming = preview_of(service.snapshot(schedule), 5) if schedule.enabled else None
    except ValidationFailed:
        upcoming = None
    return {
        "schedule": schedule,
        "status": service.status_of(schedule, running),
        "upcoming": upcoming,
        "chart": listing.chart(schedule.id),
        "last_run": listing.last_runs([schedule.id]).get(schedule.id),
    }


def _history_context(schedule: Schedule) -> dict:
    before = request.args.get("before", type=bounded_id)
    runs, next_cursor = listing.history(schedule.id, before, HISTORY_SIZE)
    return {"runs": runs, "next_cursor": next_cursor, "before": before}


@bp.get("/schedules/<int:schedule_id>")
@role_required("viewer")
def detail(schedule_id: int):
    """A schedule: its status and settings, what comes next, a chart and its history."""
    schedule = get_scoped_or_404(Schedule, schedule_id)
    return render_template(
        "schedules/detail.html", **_detail_context(schedule), **_history_context(schedule)
    )


@bp.get("/schedules/<int:schedule_id>/summary")
@role_required("viewer")
def summary(schedule_id: int):
    """The detail page's head (status, actions, next runs, chart), refreshed when a run
    starts or ends."""
    schedule = get_scoped_or_404(Schedule, schedule_id)
    return render_template("schedules/_summary.html", **_detail_context(schedule))


def _back(schedule: Schedule):
    """Where a plain (non-HTMX) form post returns to."""
    if request.form.get("view") == "row":
        return redirect(url_for("schedules.index"), 303)
    return redirect(url_for("schedules.detail", schedule_id=schedule.id), 303)


def _notice(message: str, kind: str = "success") -> str:
    """An out-of-band message shown in the page's #notice area."""
    return render_template("schedules/_notice.html", message=message, kind=kind, oob=True)


@bp.post("/schedules/<int:schedule_id>/enabled")
@role_required("admin")
def set_enabled(schedule_id: int):
    """The enable switch: enabling starts from now (no burst), disabling keeps everything."""
    schedule = get_scoped_or_404(Schedule, schedule_id)
    wanted = service.as_flag(request.form.get("enabled", ""))
    if wanted is None:
        abort(400, "enabled must be true or false.")
    try:
        service.set_enabled(schedule, g.user, wanted)
    except ValidationFailed as exc:
        # A stored schedule that today's rules reject (e.g. a zone removed from tzdata).
        db.session.rollback()
        message = "Cannot enable: " + " ".join(m for ms in exc.fields.values() for m in ms)
        if htmx:
            return make_response(_notice(message, "error"), 422, reswap="none")
        flash(message, "error")
        return _back(schedule)
    word = "enabled" if wanted else "disabled"
    if not htmx:
        flash(f"Schedule '{schedule.name}' {word}.", "success")
        return _back(schedule)
    if request.form.get("view") == "row":
        return render_template("schedules/_row.html", row=listing.row_for(schedule))
    return render_template("schedules/_summary.html", **_detail_context(schedule))


@bp.post("/schedules/<int:schedule_id>/run")
@role_required("admin")
def run_now(schedule_id: int):
    """Run Now: a manual run at once, unless the overlap policy refuses (409)."""
    schedule = get_scoped_or_404(Schedule, schedule_id)
    try:
        run = engine.run_now(schedule, g.user)
    except engine.RunRefused as refused:
        if htmx:
            return make_response(_notice(str(refused), "error"), 409, reswap="none")
        flash(str(refused), "error")
        return _back(schedule)
    message = f"Run #{run.id} of '{schedule.name}' started."
    if not htmx:
        flash(message, "success")
        return _back(schedule)
    if request.form.get("view") == "row":
        body = render_template("schedules/_row.html", row=listing.row_for(schedule))
    else:
        body = render_template(
            "schedules/_history.html", schedule=schedule, **_history_context(schedule)
        )
    return make_response(body + _notice(message), trigger="run-started")


@bp.post("/schedules/<int:schedule_id>/delete")
@role_required("admin")
def delete(schedule_id: int):
    """Delete, only with the exact name typed; its runs go, its chat sessions stay."""
    schedule = get_scoped_or_404(Schedule, schedule_id)
    name = schedule.name
    try:
        service.delete_schedule(schedule, g.user, request.form.get("confirm_name", ""))
    except ValidationFailed as exc:
        return render_template(
            "schedules/detail.html",
            **_detail_context(schedule),
            **_history_context(schedule),
            delete_error=exc.message,
        ), 400
    flash(f"Schedule '{name}' deleted. Its chat sessions are kept.", "success")
    return redirect(url_for("schedules.index"), 303)
