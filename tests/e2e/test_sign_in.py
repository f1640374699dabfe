"""Signing in through the real page in Chromium."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def test_an_admin_signs_in_and_sees_the_schedules_page(page, live_server, admin):
    page.goto(f"{live_server}/schedules")
    assert page.url.startswith(f"{live_server}/login")
    screenshot(page, "login")
    page.fill("#email", admin.email)
    page.fill("#password", admin.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/schedules")
    assert page.locator("h1").inner_text() == "Schedules"
    assert page.locator(".badge-admin").inner_text() == "admin"
    # htmx was delivered from static/vendor, not a CDN, and loaded.
    assert page.evaluate("typeof htmx !== 'undefined' && htmx.version.startsWith('2.')")
    screenshot(page, "schedules-empty")


def test_a_wrong_password_shows_a_message_and_stays_on_the_form(page, live_server, admin):
    page.goto(f"{live_server}/login")
    page.fill("#email", admin.email)
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "Wrong email or password."
    assert page.input_value("#email") == admin.email
