"""The Agents pages: viewers read, admins create, edit and delete with a confirmation."""

from __future__ import annotations

from app.extensions import db
from app.models import Agent, AuditEvent
from tests.conftest import csrf_token
from tests.engine_helpers import make_schedule

FORM = {
    "name": "Writer", "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m1",
    "system_prompt": "Be brief.", "api_key_env": "OPENAI_KEY", "url": "", "secret_env": "",
    "target": "",
}  # fmt: skip


def post(client, path, data, token_page="/agents/new"):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, token_page)})


def test_an_admin_creates_an_agent_through_the_form(app, admin, signed_in):
    client = signed_in(admin)
    page = client.get("/agents").get_data(as_text=True)
    assert "orchestrator" in page and "Offline demo agent" in page and "New agent" in page
    response = post(client, "/agents", FORM)
    assert response.status_code == 302
    listing = client.get("/agents").get_data(as_text=True)
    assert "Agent &#39;Writer&#39; created." in listing
    assert "m1 at http://127.0.0.1:9/v1" in listing and "OPENAI_KEY" in listing
    with app.app_context():
        agent = db.session.execute(db.select(Agent)).scalar_one()
        # Only the chosen kind's fields are kept; the webhook's empty ones are not.
        assert agent.config == {
            "base_url": "http://127.0.0.1:9/v1", "model": "m1", "system_prompt": "Be brief.",
            "api_key_env": "OPENAI_KEY",
        }  # fmt: skip


def test_errors_show_beside_their_fields_and_keep_the_input(app, admin, signed_in):
    client = signed_in(admin)
    response = post(client, "/agents", {**FORM, "base_url": "nope", "model": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Base URL must be an http:// or https:// URL." in page
    assert "Model is required." in page
    assert 'value="Writer"' in page and "Be brief." in page
    with app.app_context():
        assert db.session.execute(db.select(Agent)).first() is None


def test_editing_clears_a_removed_field_and_is_audited(app, admin, signed_in):
    client = signed_in(admin)
    post(client, "/agents", FORM)
    with app.app_context():
        agent_id = db.session.execute(db.select(Agent.id)).scalar_one()
    edit_page = client.get(f"/agents/{agent_id}/edit").get_data(as_text=True)
    assert 'value="OPENAI_KEY"' in edit_page
    response = post(
        client, f"/agents/{agent_id}/edit", {**FORM, "system_prompt": "", "model": "m2"},
        f"/agents/{agent_id}/edit",
    )  # fmt: skip
    assert response.status_code == 302
    with app.app_context():
        agent = db.session.get(Agent, agent_id)
        assert agent.config == {"base_url": "http://127.0.0.1:9/v1", "model": "m2",
                                "api_key_env": "OPENAI_KEY"}  # fmt: skip
        actions = db.session.execute(db.select(AuditEvent.action)).scalars().all()
        assert actions == ["agent.create", "agent.update"]


def test_delete_asks_first_and_refuses_while_schedules_use_the_agent(app, admin, signed_in):
    client = signed_in(admin)
    post(client, "/agents", {**FORM, "kind": "demo", "name": "Helper"})
    with app.app_context():
        agent_id = db.session.execute(db.select(Agent.id)).scalar_one()
        make_schedule(admin.id, admin.org_id, name="Uses it", agent="Helper")
    confirm = client.get(f"/agents/{agent_id}/delete").get_data(as_text=True)
    assert "This agent is used by 1 schedule" in confirm and "Uses it" in confirm
    assert "Delete agent</button>" not in confirm
    refused = post(client, f"/agents/{agent_id}/delete", {}, f"/agents/{agent_id}/delete")
    assert refused.status_code == 302
    with app.app_context():
        assert db.session.get(Agent, agent_id) is not None
        from app.models import Schedule

        schedule = db.session.execute(db.select(Schedule)).scalar_one()
        schedule.agent_name = "orchestrator"
        db.session.commit()
    confirm = client.get(f"/agents/{agent_id}/delete").get_data(as_text=True)
    assert "Delete agent</button>" in confirm
    deleted = post(client, f"/agents/{agent_id}/delete", {}, f"/agents/{agent_id}/delete")
    assert deleted.status_code == 302
    assert "Agent &#39;Helper&#39; deleted." in client.get("/agents").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Agent, agent_id) is None


def test_a_viewer_reads_the_list_without_controls_and_cannot_open_the_forms(
    app, admin, viewer, signed_in
):
    post(signed_in(admin), "/agents", FORM)
    client = signed_in(viewer)
    page = client.get("/agents").get_data(as_text=True)
    assert "Writer" in page and "New agent" not in page and "/edit" not in page
    assert client.get("/agents/new").status_code == 403
    with app.app_context():
        agent_id = db.session.execute(db.select(Agent.id)).scalar_one()
    assert client.get(f"/agents/{agent_id}/edit").status_code == 403
    assert client.get(f"/agents/{agent_id}/delete").status_code == 403


def test_names_and_replies_are_escaped(app, admin, signed_in):
    client = signed_in(admin)
    post(client, "/agents", {**FORM, "kind": "demo", "name": "<script>x</script>"})
    page = client.get("/agents").get_data(as_text=True)
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
