"""Agents: where prompts go (SPEC §5.1), behind one small interface.

The run job calls :func:`call` and nothing else. Each agent kind is a module with two
functions:

- ``validate(config, settings) -> (clean_config, errors)``: the rules for its settings, one
  message per field, used by the API and the console alike;
- ``call(config, prompt, history, context) -> Reply``: one attempt, never retried (retries
  are the schedule's business, SPEC §3.5), bounded by the schedule's timeout.

Secrets (API keys, webhook secrets) are never part of a config: the config holds the *name*
of an environment variable, read by the worker at call time (:func:`secret`).
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import ssl
import time
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import httpx2
from flask import current_app
from rq.timeouts import JobTimeoutException

from app.extensions import db
from app.models import AGENT_KINDS, Agent, name_key

DEFAULT_AGENT = "orchestrator"
KINDS = AGENT_KINDS
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")


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


class AgentTimeout(AgentError):
    reason = "timeout"


def kind_module(kind: str) -> ModuleType:
    from app.agents import demo, openai_chat, python_func, webhook

    modules = {"openai": openai_chat, "webhook": webhook, "python": python_func, "demo": demo}
    return modules[kind]


# ---- which agent a name means


@dataclass(frozen=True)
class Resolved:
    name: str
    kind: str
    config: dict[str, Any]
    builtin: bool = False


def orchestrator() -> Resolved:
    """The built-in agent: AGENT_BASE_URL / AGENT_API_KEY / AGENT_MODEL, else the demo."""
    settings = current_app.config
    if not settings.get("AGENT_CONFIGURED"):
        return Resolved(DEFAULT_AGENT, "demo", {}, builtin=True)
    config = {
        "base_url": settings.get("AGENT_BASE_URL") or "https://api.openai.com/v1",
        "model": settings["AGENT_MODEL"],
    }
    if os.environ.get("AGENT_API_KEY"):
        # The name of the variable, not its value: the worker reads it at call time.
        config["api_key_env"] = "AGENT_API_KEY"
    return Resolved(DEFAULT_AGENT, "openai", config, builtin=True)


def resolve(organization_id: int, agent_name: str) -> Resolved:
    """The organization's agent of that name; raises AgentNotFound."""
    if name_key(agent_name) == DEFAULT_AGENT:
        return orchestrator()
    row = db.session.execute(
        db.select(Agent).where(
            Agent.organization_id == organization_id, Agent.name_key == name_key(agent_name)
        )
    ).scalar_one_or_none()
    if row is None:
        raise AgentNotFound(f"Agent '{agent_name}' not found")
    return Resolved(row.name, row.kind, dict(row.config or {}))


def call(
    agent_name: str, prompt: str, history: list[dict[str, Any]], context: dict[str, Any]
) -> Reply:
    """Send one prompt to the organization's agent named `agent_name`; one attempt, no retries.

    `prompt` is the rendered prompt; `history` the earlier messages of a continuous session
    ({role, content, created_at}), oldest first. `context` carries organization_id,
    idempotency_key, message (the session's user message, e.g. "[Scheduled] …"),
    timeout_seconds and deadline (time.monotonic() by which the call must end), and the
    schedule, run and session as small dicts.
    """
    agent = resolve(context["organization_id"], agent_name)
    try:
        reply = kind_module(agent.kind).call(agent.config, prompt, history, context)
    except AgentError:
        raise
    except JobTimeoutException:
        raise
    except Exception as exc:
        # A library may wrap RQ's timeout (raised by the SIGALRM handler wherever the call
        # happened to be) in its own error: it is still the schedule's timeout.
        if _caused_by_job_timeout(exc):
            raise timeout_error(context) from exc
        raise
    if not reply.skip and is_skip(reply.text):
        reply = replace(reply, skip=True)
    return reply


def _caused_by_job_timeout(exc: BaseException) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, JobTimeoutException):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


# ---- what the kinds share


def is_skip(text: Any) -> bool:
    """The agent's way to say "nothing to do this time": `SKIP`, or `{"skip": true}`."""
    if not isinstance(text, str):
        return False
    stripped = text.strip()
    if stripped == "SKIP":
        return True
    if stripped.startswith("{") and '"skip"' in stripped:
        try:
            value = json.loads(stripped)
        except ValueError:
            return False
        return isinstance(value, dict) and value.get("skip") is True
    return False


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA store takes ~150 ms; once per process keeps it off every run's path.
    return httpx2.create_ssl_context()


def http_client(timeout: float) -> httpx2.Client:
    """A fresh HTTP client per call (no cookies or connections shared between agents of
    different organizations), on the process's one TLS context. Redirects are not followed:
    a POST is never silently re-sent elsewhere."""
    return httpx2.Client(verify=_ssl_context(), timeout=timeout, follow_redirects=False)


def timeout_error(context: dict[str, Any]) -> AgentTimeout:
    return AgentTimeout(f"Timeout after {context.get('timeout_seconds', 300)}s")


