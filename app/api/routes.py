from __future__ import annotations

from flask import g, jsonify

from app.api import bp
from app.api.openapi import documented
from app.auth.access import role_required
from app.health import checks


@bp.get("/health")
@role_required("viewer")
@documented(response="Health")
def health():
    """Database, Redis, workers, scheduler heartbeat, queue size, success rate."""
    return jsonify(checks.report(g.org.id))
