"""Creating, editing and deleting agents: one set of rules for the API and the console
(SPEC §5.1, §4).

Every change validates everything first and stores nothing on error, and writes an audit
event with a field diff in the same commit. Configs hold environment-variable *names* only;
a value that looks like a secret is refused, never stored, and never echoed in a message.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from app import agents
from app.errors import ValidationFailed
from app.extensions import db
from app.models import Agent, AuditEvent, Schedule, User, name_key
from app.web import iso_z

FIELDS = ("name", "kind", "config")
MAX_NAME = 200


def snapshot(agent: Agent) -> dict[str, Any]:
    return {"name": agent.name, "kind": agent.kind, "config": dict(agent.config or {})}


def agent_json(agent: Agent, used_by: int | None = None) -> dict[str, Any]:
    body = {
        "id": agent.id,
        **snapshot(agent),
        "summary": agents.summary(agent.kind, agent.config or {}),
        "created_at": iso_z(agent.created_at),
        "updated_at": iso_z(agent.updated_at),
    }
    if used_by is not None:
        body["schedule_count"] = used_by
    return body


def merge_patch(current: dict[str, Any], patch: Any) -> Any:
    """RFC 7396: keys in the patch replace, null removes, the rest stays."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def validate(
    organization_id: int, data: Any, current: dict[str, Any] | None = None,
    agent_id: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Clean values for all fields (data merged over `current` on edit); raises
    ValidationFailed with one message per field: 409 when only the name is taken."""
    if not isinstance(data, dict):
        raise ValidationFailed({}, "The body must be a JSON object.")
    errors: dict[str, list[str]] = {}
    for key in data:
        if key not in FIELDS:
            errors[key] = ["Unknown field."]
    base = current or {"name": None, "kind": None, "config": {}}
    values = {**base, **{k: v for k, v in data.items() if k in FIELDS and k != "config"}}
    same_kind = current is not None and values["kind"] == current["kind"]
    if "config" not in data:
        values["config"] = base["config"] if same_kind or current is None else {}
    elif same_kind:
        values["config"] = merge_patch(base["config"], data["config"])  # PATCH merges
    else:
        values["config"] = data["config"]  # a new kind starts from the given config
    clean: dict[str, Any] = {}

    name = values["name"]
    if not isinstance(name, str) or not name.strip():
        errors["name"] = ["Name is required."]
    elif len(name.strip()) > MAX_NAME:
        errors["name"] = [f"Name must be at most {MAX_NAME} characters."]
    elif name_key(name) == agents.DEFAULT_AGENT:
        errors["name"] = [
            "orchestrator is the built-in agent, set by AGENT_BASE_URL, AGENT_API_KEY and "
            "AGENT_MODEL; choose another name."
        ]
    else:
        clean["name"] = " ".join(name.split())
        taken = db.session.execute(
            db.select(Agent.id).where(
                Agent.organization_id == organization_id,
                Agent.name_key == name_key(name),
                Agent.id != (agent_id or -1),
            )
        ).first()
        if taken:
            errors["name"] = [f"An agent named '{clean['name']}' already exists."]

    kind = values["kind"]
    if kind not in agents.KINDS:
        errors["kind"] = [f"Kind must be one of: {', '.join(agents.KINDS)}."]
    else:
        clean["kind"] = kind
        config, config_errors = agents.validate_config(kind, values["config"])
        errors.update(config_errors)
        clean["config"] = config

    if errors:
        if list(errors) == ["name"] and "already exists" in errors["name"][0]:
            raise ValidationFailed(errors, "An agent with this name already exists.", 409)
        raise ValidationFailed(errors)
    return clean


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list]:
    return {f: [before.get(f), after[f]] for f in after if before.get(f) != after[f]}


def _commit_or_conflict() -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # two saves raced past the check; the unique key decided
        raise ValidationFailed(
            {"name": ["An agent with this name already exists."]},
            "An agent with this name already exists.",
            409,
        ) from None


def create_agent(organization_id: int, user: User | None, data: Any) -> Agent:
    clean = validate(organization_id, data)
    agent = Agent(organization_id=organization_id, **clean)
    db.session.add(agent)
    db.session.flush()
    AuditEvent.record(
        organization_id=organization_id, user=user, action="agent.create", obj=agent,
        changes=diff({}, clean),
    )  # fmt: skip
    _commit_or_conflict()
    return agent


def update_agent(agent: Agent, user: User | None, data: Any) -> Agent:
    """Edit some fields. A rename carries the schedules that use the agent along with it."""
    before = snapshot(agent)
    clean = validate(agent.organization_id, data, before, agent.id)
    changes = diff(before, clean)
    if not changes:
        return agent
    using = schedules_using(agent) if "name" in changes else []
    for field, value in clean.items():
        setattr(agent, field, value)
    for schedule in using:
        # Schedules name their agent; they follow the rename rather than lose it.
        schedule.agent_name = agent.name
    if using:
        changes["schedules"] = [None, sorted(s.name for s in using)]
    AuditEvent.record(
        organization_id=agent.organization_id, user=user, action="agent.update", obj=agent,
        changes=changes,
    )  # fmt: skip
    _commit_or_conflict()
    return agent


def schedules_using(agent: Agent) -> list[Schedule]:
    rows = db.session.execute(
        db.select(Schedule)
        .where(Schedule.organization_id == agent.organization_id)
        .order_by(Schedule.name_key)
    ).scalars()
    return [s for s in rows if name_key(s.agent_name) == agent.name_key]


def usage_counts(organization_id: int) -> dict[str, int]:
    """{agent name_key: number of schedules using it} for the organization."""
    counts: dict[str, int] = {}
    for name in db.session.execute(
        db.select(Schedule.agent_name).where(Schedule.organization_id == organization_id)
    ).scalars():
        counts[name_key(name)] = counts.get(name_key(name), 0) + 1
    return counts


def delete_agent(agent: Agent, user: User | None) -> None:
    """Delete an agent no schedule uses; 409 naming the schedules otherwise."""
    using = schedules_using(agent)
    if using:
        names = ", ".join(f"'{s.name}'" for s in using[:5]) + (" …" if len(using) > 5 else "")
        message = (
            f"Agent '{agent.name}' is used by {len(using)} "
            f"schedule{'s' if len(using) > 1 else ''} ({names}): point "
            f"{'them' if len(using) > 1 else 'it'} at another agent first."
        )
        raise ValidationFailed({"agent": [message]}, message, 409)
    AuditEvent.record(
        organization_id=agent.organization_id, user=user, action="agent.delete", obj=agent,
        changes=diff(snapshot(agent), {f: None for f in FIELDS}),
    )  # fmt: skip
    db.session.delete(agent)
    db.session.commit()
