"""What every page shares: template helpers and response headers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, abort, g, request
from markupsafe import Markup, escape

from app.auth.access import MAX_ID, can_edit


def iso_z(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, the one time format of the API and the <time> elements."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{value.microsecond // 1000:03d}Z" if value.microsecond else "Z"
    )


def time_element(value: datetime | None, empty: str = "—") -> Markup:
    """<time> in UTC; static/app.js shows it in the viewer's zone, UTC stays on hover."""
    if value is None:
        return Markup(escape(empty))
    utc_text = value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup(f'<time datetime="{iso_z(value)}" title="{utc_text}">{escape(utc_text)}</time>')


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def refuse_nul(value: Any) -> None:
    """400 if a NUL is anywhere in this text, or in the keys and values of these dicts, lists
    and pairs: PostgreSQL stores no NUL in text, so it is refused before it gets there."""
    if _has_nul(value):
        abort(400, "Text must not contain NUL characters (\\u0000).")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def bounded_id(value: str) -> int:
    """An id from a query string (`type=bounded_id`): a number the key columns can hold, else
    ValueError, which request.args.get turns into "not given" instead of a database error."""
    number = int(value)
    if not 0 < number <= MAX_ID:
        raise ValueError(value)
    return number


def init_web(app: Flask) -> None:
    app.add_template_filter(time_element, "time")
    app.add_template_filter(iso_z, "iso_z")

    @app.context_processor
    def _globals() -> dict:
        return {
            "can_edit": can_edit(),
            "current_org": g.get("org"),
            "current_membership": g.get("membership"),
        }

    @app.before_request
    def _refuse_nul():
        # PostgreSQL stores no NUL in text: a form field or query value holding one is
        # refused with a clear 400 instead of failing in the database.
        for values in (request.args, request.form):
            refuse_nul([texts for _, texts in values.lists()])

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # Scripts only from our own files (htmx, app.js): no inline script, no eval, so an
        # injected <script> or on* attribute does nothing even if escaping ever failed.
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
