"""The JSON API, v1 (SPEC §7). Bearer tokens only, so no CSRF token is needed."""

from flask import Blueprint

from app.extensions import csrf

bp = Blueprint("api", __name__)
csrf.exempt(bp)

from app.api import agents, openapi, routes, runs, schedules, sessions  # noqa: E402,F401
