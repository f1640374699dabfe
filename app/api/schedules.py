"""/api/v1/schedules: list, create, read, edit, delete, enable, disable, preview (SPEC §7)."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from app.api import bp
from app.api.common import json_body, page_params, paginated
from app.api.openapi import documented
from app.auth.access import get_scoped_or_404, role_required
from app.errors import ValidationFailed
from app.extensions import db
from app.models import Schedule
from app.schedules import service
from app.schedules.preview import preview_of
from app.scheduling.timing import TimingError
from app.web import iso_z

PREVIEW_MAX = 50


def schedule_json(schedule: Schedule, running: bool) -> dict[str, Any]:
    body = service.snapshot(schedule)
    body.update(
        start_at=iso_z(schedule.start_at),
        end_at=iso_z(schedule.end_at),
        id=schedule.id,
        status=service.status_of(schedule, running),
        next_run_at=iso_z(schedule.next_run_at),
        last_run_at=iso_z(schedule.last_run_at),
        run_count=schedule.run_count,
        completed_at=iso_z(schedule.completed_at),
        timing_description=_describe(schedule),
        managed=schedule.managed_source is not None,
        managed_source=schedule.managed_source,
        created_at=iso_z(schedule.created_at),
        updated_at=iso_z(schedule.updated_at),
    )
    return body


def _describe(schedule: Schedule) -> str:
    try:
        return schedule.timing().describe()
    except TimingError:
        # A stored schedule that today's rules reject (e.g. a zone removed from tzdata).
        return "Invalid timing: edit this schedule to fix it."


def _one(schedule: Schedule, status: int = 200):
    running = schedule.id in service.running_ids([schedule.id])
    return jsonify(schedule_json(schedule, running)), status


@bp.get("/schedules")
@role_required("viewer")
@documented(response="Schedule", paginated=True, query=("enabled", "q", "limit", "before"))
def list_schedules():
    """Schedules of the organization, newest first; filters `enabled` and `q`."""
    limit, before = page_params()
    query = db.select(Schedule).where(Schedule.organization_id == g.org.id)
    enabled = request.args.get("enabled")
    if enabled is not None:
        flag = service.as_flag(enabled)
        if flag is None:
            raise ValidationFailed({"enabled": ["Use enabled=true or enabled=false."]})
        query = query.where(Schedule.enabled == flag)
    if request.args.get("q"):
        query = query.where(
            Schedule.name_key.contains(" ".join(request.args["q"].split()).casefold(),
                                       autoescape=True)
        )  # fmt: skip
    if before is not None:
        query = query.where(Schedule.id < before)
    rows = list(db.session.execute(query.order_by(Schedule.id.desc()).limit(limit + 1)).scalars())
    running = service.running_ids([s.id for s in rows[:limit]])
    return paginated([schedule_json(s, s.id in running) for s in rows], limit)


@bp.post("/schedules")
@role_required("admin")
@documented(
    response="Schedule",
    status=201,
    body="ScheduleCreate",
    errors={409: "A schedule of this organization already has this name"},
)
def create_schedule():
    """Create a schedule → 201 with it, including next_run_at."""
    schedule = service.create_schedule(g.org.id, g.user, json_body())
    return _one(schedule, 201)


@bp.get("/schedules/<int:schedule_id>")
@role_required("viewer")
@documented(response="Schedule")
def get_schedule(schedule_id: int):
    """One schedule: the §2 fields plus status, next_run_at, last_run_at, run_count."""
    return _one(get_scoped_or_404(Schedule, schedule_id))


@bp.patch("/schedules/<int:schedule_id>")
@role_required("admin")
@documented(
    response="Schedule",
    body="ScheduleUpdate",
    errors={409: "A schedule of this organization already has this name"},
)
def update_schedule(schedule_id: int):
    """Edit any §2 field; only timing edits move next_run_at."""
    schedule = get_scoped_or_404(Schedule, schedule_id)
    return _one(service.update_schedule(schedule, g.user, json_body()))


@bp.delete("/schedules/<int:schedule_id>")
@role_required("admin")
@documented(status=204, body="DeleteConfirmation")
def delete_schedule(schedule_id: int):
    """Delete with {"confirm_name": "<exact name>"} → 204; its chat sessions stay."""
    schedule = get_scoped_or_404(Schedule, schedule_id)
    service.delete_schedule(schedule, g.user, json_body().get("confirm_name"))
    return "", 204


@bp.post("/schedules/<int:schedule_id>/enable")
@role_required("admin")
@documented(response="Schedule")
def enable_schedule(schedule_id: int):
    """Enable: the next slot is computed from now."""
    return _one(service.set_enabled(get_scoped_or_404(Schedule, schedule_id), g.user, True))


@bp.post("/schedules/<int:schedule_id>/disable")
@role_required("admin")
@documented(response="Schedule")
def disable_schedule(schedule_id: int):
    """Disable: no pending fire; history and settings stay."""
    return _one(service.set_enabled(get_scoped_or_404(Schedule, schedule_id), g.user, False))


@bp.post("/schedules/preview")
@role_required("viewer")
@documented(response="Preview", body="PreviewRequest")
def preview():
    """Description and next fire times for any timing config, saved or not (changes nothing)."""
    body = json_body()
    count = service.as_whole(body.get("count", 5))
    if count is None or not 1 <= count <= PREVIEW_MAX:
        raise ValidationFailed({"count": [f"Count must be between 1 and {PREVIEW_MAX}."]})
    return jsonify(preview_of(body, count))
