"""Each Procfile line starts against DATABASE_URL, REDIS_URL and PORT, and stays up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis

from tests.conftest import DB_KIND
from tests.services import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.integration


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def fresh_database(database_url: str, tmp_path: Path) -> str:
    """A new, empty database, in the form a platform hands out (`postgres://` for PostgreSQL)."""
    if DB_KIND != "postgresql":
        return f"sqlite:///{tmp_path / 'procs.db'}"
    import psycopg

    server = database_url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
    name = f"procs_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}".replace("postgresql://", "postgres://")


def get(url: str, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_each_procfile_process_starts_and_stays_up(database_url, redis_url, tmp_path):
    port = free_port()
    prefix = f"procs{os.getpid()}"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "DATABASE_URL": fresh_database(database_url, tmp_path),
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "SECRET_KEY": "procfile-test",
        "TASKPLAN_REDIS_PREFIX": prefix,
        "TASKPLAN_WORKER_HEARTBEAT": "1",
        "TASKPLAN_SCHEDULER_HEARTBEAT": "1",
        "WEB_CONCURRENCY": "1",
        "TASKPLAN_WORKER_PROCESSES": "2",
    }
    env.pop("FLASK_DEBUG", None)
    env.pop("TASKPLAN_LOCAL", None)

    def sh(name: str) -> subprocess.Popen:
        # Output goes to a file: an unread pipe would block a chatty process.
        with open(tmp_path / f"{name}.log", "w") as log:
            return subprocess.Popen(
                ["bash", "-c", processes[name]], cwd=ROOT, env=env, start_new_session=True,
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def log(name: str) -> str:
        return (tmp_path / f"{name}.log").read_text()

    processes = procfile()
    assert set(processes) == {"release", "web", "worker", "scheduler"}
    assert sh("release").wait(timeout=120) == 0, log("release")

    cli = "flask --app wsgi "
    made = subprocess.run(
        ["bash", "-c", cli + "users create ops@example.com --password longenough --org Ops && "
         + cli + "tokens create ops@example.com"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    headers = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}

    r = redis.Redis.from_url(redis_url)
    running = {name: sh(name) for name in ("web", "worker", "scheduler")}
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: get(f"{base}/healthz")[0] == 200, 60, "the web process")
        wait_for(
            lambda: (
                len(r.keys(f"{prefix}:heartbeat:worker:*")) == 2
                and r.keys(f"{prefix}:heartbeat:scheduler:*")
            ),
            60,
            "the two workers' and the scheduler's heartbeats",
        )
        time.sleep(3)  # "stays up": still alive a few heartbeats later
        for name, process in running.items():
            assert process.poll() is None, f"{name} exited: {log(name)}"
        status, health = get(f"{base}/api/v1/health", headers)
        assert status == 200, health
        assert health["database"]["ok"] and health["redis"]["ok"]
        # The one `worker` command runs TASKPLAN_WORKER_PROCESSES workers.
        assert len(health["workers"]) == 2 and health["scheduler"]["alive"] is True
        assert health["scheduler"]["instances"][0]["role"] == "leader"
    finally:
        for process in running.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for name, process in running.items():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                pytest.fail(f"{name} did not stop on SIGTERM")
    # A clean stop removes the heartbeats at once instead of letting them expire.
    assert not r.keys(f"{prefix}:heartbeat:*")
    r.close()
