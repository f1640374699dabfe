"""The offline demo agent: answers deterministically and says it is a demo (SPEC §5.1).

It also honours a few bracketed directives in the prompt, so the engine's behaviour
(slow runs, timeouts, failures, SKIP) can be exercised end to end without a network:
`[demo:sleep=2.5]` waits that many seconds, `[demo:fail]` raises an agent error,
`[demo:skip]` answers SKIP.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

from app.agents import AgentError, Checker, Reply

_SLEEP = re.compile(r"\[demo:sleep=(\d+(?:\.\d+)?)\]")


def call(
    config: dict[str, Any], prompt: str, history: list[dict[str, Any]], context: dict[str, Any]
) -> Reply:
    match = _SLEEP.search(prompt)
    if match:
        time.sleep(float(match.group(1)))
    if "[demo:fail]" in prompt:
        raise AgentError("Demo agent failure (asked for by [demo:fail])")
    if "[demo:skip]" in prompt:
        return Reply(text="SKIP", skip=True)
    digest = hashlib.sha256(prompt.encode()).hexdigest()[:8]
    words = len(prompt.split())
    text = (
        f"This is the demo agent (no agent endpoint is configured). I received a prompt of "
        f"{words} words (fingerprint {digest}) with {len(history)} earlier messages."
    )
    return Reply(
        text=text,
        usage={"prompt_tokens": words, "completion_tokens": len(text.split()), "cost": 0.0},
    )


def validate(config: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The demo agent has no settings."""
    check = Checker(config, ())
    return check.clean, check.errors


def summary(config: dict[str, Any]) -> str:
    return "Offline demo agent: answers without a network"
