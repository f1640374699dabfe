"""/api/v1/sessions/{id}: a session's messages, as runs wrote them; sessions outlive their
schedule."""

from __future__ import annotations

from app.extensions import db
from app.models import Schedule
from app.schedules import service
from tests.agent_servers import fire_and_execute
from tests.engine_helpers import make_schedule


def test_a_session_shows_its_messages_with_roles_times_runs_and_tool_calls(app, admin, token_for):
    with app.app_context():
        sid = make_schedule(admin.id, admin.org_id, name="Digest", prompt="Hello {{ run_number }}")
        run = fire_and_execute(sid)
        session_id = run.session_id
        run_id = run.id
    response = app.test_client().get(f"/api/v1/sessions/{session_id}", headers=token_for(admin))
    assert response.status_code == 200
    body = response.json
    assert (body["id"], body["schedule_id"]) == (session_id, sid)
    assert body["name"].startswith("Scheduled: Digest - ")
    assert [(m["role"], m["content"][:18], m["run_id"]) for m in body["messages"]] == [
        ("user", "[Scheduled] Hello ", run_id),
        ("assistant", "This is the demo a", run_id),
    ]
    assert body["messages"][0]["content"] == "[Scheduled] Hello 1"
    assert all(m["created_at"].endswith("Z") and m["tool_calls"] == [] for m in body["messages"])


def test_deleting_the_schedule_keeps_its_sessions(app, admin, token_for):
    with app.app_context():
        sid = make_schedule(admin.id, admin.org_id, name="Gone soon")
        session_id = fire_and_execute(sid).session_id
        service.delete_schedule(db.session.get(Schedule, sid), None, "Gone soon")
    response = app.test_client().get(f"/api/v1/sessions/{session_id}", headers=token_for(admin))
    assert response.status_code == 200
    assert response.json["schedule_id"] is None
    assert len(response.json["messages"]) == 2


def test_sessions_are_scoped_to_the_organization(app, admin, viewer, outsider, token_for):
    with app.app_context():
        session_id = fire_and_execute(make_schedule(admin.id, admin.org_id)).session_id
    client = app.test_client()
    assert (
        client.get(f"/api/v1/sessions/{session_id}", headers=token_for(viewer)).status_code == 200
    )
    assert (
        client.get(f"/api/v1/sessions/{session_id}", headers=token_for(outsider)).status_code == 404
    )
    assert client.get(f"/api/v1/sessions/{session_id}").status_code == 401
    assert client.get("/api/v1/sessions/999999", headers=token_for(admin)).status_code == 404
