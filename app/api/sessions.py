"""/api/v1/sessions/{id}: a chat session with its messages (SPEC §5.2, §7)."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from app.api import bp
from app.api.openapi import documented
from app.auth.access import get_scoped_or_404, role_required
from app.models import ChatSession, Message
from app.web import iso_z


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "role": message.role,
        "content": message.content,
        "created_at": iso_z(message.created_at),
        "run_id": message.run_id,
        "tool_calls": message.tool_calls or [],
    }


@bp.get("/sessions/<int:session_id>")
@role_required("viewer")
@documented(response="Session")
def get_session(session_id: int):
    """A session and its messages, oldest first."""
    session = get_scoped_or_404(ChatSession, session_id)
    return jsonify(
        {
            "id": session.id,
            "name": session.name,
            "schedule_id": session.schedule_id,
            "created_at": iso_z(session.created_at),
            "updated_at": iso_z(session.updated_at),
            "messages": [message_json(m) for m in session.messages],
        }
    )