def time_left(context: dict[str, Any]) -> float:
    """Seconds left before the schedule's timeout; raises AgentTimeout when none are."""
    deadline = context.get("deadline")
    if deadline is None:
        return float(context.get("timeout_seconds", 300))
    left = deadline - time.monotonic()
    if left <= 0.05:
        raise timeout_error(context)
    return left


def status_error(status: int, detail: str = "") -> AgentError:
    """An HTTP error status as the message users know (SPEC §5.1)."""
    if status in (401, 403):
        return AgentError("Permission denied")
    if status == 429:
        return AgentError("API rate limit exceeded")
    detail = one_line(detail)
    return AgentError(f"Agent endpoint answered HTTP {status}" + (f": {detail}" if detail else ""))


def one_line(text: Any, limit: int = 300) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def redact(text: str, *secrets: str | None) -> str:
    for value in secrets:
        if value:
            text = text.replace(value, "[redacted]")
    return text


def secret(env_name: str, what: str) -> str:
    """The value of the environment variable an agent names, read now, in the worker."""
    if not env_allowed(env_name):
        raise AgentError(
            f"Environment variable {env_name} may not be used for agent secrets "
            "(see TASKPLAN_AGENT_SECRET_PREFIXES)"
        )
    value = os.environ.get(env_name)
    if not value:
        raise AgentError(f"Environment variable {env_name} ({what}) is not set on the worker")
    return value


def env_allowed(env_name: str) -> bool:
    prefixes = current_app.config.get("AGENT_SECRET_PREFIXES", ())
    return any(env_name.startswith(prefix) for prefix in prefixes)


def usage_of(raw: Any) -> dict[str, Any]:
    """prompt_tokens, completion_tokens and cost from whatever the agent reported."""
    if not isinstance(raw, dict):
        return {}
    usage: dict[str, Any] = {}
    for key in ("prompt_tokens", "completion_tokens"):
        value = raw.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            usage[key] = value
    cost = raw.get("cost")
    if isinstance(cost, int | float) and not isinstance(cost, bool) and math.isfinite(cost):
        usage["cost"] = float(cost) if cost >= 0 else None
    return {k: v for k, v in usage.items() if v is not None}


def tool_calls_of(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        return []
    return [item for item in raw if isinstance(item, dict)]


# ---- validation helpers for the kinds' validate()


class Checker:
    """Collects one message per config field, keyed `config.<field>`."""

    def __init__(self, config: Any, allowed: tuple[str, ...]) -> None:
        self.errors: dict[str, list[str]] = {}
        self.clean: dict[str, Any] = {}
        if not isinstance(config, dict):
            self.fail("", "Config must be a JSON object.")
            self.config: dict[str, Any] = {}
            return
        self.config = config
        for key in config:
            if key not in allowed:
                # Never echo the value: it may be a key pasted into the wrong place.
                self.fail(key, "Unknown field for this kind of agent.")

    def fail(self, key: str, message: str) -> None:
        name = f"config.{key}" if key else "config"
        self.errors.setdefault(name, [message])

    def text(self, key: str, label: str, required: bool = False, limit: int = 500) -> str | None:
        value = self.config.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(key, f"{label} is required.")
            return None
        if not isinstance(value, str):
            self.fail(key, f"{label} must be text.")
            return None
        value = value.strip()
        if len(value) > limit:
            self.fail(key, f"{label} must be at most {limit:,} characters.")
            return None
        self.clean[key] = value
        return value

    def url(self, key: str, label: str, required: bool = True) -> str | None:
        value = self.text(key, label, required, limit=2000)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.fail(key, f"{label} must be an http:// or https:// URL.")
        elif parts.username or parts.password:
            self.fail(key, "Credentials do not belong in the URL: name an environment variable.")
        else:
            return value
        self.clean.pop(key, None)
        return None

    def env_name(self, key: str, label: str) -> str | None:
        value = self.config.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not ENV_NAME.match(value.strip()):
            self.fail(
                key,
                f"{label}: give the NAME of an environment variable (capitals, digits and _, "
                "like OPENAI_API_KEY), never the secret itself.",
            )
            return None
        value = value.strip()
        if not env_allowed(value):
            prefixes = ", ".join(current_app.config.get("AGENT_SECRET_PREFIXES", ())) or "none"
            self.fail(
                key,
                f"{label}: the variable's name must start with one of: {prefixes} "
                "(TASKPLAN_AGENT_SECRET_PREFIXES).",
            )
            return None
        self.clean[key] = value
        return value


def validate_config(kind: Any, config: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The clean config of an agent of `kind`, or the messages per field."""
    if kind not in KINDS:
        return {}, {"kind": [f"Kind must be one of: {', '.join(KINDS)}."]}
    return kind_module(kind).validate(config if config is not None else {})


def summary(kind: str, config: dict[str, Any]) -> str:
    """One line saying where prompts go, for lists."""
    return kind_module(kind).summary(config)
