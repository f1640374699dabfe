"""The schedules list and detail pages and their in-place actions, server side (SPEC §6)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from app.extensions import db
from app.models import AuditEvent, ChatSession, Run, Schedule
from tests.conftest import csrf_token
from tests.engine_helpers import make_schedule

HX = {"HX-Request": "true"}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def add_run(app, schedule_id: int, status: str = "SUCCESS", **fields) -> int:
    """A run row as the engine leaves it (the engine itself is tested elsewhere)."""
    with app.app_context():
        schedule = db.session.get(Schedule, schedule_id)
        # A run still in progress started just now (it is finished later with now()).
        start = fields.pop("started_at", T0 if status not in ("PENDING", "RUNNING") else None)
        start = start or datetime.now(UTC)
        run = Run(
            schedule_id=schedule_id, organization_id=schedule.organization_id,
            trigger=fields.pop("trigger", "scheduled"), scheduled_for=start, status=status,
            started_at=start, enqueued_at=start, **fields,
        )  # fmt: skip
        if status not in ("PENDING", "RUNNING"):
            run.completed_at = start + timedelta(milliseconds=run.duration_ms or 1500)
            run.duration_ms = run.duration_ms or 1500
        db.session.add(run)
        db.session.commit()
        return run.id


def schedule_in(app, user, **fields) -> int:
    with app.app_context():
        return make_schedule(user.id, user.org_id, **fields)


def post(client, url: str, data: dict | None = None, headers: dict | None = None):
    token = csrf_token(client, "/schedules")
    return client.post(url, data={**(data or {}), "csrf_token": token}, headers=headers or {})


def text(response) -> str:
    return response.get_data(as_text=True)


# ---- the list


def test_the_list_shows_every_column_with_status_and_last_run(app, admin, signed_in):
    sid = schedule_in(app, admin, name="Nightly report")
    add_run(app, sid, "FAILED", error="Permission denied")
    page = text(signed_in(admin).get("/schedules"))
    for header in ("Name", "Type", "Status", "Next run", "Last run", "Runs", "Actions"):
        assert f"<th>{header}</th>" in page or f'<th class="num">{header}</th>' in page
    row = page[page.index(f'id="schedule-{sid}"') :]
    row = row[: row.index("</tr>")]
    assert "Nightly report" in row and "Cron" in row
    assert 'class="pill status-enabled">Enabled' in row
    assert 'class="pill run-failed">Failed' in row
    assert 'role="switch" aria-checked="true"' in row
    assert "Run now" in row and ">Edit<" in row and ">History<" in row and "Delete" in row
    # Times are <time> in UTC with UTC on hover; the browser shows them in its own zone.
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[\d:]+Z" title="[\d: -]+ UTC">', row)


def test_a_schedule_with_a_run_in_progress_shows_running_and_its_row_polls(app, admin, signed_in):
    sid = schedule_in(app, admin)
    add_run(app, sid, "RUNNING")
    client = signed_in(admin)
    page = text(client.get("/schedules"))
    row = re.search(rf'<tr id="schedule-{sid}"[^>]*>', page).group(0)
    assert 'hx-trigger="every 2s"' in row and f"/schedules/{sid}/row" in row
    assert "status-running" in page
    with app.app_context():
        run = db.session.execute(db.select(Run)).scalar_one()
        run.finish("SUCCESS")
        db.session.commit()
    polled = text(client.get(f"/schedules/{sid}/row", headers=HX))
    assert polled.lstrip().startswith(f'<tr id="schedule-{sid}">')  # no polling attribute left
    assert "status-enabled" in polled


def test_search_filters_and_pages(app, admin, signed_in):
    app.config["PAGE_SIZE"] = 2
    for name in ("Alpha report", "Beta digest", "Gamma report", "Delta report"):
        schedule_in(app, admin, name=name)
    daily = schedule_in(app, admin, name="Epsilon daily", schedule_type="DAILY",
                        schedule_config={"hour": 8, "minute": 0})  # fmt: skip
    client = signed_in(admin)
    first = text(client.get("/schedules"))
    assert "1–2 of 5" in first and "Page 1 of 3" in first
    assert first.index("Alpha report") < first.index("Beta digest")
    assert "Gamma report" not in first and 'rel="next" href="/schedules?page=2"' in first
    third = text(client.get("/schedules?page=3"))
    assert "Gamma report" in third and "Page 3 of 3" in third and 'rel="next"' not in third

    found = text(client.get("/schedules?q=REPORT"))
    assert "1–2 of 3" in found and 'href="/schedules?q=REPORT&amp;page=2"' in found
    assert "Beta digest" not in found
    assert "Epsilon daily" in text(client.get("/schedules?type=DAILY"))
    assert "Alpha report" not in text(client.get("/schedules?type=DAILY"))

    with app.app_context():
        db.session.get(Schedule, daily).enabled = False
        db.session.commit()
    disabled = text(client.get("/schedules?status=disabled"))
    assert "Epsilon daily" in disabled and "Alpha report" not in disabled
    add_run(app, daily, "PENDING")
    running = text(client.get("/schedules?status=running"))
    assert "Epsilon daily" in running and "1–1 of 1" in running
    none = text(client.get("/schedules?q=zzz"))
    assert "No schedule matches" in none and "Clear the filters" in none
    # A value that is not a choice is ignored, not an error.
    assert client.get("/schedules?status=bogus&type=x&page=-4").status_code == 200


def test_htmx_search_replaces_only_the_table_and_keeps_the_url(app, admin, signed_in):
    schedule_in(app, admin, name="Alpha report")
    response = signed_in(admin).get(
        "/schedules?q=alpha", headers={**HX, "HX-Target": "schedule-list"}
    )
    body = text(response)
    assert body.lstrip().startswith('<div id="schedule-list">') and "<html" not in body
    assert response.headers["HX-Push-Url"] == "/schedules?q=alpha"


def test_the_list_costs_the_same_queries_for_5_or_25_rows(app, admin, signed_in):
    """Status and last run come in one query per page, not one per row (no N+1)."""
    for i in range(25):
        sid = schedule_in(app, admin, name=f"Schedule {i:02d}")
        add_run(app, sid, "SUCCESS")
    client = signed_in(admin)

    def queries(size: int) -> int:
        app.config["PAGE_SIZE"] = size
        statements: list[str] = []
        with app.app_context():
            engine = db.engine
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert client.get("/schedules").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(statements)

    assert queries(5) == queries(25)


# ---- in-place actions


def test_the_switch_disables_and_enables_in_place_with_an_audit_entry(app, admin, signed_in):
    sid = schedule_in(app, admin, name="Toggled")
    client = signed_in(admin)
    row = text(post(client, f"/schedules/{sid}/enabled", {"enabled": "false", "view": "row"}, HX))
    assert row.lstrip().startswith(f'<tr id="schedule-{sid}"')
    assert 'aria-checked="false"' in row and "status-disabled" in row
    with app.app_context():
        schedule = db.session.get(Schedule, sid)
        assert not schedule.enabled and schedule.next_run_at is None
    summary = text(post(client, f"/schedules/{sid}/enabled", {"enabled": "true"}, HX))
    assert summary.lstrip().startswith('<div id="summary"') and 'aria-checked="true"' in summary
    with app.app_context():
        assert db.session.get(Schedule, sid).next_run_at is not None
        actions = db.session.execute(db.select(AuditEvent.action).order_by(AuditEvent.id))
        assert list(actions.scalars())[-2:] == ["schedule.disable", "schedule.enable"]


def test_the_switch_without_htmx_redirects_back_with_a_message(app, admin, signed_in):
    sid = schedule_in(app, admin, name="Toggled")
    client = signed_in(admin)
    response = post(client, f"/schedules/{sid}/enabled", {"enabled": "false", "view": "row"})
    assert response.status_code == 303 and response.headers["Location"] == "/schedules"
    assert "Schedule &#39;Toggled&#39; disabled." in text(client.get("/schedules"))
    assert post(client, f"/schedules/{sid}/enabled", {"enabled": "maybe"}).status_code == 400


def test_run_now_adds_a_polling_row_to_the_history(app, admin, signed_in):
    sid = schedule_in(app, admin, name="Manual")
    with app.app_context():
        db.session.get(Schedule, sid).enabled = False  # Run Now works on a disabled schedule
        db.session.commit()
    response = post(signed_in(admin), f"/schedules/{sid}/run", {"view": "detail"}, HX)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "run-started"
    body = text(response)
    with app.app_context():
        run = db.session.execute(db.select(Run)).scalar_one()
        assert (run.trigger, run.status) == ("manual", "PENDING")
        assert not db.session.get(Schedule, sid).enabled
    assert body.lstrip().startswith('<section id="history"')
    row = re.search(rf'<tr id="run-{run.id}"[^>]*>', body).group(0)
    assert 'hx-trigger="every 2s"' in row and f"/runs/{run.id}/row" in row
    assert (
        'hx-swap-oob="innerHTML"' in body and f"Run #{run.id} of &#39;Manual&#39; started." in body
    )


def test_run_now_refused_by_the_overlap_policy_says_why_in_place(app, admin, signed_in):
    sid = schedule_in(app, admin, name="Busy", overlap_policy="skip")
    add_run(app, sid, "RUNNING")
    response = post(signed_in(admin), f"/schedules/{sid}/run", {"view": "row"}, HX)
    assert response.status_code == 409
    assert response.headers["HX-Reswap"] == "none"
    body = text(response)
    assert 'id="notice"' in body and 'hx-swap-oob="innerHTML"' in body
    assert "already in progress" in body and 'role="alert"' in body
    with app.app_context():
        assert db.session.execute(db.select(Run).where(Run.trigger == "manual")).first() is None


def test_delete_needs_the_exact_name_and_keeps_the_chat_sessions(app, admin, signed_in):
    sid = schedule_in(app, admin, name="Doomed <b>")
    add_run(app, sid)
    with app.app_context():
        chat = ChatSession(organization_id=admin.org_id, schedule_id=sid, name="Scheduled: Doomed")
        db.session.add(chat)
        db.session.commit()
        chat_id = chat.id
    client = signed_in(admin)
    for wrong in ("", "doomed <b>", "Doomed <b> "):
        response = post(client, f"/schedules/{sid}/delete", {"confirm_name": wrong})
        assert response.status_code == 400
        page = text(response)
        assert "Type the schedule&#39;s exact name to delete it." in page
        assert 'id="delete-dialog" class="dialog" data-open="1"' in page
        assert "Doomed &lt;b&gt;" in page and "Doomed <b>" not in page
    with app.app_context():
        assert db.session.get(Schedule, sid) is not None
    response = post(client, f"/schedules/{sid}/delete", {"confirm_name": "Doomed <b>"})
    assert response.status_code == 303 and response.headers["Location"] == "/schedules"
    assert "Its chat sessions are kept." in text(client.get("/schedules"))
    with app.app_context():
        assert db.session.get(Schedule, sid) is None
        assert db.session.execute(db.select(Run)).first() is None
        assert db.session.get(ChatSession, chat_id) is not None


@pytest.mark.parametrize("action", ["enabled", "run", "delete"])
def test_actions_refuse_get(app, admin, signed_in, action):
    sid = schedule_in(app, admin)
    assert signed_in(admin).get(f"/schedules/{sid}/{action}").status_code == 405


@pytest.mark.parametrize("action", ["enabled", "run", "delete"])
def test_actions_on_another_organizations_schedule_are_404(app, admin, outsider, signed_in, action):
    sid = schedule_in(app, admin)
    data = {"enabled": "false", "confirm_name": "Report"}
    assert post(signed_in(outsider), f"/schedules/{sid}/{action}", data).status_code == 404
    with app.app_context():
        assert db.session.get(Schedule, sid).enabled


# ---- the detail page


def test_the_detail_page_has_history_with_session_links_and_a_chart(app, admin, signed_in):
    sid = schedule_in(app, admin, name="Charted")
    with app.app_context():
        chat = ChatSession(organization_id=admin.org_id, schedule_id=sid, name="Scheduled: x")
        db.session.add(chat)
        db.session.commit()
        chat_id = chat.id
    ok = [add_run(app, sid, "SUCCESS", duration_ms=1000 + i, session_id=chat_id) for i in range(3)]
    failed = add_run(app, sid, "FAILED", error="Timeout after 300s", reason="timeout")
    add_run(app, sid, "MISSED", reason="scheduler_down")
    page = text(signed_in(admin).get(f"/schedules/{sid}"))
    for header in ("Status", "Started at", "Completed at", "Duration", "Session", "Error"):
        assert f">{header}</th>" in page
    assert page.count(f'href="/sessions/{chat_id}">Open chat</a>') == 3
    assert "Timeout after 300s" in page and "scheduler down" in page
    assert page.index(f'id="run-{failed}"') < page.index(f'id="run-{ok[0]}"')  # newest first
    # The chart: one bar per finished run (SUCCESS/FAILED), success rate and durations.
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert svg.count("<rect") == 4 and svg.count("bar-failed") == 1
    assert "<strong>75 %</strong> of the last 4 finished runs succeeded" in page
    assert 'hx-trigger="every 2s"' not in page  # nothing in progress: nothing polls


def test_history_pages_by_keyset(app, admin, signed_in):
    sid = schedule_in(app, admin)
    ids = [add_run(app, sid) for _ in range(53)]
    client = signed_in(admin)
    first = text(client.get(f"/schedules/{sid}"))
    assert f'id="run-{ids[-1]}"' in first and f'id="run-{ids[2]}"' not in first
    cursor = re.search(r'before=(\d+)#history">Older runs', first).group(1)
    assert int(cursor) == ids[3]
    older = text(client.get(f"/schedules/{sid}?before={cursor}"))
    assert [f'id="run-{i}"' in older for i in ids[:3]] == [True] * 3
    assert "Older runs" not in older and "Newest runs" in older


def test_the_summary_refreshes_when_a_run_starts_or_ends(app, admin, signed_in):
    sid = schedule_in(app, admin)
    client = signed_in(admin)
    page = text(client.get(f"/schedules/{sid}"))
    assert 'hx-trigger="run-finished from:body, run-started from:body"' in page
    summary = text(client.get(f"/schedules/{sid}/summary", headers=HX))
    assert summary.lstrip().startswith('<div id="summary"') and "<html" not in summary


def test_a_viewer_sees_everything_and_no_control(app, admin, viewer, signed_in):
    sid = schedule_in(app, admin, name="Read only")
    add_run(app, sid)
    client = signed_in(viewer)
    for path in ("/schedules", f"/schedules/{sid}"):
        page = text(client.get(path))
        assert "Read only" in page
        for control in ('role="switch"', "Run now", "data-delete-name", ">Edit<", "delete-dialog",
                        "New schedule", "/audit"):  # fmt: skip
            assert control not in page, f"{control} shown to a viewer on {path}"
        assert "History" in page or "Open" in page or "#" in page
    assert client.get("/audit").status_code == 403
