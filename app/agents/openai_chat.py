"""The `openai` kind: any OpenAI-compatible Chat Completions endpoint (OpenAI, Azure, vLLM,
Ollama, LiteLLM, llama.cpp server), through the official `openai` SDK.

One call is one HTTP request: the SDK's own retries are off (`max_retries=0`), since a retry
is a new run of the schedule with its own record and Idempotency-Key (SPEC §3.5).
"""

from __future__ import annotations

import logging
from typing import Any

import openai

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

log = logging.getLogger(__name__)

FIELDS = ("base_url", "model", "system_prompt", "api_key_env")
ROLES = ("system", "user", "assistant")
# Sent when no key is configured (a local server); the Authorization header is then omitted
# per request, so the placeholder never leaves the process. Passing a value at all also keeps
# the SDK from picking up an ambient OPENAI_API_KEY and sending it to this endpoint.
NO_KEY = "no-key-configured"


def validate(config: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    check = Checker(config, FIELDS)
    check.url("base_url", "Base URL")
    check.text("model", "Model", required=True, limit=200)
    check.text("system_prompt", "System prompt", limit=20_000)
    check.env_name("api_key_env", "API key variable")
    return check.clean, check.errors


def summary(config: dict[str, Any]) -> str:
    return f"{config.get('model', '?')} at {config.get('base_url', '?')}"


def messages_for(
    config: dict[str, Any], history: list[dict[str, Any]], message: str
) -> list[dict[str, str]]:
    """System prompt, then the continuous session's earlier messages, then this run's."""
    messages: list[dict[str, str]] = []
    if config.get("system_prompt"):
        messages.append({"role": "system", "content": config["system_prompt"]})
    for item in history:
        if item.get("role") in ROLES and item.get("content"):
            messages.append({"role": item["role"], "content": item["content"]})
    messages.append({"role": "user", "content": message})
    return messages


def call(
    config: dict[str, Any], prompt: str, history: list[dict[str, Any]], context: dict[str, Any]
) -> Reply:
    api_key = secret(config["api_key_env"], "the API key") if config.get("api_key_env") else None
    timeout = time_left(context)
    headers: dict[str, Any] = {
        "Idempotency-Key": context["idempotency_key"],
        # Not from the worker's environment (OPENAI_ORG_ID, …): this endpoint may not be OpenAI.
        "OpenAI-Organization": openai.Omit(),
        "OpenAI-Project": openai.Omit(),
    }
    if api_key is None:
        headers["Authorization"] = openai.Omit()
    client = openai.OpenAI(
        api_key=api_key or NO_KEY,
        base_url=config["base_url"],
        max_retries=0,
        timeout=timeout,
        http_client=http_client(timeout),
    )
    try:
        with client:
            completion = client.chat.completions.create(
                model=config["model"],
                messages=messages_for(config, history, context.get("message") or prompt),
                extra_headers=headers,
                timeout=timeout,
            )
    except openai.APITimeoutError as exc:
        raise timeout_error(context) from exc
    except openai.APIConnectionError as exc:
        cause = exc.__cause__ or exc
        raise AgentError(
            f"Could not reach the agent at {config['base_url']}: "
            f"{one_line(redact(str(cause), api_key)) or type(cause).__name__}"
        ) from exc
    except openai.APIStatusError as exc:
        raise status_error(exc.status_code, redact(_detail(exc), api_key)) from exc
    except openai.APIResponseValidationError as exc:
        raise AgentError("The agent endpoint sent a reply that is not a chat completion") from exc

    choices = getattr(completion, "choices", None) or []
    if not choices or getattr(choices[0], "message", None) is None:
        raise AgentError("The agent endpoint sent a completion without a message")
    message = choices[0].message
    tool_calls = [call.model_dump(mode="json") for call in (message.tool_calls or [])]
    usage: dict[str, Any] = {}
    if completion.usage is not None:
        usage = usage_of({**(completion.usage.model_extra or {}), **completion.usage.model_dump()})
    return Reply(text=message.content or "", tool_calls=tool_calls_of(tool_calls), usage=usage)


def _detail(exc: openai.APIStatusError) -> str:
    """The endpoint's own message, if it sent one in the usual {"error": {"message"}} shape."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        if isinstance(error, str):
            return error
    return ""
