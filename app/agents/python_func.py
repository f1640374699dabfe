"""The `python` kind: a `module:function` called in the worker, loaded fresh at each run.

Only modules under the allow-list TASKPLAN_PYTHON_AGENT_PREFIXES may be named (none by
default): an agent config must never be a way to run arbitrary code in the worker. The list
is checked when the agent is saved and again at every run, so narrowing it takes effect
without touching the agents.

The function is called as ``function(prompt, history=[...], context={...})`` and returns a
string (the reply, or "SKIP"), a dict shaped like the webhook's answer
(``{"reply", "tool_calls", "usage"}`` or ``{"skip": True}``), or a :class:`Reply`. It runs
in the worker process, so the schedule's timeout bounds it through RQ's timeout.
"""

from __future__ import annotations

import importlib
import re
import sys
from typing import Any

from flask import current_app
from rq.timeouts import JobTimeoutException

from app.agents import AgentError, Checker, Reply, one_line, tool_calls_of, usage_of

FIELDS = ("target",)
TARGET = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):([A-Za-z_]\w*)$")


def prefixes() -> tuple[str, ...]:
    return tuple(current_app.config.get("PYTHON_AGENT_PREFIXES", ()))


def allowed(module: str) -> bool:
    return any(module == p or module.startswith(p.rstrip(".") + ".") for p in prefixes())


def validate(config: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    check = Checker(config, FIELDS)
    target = check.text("target", "Target", required=True, limit=300)
    if target is not None:
        match = TARGET.match(target)
        if not match:
            check.fail("target", "Target must be module:function, like mypkg.agents:daily.")
            check.clean.pop("target", None)
        elif not allowed(match.group(1)):
            allowed_list = ", ".join(prefixes()) or "none are configured"
            check.fail(
                "target",
                f"Module {match.group(1)} is not under an allowed prefix "
                f"(TASKPLAN_PYTHON_AGENT_PREFIXES: {allowed_list}).",
            )
            check.clean.pop("target", None)
    return check.clean, check.errors


def summary(config: dict[str, Any]) -> str:
    return f"Python {config.get('target', '?')}"


def load(target: str):
    """The function, from a fresh import of its module (edits apply without a restart)."""
    match = TARGET.match(target or "")
    if not match:
        raise AgentError(f"Python agent target {target!r} is not module:function")
    module_name, function_name = match.groups()
    if not allowed(module_name):
        raise AgentError(
            f"Python module {module_name} is not under an allowed prefix "
            "(TASKPLAN_PYTHON_AGENT_PREFIXES)"
        )
    importlib.invalidate_caches()
    try:
        module = sys.modules.get(module_name)
        module = importlib.reload(module) if module else importlib.import_module(module_name)
    except JobTimeoutException:
        raise
    except Exception as exc:
        raise AgentError(
            f"Python agent {target} could not be loaded: {type(exc).__name__}: {one_line(exc)}"
        ) from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise AgentError(f"Python agent {target}: {module_name} has no function {function_name}")
    return function


def call(
    config: dict[str, Any], prompt: str, history: list[dict[str, Any]], context: dict[str, Any]
) -> Reply:
    target = config.get("target", "")
    function = load(target)
    public = {k: v for k, v in context.items() if k not in ("deadline", "organization_id")}
    try:
        result = function(prompt, history=list(history), context=public)
    except (AgentError, JobTimeoutException):
        raise
    except Exception as exc:
        raise AgentError(
            f"Python agent {target} raised {type(exc).__name__}: {one_line(exc)}"
        ) from exc
    if isinstance(result, Reply):
        return result
    if isinstance(result, str):
        return Reply(text=result)
    if isinstance(result, dict):
        if result.get("skip") is True:
            return Reply(text="SKIP", skip=True, usage=usage_of(result.get("usage")))
        if isinstance(result.get("reply"), str):
            return Reply(
                text=result["reply"],
                tool_calls=tool_calls_of(result.get("tool_calls")),
                usage=usage_of(result.get("usage")),
            )
    raise AgentError(
        f"Python agent {target} returned {type(result).__name__}; expected text or "
        '{"reply": "..."}'
    )
