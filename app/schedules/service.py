"""Creating, editing, enabling, disabling and deleting schedules: one set of rules for the
API, the console's forms and `schedules import` (SPEC §2, §3.2, §4).

Every change validates everything first and stores nothing on error, keeps `next_run_at`
right, writes an audit event with a field diff in the same commit, and then signals the
engine (app/signals.py) so Redis follows the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy.exc import IntegrityError

from app import agents, prompts
from app.errors import ValidationFailed
from app.extensions import db
from app.models import (
    OVERLAP_POLICIES,
    Agent,
    AuditEvent,
    ChatSession,
    Run,
    Schedule,
    User,
    name_key,
    utcnow,
)
from app.scheduling.timing import Timing, TimingError, build_timing
from app.signals import schedule_deleted, schedule_saved
from app.web import iso_z

DEFAULT_AGENT = agents.DEFAULT_AGENT
TIMING_FIELDS = ("schedule_type", "schedule_config", "timezone", "start_at", "end_at")
# The §2 fields, with the defaults a new schedule gets.
DEFAULTS: dict[str, Any] = {
    "name": None,
    "description": "",
    "prompt": None,
    "agent": DEFAULT_AGENT,
    "schedule_type": None,
    "schedule_config": {},
    "timezone": "UTC",
    "enabled": True,
    "session_config": {"use_existing": False},
    "timeout_seconds": 300,
    "overlap_policy": "skip",
    "catchup_window_seconds": 3600,
    "max_retries": 0,
    "retry_delay_seconds": 60,
    "start_at": None,
    "end_at": None,
}
FIELDS = tuple(DEFAULTS)
# (minimum, maximum) of the whole-number fields.
RANGES = {
    "timeout_seconds": (1, 86_400),
    "catchup_window_seconds": (0, 604_800),
    "max_retries": (0, 10),
    "retry_delay_seconds": (0, 86_400),
}
MAX_PROMPT = 20_000
MAX_DESCRIPTION = 10_000


def snapshot(schedule: Schedule) -> dict[str, Any]:
    """The schedule's §2 fields as the API names them."""
    values = {field: getattr(schedule, field) for field in FIELDS if field != "agent"}
    values["agent"] = schedule.agent_name
    return values


def as_whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def as_flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "on", "off", "1", "0"):
        return value.lower() in ("true", "on", "1")
    return None


def _agent_exists(organization_id: int, name: str) -> bool:
    if name_key(name) == DEFAULT_AGENT:
        return True  # always there: configured from AGENT_* or the offline demo agent
    return (
        db.session.execute(
            db.select(Agent.id).where(
                Agent.organization_id == organization_id, Agent.name_key == name_key(name)
            )
        ).first()
        is not None
    )


