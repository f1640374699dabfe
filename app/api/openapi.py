"""The OpenAPI 3.0 document of /api/v1, built from the code at request time.

Nothing here lists the endpoints: the paths, methods and path parameters come from Flask's
URL map, the summaries from each view's docstring, and what each view reads and answers
from the `@documented(...)` next to it. The schemas are built from the same constants the
validation uses (service.DEFAULTS, RANGES, the enums in app/models.py), so a new field, a
new range or a new endpoint shows in the document without anyone editing it, and
tests/test_openapi.py fails when an API view is not documented.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, jsonify

from app.api import bp
from app.auth.access import MAX_ID
from app.models import AGENT_KINDS, OVERLAP_POLICIES, RUN_STATUSES, RUN_TRIGGERS
from app.schedules import service
from app.scheduling.timing import SCHEDULE_TYPES

OPENAPI_VERSION = "3.0.3"

# What any authenticated endpoint may answer, besides its own statuses.
_COMMON_ERRORS = {
    400: "Malformed request (for example a user in several organizations without X-Organization)",
    401: "Missing or unknown bearer token",
    403: "Not a member of the organization, or a viewer asking for an admin's change",
    429: "Too many requests for this token; retry after the Retry-After header's seconds",
}
_BODY_ERRORS = {
    400: "Malformed JSON, or a body that is not a JSON object",
    413: "Body over the size limit (1 MB)",
    422: "Validation failed: one message per field in `fields`",
}


def documented(
    *,
    response: str | None = None,
    status: int = 200,
    body: str | None = None,
    query: tuple[str, ...] = (),
    errors: dict[int, str] | None = None,
    paginated: bool = False,
    public: bool = False,
) -> Callable:
    """Describe an API view for the OpenAPI document: its success `status` and `response`
    schema (None: no content), its JSON `body` schema, its `query` parameters (names in
    QUERY_PARAMETERS), the `errors` it answers beyond the common ones, whether its response
    is a page of `response` items, and whether it needs no token."""

    def mark(view: Callable) -> Callable:
        view.openapi = {  # type: ignore[attr-defined]
            "response": response,
            "status": status,
            "body": body,
            "query": query,
            "errors": errors or {},
            "paginated": paginated,
            "public": public,
        }
        return view

    return mark


# ---- schemas, from the code's own constants


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


_TIME = {"type": "string", "format": "date-time", "example": "2026-11-23T09:00:00Z"}
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def _schedule_fields() -> dict[str, dict[str, Any]]:
    """The §2 fields as the API takes them (service.DEFAULTS names them all)."""
    fields: dict[str, dict[str, Any]] = {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": {"type": "string", "maxLength": service.MAX_DESCRIPTION},
        "prompt": {
            "type": "string",
            "minLength": 1,
            "maxLength": service.MAX_PROMPT,
            "description": "A sandboxed Jinja template (SPEC §5.3)",
        },
        "agent": {"type": "string", "minLength": 1, "maxLength": 200},
        "schedule_type": {"type": "string", "enum": list(SCHEDULE_TYPES)},
        "schedule_config": {
            "type": "object",
            "description": "Per type: ONCE {}, DAILY {hour, minute}, WEEKLY {days_of_week, "
            "hour, minute}, MONTHLY {day_of_month, hour, minute}, CRON {expression}",
        },
        "timezone": {"type": "string", "description": "An IANA zone, e.g. Europe/Paris"},
        "enabled": {"type": "boolean"},
        "session_config": {
            "type": "object",
            "properties": {"use_existing": {"type": "boolean"}},
        },
        "overlap_policy": {"type": "string", "enum": list(OVERLAP_POLICIES)},
        "start_at": _nullable(_TIME),
        "end_at": _nullable(_TIME),
    }
    for name, (low, high) in service.RANGES.items():
        fields[name] = {"type": "integer", "minimum": low, "maximum": high}
    missing = set(service.FIELDS) - set(fields)
    assert not missing, f"OpenAPI: no schema for schedule fields {missing}"
    for name, default in service.DEFAULTS.items():
        if default is not None:
            fields[name] = {**fields[name], "default": default}
    return {name: fields[name] for name in service.FIELDS}


def _schemas() -> dict[str, dict[str, Any]]:
    fields = _schedule_fields()
    required_on_create = [
        name for name, default in service.DEFAULTS.items() if default is None
        and not fields[name].get("nullable")
    ]  # fmt: skip
    schedule_out = {
        **fields,
        "id": _ID,
        "status": {"type": "string", "enum": ["Enabled", "Disabled", "Running", "Completed"]},
        "next_run_at": _nullable(_TIME),
        "last_run_at": _nullable(_TIME),
        "run_count": {"type": "integer", "minimum": 0},
        "completed_at": _nullable(_TIME),
        "timing_description": {"type": "string"},
        "managed": {"type": "boolean", "description": "Managed from a file (schedules import)"},
        "managed_source": _nullable(
            {"type": "string", "description": "The file it is managed from, if any"}
        ),
        "created_at": _TIME,
        "updated_at": _TIME,
    }
    schedule_out = {k: {key: v for key, v in s.items() if key != "default"} for k, s in
                    schedule_out.items()}  # fmt: skip
    run = {
        "id": _ID,
        "schedule_id": _ID,
        "trigger": {"type": "string", "enum": list(RUN_TRIGGERS)},
        "scheduled_for": _TIME,
        "status": {"type": "string", "enum": list(RUN_STATUSES)},
        "reason": _nullable({"type": "string"}),
        "attempt": {"type": "integer", "minimum": 1},
        "retry_of_id": _nullable(_ID),
        "enqueued_at": _nullable(_TIME),
        "started_at": _nullable(_TIME),
        "completed_at": _nullable(_TIME),
        "duration_ms": _nullable({"type": "integer", "minimum": 0}),
        "session_id": _nullable(_ID),
        "error": _nullable({"type": "string"}),
        "worker": _nullable({"type": "string"}),
        "prompt_tokens": _nullable({"type": "integer"}),
        "completion_tokens": _nullable({"type": "integer"}),
        "cost": _nullable({"type": "number"}),
    }
    timing = {name: fields[name] for name in service.TIMING_FIELDS}
    component = {"type": "boolean"}
    return {
        "Error": _object(
            {
                "error": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
            required=["error"],
        ),
        "Schedule": _object(schedule_out, required=list(schedule_out)),
        "ScheduleCreate": _object(fields, required=required_on_create, closed=True),
        "ScheduleUpdate": _object(fields, closed=True),
        "DeleteConfirmation": _object(
            {"confirm_name": {"type": "string", "description": "The schedule's exact name"}},
            required=["confirm_name"],
        ),
        "Run": _object(run, required=list(run)),
        "PreviewRequest": _object(
            {**timing, "count": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5}},
            required=["schedule_type"],
        ),
        "Preview": _object(
            {
                "description": {"type": "string"},
                "timezone": {"type": "string"},
                "next": {"type": "array", "items": _TIME},
                "next_in_zone": {"type": "array", "items": {"type": "string"}},
                "immediate": {"type": "boolean"},
                "warnings": {"type": "array", "items": {"type": "string"}},
            },
            required=["description", "next"],
        ),
        "Health": _object(
            {
                "status": {"type": "string", "enum": ["ok", "degraded"]},
                "database": _object({"ok": component}, required=["ok"]),
                "redis": _object({"ok": component}, required=["ok"]),
                "workers": {"type": "array", "items": {"type": "object"}},
                "scheduler": _object({"alive": component}, required=["alive"]),
                "queue": _object(
                    {"name": {"type": "string"}, "size": _nullable({"type": "integer"})},
                    required=["name", "size"],
                ),
                "success_rate_24h": _nullable(
                    _object(
                        {
                            "success": {"type": "integer", "minimum": 0},
                            "failed": {"type": "integer", "minimum": 0},
                            "rate": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
                        },
                        required=["success", "failed", "rate"],
                    )
                ),
            },
            required=["status", "database", "redis", "workers", "scheduler", "queue"],
        ),
        **_agent_schemas(),
        "Session": _object(
            {
                "id": _ID,
                "name": {"type": "string"},
                "schedule_id": _nullable(_ID),
                "created_at": _TIME,
                "updated_at": _TIME,
                "messages": {"type": "array", "items": _ref("Message")},
            },
            required=["id", "name", "schedule_id", "messages"],
        ),
        "Message": _object(
            {
                "id": _ID,
                "role": {"type": "string", "enum": ["system", "user", "assistant", "tool"]},
                "content": {"type": "string"},
                "created_at": _TIME,
                "run_id": _nullable(_ID),
                "tool_calls": {"type": "array", "items": {"type": "object"}},
            },
            required=["role", "content", "created_at", "run_id"],
        ),
    }


def _agent_schemas() -> dict[str, dict[str, Any]]:
    from app.agents_admin import service as agents_service

    fields = {
        "name": {"type": "string", "minLength": 1, "maxLength": agents_service.MAX_NAME},
        "kind": {"type": "string", "enum": list(AGENT_KINDS)},
        "config": {
            "type": "object",
            "description": "Per kind (docs/agents.md); secrets only as environment-variable "
            "names. On PATCH the config is merged and a key set to null is removed.",
        },
    }
    assert set(fields) == set(agents_service.FIELDS), "OpenAPI: agent fields changed"
    out = {
        **fields,
        "id": _ID,
        "summary": {"type": "string"},
        "created_at": _TIME,
        "updated_at": _TIME,
        "schedule_count": {"type": "integer", "minimum": 0},
    }
    return {
        "Agent": _object(out, required=["id", "name", "kind", "config"]),
        "AgentCreate": _object(fields, required=["name", "kind"], closed=True),
        "AgentUpdate": _object(fields, closed=True),
    }


def _object(
    properties: dict[str, Any], required: list[str] | None = None, closed: bool = False
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


QUERY_PARAMETERS: dict[str, dict[str, Any]] = {
    "limit": {
        "description": "Items per page, 1 to 200 (default 50)",
        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
    },
    "before": {
        "description": "The `next` cursor of the previous page",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "enabled": {
        "description": "Only enabled (true) or disabled (false) schedules",
        "schema": {"type": "boolean"},
    },
    "q": {"description": "Name contains this (case-insensitive)", "schema": {"type": "string"}},
}

_PATH_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _operation(endpoint: str, view: Callable, path_args: list[tuple[str, str]]) -> dict:
    meta = getattr(view, "openapi", None)
    if meta is None:
        raise LookupError(f"API view {endpoint} has no @documented(...)")
    lines = (view.__doc__ or "").strip().splitlines()
    operation: dict[str, Any] = {
        "operationId": endpoint.removeprefix("api."),
        "summary": lines[0].rstrip(".") if lines else endpoint,
        "tags": [view.__module__.rsplit(".", 1)[-1].replace("routes", "system")],
    }
    if len(lines) > 1:
        operation["description"] = " ".join(line.strip() for line in lines[1:]).strip()
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _ID if converter == "int" else {"type": "string"},
        }
        for converter, name in path_args
    ]
    parameters += [
        {"name": name, "in": "query", **QUERY_PARAMETERS[name]} for name in meta["query"]
    ]
    if not meta["public"]:
        parameters.append(
            {
                "name": "X-Organization",
                "in": "header",
                "required": False,
                "description": "The organization (id or name), for users in several",
                "schema": {"type": "string"},
            }
        )
    if parameters:
        operation["parameters"] = parameters
    if meta["body"]:
        operation["requestBody"] = {"required": True, **_json(_ref(meta["body"]))}
    success: dict[str, Any] = {"description": "OK" if meta["status"] < 300 else "Done"}
    if meta["response"]:
        schema = _ref(meta["response"])
        if meta["paginated"]:
            schema = _object(
                {
                    "items": {"type": "array", "items": schema},
                    "next": _nullable({"type": "string"}),
                },
                required=["items", "next"],
            )
        success.update(_json(schema))
    responses: dict[str, Any] = {str(meta["status"]): success}
    errors: dict[int, str] = {}
    if not meta["public"]:
        errors |= _COMMON_ERRORS
        operation["security"] = [{"bearer": []}]
    else:
        operation["security"] = []
    if meta["body"]:
        errors |= _BODY_ERRORS
    if meta["query"]:
        errors[422] = _BODY_ERRORS[422]
    if path_args:
        errors[404] = "No such object in this organization"
    errors |= meta["errors"]
    for code in sorted(errors):
        responses[str(code)] = {"description": errors[code], **_json(_ref("Error"))}
    operation["responses"] = responses
    return operation


def document(app: Flask) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith(f"{bp.name}."):
            continue
        view = app.view_functions[rule.endpoint]
        path_args = [(c or "default", n) for c, n in _PATH_ARGUMENT.findall(rule.rule)]
        path = _PATH_ARGUMENT.sub(lambda m: "{" + m.group(2) + "}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule.endpoint, view, path_args)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Taskplan API",
            "version": "1",
            "description": "Schedules of AI-agent work, their runs and sessions (SPEC §7). "
            "Send `Authorization: Bearer <token>` (`flask --app wsgi tokens create EMAIL`). "
            "Times are ISO 8601 UTC with Z. Lists answer {items, next} and take `limit` "
            "and `before=<next>`.",
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@bp.get("/openapi.json")
@documented(response=None, public=True)
def openapi_document():
    """This document: every endpoint of the API, generated from the code."""
    return jsonify(document(current_app._get_current_object()))
