"""The Agents pages: everyone in the organization reads, admins create, edit and delete."""

from __future__ import annotations

import os

from flask import flash, g, redirect, render_template, url_for

from app import agents
from app.agents_admin import bp, service
from app.agents_admin.forms import KIND_FIELDS, AgentForm
from app.auth.access import get_scoped_or_404, role_required
from app.errors import ValidationFailed
from app.extensions import db
from app.models import Agent


def _secret_state(kind: str, config: dict) -> tuple[str, bool] | None:
    """(variable name, set in this process?) for the agent's secret, if it names one."""
    name = config.get("api_key_env") or config.get("secret_env")
    return (name, bool(os.environ.get(name))) if name else None


@bp.get("/agents")
@role_required("viewer")
def index():
    """The built-in orchestrator and the organization's own agents."""
    rows = db.session.execute(
        db.select(Agent).where(Agent.organization_id == g.org.id).order_by(Agent.name_key)
    ).scalars()
    counts = service.usage_counts(g.org.id)
    builtin = agents.orchestrator()
    return render_template(
        "agents_admin/index.html",
        builtin=builtin,
        builtin_summary=agents.summary(builtin.kind, builtin.config),
        builtin_uses=counts.get(agents.DEFAULT_AGENT, 0),
        rows=[
            (
                a,
                agents.summary(a.kind, a.config or {}),
                counts.get(a.name_key, 0),
                _secret_state(a.kind, a.config or {}),
            )
            for a in rows
        ],
    )


def _render_form(form: AgentForm, agent: Agent | None = None, status: int = 200):
    return (
        render_template("agents_admin/form.html", form=form, agent=agent, kind_fields=KIND_FIELDS),
        status,
    )


@bp.get("/agents/new")
@role_required("admin")
def new():
    """The create form."""
    return _render_form(AgentForm())


@bp.post("/agents")
@role_required("admin")
def create():
    """Create an agent; on error, show the messages beside the fields and keep the input."""
    form = AgentForm()
    if not form.validate_on_submit():
        return _render_form(form, status=400)
    try:
        agent = service.create_agent(g.org.id, g.user, form.data_for_service())
    except ValidationFailed as exc:
        db.session.rollback()
        form.show_errors(exc.fields)
        return _render_form(form, status=exc.status)
    flash(f"Agent '{agent.name}' created.", "success")
    return redirect(url_for("agents_admin.index"))


@bp.get("/agents/<int:agent_id>/edit")
@role_required("admin")
def edit(agent_id: int):
    """The edit form, filled with the agent's settings."""
    agent = get_scoped_or_404(Agent, agent_id)
    form = AgentForm()
    form.fill_from(agent)
    return _render_form(form, agent)


@bp.post("/agents/<int:agent_id>/edit")
@role_required("admin")
def update(agent_id: int):
    """Save an edit; a rename carries the schedules using the agent along."""
    agent = get_scoped_or_404(Agent, agent_id)
    form = AgentForm()
    if not form.validate_on_submit():
        return _render_form(form, agent, 400)
    try:
        service.update_agent(agent, g.user, form.data_for_service())
    except ValidationFailed as exc:
        db.session.rollback()
        form.show_errors(exc.fields)
        return _render_form(form, agent, exc.status)
    flash(f"Agent '{agent.name}' saved.", "success")
    return redirect(url_for("agents_admin.index"))


@bp.get("/agents/<int:agent_id>/delete")
@role_required("admin")
def confirm_delete(agent_id: int):
    """The delete confirmation: what would be deleted, and which schedules stand in the way."""
    agent = get_scoped_or_404(Agent, agent_id)
    return render_template(
        "agents_admin/delete.html", agent=agent, using=service.schedules_using(agent)
    )


@bp.post("/agents/<int:agent_id>/delete")
@role_required("admin")
def delete(agent_id: int):
    """Delete an agent that no schedule uses."""
    agent = get_scoped_or_404(Agent, agent_id)
    name = agent.name
    try:
        service.delete_agent(agent, g.user)
    except ValidationFailed as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("agents_admin.confirm_delete", agent_id=agent_id))
    flash(f"Agent '{name}' deleted.", "success")
    return redirect(url_for("agents_admin.index"))
