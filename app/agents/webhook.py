"""The `webhook` kind: POST the run as JSON to a URL, signed with HMAC-SHA256 when a secret is
configured; the answer is `{"reply": "...", "tool_calls": [...], "usage": {...}}` or
`{"skip": true}`.

The signature covers the timestamp and the exact body bytes:
`X-Taskplan-Signature: sha256=HEX(HMAC_SHA256(secret, "{X-Taskplan-Timestamp}." + body))`,
so a receiver can refuse replays of old deliveries (docs/agents.md shows a check).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx2

from app.agents import (
    AgentError,
    Checker,
    Reply,
    http_client,
    one_line,
    redact,
    secret,
    status_error,
    time_left,
    timeout_error,
    tool_calls_of,
    usage_of,
)

FIELDS = ("url", "secret_env")
USER_AGENT = "Taskplan-Webhook/1"


def validate(config: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    check = Checker(config, FIELDS)
    check.url("url", "URL")
    check.env_name("secret_env", "Secret variable")
    return check.clean, check.errors


def summary(config: dict[str, Any]) -> str:
    signed = "signed" if config.get("secret_env") else "unsigned"
    return f"POST {config.get('url', '?')} ({signed})"


def sign(secret_value: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret_value.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def payload(prompt: str, history: list[dict[str, Any]], context: dict[str, Any]) -> dict:
    session = dict(context.get("session") or {})
    session["messages"] = history
    return {
        "prompt": prompt,
        "message": context.get("message") or prompt,
        "idempotency_key": context["idempotency_key"],
        "schedule": context.get("schedule") or {},
        "run": context.get("run") or {},
        "session": session,
    }


def call(
    config: dict[str, Any], prompt: str, history: list[dict[str, Any]], context: dict[str, Any]
) -> Reply:
    secret_value = (
        secret(config["secret_env"], "the webhook secret") if config.get("secret_env") else None
    )
    body = json.dumps(payload(prompt, history, context), ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": context["idempotency_key"],
        "X-Taskplan-Timestamp": timestamp,
    }
    if secret_value is not None:
        headers["X-Taskplan-Signature"] = sign(secret_value, timestamp, body)
    timeout = time_left(context)
    try:
        with http_client(timeout) as client:
            response = client.post(config["url"], content=body, headers=headers)
    except httpx2.TimeoutException as exc:
        raise timeout_error(context) from exc
    except httpx2.HTTPError as exc:
        raise AgentError(
            f"Could not reach the webhook at {config['url']}: "
            f"{one_line(redact(str(exc), secret_value)) or type(exc).__name__}"
        ) from exc

    if response.status_code >= 300:
        raise status_error(response.status_code, redact(_detail(response), secret_value))
    try:
        answer = response.json()
    except ValueError:
        raise AgentError(
            f"The webhook answered HTTP {response.status_code} with a body that is not JSON "
            '(expected {"reply": "..."})'
        ) from None
    if not isinstance(answer, dict):
        raise AgentError(
            'The webhook answered JSON that is not an object (expected {"reply": "..."})'
        )
    if answer.get("skip") is True:
        return Reply(text="SKIP", skip=True, usage=usage_of(answer.get("usage")))
    reply = answer.get("reply")
    if not isinstance(reply, str):
        raise AgentError('The webhook answer has no "reply" text')
    return Reply(
        text=reply,
        tool_calls=tool_calls_of(answer.get("tool_calls")),
        usage=usage_of(answer.get("usage")),
    )


def _detail(response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        plain = "text/plain" in response.headers.get("content-type", "")
        return response.text[:300] if plain else ""
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            if isinstance(body.get(key), str):
                return body[key]
    return ""
