"""The console in Chromium: switch, Run Now to SUCCESS with a real worker, the chat, the
delete dialog, the viewer's view, and screenshots of every page at laptop and phone width."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.extensions import db
from app.models import ChatSession, Message, Run, Schedule
from tests.e2e.conftest import ARTIFACTS, screenshot
from tests.e2e.test_schedule_form import sign_in
from tests.engine_helpers import make_schedule
from tests.test_integration_engine import Cluster, wait_until, workers_up

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def worker(app, database_url, redis_url, tmp_path):
    """A real worker process (the Procfile's command) on the live server's database and
    Redis: Run Now's job is executed the way production executes it."""
    cluster = Cluster(database_url, redis_url, tmp_path)
    cluster.start("worker", "worker")
    with app.app_context():
        wait_until(lambda: workers_up(1), 60, "the worker", cluster)
    yield cluster
    cluster.stop_all()


def no_reload_marker(page) -> None:
    page.evaluate("window.__sameDocument = true")


def still_same_document(page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def test_toggle_run_now_to_success_read_the_reply_and_delete(page, live_server, admin, worker):
    sign_in(page, live_server, admin)
    page.click("text=New schedule")
    page.fill("#name", "Morning digest")
    page.fill("#prompt", "Summarise **yesterday** for {{ schedule.name }}.")
    page.select_option("#schedule_type", "DAILY")
    page.fill("#at_time", "07:30")
    page.locator("#preview").get_by_text("At 07:30").first.wait_for()
    assert page.locator("#preview time").count() == 5  # the preview shows before saving
    page.click("form.schedule-form button[type=submit]")
    page.wait_for_url(f"{live_server}/schedules/*")
    no_reload_marker(page)

    # The switch, in place.
    switch = page.locator("#summary [role=switch]")
    assert switch.get_attribute("aria-checked") == "true"
    switch.click()
    page.locator("#summary .pill.status-disabled").wait_for()
    assert page.locator("#summary [role=switch]").get_attribute("aria-checked") == "false"
    assert still_same_document(page)
    screenshot(page, "detail-disabled")

    # Run Now: confirm in the dialog, then watch the row go to SUCCESS without a reload.
    page.click("#summary button.run-now")
    dialog = page.locator("#confirm-dialog")
    dialog.wait_for(state="visible")
    assert "Run “Morning digest” now?" in dialog.inner_text()
    screenshot(page, "run-now-confirm")
    dialog.get_by_role("button", name="Yes, run it now").click()
    page.locator("#notice").get_by_text("started").wait_for()
    row = page.locator("#history tbody tr").first
    row.locator(".pill.run-success").wait_for(timeout=30_000)
    assert still_same_document(page)
    # The summary refreshed itself when the run ended: last run and count are up to date.
    page.locator("#summary").get_by_text("1 executed").wait_for()
    page.locator("#summary svg rect.bar-success").wait_for()
    screenshot(page, "detail-after-run")

    # The session link opens the chat, with the demo agent's reply.
    row.get_by_role("link", name="Open chat").click()
    page.wait_for_url(f"{live_server}/sessions/*")
    assert "[Run now] Summarise **yesterday**" in page.locator(".msg-user").inner_text()
    assert "This is the demo agent" in page.locator(".msg-assistant .markdown").inner_text()
    screenshot(page, "session-chat")
    page.go_back()
    page.wait_for_url(f"{live_server}/schedules/*")

    # Delete: the button works only once the exact name is typed.
    page.click("#summary button.danger")
    delete = page.locator("#delete-dialog")
    delete.wait_for(state="visible")
    confirm = delete.get_by_role("button", name="Delete")
    assert confirm.is_disabled()
    page.fill("#confirm_name", "morning digest")
    assert confirm.is_disabled()
    page.fill("#confirm_name", "Morning digest")
    assert confirm.is_enabled()
    screenshot(page, "delete-dialog")
    confirm.click()
    page.wait_for_url(f"{live_server}/schedules")
    assert "Schedule 'Morning digest' deleted." in page.locator(".flash").inner_text()
    page.goto(f"{live_server}/sessions")
    assert page.locator("table.sessions tbody tr").count() == 1  # the chat session stays


def test_the_list_switch_and_a_refused_run_now_work_in_place(page, live_server, app, admin):
    with app.app_context():
        sid = make_schedule(admin.id, admin.org_id, name="Busy report")
        make_schedule(admin.id, admin.org_id, name="Other report")
        schedule = db.session.get(Schedule, sid)
        # A run in progress: with overlap "skip", Run Now is refused (no worker needed).
        db.session.add(
            Run(schedule_id=sid, organization_id=admin.org_id, trigger="scheduled",
                scheduled_for=datetime.now(UTC), status="RUNNING", started_at=datetime.now(UTC))
        )  # fmt: skip
        db.session.commit()
        assert schedule.overlap_policy == "skip"
    sign_in(page, live_server, admin)
    no_reload_marker(page)
    row = page.locator(f"#schedule-{sid}")
    assert "Running" in row.locator(".pill").first.inner_text()
    row.locator("button.run-now").click()
    page.get_by_role("button", name="Yes, run it now").click()
    notice = page.locator("#notice [role=alert]")
    notice.wait_for()
    assert "already in progress" in notice.inner_text()
    screenshot(page, "run-now-refused")

    other = page.locator("tr", has_text="Other report")
    other.locator("[role=switch]").click()
    page.locator("tr", has_text="Other report").locator(".status-disabled").wait_for()
    # Search as you type replaces the table in place and keeps the URL shareable.
    page.fill("#q", "other")
    page.wait_for_url(f"{live_server}/schedules?q=other")
    assert page.locator("table.schedules tbody tr").count() == 1
    assert still_same_document(page)


def test_a_viewer_sees_no_edit_controls(page, live_server, app, admin, viewer):
    with app.app_context():
        sid = make_schedule(admin.id, admin.org_id, name="Shared report")
    sign_in(page, live_server, viewer)
    assert page.locator("table.schedules tbody tr").count() == 1
    for selector in ("[role=switch]", "button.run-now", "button.danger", "text=New schedule",
                     "a:has-text('Edit')", "nav >> text=Audit log"):  # fmt: skip
        assert page.locator(selector).count() == 0, selector
    screenshot(page, "viewer-list")
    page.goto(f"{live_server}/schedules/{sid}")
    for selector in ("[role=switch]", "button.run-now", "button.danger", "a:has-text('Edit')",
                     "#delete-dialog"):  # fmt: skip
        assert page.locator(selector).count() == 0, selector
    assert page.locator("h1").inner_text().startswith("Shared report")
    screenshot(page, "viewer-detail")


def seed_pages(app, admin) -> dict[str, int]:
    """A little of everything, so each page has something to show."""
    with app.app_context():
        ids = {}
        for i, (name, kind, config) in enumerate([
            ("Weekly metrics", "WEEKLY", {"day_of_week": [1], "hour": 9, "minute": 0}),
            ("Nightly backup check", "DAILY", {"hour": 2, "minute": 15}),
            ("Quarter-hourly inbox triage", "CRON", {"expression": "*/15 9-17 * * 1-5"}),
            ("Month-end summary", "MONTHLY", {"day_of_month": "last", "hour": 18, "minute": 0}),
        ]):  # fmt: skip
            ids[name] = make_schedule(
                admin.id, admin.org_id, name=name, schedule_type=kind, schedule_config=config,
                description="Sends the team a summary" if i == 0 else "",
            )  # fmt: skip
        sid = ids["Weekly metrics"]
        chat = ChatSession(organization_id=admin.org_id, schedule_id=sid,
                           name="Scheduled: Weekly metrics - 2026-03-02 09:00:00")  # fmt: skip
        db.session.add(chat)
        db.session.flush()
        base = datetime(2026, 3, 2, 9, tzinfo=UTC)
        for n in range(24):
            status = "FAILED" if n in (5, 17) else "SUCCESS"
            started = base.replace(day=1 + n % 28)
            run = Run(schedule_id=sid, organization_id=admin.org_id, trigger="scheduled",
                      scheduled_for=started, status="PENDING", started_at=started,
                      enqueued_at=started, session_id=chat.id if n == 23 else None)  # fmt: skip
            db.session.add(run)
            run.finish(status, "timeout" if status == "FAILED" else None,
                       "Timeout after 300s" if status == "FAILED" else None,
                       now=started.replace(second=2 + (n * 7) % 40))  # fmt: skip
        db.session.flush()
        db.session.add_all([
            Message(session_id=chat.id, run_id=run.id, role="user",
                    content="[Scheduled] Summarise last week's metrics for {{ schedule.name }}."),
            Message(session_id=chat.id, run_id=run.id, role="assistant",
                    content="## Weekly metrics\n\nSign-ups rose **12 %**.\n\n| metric | value |\n"
                            "|---|---:|\n| sign-ups | 1,204 |\n| churn | 2.1 % |\n\n"
                            "- Next: check `billing` <script>alert(1)</script>",
                    tool_calls=[{"name": "query", "arguments": {"table": "signups"}}]),
        ])  # fmt: skip
        db.session.add(
            Run(schedule_id=ids["Nightly backup check"], organization_id=admin.org_id,
                trigger="manual", scheduled_for=base, status="RUNNING", started_at=base)
        )  # fmt: skip
        db.session.commit()
        ids["run"], ids["chat"] = run.id, chat.id
        return ids


@pytest.mark.parametrize("device", ["laptop", "phone"])
def test_screenshots_of_every_page(page, live_server, app, admin, device):
    if device == "phone":
        page.set_viewport_size(PHONE)
    ids = seed_pages(app, admin)
    sign_in(page, live_server, admin)
    sid = ids["Weekly metrics"]
    pages = {
        "schedules": "/schedules",
        "schedule-detail": f"/schedules/{sid}",
        "schedule-form": f"/schedules/{sid}/edit",
        "run-detail": f"/runs/{ids['run']}",
        "sessions": "/sessions",
        "session-chat": f"/sessions/{ids['chat']}",
        "audit": "/audit",
        "health": "/health",
    }
    for name, path in pages.items():
        page.goto(f"{live_server}{path}")
        assert page.locator("h1").count() == 1, path
        # No page is wider than the screen: nothing to scroll sideways on a phone.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (name, overflow)
        screenshot(page, f"{device}-{name}")
        if device == "phone":  # what a phone shows first, at a readable scale
            page.screenshot(path=str(ARTIFACTS / f"{device}-{name}-top.png"))
