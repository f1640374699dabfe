"""The engine end to end: the Procfile's worker and scheduler commands as real processes
against a real Redis and the test database, with seconds-level schedules.

Each test starts its own processes and stops them; what they did is read back from the
database, which is the truth (SPEC §1).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from app.extensions import db, redis_client
from app.models import Run, Schedule
from app.schedules import service
from app.scheduling import bridge
from tests.engine_helpers import make_schedule, runs_of
from tests.test_processes import procfile

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.integration

EVERY_2S = {"expression": "*/2 * * * * *"}


class Cluster:
    """Worker and scheduler processes started from the Procfile's commands."""

    def __init__(self, database_url: str, redis_url: str, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.commands = procfile()
        self.env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "engine-test",
            "TASKPLAN_REDIS_PREFIX": "taskplan",
            "TASKPLAN_WORKER_HEARTBEAT": "1",
            "TASKPLAN_SCHEDULER_HEARTBEAT": "1",
            # One run at a time per `worker` command, so a test's workers are the ones it
            # starts (the pool has its own test).
            "TASKPLAN_WORKER_PROCESSES": "1",
        }
        self.env.pop("FLASK_DEBUG", None)
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, kind: str, label: str) -> subprocess.Popen:
        # Output goes to a file: an unread pipe would block a chatty process.
        with open(self.tmp_path / f"{label}.log", "a") as log:
            proc = subprocess.Popen(
                ["bash", "-c", f"exec {self.commands[kind]}"], cwd=ROOT, env=self.env,
                start_new_session=True, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.procs[label] = proc
        return proc

    def stop(self, label: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(label)
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def stop_all(self) -> None:
        for label in list(self.procs):
            self.stop(label)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.tmp_path.glob("*.log"))
        )


@pytest.fixture
def cluster(app, database_url, redis_url, tmp_path, request):
    c = Cluster(database_url, redis_url, tmp_path)
    yield c
    c.stop_all()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print(c.logs())


