"""The `openai` kind against a local server speaking Chat Completions: the request it sends,
the history of continuous sessions, every error mapping, SKIP, usage, the timeout."""

from __future__ import annotations

import socket

import pytest

from app.extensions import db
from app.models import ChatSession, Run
from app.runs import engine
from app.schedules import service
from tests import agent_servers
from tests.agent_servers import Scripted, completion, fire_and_execute, make_agent
from tests.engine_helpers import execute, make_schedule

chat_server, ctx = agent_servers.chat_server, agent_servers.ctx  # fixtures

KEY = "sk-test-3f9a1c77e2b94d0c8e5f"


@pytest.fixture
def llm(ctx, admin, chat_server, monkeypatch):
    """An `openai` agent named "llm" pointing at the local server, its key in OPENAI_TEST_KEY."""
    monkeypatch.setenv("OPENAI_TEST_KEY", KEY)
    make_agent(
        admin.org_id, "llm", "openai",
        {"base_url": chat_server.base_url, "model": "test-model",
         "system_prompt": "You are terse.", "api_key_env": "OPENAI_TEST_KEY"},
    )  # fmt: skip
    return chat_server


def schedule_for(admin, **fields) -> int:
    fields.setdefault("agent", "llm")
    fields.setdefault("schedule_config", {"expression": "0 * * * *"})
    return make_schedule(admin.id, admin.org_id, **fields)


def test_a_run_sends_one_chat_completion_with_model_messages_key_and_idempotency_key(llm, admin):
    sid = schedule_for(admin, name="Digest", prompt="Summarise the news")
    run = fire_and_execute(sid)
    assert run.status == "SUCCESS", run.error
    [request] = llm.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == (
        f"taskplan:{sid}:{run.slot_at.strftime('%Y-%m-%dT%H:%M:%SZ')}:1"
    )
    assert request.headers["x-stainless-retry-count"] == "0"
    assert "openai-organization" not in request.headers
    assert request.json["model"] == "test-model"
    assert request.json["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "[Scheduled] Summarise the news"},
    ]
    session = db.session.get(ChatSession, run.session_id)
    assert [(m.role, m.content, m.run_id) for m in session.messages] == [
        ("user", "[Scheduled] Summarise the news", run.id),
        ("assistant", "Echo: [Scheduled] Summarise the news", run.id),
    ]
    assert session.name.startswith("Scheduled: Digest - ")


def test_usage_and_tool_calls_are_kept_with_the_run_and_the_reply(llm, admin):
    call = {"id": "call_1", "type": "function",
            "function": {"name": "search", "arguments": '{"q": "news"}'}}  # fmt: skip
    llm.respond(Scripted(body=completion(
        "Found it", {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
                     "cost": 0.0042}, [call],
    )))  # fmt: skip
    run = fire_and_execute(schedule_for(admin))
    assert (run.status, run.prompt_tokens, run.completion_tokens, run.cost) == (
        "SUCCESS", 120, 30, pytest.approx(0.0042),
    )  # fmt: skip
    reply = db.session.get(ChatSession, run.session_id).messages[-1]
    assert reply.content == "Found it"
    assert reply.tool_calls == [call]


def test_a_manual_run_is_labelled_run_now(llm, admin):
    sid = schedule_for(admin)
    run = engine.run_now(db.session.get(engine.Schedule, sid))
    execute(run.id)
    assert llm.requests[0].json["messages"][-1]["content"].startswith("[Run now] ")
    assert llm.requests[0].headers["idempotency-key"].endswith(":1")


def test_a_continuous_session_sends_its_earlier_messages_newest_kept(llm, admin, app):
    app.config["AGENT_HISTORY_MESSAGES"] = 3
    sid = schedule_for(admin, prompt="Step", session_config={"use_existing": True})
    first = fire_and_execute(sid)
    second = fire_and_execute(sid)
    third = fire_and_execute(sid)
    assert first.session_id == second.session_id == third.session_id
    sent = [[m["content"] for m in r.json["messages"]] for r in llm.requests]
    assert sent[0] == ["You are terse.", "[Scheduled] Step"]
    assert sent[1] == ["You are terse.", "[Scheduled] Step", "Echo: [Scheduled] Step",
                       "[Scheduled] Step"]  # fmt: skip
    # Four earlier messages exist by the third run; the cap of 3 keeps the newest three.
    roles = [m["role"] for m in llm.requests[2].json["messages"]]
    assert roles == ["system", "assistant", "user", "assistant", "user"]
    assert len(db.session.get(ChatSession, third.session_id).messages) == 6


def test_a_new_session_per_run_sends_no_history(llm, admin):
    sid = schedule_for(admin)
    first, second = fire_and_execute(sid), fire_and_execute(sid)
    assert first.session_id != second.session_id
    assert len(llm.requests[1].json["messages"]) == 2


