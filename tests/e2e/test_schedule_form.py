"""Creating a schedule through the form in Chromium, with the live preview."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def sign_in(page, live_server, user) -> None:
    page.goto(f"{live_server}/login")
    page.fill("#email", user.email)
    page.fill("#password", user.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/schedules")


def test_an_admin_creates_a_schedule_seeing_the_preview_before_saving(page, live_server, admin):
    sign_in(page, live_server, admin)
    page.click("text=New schedule")
    page.fill("#name", "Weekday standup notes")
    page.fill("#prompt", "Summarise yesterday's tickets ({{ yesterday }}).")
    page.select_option("#schedule_type", "CRON")
    # Only the chosen type's fields show.
    assert page.is_visible("#expression") and not page.is_visible("#at_time")
    page.fill("#expression", "30 9 * * 1-5")
    page.fill("#timezone", "Europe/London")
    preview = page.locator("#preview")
    preview.get_by_text("At 09:30, Monday through Friday (Europe/London)").wait_for()
    assert preview.locator("time").count() == 5
    # Times in the viewer's zone (the browser runs in Europe/Berlin): localized by app.js.
    assert (
        "CET" in preview.locator("time").first.inner_text()
        or "GMT+1" in preview.locator("time").first.inner_text()
    )
    screenshot(page, "schedule-form-preview")
    page.fill("#expression", "0 0 30 2 *")
    preview.get_by_text("This cron expression can never fire.").wait_for()
    page.fill("#expression", "30 9 * * 1-5")
    preview.get_by_text("At 09:30").wait_for()
    page.click("form.schedule-form button[type=submit]")
    page.wait_for_url(f"{live_server}/schedules/*")
    assert "Weekday standup notes" in page.locator("h1").inner_text()
    screenshot(page, "schedule-detail")
    page.goto(f"{live_server}/schedules")
    assert page.locator("table.table tbody tr").count() == 1
    screenshot(page, "schedules-list")


def test_a_weekly_schedule_shows_day_checkboxes_and_a_time(page, live_server, admin):
    sign_in(page, live_server, admin)
    page.goto(f"{live_server}/schedules/new")
    page.select_option("#schedule_type", "WEEKLY")
    assert page.is_visible("#at_time") and page.is_visible("#field-day_of_week")
    assert not page.is_visible("#expression")
    page.check("input[name=day_of_week][value='5']")
    page.fill("#at_time", "17:00")
    page.locator("#preview").get_by_text("17:00").first.wait_for()
    assert "Monday and Friday" in page.locator("#preview .description").inner_text()
