"""Agents: where prompts go (SPEC §5.1), behind one small interface.

The run job calls :func:`call` and nothing else, so each agent kind is a module with a
`call(config, prompt, history, context) -> Reply` function. Only the offline `demo` kind
lives here for now; the other kinds (openai, webhook, python) come with issue 5.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.extensions import db
from app.models import Agent, name_key

DEFAULT_AGENT = "orchestrator"


@dataclass(frozen=True)
class Reply:
    text: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)  # prompt_tokens, completion_tokens, cost
    skip: bool = False  # the agent answered SKIP: nothing to do this time (SPEC §5.1)


class AgentError(Exception):
    """The agent could not answer; the message is what the run history shows."""

    reason = "agent_error"


class AgentNotFound(AgentError):
    reason = "agent_not_found"


def call(
    agent_name: str, prompt: str, history: list[dict[str, Any]], context: dict[str, Any]
) -> Reply:
    """Send one prompt to the organization's agent named `agent_name`; one attempt, no retries.

    `history` is the earlier messages of a continuous session ({role, content}), oldest
    first; `context` carries organization_id, schedule_id, run_id, scheduled_for, attempt
    and idempotency_key.
    """
    from app.agents import demo

    row = db.session.execute(
        db.select(Agent).where(
            Agent.organization_id == context["organization_id"],
            Agent.name_key == name_key(agent_name),
        )
    ).scalar_one_or_none()
    if row is None:
        if name_key(agent_name) in (DEFAULT_AGENT, "demo"):
            # A new install has no agent configured: the orchestrator is the demo (SPEC §5.1).
            return demo.call({}, prompt, history, context)
        raise AgentNotFound(f"Agent '{agent_name}' not found")
    if row.kind == "demo":
        return demo.call(row.config or {}, prompt, history, context)
    raise AgentError(f"Agent kind '{row.kind}' is not available in this version")
