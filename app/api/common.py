"""What every API endpoint shares: the JSON body and keyset pagination (SPEC §7)."""

from __future__ import annotations

import json
from typing import Any

from flask import abort, jsonify, request

from app.auth.access import MAX_ID
from app.errors import ValidationFailed
from app.web import refuse_nul

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def json_body() -> dict[str, Any]:
    """The request's JSON object; 400 for malformed JSON, 413 past the size limit."""
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        abort(400, "Malformed JSON in the request body.")
    if not isinstance(body, dict):
        abort(400, "The request body must be a JSON object.")
    refuse_nul(body)
    return body


def page_params() -> tuple[int, int | None]:
    """`limit` (1–200, default 50) and `before` (a cursor from a previous page's `next`)."""
    errors: dict[str, list[str]] = {}
    limit = DEFAULT_LIMIT
    raw_limit = request.args.get("limit")
    if raw_limit is not None:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            errors["limit"] = [f"Limit must be a whole number from 1 to {MAX_LIMIT}."]
        else:
            limit = int(raw_limit)
    before = request.args.get("before")
    if before is not None and not (before.isdigit() and int(before) <= MAX_ID):
        errors["before"] = ["Not a cursor from this API."]
    if errors:
        raise ValidationFailed(errors)
    return limit, int(before) if before is not None else None


def paginated(items: list[dict[str, Any]], limit: int):
    """`items` holds up to limit + 1 rows, newest first; the extra one says there is more."""
    more = len(items) > limit
    items = items[:limit]
    return jsonify({"items": items, "next": str(items[-1]["id"]) if more and items else None})
