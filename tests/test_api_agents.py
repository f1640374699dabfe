"""/api/v1/agents: list, create, read, edit, delete; validation per field; roles; audit."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Agent, AuditEvent, Schedule

OPENAI = {
    "name": "Writer",
    "kind": "openai",
    "config": {"base_url": "http://127.0.0.1:9/v1", "model": "m1", "api_key_env": "OPENAI_KEY"},
}


@pytest.fixture
def api(app, admin, token_for):
    client, headers = app.test_client(), token_for(admin)

    def call(method: str, path: str, **kwargs):
        return client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    return call


def test_an_admin_creates_reads_lists_edits_and_deletes_an_agent(app, api):
    created = api("POST", "/agents", json=OPENAI)
    assert created.status_code == 201, created.json
    body = created.json
    assert {k: body[k] for k in ("name", "kind", "config", "schedule_count")} == {
        "name": "Writer", "kind": "openai", "config": OPENAI["config"], "schedule_count": 0,
    }  # fmt: skip
    assert body["summary"] == "m1 at http://127.0.0.1:9/v1"
    assert body["created_at"].endswith("Z")
    agent_id = body["id"]
    assert api("GET", f"/agents/{agent_id}").json["name"] == "Writer"
    assert [a["id"] for a in api("GET", "/agents").json["items"]] == [agent_id]

    edited = api(
        "PATCH", f"/agents/{agent_id}", json={"config": {"model": "m2", "api_key_env": None}}
    )
    assert edited.status_code == 200
    assert edited.json["config"] == {"base_url": "http://127.0.0.1:9/v1", "model": "m2"}

    assert api("DELETE", f"/agents/{agent_id}").status_code == 204
    assert api("GET", f"/agents/{agent_id}").status_code == 404
    with app.app_context():
        actions = db.session.execute(
            db.select(AuditEvent.action, AuditEvent.changes).order_by(AuditEvent.id)
        ).all()
    assert [a for a, _ in actions] == ["agent.create", "agent.update", "agent.delete"]
    assert actions[1][1] == {
        "config": [OPENAI["config"], {"base_url": "http://127.0.0.1:9/v1", "model": "m2"}]
    }


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"kind": "openai", "config": {}}, {
            "name": ["Name is required."],
            "config.base_url": ["Base URL is required."],
            "config.model": ["Model is required."],
        }),
        ({"name": "x", "kind": "carrier-pigeon"},
         {"kind": ["Kind must be one of: openai, webhook, python, demo."]}),
        ({"name": "orchestrator", "kind": "demo"}, {"name": [
            "orchestrator is the built-in agent, set by AGENT_BASE_URL, AGENT_API_KEY and "
            "AGENT_MODEL; choose another name."]}),
        ({"name": "x", "kind": "openai", "config": {
            "base_url": "ftp://host", "model": "m", "api_key_env": "sk-live-abcdef0123456789"}}, {
            "config.base_url": ["Base URL must be an http:// or https:// URL."],
            "config.api_key_env": [
                "API key variable: give the NAME of an environment variable (capitals, digits "
                "and _, like OPENAI_API_KEY), never the secret itself."],
        }),
        ({"name": "x", "kind": "openai", "config": {
            "base_url": "https://user:pw@host/v1", "model": "m", "api_key_env": "SECRET_KEY"}}, {
            "config.base_url": [
                "Credentials do not belong in the URL: name an environment variable."],
            "config.api_key_env": [
                "API key variable: the variable's name must start with one of: AGENT_, "
                "OPENAI_, WEBHOOK_ (TASKPLAN_AGENT_SECRET_PREFIXES)."],
        }),
        ({"name": "x", "kind": "webhook", "config": {"url": "https://h/x", "api_key": "sk-1"}},
         {"config.api_key": ["Unknown field for this kind of agent."]}),
        ({"name": "x", "kind": "demo", "config": "nope", "color": "red"},
         {"config": ["Config must be a JSON object."], "color": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_bad_input_gets_one_message_per_field_and_stores_nothing(app, api, body, fields):
    response = api("POST", "/agents", json=body)
    assert response.status_code == 422
    assert response.json == {"error": "Validation failed.", "fields": fields}
    assert "sk-" not in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(db.select(Agent)).first() is None
        assert db.session.execute(db.select(AuditEvent)).first() is None


def test_a_duplicate_name_is_a_409_case_insensitively(api):
    assert api("POST", "/agents", json=OPENAI).status_code == 201
    again = api("POST", "/agents", json={**OPENAI, "name": " writer "})
    assert again.status_code == 409
    assert again.json["fields"] == {"name": ["An agent named 'writer' already exists."]}


def test_changing_the_kind_needs_the_new_kinds_settings(api):
    agent_id = api("POST", "/agents", json=OPENAI).json["id"]
    refused = api("PATCH", f"/agents/{agent_id}", json={"kind": "webhook"})
    assert refused.status_code == 422
    assert refused.json["fields"] == {"config.url": ["URL is required."]}
    changed = api("PATCH", f"/agents/{agent_id}",
                  json={"kind": "webhook", "config": {"url": "https://h/x"}})  # fmt: skip
    assert changed.json["config"] == {"url": "https://h/x"}


def test_a_rename_carries_its_schedules_and_delete_is_refused_while_they_use_it(app, api, admin):
    agent_id = api("POST", "/agents", json={"name": "Helper", "kind": "demo"}).json["id"]
    schedule = api("POST", "/schedules", json={
        "name": "Daily", "prompt": "Hi", "agent": "helper", "schedule_type": "DAILY",
        "schedule_config": {"hour": 8, "minute": 0},
    })  # fmt: skip
    assert schedule.status_code == 201, schedule.json
    renamed = api("PATCH", f"/agents/{agent_id}", json={"name": "Assistant"})
    assert renamed.json["schedule_count"] == 1
    assert api("GET", f"/schedules/{schedule.json['id']}").json["agent"] == "Assistant"

    refused = api("DELETE", f"/agents/{agent_id}")
    assert refused.status_code == 409
    assert refused.json["error"] == (
        "Agent 'Assistant' is used by 1 schedule ('Daily'): point it at another agent first."
    )
    with app.app_context():
        assert db.session.get(Agent, agent_id) is not None
        db.session.get(Schedule, schedule.json["id"]).agent_name = "orchestrator"
        db.session.commit()
    assert api("DELETE", f"/agents/{agent_id}").status_code == 204


def test_viewers_read_but_cannot_change_and_other_orgs_see_nothing(
    app, api, viewer, outsider, token_for
):
    agent_id = api("POST", "/agents", json=OPENAI).json["id"]
    client = app.test_client()
    as_viewer = token_for(viewer)
    assert client.get(f"/api/v1/agents/{agent_id}", headers=as_viewer).status_code == 200
    assert client.post("/api/v1/agents", json=OPENAI, headers=as_viewer).status_code == 403
    assert client.patch(f"/api/v1/agents/{agent_id}", json={}, headers=as_viewer).status_code == 403
    assert client.delete(f"/api/v1/agents/{agent_id}", headers=as_viewer).status_code == 403
    as_outsider = token_for(outsider)
    assert client.get(f"/api/v1/agents/{agent_id}", headers=as_outsider).status_code == 404
    assert client.get("/api/v1/agents", headers=as_outsider).json["items"] == []
    assert client.get("/api/v1/agents").status_code == 401


def test_the_list_pages_with_limit_and_before(api):
    ids = [
        api("POST", "/agents", json={"name": f"a{i}", "kind": "demo"}).json["id"] for i in range(3)
    ]
    first = api("GET", "/agents?limit=2").json
    assert [a["id"] for a in first["items"]] == ids[:0:-1]
    second = api("GET", f"/agents?limit=2&before={first['next']}").json
    assert ([a["id"] for a in second["items"]], second["next"]) == ([ids[0]], None)
