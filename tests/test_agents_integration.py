"""A real worker and scheduler (the Procfile's commands) run a schedule against a local Chat
Completions server: the reply lands in the session, and the key stays out of the logs."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import ChatSession
from tests import agent_servers
from tests.agent_servers import make_agent
from tests.engine_helpers import make_schedule, runs_of
from tests.test_integration_engine import cluster, start_worker_and_scheduler, wait_until

pytestmark = pytest.mark.integration
chat_server, cluster = agent_servers.chat_server, cluster  # fixtures

KEY = "sk-int-Qm3vX8pL1zR6tY0w"


def test_a_worker_runs_a_schedule_against_the_endpoint_and_keeps_the_reply(
    app, admin, chat_server, cluster, monkeypatch
):
    cluster.env["OPENAI_INT_KEY"] = KEY  # the worker's environment, not the database
    monkeypatch.setenv("OPENAI_INT_KEY", KEY)
    with app.app_context():
        start_worker_and_scheduler(cluster)
        make_agent(admin.org_id, "llm", "openai", {
            "base_url": chat_server.base_url, "model": "int-model",
            "api_key_env": "OPENAI_INT_KEY"})  # fmt: skip
        sid = make_schedule(
            admin.id, admin.org_id, name="Now", agent="llm", prompt="Report for {{ today }}",
            schedule_type="ONCE", schedule_config={}, timezone="Asia/Kolkata",
        )  # fmt: skip
        [run] = wait_until(
            lambda: [r for r in runs_of(sid) if r.status in ("SUCCESS", "FAILED")],
            20, "the run to end", cluster,
        )  # fmt: skip
        assert run.status == "SUCCESS", run.error
        assert (run.prompt_tokens, run.completion_tokens) == (11, 7)
        messages = db.session.get(ChatSession, run.session_id).messages
        assert [m.role for m in messages] == ["user", "assistant"]
        assert messages[1].content == f"Echo: {messages[0].content}"
        assert messages[0].content.startswith("[Scheduled] Report for 20")
    [request] = chat_server.requests
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json["model"] == "int-model"
    assert KEY not in cluster.logs()
