"""Adding an agent through the Agents page in Chromium: the form shows the chosen kind's
fields, and the list shows where prompts go and whether the secret's variable is set."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot
from tests.e2e.test_schedule_form import sign_in

pytestmark = pytest.mark.e2e


def test_an_admin_adds_a_webhook_agent(page, live_server, admin, monkeypatch):
    monkeypatch.setenv("WEBHOOK_E2E_SECRET", "whsec-e2e-not-shown")
    sign_in(page, live_server, admin)
    page.click("nav >> text=Agents")
    page.click("text=New agent")
    assert page.is_visible("#base_url") and not page.is_visible("#url")
    page.fill("#name", "Ops hook")
    page.select_option("#kind", "webhook")
    assert page.is_visible("#url") and not page.is_visible("#base_url")
    page.fill("#url", "https://hooks.example.com/taskplan")
    page.fill("#secret_env", "WEBHOOK_E2E_SECRET")
    screenshot(page, "agent-form-webhook")
    page.click("text=Create agent")
    page.wait_for_url(f"{live_server}/agents")
    row = page.locator("tr", has_text="Ops hook")
    assert "POST https://hooks.example.com/taskplan (signed)" in row.inner_text()
    assert "WEBHOOK_E2E_SECRET" in row.inner_text() and "set" in row.inner_text()
    assert "whsec-e2e-not-shown" not in page.content()
    screenshot(page, "agents-list")
