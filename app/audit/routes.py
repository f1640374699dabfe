"""The audit log page: who changed what, when (SPEC §4); admins only."""

from __future__ import annotations

from flask import current_app, g, render_template, request

from app.audit import bp
from app.auth.access import role_required
from app.extensions import db
from app.models import AuditEvent
from app.web import bounded_id


@bp.get("/audit")
@role_required("admin")
def index():
    """The organization's audit events, newest first, filtered by action and object."""
    size = current_app.config["PAGE_SIZE"]
    # The choices come from what the log holds, so new kinds of event appear by themselves.
    mine = AuditEvent.organization_id == g.org.id
    actions = sorted(
        db.session.execute(db.select(AuditEvent.action).where(mine).distinct()).scalars()
    )
    object_types = sorted(
        db.session.execute(db.select(AuditEvent.object_type).where(mine).distinct()).scalars()
    )
    action = request.args.get("action", "")
    object_type = request.args.get("object_type", "")
    object_id = request.args.get("object_id", type=bounded_id)
    q = " ".join(request.args.get("q", "").split())[:200]
    before = request.args.get("before", type=bounded_id)
    query = db.select(AuditEvent).where(mine)
    if action in actions:
        query = query.where(AuditEvent.action == action)
    else:
        action = ""
    if object_type in object_types:
        query = query.where(AuditEvent.object_type == object_type)
    else:
        object_type = ""
    if object_id is not None:
        query = query.where(AuditEvent.object_id == object_id)
    if q:
        query = query.where(AuditEvent.object_name.icontains(q, autoescape=True))
    if before is not None:
        query = query.where(AuditEvent.id < before)
    # Keyset on the (organization_id, id) index: page 1,000 costs what page 1 does.
    events = list(
        db.session.execute(query.order_by(AuditEvent.id.desc()).limit(size + 1)).scalars()
    )
    next_cursor = events[size - 1].id if len(events) > size else None
    filters = {"action": action, "object_type": object_type, "object_id": object_id or "", "q": q}
    return render_template(
        "audit/index.html",
        events=events[:size],
        actions=actions,
        object_types=object_types,
        filters=filters,
        link_args={k: v for k, v in filters.items() if v},
        next_cursor=next_cursor,
        before=before,
    )