@pytest.mark.parametrize("answer", ["SKIP", "  SKIP\n", '{"skip": true}'])
def test_an_agent_answering_skip_ends_the_run_skipped(llm, admin, answer):
    llm.respond(Scripted(body=completion(answer)))
    run = fire_and_execute(schedule_for(admin))
    assert (run.status, run.reason, run.error) == ("SKIPPED", "agent_skip", None)
    assert run.prompt_tokens == 11


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, {"error": {"message": f"Incorrect API key provided: {KEY[:8]}***"}},
         "Permission denied"),
        (403, {"error": {"message": "forbidden"}}, "Permission denied"),
        (429, {"error": {"message": "Rate limit reached"}}, "API rate limit exceeded"),
        (500, {"error": {"message": "The server had an error"}},
         "Agent endpoint answered HTTP 500: The server had an error"),
        (404, {"error": {"message": "The model `nope` does not exist"}},
         "Agent endpoint answered HTTP 404: The model `nope` does not exist"),
        (502, "<html>bad gateway</html>", "Agent endpoint answered HTTP 502"),
    ],
)  # fmt: skip
def test_http_errors_map_to_the_messages_users_know_with_one_request(
    llm, admin, status, body, message
):
    llm.respond(Scripted(status=status, body=body))
    run = fire_and_execute(schedule_for(admin, max_retries=0))
    assert (run.status, run.reason, run.error) == ("FAILED", "agent_error", message)
    assert len(llm.requests) == 1  # the SDK's own retries are off
    assert db.session.get(ChatSession, run.session_id).messages[-1].role == "user"


def test_a_failed_attempt_is_retried_by_the_schedule_with_a_new_idempotency_key(llm, admin):
    llm.respond(Scripted(status=503, body={"error": {"message": "overloaded"}}))
    sid = schedule_for(admin, max_retries=1, retry_delay_seconds=0)
    first = fire_and_execute(sid)
    assert first.status == "FAILED"
    retry = db.session.execute(db.select(Run).where(Run.retry_of_id == first.id)).scalar_one()
    execute(retry.id)
    retry = db.session.get(Run, retry.id, populate_existing=True)
    assert retry.status == "SUCCESS" and retry.attempt == 2
    keys = [r.headers["idempotency-key"] for r in llm.requests]
    slot = first.slot_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert keys == [f"taskplan:{sid}:{slot}:1", f"taskplan:{sid}:{slot}:2"]


def test_the_schedule_timeout_bounds_the_call(llm, admin):
    llm.respond(Scripted(delay=3))
    run = fire_and_execute(schedule_for(admin, timeout_seconds=1))
    assert (run.status, run.reason, run.error) == ("FAILED", "timeout", "Timeout after 1s")
    assert run.duration_ms < 2500


def test_an_unreachable_endpoint_fails_with_where_it_tried(ctx, admin):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    make_agent(admin.org_id, "llm", "openai", {"base_url": dead, "model": "m"})
    run = fire_and_execute(schedule_for(admin))
    assert run.status == "FAILED" and run.reason == "agent_error"
    assert run.error.startswith(f"Could not reach the agent at {dead}: ")


def test_a_reply_that_is_not_a_completion_is_a_clear_error(llm, admin):
    llm.respond(Scripted(body={"choices": []}))
    run = fire_and_execute(schedule_for(admin))
    assert (run.status, run.error) == (
        "FAILED", "The agent endpoint sent a completion without a message"
    )  # fmt: skip


def test_a_missing_key_variable_fails_the_run_without_calling(llm, admin, monkeypatch):
    monkeypatch.delenv("OPENAI_TEST_KEY")
    run = fire_and_execute(schedule_for(admin))
    assert (run.status, run.error) == (
        "FAILED", "Environment variable OPENAI_TEST_KEY (the API key) is not set on the worker"
    )  # fmt: skip
    assert llm.requests == []


def test_without_a_key_variable_no_authorization_is_sent_even_with_openai_api_key_set(
    ctx, admin, chat_server, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ambient-must-not-leak")
    make_agent(admin.org_id, "local", "openai", {"base_url": chat_server.base_url, "model": "m"})
    run = fire_and_execute(schedule_for(admin, agent="local"))
    assert run.status == "SUCCESS"
    assert "authorization" not in chat_server.requests[0].headers


def test_a_run_of_a_missing_agent_fails_agent_not_found(llm, admin):
    sid = schedule_for(admin)
    db.session.get(engine.Schedule, sid).agent_name = "gone"
    db.session.commit()
    run = fire_and_execute(sid)
    assert (run.status, run.reason, run.error) == (
        "FAILED", "agent_not_found", "Agent 'gone' not found"
    )  # fmt: skip


def test_the_orchestrator_comes_from_the_agent_variables(ctx, admin, chat_server, monkeypatch):
    monkeypatch.setenv("AGENT_API_KEY", KEY)
    ctx.config.update(
        AGENT_CONFIGURED=True, AGENT_BASE_URL=chat_server.base_url, AGENT_MODEL="orch-model"
    )
    run = fire_and_execute(make_schedule(admin.id, admin.org_id, prompt="Hello"))
    assert run.status == "SUCCESS", run.error
    [request] = chat_server.requests
    assert request.json["model"] == "orch-model"
    assert request.headers["authorization"] == f"Bearer {KEY}"


def test_the_orchestrator_is_the_demo_when_nothing_is_configured(ctx, admin):
    run = fire_and_execute(make_schedule(admin.id, admin.org_id, prompt="Hello"))
    assert run.status == "SUCCESS"
    reply = db.session.get(ChatSession, run.session_id).messages[-1].content
    assert reply.startswith("This is the demo agent")


def test_an_unknown_agent_is_refused_when_the_schedule_is_saved(ctx, admin):
    from app.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        schedule_for(admin, agent="nobody")
    assert refused.value.fields == {"agent": ["Agent 'nobody' not found."]}
    assert service.DEFAULT_AGENT == "orchestrator"
