"""Agent endpoints for the tests: small real HTTP servers on 127.0.0.1 speaking the real
protocols, recording every request they get.

- ChatServer speaks OpenAI Chat Completions (`POST /v1/chat/completions`); by default it
  answers "Echo: <last user message>", and `respond(...)` scripts the next answers (a status,
  a body, a delay).
- WebhookReceiver takes Taskplan's webhook POSTs and verifies the HMAC-SHA256 signature
  the way docs/agents.md tells a receiver to, answering 401 when it does not match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    raw: bytes
    json: Any = None


@dataclass
class Scripted:
    status: int = 200
    body: Any = None  # dict → JSON; str → sent as text; None → the default answer
    delay: float = 0.0
    content_type: str = "application/json"


@dataclass
class _Server:
    requests: list[Recorded] = field(default_factory=list)
    script: deque = field(default_factory=deque)

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                recorded = Recorded(
                    "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, raw, body
                )
                owner.requests.append(recorded)
                status, payload, content_type, delay = owner.answer(recorded)
                if delay:
                    time.sleep(delay)
                data = payload if isinstance(payload, bytes) else payload.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.httpd.server_port

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def respond(self, *answers: Scripted) -> None:
        self.script.extend(answers)

    def answer(self, request: Recorded) -> tuple[int, str | bytes, str, float]:
        if self.script:
            s = self.script.popleft()
            if s.body is None:
                payload = json.dumps(self.default(request))
            elif isinstance(s.body, str | bytes):
                payload = s.body
            else:
                payload = json.dumps(s.body)
            return s.status, payload, s.content_type, s.delay
        return 200, json.dumps(self.default(request)), "application/json", 0.0

    def default(self, request: Recorded) -> dict:
        raise NotImplementedError


def completion(content: str | None, usage: dict | None = None, tool_calls=None) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "test-model",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": usage or {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


class ChatServer(_Server):
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def default(self, request: Recorded) -> dict:
        messages = (request.json or {}).get("messages") or [{"content": ""}]
        return completion(f"Echo: {messages[-1]['content']}")


class WebhookReceiver(_Server):
    def __init__(self, secret: str | None = None) -> None:
        super().__init__()
        self.secret = secret
        self.verified: list[bool] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def verify(self, request: Recorded) -> bool:
        """The receiver's check from docs/agents.md."""
        signature = request.headers.get("x-taskplan-signature", "")
        timestamp = request.headers.get("x-taskplan-timestamp", "")
        expected = hmac.new(
            self.secret.encode(), timestamp.encode() + b"." + request.raw, hashlib.sha256
        ).hexdigest()
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
        return fresh and hmac.compare_digest(signature, "sha256=" + expected)

    def answer(self, request: Recorded):
        if self.secret is not None:
            ok = self.verify(request)
            self.verified.append(ok)
            if not ok:
                return 401, json.dumps({"error": "bad signature"}), "application/json", 0.0
        return super().answer(request)

    def default(self, request: Recorded) -> dict:
        return {
            "reply": f"Hook got: {(request.json or {}).get('prompt')}",
            "tool_calls": [{"name": "lookup", "arguments": {"q": "x"}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "cost": 0.0012},
        }


# ---- fixtures and helpers shared by the agent tests (import them into a test module)

import pytest  # noqa: E402


@pytest.fixture
def chat_server():
    server = ChatServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def make_agent(org_id: int, name: str, kind: str, config: dict, user_id: int | None = None):
    """An agent made through the real service (validation, audit)."""
    from app.agents_admin import service
    from app.extensions import db
    from app.models import User

    user = db.session.get(User, user_id) if user_id else None
    return service.create_agent(org_id, user, {"name": name, "kind": kind, "config": config}).id


def fire_and_execute(schedule_id: int, when=None):
    """Fire the schedule's slot (or `when`, set as its next slot) and run the job in-process,
    as a worker would; returns the run, reloaded."""
    from datetime import timedelta

    from app.extensions import db
    from app.models import Run, Schedule
    from app.runs import engine
    from tests.engine_helpers import execute, runs_of

    schedule = db.session.get(Schedule, schedule_id)
    if when is not None:
        schedule.next_run_at = when
        db.session.commit()
    slot = schedule.next_run_at
    before = {r.id for r in runs_of(schedule_id)}
    engine.fire_due([schedule_id], slot + timedelta(milliseconds=20))
    [run] = [r for r in runs_of(schedule_id) if r.id not in before]
    execute(run.id)
    return db.session.get(Run, run.id, populate_existing=True)
