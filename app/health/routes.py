from __future__ import annotations

from flask import g, jsonify, render_template

from app.auth.access import role_required
from app.health import bp, checks


@bp.get("/healthz")
def healthz():
    """Liveness for load balancers: 200 when the database and Redis both answer."""
    db_up, db_error = checks.database_ok()
    redis_up, redis_error = checks.redis_ok()
    ok = db_up and redis_up
    body = {
        "status": "ok" if ok else "unavailable",
        "database": "ok" if db_up else db_error,
        "redis": "ok" if redis_up else redis_error,
    }
    return jsonify(body), 200 if ok else 503


@bp.get("/health")
@role_required("viewer")
def page():
    """The system health page."""
    return render_template("health/index.html", health=checks.report(g.org.id))
