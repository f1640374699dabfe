"""The schedules API (SPEC §2, §3.2, §7): validation, next_run_at, access, audit, preview."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from app.extensions import db
from app.models import AuditEvent, ChatSession, Run, Schedule

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def api(app, admin, token_for):
    """api("POST", "/schedules", json=...) as the Acme admin, at the frozen NOW."""
    client, headers = app.test_client(), token_for(admin)

    def call(method: str, path: str, as_headers: dict | None = None, **kw):
        with time_machine.travel(NOW, tick=False):
            return client.open(f"/api/v1{path}", method=method, headers=as_headers or headers, **kw)

    return call


def daily(**overrides) -> dict:
    body = {
        "name": "Sales summary",
        "prompt": "Summarise yesterday's sales ({{ yesterday }}).",
        "schedule_type": "DAILY",
        "schedule_config": {"hour": 8, "minute": 0},
        "timezone": "Europe/Berlin",
    }
    return {**body, **overrides}


def test_it_creates_a_schedule_with_its_next_run(api):
    response = api("POST", "/schedules", json=daily())
    assert response.status_code == 201
    body = response.get_json()
    # 08:00 in Berlin (CET, UTC+1) on the next day, since 10:00 UTC is past 08:00 there.
    assert body["next_run_at"] == "2026-03-03T07:00:00Z"
    assert body["status"] == "Enabled" and body["run_count"] == 0
    assert body["agent"] == "orchestrator" and body["overlap_policy"] == "skip"
    assert body["timeout_seconds"] == 300 and body["catchup_window_seconds"] == 3600
    assert body["session_config"] == {"use_existing": False}
    assert body["timing_description"] == "At 08:00 (Europe/Berlin)"
    assert api("GET", f"/schedules/{body['id']}").get_json() == body


def test_it_accepts_the_documented_json_verbatim(api):
    configs = [
        ("ONCE", {"execute_at": "2026-12-31 23:59:00"}),
        ("WEEKLY", {"day_of_week": 5, "hour": 17, "minute": 0}),
        ("MONTHLY", {"day_of_month": 1, "hour": 6, "minute": 0}),
        ("CRON", {"minute": "*/15", "hour": "9-17", "day_of_week": "1-5",
                  "day_of_month": "*", "month_of_year": "*"}),
        ("CRON", {"expression": "*/15 9-17 * * 1-5"}),
    ]  # fmt: skip
    for i, (kind, config) in enumerate(configs):
        response = api(
            "POST", "/schedules",
            json=daily(name=f"S{i}", schedule_type=kind, schedule_config=config, timezone="UTC"),
        )  # fmt: skip
        assert response.status_code == 201, response.get_json()
    nexts = [s["next_run_at"] for s in api("GET", "/schedules").get_json()["items"]][::-1]
    assert nexts == [
        "2026-12-31T23:59:00Z",
        "2026-03-06T17:00:00Z",
        "2026-04-01T06:00:00Z",
        "2026-03-02T10:15:00Z",
        "2026-03-02T10:15:00Z",
    ]


def test_a_once_schedule_without_a_time_runs_immediately(api):
    body = api(
        "POST", "/schedules", json=daily(schedule_type="ONCE", schedule_config={})
    ).get_json()
    assert body["next_run_at"] == "2026-03-02T10:00:00Z"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": "   "}, "name", "Name is required."),
        ({"name": "x" * 201}, "name", "Name must be at most 200 characters."),
        ({"prompt": ""}, "prompt", "Prompt is required."),
        ({"prompt": "x" * 20_001}, "prompt", "Prompt must be at most 20,000 characters."),
        ({"prompt": "Hi {{ name "}, "prompt", "Template error on line 1"),
        ({"agent": "ghost"}, "agent", "Agent 'ghost' not found."),
        ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone 'Mars/Olympus'."),
        ({"schedule_config": {"hour": 24, "minute": 0}}, "schedule_config.hour", "Hour"),
        ({"schedule_type": "HOURLY"}, "schedule_type", "must be one of ONCE, DAILY, WEEKLY"),
        ({"schedule_type": "CRON", "schedule_config": {"expression": "0 0 30 2 *"}},
         "schedule_config.expression", "This cron expression can never fire."),
        ({"schedule_type": "CRON", "schedule_config": {"expression": "0 0 * *"}},
         "schedule_config.expression", "this one has 4"),
        ({"start_at": "2026-05-01T00:00:00Z", "end_at": "2026-04-01T00:00:00Z"}, "end_at",
         "end_at must be after start_at"),
        ({"timeout_seconds": 0}, "timeout_seconds", "Must be between 1 and 86,400."),
        ({"timeout_seconds": "soon"}, "timeout_seconds", "Must be a whole number."),
        ({"catchup_window_seconds": 604_801}, "catchup_window_seconds", "between 0 and 604,800"),
        ({"overlap_policy": "never"}, "overlap_policy", "skip, queue_one, allow"),
        ({"enabled": "maybe"}, "enabled", "Enabled must be true or false."),
        ({"session_config": {"use_existing": True, "session_id": 999}}, "session_config",
         "Session 999 not found."),
        ({"colour": "red"}, "colour", "Unknown field."),
    ],
)  # fmt: skip
def test_each_invalid_field_gets_a_clear_message_and_nothing_is_stored(
    app, api, change, field, message
):
    response = api("POST", "/schedules", json=daily(**change))
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "Validation failed."
    assert any(message in m for m in body["fields"][field]), body["fields"]
    with app.app_context():
        assert db.session.execute(db.select(Schedule)).first() is None
        assert db.session.execute(db.select(AuditEvent)).first() is None


def test_every_problem_is_reported_at_once(api):
    response = api("POST", "/schedules", json={"schedule_type": "DAILY", "timezone": "Nope/Nope"})
    assert set(response.get_json()["fields"]) >= {"name", "prompt", "timezone"}


def test_a_duplicate_name_in_any_case_is_409_but_other_organizations_may_use_it(
    api, outsider, token_for
):
    assert api("POST", "/schedules", json=daily()).status_code == 201
    response = api("POST", "/schedules", json=daily(name="  SALES summary "))
    assert response.status_code == 409
    assert response.get_json()["fields"]["name"] == [
        "A schedule named 'SALES summary' already exists."
    ]
    elsewhere = api("POST", "/schedules", as_headers=token_for(outsider), json=daily())
    assert elsewhere.status_code == 201


def test_malformed_json_is_400_and_a_body_over_one_megabyte_is_413(api):
    response = api("POST", "/schedules", data="{not json", content_type="application/json")
    assert response.status_code == 400 and "Malformed JSON" in response.get_json()["error"]
    response = api("POST", "/schedules", json=[1, 2])
    assert response.status_code == 400
    response = api("POST", "/schedules", json=daily(prompt="x" * (1024 * 1024)))
    assert response.status_code == 413 and response.is_json


def test_an_edit_that_does_not_touch_timing_never_moves_next_run_at(app, api):
    created = api("POST", "/schedules", json=daily()).get_json()
    later = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    with app.app_context():  # pretend the engine has moved it on since
        db.session.get(Schedule, created["id"]).next_run_at = later
        db.session.commit()
    edited = api("PATCH", f"/schedules/{created['id']}", json={"prompt": "New prompt"}).get_json()
    assert edited["prompt"] == "New prompt" and edited["next_run_at"] == "2026-03-02T23:30:00Z"
    retimed = api(
        "PATCH", f"/schedules/{created['id']}", json={"schedule_config": {"hour": 12, "minute": 0}}
    ).get_json()
    assert retimed["next_run_at"] == "2026-03-02T11:00:00Z"


def test_a_patch_validates_the_merged_result(api):
    created = api("POST", "/schedules", json=daily()).get_json()
    response = api("PATCH", f"/schedules/{created['id']}", json={"schedule_type": "WEEKLY",
                   "schedule_config": {"day_of_week": 9, "hour": 1, "minute": 0}})  # fmt: skip
    assert response.status_code == 422 and "schedule_config.day_of_week" in response.get_json()[
        "fields"]  # fmt: skip
    assert api("GET", f"/schedules/{created['id']}").get_json()["schedule_type"] == "DAILY"


def test_disable_clears_the_next_run_and_enable_computes_it_from_now(api):
    created = api("POST", "/schedules", json=daily(enabled=False)).get_json()
    assert created["next_run_at"] is None and created["status"] == "Disabled"
    enabled = api("POST", f"/schedules/{created['id']}/enable").get_json()
    assert enabled["enabled"] is True and enabled["next_run_at"] == "2026-03-03T07:00:00Z"
    disabled = api("POST", f"/schedules/{created['id']}/disable").get_json()
    assert disabled["enabled"] is False and disabled["next_run_at"] is None


def test_delete_needs_the_exact_name_and_keeps_chat_sessions(app, api):
    created = api("POST", "/schedules", json=daily()).get_json()
    sid = created["id"]
    with app.app_context():
        schedule = db.session.get(Schedule, sid)
        session = ChatSession(organization_id=schedule.organization_id, schedule_id=sid, name="s")
        db.session.add(session)
        db.session.add(
            Run(schedule_id=sid, organization_id=schedule.organization_id, trigger="manual",
                scheduled_for=NOW, status="SUCCESS")
        )  # fmt: skip
        db.session.commit()
    assert api("DELETE", f"/schedules/{sid}").status_code == 400
    response = api("DELETE", f"/schedules/{sid}", json={"confirm_name": "sales summary"})
    assert response.status_code == 400
    assert response.get_json()["fields"]["confirm_name"]
    assert (
        api("DELETE", f"/schedules/{sid}", json={"confirm_name": "Sales summary"}).status_code
        == 204
    )
    assert api("GET", f"/schedules/{sid}").status_code == 404
    with app.app_context():
        assert db.session.execute(db.select(Run)).first() is None
        kept = db.session.execute(db.select(ChatSession)).scalar_one()
        assert kept.schedule_id is None


def test_every_change_writes_an_audit_event_with_a_field_diff(app, api, admin):
    created = api("POST", "/schedules", json=daily()).get_json()
    sid = created["id"]
    api("PATCH", f"/schedules/{sid}", json={"prompt": "Changed", "description": "d"})
    api("PATCH", f"/schedules/{sid}", json={"prompt": "Changed"})  # no change, no event
    api("POST", f"/schedules/{sid}/disable")
    api("POST", f"/schedules/{sid}/enable")
    api("DELETE", f"/schedules/{sid}", json={"confirm_name": "Sales summary"})
    with app.app_context():
        events = db.session.execute(db.select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        assert [e.action for e in events] == [
            "schedule.create", "schedule.update", "schedule.disable", "schedule.enable",
            "schedule.delete",
        ]  # fmt: skip
        assert all(e.actor == admin.email and e.object_id == sid for e in events)
        assert events[0].changes["name"] == [None, "Sales summary"]
        assert events[1].changes == {
            "prompt": ["Summarise yesterday's sales ({{ yesterday }}).", "Changed"],
            "description": ["", "d"],
        }
        assert events[2].changes == {"enabled": [True, False]}
        assert events[4].changes["prompt"] == ["Changed", None]


def test_the_list_filters_searches_and_pages_by_cursor(api):
    for i in range(5):
        api("POST", "/schedules", json=daily(name=f"Report {i}", enabled=i % 2 == 0))
    api("POST", "/schedules", json=daily(name="Backup 100%"))
    first = api("GET", "/schedules?limit=2").get_json()
    assert [s["name"] for s in first["items"]] == ["Backup 100%", "Report 4"]
    second = api("GET", f"/schedules?limit=2&before={first['next']}").get_json()
    assert [s["name"] for s in second["items"]] == ["Report 3", "Report 2"]
    third = api("GET", f"/schedules?limit=2&before={second['next']}").get_json()
    assert [s["name"] for s in third["items"]] == ["Report 1", "Report 0"]
    assert third["next"] is None
    found = api("GET", "/schedules?q=REPORT&enabled=false").get_json()["items"]
    assert [s["name"] for s in found] == ["Report 3", "Report 1"]
    assert [s["name"] for s in api("GET", "/schedules?q=100%").get_json()["items"]] == [
        "Backup 100%"
    ]
    assert api("GET", "/schedules?q=1_0").get_json()["items"] == []
    assert api("GET", "/schedules?limit=0").status_code == 422
    assert api("GET", "/schedules?before=abc").status_code == 422


def test_preview_describes_and_lists_the_next_slots_of_an_unsaved_config(api):
    response = api("POST", "/schedules/preview", json={
        "schedule_type": "CRON", "schedule_config": {"expression": "0 8 * * 1-5"},
        "timezone": "Europe/Berlin", "count": 3})  # fmt: skip
    assert response.status_code == 200
    assert response.get_json()["description"] == "At 08:00, Monday through Friday (Europe/Berlin)"
    assert response.get_json()["next"] == [
        "2026-03-03T07:00:00Z", "2026-03-04T07:00:00Z", "2026-03-05T07:00:00Z"]  # fmt: skip
    default = api("POST", "/schedules/preview",
                  json={"schedule_type": "DAILY", "schedule_config": {"hour": 1}})  # fmt: skip
    assert len(default.get_json()["next"]) == 5
    too_many = api("POST", "/schedules/preview", json={"schedule_type": "DAILY", "count": 51})
    assert too_many.status_code == 422 and "count" in too_many.get_json()["fields"]
    bad = api("POST", "/schedules/preview", json={"schedule_type": "CRON",
              "schedule_config": {"expression": "61 * * * *"}})  # fmt: skip
    assert bad.status_code == 422 and "schedule_config.expression" in bad.get_json()["fields"]


def test_a_viewer_reads_but_changes_nothing(api, viewer, token_for):
    created = api("POST", "/schedules", json=daily()).get_json()
    headers = token_for(viewer)
    assert api("GET", "/schedules", as_headers=headers).status_code == 200
    assert api("GET", f"/schedules/{created['id']}", as_headers=headers).status_code == 200
    assert api("POST", "/schedules/preview", as_headers=headers, json={
        "schedule_type": "DAILY", "schedule_config": {"hour": 9}}).status_code == 200  # fmt: skip
    sid = created["id"]
    for method, path, body in [
        ("POST", "/schedules", daily(name="Other")),
        ("PATCH", f"/schedules/{sid}", {"prompt": "x"}),
        ("POST", f"/schedules/{sid}/disable", None),
        ("POST", f"/schedules/{sid}/enable", None),
        ("DELETE", f"/schedules/{sid}", {"confirm_name": "Sales summary"}),
    ]:
        response = api(method, path, as_headers=headers, json=body)
        assert response.status_code == 403, (method, path)
    assert api("GET", f"/schedules/{sid}").get_json()["prompt"] == created["prompt"]


def test_another_organizations_schedule_is_404_everywhere(api, outsider, token_for):
    sid = api("POST", "/schedules", json=daily()).get_json()["id"]
    headers = token_for(outsider)
    for method, path in [("GET", f"/schedules/{sid}"), ("PATCH", f"/schedules/{sid}"),
                         ("DELETE", f"/schedules/{sid}"), ("POST", f"/schedules/{sid}/enable"),
                         ("POST", f"/schedules/{sid}/disable")]:  # fmt: skip
        assert api(method, path, as_headers=headers, json={}).status_code == 404, path
    assert api("GET", "/schedules", as_headers=headers).get_json()["items"] == []
