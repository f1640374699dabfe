"""Secrets are referenced by environment-variable name and never stored, logged, shown or sent
to Redis (SPEC §10): runs through every kind that uses one, successes and errors, then a
search of the whole database, all of Redis, the logs and the API's and pages' answers."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from app.extensions import db, redis_client
from app.models import Run
from tests import agent_servers
from tests.agent_servers import Scripted, WebhookReceiver, completion, fire_and_execute
from tests.conftest import csrf_token
from tests.engine_helpers import make_schedule

chat_server = agent_servers.chat_server  # fixture

API_KEY = "sk-proj-Zq81xXbT4ab0c9Lm2Pw7"
HOOK_SECRET = "whsec_Yt6rQ0pL3nV8kD2sA5fG"
ORCH_KEY = "sk-orch-Hh47gTq2Vv9Rr1Ee6Ww3"
SECRETS = (API_KEY, HOOK_SECRET, ORCH_KEY)


def database_text() -> str:
    """Every value of every row of every table, as text."""
    chunks = []
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            for row in conn.execute(text(f'SELECT * FROM "{table.name}"')):
                chunks.append(repr(tuple(row)))
    return "\n".join(chunks)


def redis_text() -> str:
    r = redis_client()
    chunks = []
    for key in r.scan_iter("*"):
        kind = r.type(key).decode()
        chunks.append(repr(key))
        if kind == "string":
            chunks.append(repr(r.get(key)))
        elif kind == "list":
            chunks.append(repr(r.lrange(key, 0, -1)))
        elif kind == "hash":
            chunks.append(repr(r.hgetall(key)))
        elif kind == "set":
            chunks.append(repr(r.smembers(key)))
        elif kind == "zset":
            chunks.append(repr(r.zrange(key, 0, -1, withscores=True)))
        elif kind == "stream":
            chunks.append(repr(r.xrange(key)))
    return "\n".join(chunks)


@pytest.fixture
def secrets_env(monkeypatch):
    monkeypatch.setenv("OPENAI_SECRET_TEST", API_KEY)
    monkeypatch.setenv("WEBHOOK_SECRET_TEST", HOOK_SECRET)
    monkeypatch.setenv("AGENT_API_KEY", ORCH_KEY)


def test_secrets_appear_nowhere(app, admin, chat_server, secrets_env, token_for, signed_in, caplog):
    caplog.set_level(logging.DEBUG)
    hook = WebhookReceiver(secret=HOOK_SECRET)
    hook.start()
    api, headers = app.test_client(), token_for(admin)
    try:
        app.config.update(
            AGENT_CONFIGURED=True, AGENT_BASE_URL=chat_server.base_url, AGENT_MODEL="orch"
        )
        for body in (
            {"name": "llm", "kind": "openai", "config": {
                "base_url": chat_server.base_url, "model": "m",
                "api_key_env": "OPENAI_SECRET_TEST"}},
            {"name": "hook", "kind": "webhook",
             "config": {"url": hook.url, "secret_env": "WEBHOOK_SECRET_TEST"}},
        ):  # fmt: skip
            assert api.post("/api/v1/agents", json=body, headers=headers).status_code == 201
        # A literal key pasted where a name belongs is refused and not kept.
        pasted = api.post("/api/v1/agents", headers=headers, json={
            "name": "oops", "kind": "openai",
            "config": {"base_url": chat_server.base_url, "model": "m", "api_key_env": API_KEY},
        })  # fmt: skip
        assert pasted.status_code == 422

        chat_server.respond(
            Scripted(body=completion("fine")),
            Scripted(status=401, body={"error": {"message": f"Incorrect API key {API_KEY}"}}),
            Scripted(status=500, body={"error": {"message": f"upstream rejected {API_KEY}"}}),
        )
        run_ids = []
        with app.app_context():
            for name, agent, retries in (("a", "llm", 0), ("b", "llm", 0), ("c", "llm", 0),
                                         ("d", "hook", 0), ("e", "orchestrator", 0)):  # fmt: skip
                sid = make_schedule(
                    admin.id, admin.org_id, name=name, agent=agent, max_retries=retries,
                    schedule_config={"expression": "0 * * * *"},
                )  # fmt: skip
                run_ids.append(fire_and_execute(sid).id)
            runs = [db.session.get(Run, rid) for rid in run_ids]
            assert [r.status for r in runs] == ["SUCCESS", "FAILED", "FAILED", "SUCCESS", "SUCCESS"]
            assert runs[1].error == "Permission denied"
            assert runs[2].error == "Agent endpoint answered HTTP 500: upstream rejected [redacted]"
            stored, queued = database_text(), redis_text()
        # The secrets really were used: they reached the endpoints.
        auth = [r.headers.get("authorization") for r in chat_server.requests]
        assert f"Bearer {API_KEY}" in auth and f"Bearer {ORCH_KEY}" in auth
        assert hook.verified == [True]

        answers = [
            api.get("/api/v1/agents", headers=headers).get_data(as_text=True),
            *[api.get(f"/api/v1/runs/{rid}", headers=headers).get_data(as_text=True)
              for rid in run_ids],
            *[api.get(f"/api/v1/sessions/{r.session_id}", headers=headers).get_data(as_text=True)
              for r in runs],
            pasted.get_data(as_text=True),
        ]  # fmt: skip
        page = signed_in(admin)
        answers.append(page.get("/agents").get_data(as_text=True))
        answers.append(page.get("/agents/new").get_data(as_text=True))
        # The form refuses a pasted key without echoing it back into the page.
        refused = page.post("/agents", data={
            "csrf_token": csrf_token(page, "/agents/new"), "name": "oops2", "kind": "openai",
            "base_url": chat_server.base_url, "model": "m", "api_key_env": API_KEY})  # fmt: skip
        assert refused.status_code == 422
        answers.append(refused.get_data(as_text=True))
    finally:
        hook.stop()

    assert "OPENAI_SECRET_TEST" in stored and "WEBHOOK_SECRET_TEST" in stored
    logs = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records) + caplog.text
    assert "Sending HTTP Request" in logs  # the HTTP client's debug logging was captured
    for secret in SECRETS:
        assert secret not in stored, "a secret is in the database"
        assert secret not in queued, "a secret is in Redis"
        assert secret not in logs, "a secret is in the logs"
        for answer in answers:
            assert secret not in answer, "a secret is in an answer"