def validate(
    organization_id: int, data: dict[str, Any], current: dict[str, Any] | None = None,
    schedule_id: int | None = None,
) -> tuple[dict[str, Any], Timing | None]:  # fmt: skip
    """Check `data` (all fields on create, some on edit, merged over `current`).

    Returns the clean values and the timing; raises ValidationFailed with one message per
    field — 409 when the only problem is a name already taken, else 422.
    """
    errors: dict[str, list[str]] = {}

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not isinstance(data, dict):
        raise ValidationFailed({}, "The body must be a JSON object.")
    for field in data:
        if field not in DEFAULTS:
            fail(field, "Unknown field.")
    values = {**(current or DEFAULTS), **{k: v for k, v in data.items() if k in DEFAULTS}}
    clean: dict[str, Any] = {}

    name = values["name"]
    if not isinstance(name, str) or not name.strip():
        fail("name", "Name is required.")
    elif len(name.strip()) > 200:
        fail("name", "Name must be at most 200 characters.")
    else:
        clean["name"] = name.strip()
        taken = db.session.execute(
            db.select(Schedule.id).where(
                Schedule.organization_id == organization_id,
                Schedule.name_key == name_key(name),
                Schedule.id != (schedule_id or -1),
            )
        ).first()
        if taken:
            fail("name", f"A schedule named '{name.strip()}' already exists.")

    description = values["description"]
    if description is None:
        description = ""
    if not isinstance(description, str):
        fail("description", "Description must be text.")
    elif len(description) > MAX_DESCRIPTION:
        fail("description", f"Description must be at most {MAX_DESCRIPTION:,} characters.")
    else:
        clean["description"] = description

    prompt = values["prompt"]
    if not isinstance(prompt, str) or not prompt.strip():
        fail("prompt", "Prompt is required.")
    elif len(prompt) > MAX_PROMPT:
        fail("prompt", f"Prompt must be at most {MAX_PROMPT:,} characters.")
    else:
        problem = prompts.check(prompt)
        if problem:
            fail("prompt", problem)
        else:
            clean["prompt"] = prompt

    agent = values["agent"] or DEFAULT_AGENT
    if not isinstance(agent, str) or not agent.strip():
        fail("agent", "Agent must be the name of an agent.")
    elif not _agent_exists(organization_id, agent):
        fail("agent", f"Agent '{agent.strip()}' not found.")
    else:
        clean["agent"] = agent.strip()

    for field, (low, high) in RANGES.items():
        number = as_whole(values[field])
        if number is None:
            fail(field, "Must be a whole number.")
        elif not low <= number <= high:
            fail(field, f"Must be between {low:,} and {high:,}.")
        else:
            clean[field] = number

    if values["overlap_policy"] not in OVERLAP_POLICIES:
        fail("overlap_policy", "Overlap policy must be one of: skip, queue_one, allow.")
    else:
        clean["overlap_policy"] = values["overlap_policy"]

    enabled = as_flag(values["enabled"])
    if enabled is None:
        fail("enabled", "Enabled must be true or false.")
    else:
        clean["enabled"] = enabled

    session_config = _session_config(organization_id, values["session_config"], fail)
    if session_config is not None:
        clean["session_config"] = session_config

    timing = None
    if values["schedule_type"] in (None, ""):
        fail("schedule_type", "Schedule type is required.")
    else:
        try:
            timing = build_timing(
                values["schedule_type"], values["schedule_config"], values["timezone"] or "UTC",
                values["start_at"], values["end_at"],
            )  # fmt: skip
            clean.update(
                schedule_type=timing.schedule_type, schedule_config=timing.config,
                timezone=timing.timezone, start_at=timing.start_at, end_at=timing.end_at,
            )  # fmt: skip
        except TimingError as exc:
            for field, messages in exc.fields.items():
                errors.setdefault(field, []).extend(messages)

    if errors:
        name_taken = list(errors) == ["name"] and "already exists" in errors["name"][0]
        if name_taken:
            raise ValidationFailed(errors, "A schedule with this name already exists.", 409)
        raise ValidationFailed(errors)
    return clean, timing


def _session_config(organization_id: int, value: Any, fail) -> dict | None:
    if value is None:
        return {"use_existing": False}
    if not isinstance(value, dict) or set(value) - {"use_existing", "session_id"}:
        fail("session_config", 'Session config is {"use_existing": bool, "session_id": id}.')
        return None
    use_existing = as_flag(value.get("use_existing", False))
    if use_existing is None:
        fail("session_config", "use_existing must be true or false.")
        return None
    config: dict[str, Any] = {"use_existing": use_existing}
    session_id = value.get("session_id")
    if session_id is not None:
        if not use_existing:
            fail("session_config", "A session_id needs use_existing: true.")
            return None
        number = as_whole(session_id)
        session = db.session.get(ChatSession, number) if number is not None else None
        if session is None or session.organization_id != organization_id:
            fail("session_config", f"Session {session_id} not found.")
            return None
        config["session_id"] = number
    return config


def _jsonable(value: Any) -> Any:
    return iso_z(value) if isinstance(value, datetime) else value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list]:
    """{field: [old, new]} for the fields that changed, JSON-ready for the audit log."""
    return {
        field: [_jsonable(before.get(field)), _jsonable(after[field])]
        for field in after
        if before.get(field) != after[field]
    }


def _apply(schedule: Schedule, clean: dict[str, Any]) -> None:
    for field, value in clean.items():
        setattr(schedule, "agent_name" if field == "agent" else field, value)


def _commit_or_conflict() -> None:
    try:
        db.session.commit()
    except IntegrityError:
        # Two saves raced past the check; the database's unique key decided.
        db.session.rollback()
        raise ValidationFailed(
            {"name": ["A schedule with this name already exists."]},
            "A schedule with this name already exists.",
            409,
        ) from None


def stage_create(
    organization_id: int, user: User | None, data: dict[str, Any],
    managed_source: str | None = None,
) -> Schedule:  # fmt: skip
    """Validate and add a new schedule with its audit event, without committing (so
    `schedules import` can stage many changes in one transaction). Announce it after the
    commit with `announce_saved(schedule, True)`."""
    clean, timing = validate(organization_id, data)
    schedule = Schedule(organization_id=organization_id, created_by_id=user.id if user else None)
    _apply(schedule, clean)
    schedule.managed_source = managed_source
    schedule.next_run_at = timing.initial_slot(utcnow()) if schedule.enabled else None
    db.session.add(schedule)
    db.session.flush()
    changes = diff({}, clean)
    if managed_source is not None:
        changes["managed_source"] = [None, managed_source]
    AuditEvent.record(
        organization_id=organization_id, user=user, action="schedule.create", obj=schedule,
        changes=changes,
    )  # fmt: skip
    return schedule


