"""Run detail, sessions and the audit log pages, server side (SPEC §5.2, §6)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from app.extensions import db
from app.models import AuditEvent, ChatSession, Message, Run
from app.sessions.markdown import render_markdown
from tests.conftest import csrf_token
from tests.test_console_schedules import HX, add_run, schedule_in, text


def make_chat(app, org_id: int, schedule_id: int | None, name: str, created: datetime, *messages):
    with app.app_context():
        chat = ChatSession(
            organization_id=org_id, schedule_id=schedule_id, name=name, created_at=created
        )
        db.session.add(chat)
        db.session.flush()
        for role, content, *rest in messages:
            db.session.add(
                Message(session_id=chat.id, role=role, content=content,
                        tool_calls=rest[0] if rest else None, created_at=created)
            )  # fmt: skip
        db.session.commit()
        return chat.id


# ---- run detail


def test_the_run_page_shows_every_field_and_stops_polling_when_done(app, admin, signed_in):
    sid = schedule_in(app, admin, name="Digest")
    chat = make_chat(app, admin.org_id, sid, "Scheduled: Digest", datetime(2026, 3, 2, tzinfo=UTC))
    rid = add_run(app, sid, "RUNNING", session_id=chat, worker="host:123", prompt_tokens=12)
    client = signed_in(admin)
    page = text(client.get(f"/runs/{rid}"))
    assert f"Run #{rid}" in page and "Digest" in page and "host:123" in page
    assert f'href="/sessions/{chat}"' in page and "12 in · 0 out" in page
    facts = re.search(r'<dl id="run-facts"[^>]*>', page).group(0)
    assert 'hx-trigger="every 2s"' in facts
    with app.app_context():
        run = db.session.get(Run, rid)
        run.finish("FAILED", "agent_error", "Agent 'x' not found")
        db.session.commit()
    polled = client.get(f"/runs/{rid}", headers={**HX, "HX-Target": "run-facts"})
    assert polled.headers["HX-Trigger"] == "run-finished"
    body = text(polled)
    assert body.lstrip().startswith('<dl id="run-facts" class="facts wide">')  # no poll left
    assert "Agent &#39;x&#39; not found" in body and "agent error" in body


def test_a_history_row_polls_only_while_its_run_is_in_progress(app, admin, signed_in):
    sid = schedule_in(app, admin)
    rid = add_run(app, sid, "PENDING")
    client = signed_in(admin)
    running = client.get(f"/runs/{rid}/row", headers=HX)
    assert 'hx-trigger="every 2s"' in text(running) and "HX-Trigger" not in running.headers
    with app.app_context():
        db.session.get(Run, rid).finish("SUCCESS")
        db.session.commit()
    done = client.get(f"/runs/{rid}/row", headers=HX)
    assert "hx-trigger" not in text(done) and done.headers["HX-Trigger"] == "run-finished"


def test_another_organizations_run_and_session_are_404(app, admin, outsider, signed_in):
    sid = schedule_in(app, admin)
    rid = add_run(app, sid)
    chat = make_chat(app, admin.org_id, sid, "Mine", datetime(2026, 3, 2, tzinfo=UTC))
    client = signed_in(outsider)
    for path in (f"/runs/{rid}", f"/runs/{rid}/row", f"/sessions/{chat}"):
        assert client.get(path).status_code == 404, path
    assert "Mine" not in text(client.get("/sessions"))


# ---- sessions


def test_sessions_filter_by_schedule_date_and_name(app, admin, signed_in):
    a = schedule_in(app, admin, name="Alpha")
    b = schedule_in(app, admin, name="Beta")
    make_chat(app, admin.org_id, a, "Scheduled: Alpha - 1", datetime(2026, 3, 1, 23, tzinfo=UTC),
              ("user", "[Scheduled] hi"), ("assistant", "hello"))  # fmt: skip
    make_chat(app, admin.org_id, a, "Scheduled: Alpha - 2", datetime(2026, 3, 2, 10, tzinfo=UTC))
    make_chat(app, admin.org_id, b, "Scheduled: Beta - 1", datetime(2026, 3, 2, 11, tzinfo=UTC))
    client = signed_in(admin)
    everything = text(client.get("/sessions"))
    assert (
        everything.index("Beta - 1") < everything.index("Alpha - 2") < everything.index("Alpha - 1")
    )
    row = everything[everything.index("Alpha - 1") :]
    assert '<td data-label="Messages" class="num">2</td>' in row[: row.index("</tr>")]
    only_a = text(client.get(f"/sessions?schedule={a}"))
    assert "Alpha - 1" in only_a and "Alpha - 2" in only_a and "Beta - 1" not in only_a
    assert "Schedule: Alpha" in only_a
    day = text(client.get("/sessions?from=2026-03-02&to=2026-03-02"))
    assert "Alpha - 2" in day and "Beta - 1" in day and "Alpha - 1" not in day
    assert "Beta - 1" in text(client.get("/sessions?q=beta"))
    assert "Alpha" not in text(client.get("/sessions?q=beta")).split("<tbody>")[1]
    # A malformed date is ignored rather than an error.
    assert client.get("/sessions?from=yesterday").status_code == 200


def test_sessions_page_by_keyset(app, admin, signed_in):
    app.config["PAGE_SIZE"] = 2
    for i in range(3):
        make_chat(app, admin.org_id, None, f"Chat {i}", datetime(2026, 3, 2, i, tzinfo=UTC))
    client = signed_in(admin)
    first = text(client.get("/sessions"))
    assert "Chat 2" in first and "Chat 1" in first and "Chat 0" not in first
    cursor = re.search(r'href="/sessions\?before=(\d+)">Older', first).group(1)
    older = text(client.get(f"/sessions?before={cursor}"))
    assert "Chat 0" in older and "Chat 1" not in older and "Older" not in older


def test_the_chat_view_renders_replies_as_sanitized_markdown(app, admin, viewer, signed_in):
    sid = schedule_in(app, admin, name="Digest")
    reply = (
        "## Summary\n\n**3 tickets** closed:\n\n- one\n- two\n\n"
        "<script>alert('x')</script> [click](javascript:alert(1)) [docs](https://example.com)\n\n"
        '<img src="https://tracker.example/p.gif" onerror="alert(2)">'
    )
    chat = make_chat(
        app, admin.org_id, sid, "Scheduled: Digest", datetime(2026, 3, 2, tzinfo=UTC),
        ("user", "[Scheduled] Summarise <b>tickets</b>"),
        ("assistant", reply, [{"name": "search", "arguments": {"q": "<x>"}}]),
    )  # fmt: skip
    page = text(signed_in(viewer).get(f"/sessions/{chat}"))
    assert "<h2>Summary</h2>" in page and "<strong>3 tickets</strong>" in page
    assert "<li>one</li>" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert 'href="javascript' not in page  # left as the text it was
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">docs</a>' in page
    assert "<img" not in page and "&lt;img src=" in page  # raw HTML stays visible text
    # The prompt is shown as the text it was, not as HTML.
    assert "Summarise &lt;b&gt;tickets&lt;/b&gt;" in page
    assert "1 tool call" in page and "&#34;q&#34;: &#34;&lt;x&gt;&#34;" in page
    assert 'href="/schedules/' in page and "2 messages" in page


def test_markdown_keeps_no_unsafe_html():
    html = str(render_markdown('<a href="javascript:x" onclick="y">a</a> <iframe src=x>'))
    assert "<a" not in html and "<iframe" not in html
    assert str(render_markdown("[a](https://x.test 'T')")).startswith('<p><a href="https://x.test"')


# ---- audit log


def test_the_audit_log_lists_changes_with_filters(app, admin, signed_in):
    sid = schedule_in(app, admin, name="Audited")
    client = signed_in(admin)
    token = csrf_token(client, "/schedules")
    client.post(f"/schedules/{sid}/enabled", data={"enabled": "false", "csrf_token": token})
    page = text(client.get("/audit")).split("<tbody>", 1)[1]
    assert page.index("schedule.disable") < page.index("schedule.create")
    assert "admin@acme.test" in page and f'href="/schedules/{sid}">Audited</a>' in page
    assert '<td class="mono">enabled</td>' in page and "<code>true</code>" in page
    only = text(client.get("/audit?action=schedule.disable"))
    assert "schedule.create</span>" not in only and "schedule.disable</span>" in only
    assert "Audited" in text(client.get(f"/audit?object_type=schedule&object_id={sid}"))
    assert "Nothing recorded matches" in text(client.get("/audit?object_id=999999"))
    assert "Nothing recorded matches" in text(client.get("/audit?q=nomatch"))


def test_the_audit_log_pages_by_keyset_and_is_for_admins(app, admin, viewer, signed_in):
    app.config["PAGE_SIZE"] = 2
    with app.app_context():
        for i in range(3):
            db.session.add(
                AuditEvent(organization_id=admin.org_id, actor="a@x", action="schedule.update",
                           object_type="schedule", object_id=i, object_name=f"Audited schedule {i}")
            )  # fmt: skip
        db.session.commit()
    client = signed_in(admin)
    first = text(client.get("/audit"))
    # Names that no random token can contain by chance (a CSRF token once held "S0").
    assert "Audited schedule 2" in first and "Audited schedule 1" in first
    assert "Audited schedule 0" not in first
    cursor = re.search(r'href="/audit\?before=(\d+)">Older', first).group(1)
    assert "Audited schedule 0" in text(client.get(f"/audit?before={cursor}"))
    assert signed_in(viewer).get("/audit").status_code == 403


def test_every_console_page_sends_times_as_utc_time_elements(app, admin, signed_in):
    sid = schedule_in(app, admin)
    rid = add_run(app, sid)
    chat = make_chat(app, admin.org_id, sid, "Chat", datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
                     ("user", "x"))  # fmt: skip
    client = signed_in(admin)
    for path in ("/schedules", f"/schedules/{sid}", f"/runs/{rid}", "/sessions",
                 f"/sessions/{chat}", "/audit"):  # fmt: skip
        page = text(client.get(path))
        assert re.search(r'<time datetime="[\d\-T:.]+Z" title="[\d\- :]+ UTC">', page), path


def test_ids_past_what_the_database_holds_are_404_or_ignored_on_pages(app, admin, signed_in):
    """PostgreSQL's INTEGER keys stop at 2**31 - 1: a bigger id in a URL or a query string
    is a 404 or an ignored filter, never a database error."""
    client = signed_in(admin)
    for path in ("/schedules/2147483648", "/runs/2147483648", "/sessions/2147483648"):
        assert client.get(path).status_code == 404, path
    assert client.get("/schedules/2147483648/row").get_data() == b""  # a row that is gone
    for path in ("/sessions?schedule=2147483648", "/audit?object_id=99999999999",
                 "/audit?before=2147483648", "/sessions?before=2147483648"):  # fmt: skip
        assert client.get(path).status_code == 200, path
