"""The schedule pages: list, form with live preview, detail (server side)."""

from __future__ import annotations

import re

from app.extensions import db
from app.models import Schedule
from tests.conftest import csrf_token

FORM = {
    "name": "Morning digest",
    "prompt": "Summarise the news for {{ today }}.",
    "agent": "orchestrator",
    "schedule_type": "WEEKLY",
    "day_of_week": ["1", "3"],
    "at_time": "07:30",
    "day_of_month": "1",
    "expression": "",
    "timezone": "America/New_York",
    "enabled": "y",
    "timeout_seconds": "300",
    "overlap_policy": "skip",
    "catchup_window_seconds": "3600",
    "max_retries": "0",
    "retry_delay_seconds": "60",
}


def post_form(client, url: str, **changes):
    data = {**FORM, **changes, "csrf_token": csrf_token(client, "/schedules/new")}
    return client.post(url, data={k: v for k, v in data.items() if v is not None})


def test_an_admin_creates_a_schedule_through_the_form(app, admin, signed_in):
    client = signed_in(admin)
    response = post_form(client, "/schedules")
    assert response.status_code == 302
    with app.app_context():
        schedule = db.session.execute(db.select(Schedule)).scalar_one()
        assert schedule.schedule_config == {"day_of_week": [1, 3], "hour": 7, "minute": 30}
        assert schedule.timezone == "America/New_York" and schedule.next_run_at is not None
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Morning digest" in page and "Schedule &#39;Morning digest&#39; created." in page
    assert "(America/New_York)" in page


def test_form_errors_show_beside_their_fields_and_keep_the_input(app, admin, signed_in):
    client = signed_in(admin)
    response = post_form(client, "/schedules", at_time="25:00", timezone="Nowhere/City")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    time_field = page[page.index('id="field-at_time"') :]
    assert "Hour must be between 0 and 23." in time_field[: time_field.index("</div>")]
    assert "Unknown time zone &#39;Nowhere/City&#39;." in page
    assert 'value="Morning digest"' in page  # nothing typed is lost
    with app.app_context():
        assert db.session.execute(db.select(Schedule)).first() is None


def test_the_live_preview_describes_and_lists_the_next_five_runs(app, viewer, signed_in):
    client = signed_in(viewer)
    response = post_form(client, "/schedules/preview", schedule_type="CRON",
                         expression="0 9 * * 1-5", timezone="Europe/Berlin")  # fmt: skip
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "At 09:00, Monday through Friday (Europe/Berlin)" in page
    assert len(re.findall(r"<time datetime=", page)) == 5
    assert "09:00:00 CE" in page  # wall time in the schedule's zone (CET or CEST)
    bad = post_form(client, "/schedules/preview", schedule_type="CRON", expression="0 0 30 2 *")
    assert "This cron expression can never fire." in bad.get_data(as_text=True)


def test_editing_fills_the_form_and_saves(app, admin, signed_in):
    client = signed_in(admin)
    location = post_form(client, "/schedules").headers["Location"]
    schedule_id = int(location.rsplit("/", 1)[1])
    page = client.get(f"/schedules/{schedule_id}/edit").get_data(as_text=True)
    assert 'value="07:30"' in page and 'value="America/New_York"' in page
    assert re.search(r'<input checked[^>]*value="3"', page)
    response = post_form(client, f"/schedules/{schedule_id}/edit", prompt="Changed prompt")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Schedule, schedule_id).prompt == "Changed prompt"


def test_a_viewer_sees_no_edit_controls_and_cannot_open_the_forms(app, admin, viewer, signed_in):
    location = post_form(signed_in(admin), "/schedules").headers["Location"]
    client = signed_in(viewer)
    assert "New schedule" not in client.get("/schedules").get_data(as_text=True)
    assert ">Edit<" not in client.get(location).get_data(as_text=True)
    assert client.get("/schedules/new").status_code == 403
    assert client.get(f"{location}/edit").status_code == 403


def test_another_organizations_schedule_page_is_404(app, admin, outsider, signed_in):
    location = post_form(signed_in(admin), "/schedules").headers["Location"]
    assert signed_in(outsider).get(location).status_code == 404
