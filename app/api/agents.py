"""/api/v1/agents: the organization's agents; everyone reads, admins change (SPEC §5.1, §7).

Configs hold environment-variable names, never secrets, so they are shown whole.
"""

from __future__ import annotations

from flask import g, jsonify

from app.agents_admin import service
from app.api import bp
from app.api.common import json_body, page_params, paginated
from app.api.openapi import documented
from app.auth.access import get_scoped_or_404, role_required
from app.extensions import db
from app.models import Agent

NAME_TAKEN = {409: "An agent of this organization already has this name"}


@bp.get("/agents")
@role_required("viewer")
@documented(response="Agent", paginated=True, query=("limit", "before"))
def list_agents():
    """Agents of the organization, newest first, with how many schedules use each."""
    limit, before = page_params()
    query = db.select(Agent).where(Agent.organization_id == g.org.id)
    if before is not None:
        query = query.where(Agent.id < before)
    rows = db.session.execute(query.order_by(Agent.id.desc()).limit(limit + 1)).scalars().all()
    counts = service.usage_counts(g.org.id)
    return paginated([service.agent_json(a, counts.get(a.name_key, 0)) for a in rows], limit)


@bp.post("/agents")
@role_required("admin")
@documented(
    response="Agent",
    status=201,
    body="AgentCreate",
    errors=NAME_TAKEN,
)
def create_agent():
    """Create an agent → 201."""
    agent = service.create_agent(g.org.id, g.user, json_body())
    return jsonify(service.agent_json(agent, 0)), 201


@bp.get("/agents/<int:agent_id>")
@role_required("viewer")
@documented(response="Agent")
def get_agent(agent_id: int):
    """One agent."""
    agent = get_scoped_or_404(Agent, agent_id)
    return jsonify(service.agent_json(agent, len(service.schedules_using(agent))))


@bp.patch("/agents/<int:agent_id>")
@role_required("admin")
@documented(
    response="Agent",
    body="AgentUpdate",
    errors=NAME_TAKEN,
)
def update_agent(agent_id: int):
    """Edit name, kind or config (config is merged: a key set to null is removed)."""
    agent = service.update_agent(get_scoped_or_404(Agent, agent_id), g.user, json_body())
    return jsonify(service.agent_json(agent, len(service.schedules_using(agent))))


@bp.delete("/agents/<int:agent_id>")
@role_required("admin")
@documented(status=204, errors={409: "Schedules still use this agent"})
def delete_agent(agent_id: int):
    """Delete → 204; 409 while schedules use it."""
    service.delete_agent(get_scoped_or_404(Agent, agent_id), g.user)
    return "", 204
