"""The `webhook` kind against a local receiver that verifies the HMAC-SHA256 signature."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import ChatSession
from tests import agent_servers
from tests.agent_servers import Scripted, WebhookReceiver, fire_and_execute, make_agent
from tests.engine_helpers import make_schedule

ctx = agent_servers.ctx  # fixture
SECRET = "whsec-4b1d9e0f7a2c48e6"


@pytest.fixture
def hook(ctx, admin, monkeypatch):
    monkeypatch.setenv("WEBHOOK_TEST_SECRET", SECRET)
    receiver = WebhookReceiver(secret=SECRET)
    receiver.start()
    make_agent(
        admin.org_id, "hook", "webhook", {"url": receiver.url, "secret_env": "WEBHOOK_TEST_SECRET"}
    )
    yield receiver
    receiver.stop()


def schedule_for(admin, **fields) -> int:
    fields.setdefault("agent", "hook")
    fields.setdefault("schedule_config", {"expression": "0 * * * *"})
    return make_schedule(admin.id, admin.org_id, **fields)


def test_a_run_posts_signed_json_the_receiver_verifies(hook, admin):
    sid = schedule_for(admin, name="Hooked", prompt="Check the queue", timezone="Europe/Paris")
    run = fire_and_execute(sid)
    assert run.status == "SUCCESS", run.error
    assert hook.verified == [True]
    [request] = hook.requests
    assert request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"].startswith(f"taskplan:{sid}:")
    body = request.json
    assert body["prompt"] == "Check the queue"
    assert body["message"] == "[Scheduled] Check the queue"
    assert body["schedule"] == {"id": sid, "name": "Hooked", "timezone": "Europe/Paris"}
    assert body["run"]["id"] == run.id and body["run"]["attempt"] == 1
    assert body["run"]["scheduled_for"] == run.slot_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["session"]["id"] == run.session_id and body["session"]["messages"] == []
    assert SECRET not in request.raw.decode()
    reply = db.session.get(ChatSession, run.session_id).messages[-1]
    assert reply.content == "Hook got: Check the queue"
    assert reply.tool_calls == [{"name": "lookup", "arguments": {"q": "x"}}]
    assert (run.prompt_tokens, run.completion_tokens, run.cost) == (5, 3, pytest.approx(0.0012))


def test_a_wrong_secret_is_refused_by_the_receiver_and_shown_as_permission_denied(
    hook, admin, monkeypatch
):
    monkeypatch.setenv("WEBHOOK_TEST_SECRET", "not-the-receivers-secret")
    run = fire_and_execute(schedule_for(admin))
    assert hook.verified == [False]
    assert (run.status, run.reason, run.error) == ("FAILED", "agent_error", "Permission denied")


def test_a_continuous_session_sends_its_messages(hook, admin):
    sid = schedule_for(admin, session_config={"use_existing": True})
    fire_and_execute(sid)
    fire_and_execute(sid)
    messages = hook.requests[1].json["session"]["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "[Scheduled] Summarise yesterday"),
        ("assistant", "Hook got: Summarise yesterday"),
    ]
    assert all(m["created_at"].endswith("Z") for m in messages)


def test_skip_true_ends_the_run_skipped(hook, admin):
    hook.respond(Scripted(body={"skip": True}))
    run = fire_and_execute(schedule_for(admin))
    assert (run.status, run.reason) == ("SKIPPED", "agent_skip")


def test_a_reply_of_skip_text_ends_the_run_skipped(hook, admin):
    hook.respond(Scripted(body={"reply": "SKIP"}))
    assert fire_and_execute(schedule_for(admin)).status == "SKIPPED"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (Scripted(status=429, body={"error": "slow down"}), "API rate limit exceeded"),
        (Scripted(status=403, body={"error": "no"}), "Permission denied"),
        (Scripted(status=500, body={"error": "boom"}), "Agent endpoint answered HTTP 500: boom"),
        (Scripted(status=302, body=""), "Agent endpoint answered HTTP 302"),
        (Scripted(body="<html>", content_type="text/html"),
         'The webhook answered HTTP 200 with a body that is not JSON (expected {"reply": "..."})'),
        (Scripted(body=["a"]),
         'The webhook answered JSON that is not an object (expected {"reply": "..."})'),
        (Scripted(body={"answer": "x"}), 'The webhook answer has no "reply" text'),
    ],
)  # fmt: skip
def test_errors_map_to_clear_messages(hook, admin, answer, message):
    hook.respond(answer)
    run = fire_and_execute(schedule_for(admin))
    assert (run.status, run.reason, run.error) == ("FAILED", "agent_error", message)
    assert len(hook.requests) == 1


def test_the_schedule_timeout_bounds_the_post(hook, admin):
    hook.respond(Scripted(delay=3))
    run = fire_and_execute(schedule_for(admin, timeout_seconds=1))
    assert (run.status, run.reason, run.error) == ("FAILED", "timeout", "Timeout after 1s")


def test_an_unsigned_webhook_sends_no_signature(ctx, admin):
    receiver = WebhookReceiver()
    receiver.start()
    try:
        make_agent(admin.org_id, "open", "webhook", {"url": receiver.url})
        run = fire_and_execute(schedule_for(admin, agent="open"))
        assert run.status == "SUCCESS"
        assert "x-taskplan-signature" not in receiver.requests[0].headers
    finally:
        receiver.stop()


def test_a_missing_secret_variable_fails_without_sending_unsigned(hook, admin, monkeypatch):
    monkeypatch.delenv("WEBHOOK_TEST_SECRET")
    run = fire_and_execute(schedule_for(admin))
    assert run.error == (
        "Environment variable WEBHOOK_TEST_SECRET (the webhook secret) is not set on the worker"
    )
    assert hook.requests == []
