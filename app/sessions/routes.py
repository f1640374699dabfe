"""Chat sessions: the list (filter by schedule and date) and the chat view (SPEC §5.2, §6)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app, g, render_template, request
from sqlalchemy import func

from app.auth.access import find_scoped, get_scoped_or_404, role_required
from app.extensions import db
from app.models import ChatSession, Message, Schedule
from app.sessions import bp
from app.sessions.markdown import render_markdown
from app.web import bounded_id

MESSAGE_LIMIT = 500  # a continuous session can grow long: the chat view shows the newest


@bp.app_template_filter("markdown")
def markdown_filter(text: str | None):
    return render_markdown(text)


@bp.app_template_filter("pretty_json")
def pretty_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@bp.get("/sessions")
@role_required("viewer")
def index():
    """The organization's chat sessions, newest first, by schedule, date range and name."""
    size = current_app.config["PAGE_SIZE"]
    schedule_id = request.args.get("schedule", type=bounded_id)
    start, end = _day(request.args.get("from")), _day(request.args.get("to"))
    q = " ".join(request.args.get("q", "").split())[:200]
    before = request.args.get("before", type=bounded_id)
    where = [ChatSession.organization_id == g.org.id]
    schedule = None
    if schedule_id is not None:
        schedule = find_scoped(Schedule, schedule_id)
        where.append(ChatSession.schedule_id == schedule_id)
    # Dates are whole UTC days (the server does not know the viewer's zone; the page says so).
    if start:
        where.append(ChatSession.created_at >= datetime.combine(start, time(), UTC))
    if end:
        after = datetime.combine(end + timedelta(days=1), time(), UTC)
        where.append(ChatSession.created_at < after)
    if q:
        where.append(ChatSession.name.icontains(q, autoescape=True))
    query = db.select(ChatSession).where(*where)
    if before is not None:
        query = query.where(ChatSession.id < before)
    sessions = list(
        db.session.execute(query.order_by(ChatSession.id.desc()).limit(size + 1)).scalars()
    )
    next_cursor = sessions[size - 1].id if len(sessions) > size else None
    sessions = sessions[:size]
    ids = [s.id for s in sessions]
    counts = dict(
        db.session.execute(
            db.select(Message.session_id, func.count(Message.id))
            .where(Message.session_id.in_(ids))
            .group_by(Message.session_id)
        ).all()
    ) if ids else {}  # fmt: skip
    schedule_ids = {s.schedule_id for s in sessions if s.schedule_id}
    names = dict(
        db.session.execute(
            db.select(Schedule.id, Schedule.name).where(Schedule.id.in_(schedule_ids))
        ).all()
    ) if schedule_ids else {}  # fmt: skip
    filters = {
        "schedule": schedule_id or "",
        "from": start.isoformat() if start else "",
        "to": end.isoformat() if end else "",
        "q": q,
    }
    return render_template(
        "sessions/index.html",
        sessions=sessions,
        counts=counts,
        names=names,
        schedule=schedule,
        filters=filters,
        link_args={k: v for k, v in filters.items() if v},
        next_cursor=next_cursor,
        before=before,
    )


@bp.get("/sessions/<int:session_id>")
@role_required("viewer")
def detail(session_id: int):
    """A chat: the prompts as sent, the agent's replies as sanitized Markdown."""
    chat = get_scoped_or_404(ChatSession, session_id)
    total = db.session.execute(
        db.select(func.count(Message.id)).where(Message.session_id == chat.id)
    ).scalar_one()
    messages = list(
        db.session.execute(
            db.select(Message)
            .where(Message.session_id == chat.id)
            .order_by(Message.id.desc())
            .limit(MESSAGE_LIMIT)
        ).scalars()
    )[::-1]
    schedule = db.session.get(Schedule, chat.schedule_id) if chat.schedule_id else None
    return render_template(
        "sessions/detail.html", chat=chat, messages=messages, total=total, schedule=schedule
    )


# Display helpers the console's list pages share (registered app-wide by this blueprint).
@bp.app_template_filter("dict_without")
def dict_without(values: dict, *keys: str) -> dict:
    return {k: v for k, v in values.items() if k not in keys}


@bp.app_template_filter("tojson_text")
def tojson_text(value) -> str:
    """A value as JSON text, for showing (autoescaped like any text, unlike |tojson)."""
    return json.dumps(value, ensure_ascii=False, default=str)