def create_schedule(
    organization_id: int, user: User | None, data: dict[str, Any],
    managed_source: str | None = None,
) -> Schedule:  # fmt: skip
    schedule = stage_create(organization_id, user, data, managed_source)
    _commit_or_conflict()
    announce_saved(schedule, True)
    return schedule


def stage_update(
    schedule: Schedule, user: User | None, data: dict[str, Any], action: str = "schedule.update",
    managed_source: str | None = None,
) -> bool | None:  # fmt: skip
    """Validate and apply an edit with its audit event, without committing.

    Returns None when nothing changed, else whether the pending fire must follow (a timing
    edit or a toggle). `managed_source`, when given, becomes the schedule's marker.
    """
    before = snapshot(schedule)
    clean, timing = validate(schedule.organization_id, data, before, schedule.id)
    changes = diff(before, clean)
    if managed_source is not None and managed_source != schedule.managed_source:
        changes["managed_source"] = [schedule.managed_source, managed_source]
        schedule.managed_source = managed_source
    if not changes:
        return None
    _apply(schedule, clean)
    timing_changed = any(field in changes for field in TIMING_FIELDS)
    now = utcnow()
    if "enabled" in changes and not schedule.enabled:
        schedule.next_run_at = None
    elif "enabled" in changes or (timing_changed and schedule.enabled):
        # Enabling (or retiming) starts from now: no burst of the slots it was off for.
        schedule.next_run_at = timing.initial_slot(now)
        schedule.completed_at = None
    AuditEvent.record(
        organization_id=schedule.organization_id, user=user, action=action, obj=schedule,
        changes=changes,
    )  # fmt: skip
    return timing_changed or "enabled" in changes


def update_schedule(
    schedule: Schedule, user: User | None, data: dict[str, Any], action: str = "schedule.update"
) -> Schedule:
    """Edit some fields. Only a timing edit (or enabling) moves `next_run_at`."""
    rearm = stage_update(schedule, user, data, action)
    if rearm is None:
        return schedule
    _commit_or_conflict()
    announce_saved(schedule, rearm)
    return schedule


def set_enabled(schedule: Schedule, user: User | None, enabled: bool) -> Schedule:
    action = "schedule.enable" if enabled else "schedule.disable"
    return update_schedule(schedule, user, {"enabled": enabled}, action=action)


def stage_delete(schedule: Schedule, user: User | None) -> tuple[int, int]:
    """Delete a schedule with its audit event, without committing; returns what
    `announce_deleted` needs after the commit."""
    schedule_id, organization_id = schedule.id, schedule.organization_id
    AuditEvent.record(
        organization_id=organization_id, user=user, action="schedule.delete", obj=schedule,
        changes=diff(snapshot(schedule), {f: None for f in FIELDS}),
    )  # fmt: skip
    db.session.delete(schedule)
    return schedule_id, organization_id


def delete_schedule(schedule: Schedule, user: User | None, confirm_name: Any) -> None:
    """Delete a schedule and its runs (its chat sessions stay). Needs the exact name typed."""
    if confirm_name != schedule.name:
        raise ValidationFailed(
            {"confirm_name": ["Type the schedule's exact name to delete it."]},
            "Type the schedule's exact name to delete it.",
            400,
        )
    deleted = stage_delete(schedule, user)
    db.session.commit()
    announce_deleted(*deleted)


def commit_staged() -> None:
    """Commit what the stage_* functions added; a name taken meanwhile is a 409."""
    _commit_or_conflict()


def announce_saved(schedule: Schedule, timing_changed: bool) -> None:
    """After the commit: let the engine follow (arm or cancel the pending fire)."""
    schedule_saved.send(
        current_app._get_current_object(), schedule=schedule, timing_changed=timing_changed
    )


def announce_deleted(schedule_id: int, organization_id: int) -> None:
    schedule_deleted.send(
        current_app._get_current_object(),
        schedule_id=schedule_id,
        organization_id=organization_id,
    )


def running_ids(schedule_ids: list[int]) -> set[int]:
    """Which of these schedules have a run in progress (one query for a whole page)."""
    if not schedule_ids:
        return set()
    rows = db.session.execute(
        db.select(Run.schedule_id)
        .where(Run.schedule_id.in_(schedule_ids), Run.status.in_(("PENDING", "RUNNING")))
        .distinct()
    )
    return set(rows.scalars())


def status_of(schedule: Schedule, running: bool) -> str:
    if schedule.completed_at is not None:
        return "Completed"
    if running:
        return "Running"
    return "Enabled" if schedule.enabled else "Disabled"