def wait_until(check, timeout: float, what: str, cluster: Cluster | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{cluster.logs() if cluster else ''}")


def workers_up(n: int) -> bool:
    return len(list(redis_client().scan_iter("taskplan:heartbeat:worker:*"))) >= n


def leader_up() -> bool:
    return bool(redis_client().exists("taskplan:scheduler:leader"))


def scheduled_slots(schedule_id: int) -> list:
    return [r.slot_at for r in runs_of(schedule_id) if r.slot_at is not None and r.attempt == 1]


def assert_every_slot_once(slots: list, step: timedelta) -> None:
    ordered = sorted(slots)
    assert len(ordered) == len(set(ordered)), "a slot has two runs"
    gaps = [b - a for a, b in zip(ordered, ordered[1:], strict=False) if b - a != step]
    assert not gaps, f"slots are not consecutive: {gaps}"


def start_worker_and_scheduler(cluster) -> None:
    """One worker and one scheduler, up and leading (inside the app context)."""
    cluster.start("worker", "worker")
    cluster.start("scheduler", "scheduler")
    wait_until(lambda: workers_up(1) and leader_up(), 60, "processes", cluster)


def test_each_slot_runs_once_with_two_schedulers_and_two_workers_and_a_standby_takes_over(
    app, admin, cluster
):
    schedulers = {cluster.start("scheduler", label).pid: label for label in ("sched-a", "sched-b")}
    for label in ("worker-a", "worker-b"):
        cluster.start("worker", label)
    with app.app_context():
        wait_until(lambda: workers_up(2) and leader_up(), 60, "processes", cluster)
        sid = make_schedule(admin.id, admin.org_id, schedule_config=EVERY_2S)
        wait_until(
            lambda: sum(r.status == "SUCCESS" for r in runs_of(sid)) >= 5, 30, "5 runs", cluster
        )
        runs = runs_of(sid)
        assert {r.trigger for r in runs} == {"scheduled"}
        assert_every_slot_once(scheduled_slots(sid), timedelta(seconds=2))
        done = [r for r in runs if r.status == "SUCCESS"]
        # Fired at its second: the lag is wake-up plus dispatch, not a poll interval (stock
        # rq-scheduler polls every 60 s). A sanity bound only; bench/ measures the figure.
        lags = sorted((r.started_at - r.scheduled_for).total_seconds() for r in done)
        assert lags[-1] < 2, lags

        # kill -9 the leader: it cannot release its lease, so the standby must wait it out.
        leader = redis_client().get("taskplan:scheduler:leader").decode()
        victim = schedulers[int(leader.rsplit(".", 1)[1])]
        os.killpg(cluster.procs[victim].pid, signal.SIGKILL)
        cluster.procs.pop(victim).wait(timeout=5)
        killed_at, last_slot = time.monotonic(), max(scheduled_slots(sid))
        wait_until(
            lambda: (
                (redis_client().get("taskplan:scheduler:leader") or b"").decode()
                not in ("", leader)
            ),
            40,
            "the standby to lead",
            cluster,
        )
        assert time.monotonic() - killed_at < 30, "the standby took over after 30 s"
        wait_until(
            lambda: any(
                r.status == "SUCCESS" and r.slot_at > last_slot + timedelta(seconds=12)
                for r in runs_of(sid)
            ),
            40,
            "runs under the new leader",
            cluster,
        )
        # The slots of the takeover gap are accounted for (catch-up / MISSED), none twice.
        assert_every_slot_once(scheduled_slots(sid), timedelta(seconds=2))


def assert_worker_lost(run_id: int, cluster: Cluster) -> None:
    """The run of a killed worker ends FAILED `worker_lost` within 30 s."""
    lost = wait_until(
        lambda: (
            db.session.get(Run, run_id, populate_existing=True).status == "FAILED"
            and db.session.get(Run, run_id)
        ),
        30,
        "worker_lost",
        cluster,
    )
    assert lost.reason == "worker_lost"


def test_a_killed_worker_mid_run_is_worker_lost_and_the_next_slot_runs(app, admin, cluster):
    cluster.start("scheduler", "scheduler")
    victim = cluster.start("worker", "worker-victim")
    with app.app_context():
        wait_until(lambda: workers_up(1) and leader_up(), 60, "processes", cluster)
        sid = make_schedule(
            admin.id, admin.org_id, schedule_config=EVERY_2S, prompt="[demo:sleep=60] slow"
        )
        running = wait_until(
            lambda: [r for r in runs_of(sid) if r.status == "RUNNING"], 20, "a RUNNING run"
        )[0]
        cluster.start("worker", "worker-spare")
        os.killpg(victim.pid, signal.SIGKILL)
        cluster.procs.pop("worker-victim").wait(timeout=5)
        assert_worker_lost(running.id, cluster)
        # Slots that came due meanwhile were skipped (overlap skip) ...
        assert any((r.status, r.reason) == ("SKIPPED", "overlap") for r in runs_of(sid)), (
            "no SKIPPED record while the slow run held the lock"
        )
        # ... and once the lock is released, the next slot runs on the spare worker.
        wait_until(
            lambda: any(
                r.id > running.id and r.status == "RUNNING" and r.worker != running.worker
                for r in runs_of(sid)
            ),
            20,
            "the next slot running",
            cluster,
        )
        assert_every_slot_once(scheduled_slots(sid), timedelta(seconds=2))


def worker_names() -> set[str]:
    prefix = "taskplan:heartbeat:worker:"
    return {k.decode()[len(prefix) :] for k in redis_client().scan_iter(prefix + "*")}


def test_one_worker_command_runs_a_pool_that_replaces_a_killed_worker(app, admin, cluster):
    cluster.env["TASKPLAN_WORKER_PROCESSES"] = "2"
    cluster.start("scheduler", "scheduler")
    pool = cluster.start("worker", "worker-pool")
    with app.app_context():
        wait_until(lambda: len(worker_names()) == 2 and leader_up(), 60, "a pool of 2", cluster)
        first_two = worker_names()
        sid = make_schedule(
            admin.id, admin.org_id, schedule_config=EVERY_2S, prompt="[demo:sleep=60] slow",
            overlap_policy="allow",
        )  # fmt: skip
        # Two runs at once, one on each of the pool's workers.

        def running_on_two_workers():
            rows = [r for r in runs_of(sid) if r.status == "RUNNING"]
            return rows if len({r.worker for r in rows}) == 2 else None

        running = wait_until(running_on_two_workers, 20, "two runs on two workers", cluster)
        assert {r.worker for r in running} == first_two
        victim = running[0]
        os.kill(int(victim.worker.rsplit(".", 1)[1]), signal.SIGKILL)
        assert_worker_lost(victim.id, cluster)
        # The pool started a worker in the dead one's place, and it takes runs.
        assert pool.poll() is None, "the pool's parent process exited"
        replaced = wait_until(
            lambda: (
                len(names := worker_names()) == 2 and victim.worker not in names and names
            ),
            30,
            "a replacement worker",
            cluster,
        )  # fmt: skip
        (newcomer,) = replaced - first_two
        wait_until(
            lambda: any(r.worker == newcomer for r in runs_of(sid)),
            20,
            "a run on the replacement worker",
            cluster,
        )
        assert_every_slot_once(scheduled_slots(sid), timedelta(seconds=2))


def test_flushall_recovers_and_a_stopped_scheduler_catches_up_once(app, admin, cluster):
    with app.app_context():
        start_worker_and_scheduler(cluster)
        sid = make_schedule(admin.id, admin.org_id, schedule_config=EVERY_2S)
        wait_until(lambda: len(runs_of(sid)) >= 2, 20, "first runs", cluster)

        redis_client().flushall()
        flushed_at = time.monotonic()
        count = len(runs_of(sid))
        wait_until(lambda: len(runs_of(sid)) >= count + 2, 60, "runs after FLUSHALL", cluster)
        assert time.monotonic() - flushed_at < 60
        assert redis_client().zscore(bridge.fires_key(), bridge.fire_member(sid)) is not None

        cluster.stop("scheduler")
        stopped = time.monotonic()
        time.sleep(9)  # four or five slots come due with no scheduler
        cluster.start("scheduler", "scheduler-again")
        wait_until(
            lambda: any(r.trigger == "catchup" for r in runs_of(sid)), 30, "a catchup run", cluster
        )
        assert time.monotonic() - stopped < 40
        runs = runs_of(sid)
        catchups = [r for r in runs if r.trigger == "catchup"]
        missed = [r for r in runs if r.status == "MISSED"]
        assert len(catchups) == 1
        assert len(missed) >= 2 and {r.reason for r in missed} == {"scheduler_down"}
        assert all(m.slot_at < catchups[0].slot_at for m in missed)
        wait_until(
            lambda: any(r.slot_at > catchups[0].slot_at for r in runs_of(sid) if r.slot_at),
            10,
            "the slot after the catch-up",
        )
        # Every slot since the schedule was created has exactly one record, none lost.
        assert_every_slot_once(scheduled_slots(sid), timedelta(seconds=2))


def test_timeout_then_retries_then_a_once_schedule_completes(app, admin, cluster):
    with app.app_context():
        start_worker_and_scheduler(cluster)
        sid = make_schedule(
            admin.id, admin.org_id, schedule_type="ONCE", schedule_config={},
            prompt="[demo:sleep=10] too slow", timeout_seconds=1, max_retries=1,
            retry_delay_seconds=1,
        )  # fmt: skip
        wait_until(
            lambda: db.session.get(Schedule, sid, populate_existing=True).completed_at,
            30,
            "the ONCE schedule to complete",
            cluster,
        )
        runs = runs_of(sid)
        assert [(r.attempt, r.trigger, r.status, r.reason) for r in runs] == [
            (1, "scheduled", "FAILED", "timeout"),
            (2, "retry", "FAILED", "timeout"),
        ]
        assert {r.error for r in runs} == {"Timeout after 1s"}
        assert runs[1].retry_of_id == runs[0].id and runs[1].slot_at == runs[0].slot_at
        assert runs[1].started_at - runs[0].completed_at >= timedelta(seconds=1)
        assert all(900 <= r.duration_ms < 3000 for r in runs)
        schedule = db.session.get(Schedule, sid)
        assert not schedule.enabled and service.status_of(schedule, False) == "Completed"


def test_delete_leaves_nothing_of_the_schedule_in_redis(app, admin, cluster):
    with app.app_context():
        start_worker_and_scheduler(cluster)
        sid = make_schedule(admin.id, admin.org_id, schedule_config=EVERY_2S, name="Doomed")
        wait_until(lambda: any(r.status == "SUCCESS" for r in runs_of(sid)), 20, "a run", cluster)
        service.delete_schedule(db.session.get(Schedule, sid), None, "Doomed")
        time.sleep(3)  # the scheduler would have re-armed a leftover by now
        r = redis_client()
        keys = [k.decode() for k in r.scan_iter()]
        assert not [k for k in keys if f"fire-{sid}" in k or f":{sid}" in k], keys
        assert r.zrange(bridge.fires_key(), 0, -1) == []
