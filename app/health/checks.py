"""What the system looks like right now: for /healthz, /api/v1/health and the health page."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import func, text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db, redis_client, rkey
from app.models import Run, utcnow


def database_ok() -> tuple[bool, str | None]:
    try:
        db.session.execute(text("SELECT 1"))
        return True, None
    except SQLAlchemyError as exc:
        db.session.rollback()
        return False, type(exc).__name__


def redis_ok() -> tuple[bool, str | None]:
    try:
        redis_client().ping()
        return True, None
    except RedisError as exc:
        return False, type(exc).__name__


def heartbeat_key(kind: str, name: str) -> str:
    return rkey("heartbeat", kind, name)


def beats(kind: str) -> list[dict]:
    """The live heartbeats of one process kind ("worker", "scheduler"), newest first."""
    r = redis_client()
    keys = sorted(r.scan_iter(match=heartbeat_key(kind, "*"), count=200))
    if not keys:
        return []
    out = []
    for raw in r.mget(keys):
        if raw is None:
            continue  # expired between SCAN and MGET
        beat = json.loads(raw)
        beat["age_seconds"] = round(time.time() - beat.get("at", 0), 1)
        out.append(beat)
    return sorted(out, key=lambda b: b["age_seconds"])


def success_rate_24h(organization_id: int | None = None) -> dict:
    since = utcnow() - timedelta(hours=24)
    query = (
        db.select(Run.status, func.count())
        .where(Run.completed_at >= since, Run.status.in_(("SUCCESS", "FAILED")))
        .group_by(Run.status)
    )
    if organization_id is not None:
        query = query.where(Run.organization_id == organization_id)
    counts = dict(db.session.execute(query).all())
    done = counts.get("SUCCESS", 0) + counts.get("FAILED", 0)
    return {
        "success": counts.get("SUCCESS", 0),
        "failed": counts.get("FAILED", 0),
        "rate": round(counts.get("SUCCESS", 0) / done, 4) if done else None,
    }


def report(organization_id: int | None = None) -> dict:
    """Everything known about the system's health; never raises for a component that is down."""
    db_up, db_error = database_ok()
    redis_up, redis_error = redis_ok()
    body: dict = {
        "status": "ok" if db_up and redis_up else "degraded",
        "database": {"ok": db_up, "error": db_error},
        "redis": {"ok": redis_up, "error": redis_error},
        "workers": [],
        "scheduler": {"alive": False, "instances": []},
        "queue": {"name": current_app.config["QUEUE_NAME"], "size": None},
        "success_rate_24h": success_rate_24h(organization_id) if db_up else None,
    }
    if redis_up:
        try:
            from rq import Queue

            body["workers"] = beats("worker")
            schedulers = beats("scheduler")
            limit = 3 * current_app.config["SCHEDULER_HEARTBEAT_SECONDS"]
            body["scheduler"] = {
                "alive": any(b["age_seconds"] <= limit for b in schedulers),
                "instances": schedulers,
            }
            queue = Queue(current_app.config["QUEUE_NAME"], connection=redis_client())
            body["queue"]["size"] = queue.count
            from app.scheduling.bridge import pending_count

            # Pending fires (one per enabled schedule) plus retries waiting out their backoff.
            body["scheduler"]["pending_fires"] = pending_count()
        except RedisError as exc:
            body["redis"] = {"ok": False, "error": type(exc).__name__}
            body["status"] = "degraded"
    return body
