"""Fire lag, burst and dispatch overhead of the execution engine, next to stock rq-scheduler.

In one run, on a throwaway Redis and a fresh database (SQLite by default; PostgreSQL with
--postgresql), with the Procfile's real `scheduler` and `worker` processes:

1. fire lag (started_at - scheduled_for) with N enabled schedules whose slots are spread
   evenly over each minute (cron with seconds), measured over one minute;
2. a burst: N schedules due in the same second; time until every slot is queued, and
   duplicates (slots with more than one run);
3. dispatch overhead: queue → RUNNING per run (enqueued_at → started_at) from (1), and a
   no-op job through RQ's fork-per-job Worker and through SimpleWorker (what ours uses);
4. stock `rqscheduler --interval 1` with a stock `rq worker`: the same N jobs spread over
   a minute, lag = the moment the job ran - its scheduled time;
5. the idle scheduler: N enabled schedules none of which is due for a year, the scheduler
   alone for --idle-seconds: its CPU share and the Redis commands it sends per second.

Not a test: it only prints figures (SPEC §11).

    .venv/bin/python bench/bench_fire_lag.py [--schedules 1000] [--workers 8] [--postgresql]
        [--seconds 60] [--idle-seconds 30] [--skip-stock] [--skip-burst]
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402

from tests import services  # noqa: E402

BIN = Path(sys.executable).parent


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def ms(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"p50 {pct(values, 50) * 1000:7.1f} ms   p95 {pct(values, 95) * 1000:7.1f} ms   "
        f"p99 {pct(values, 99) * 1000:7.1f} ms   max {max(values) * 1000:7.1f} ms   n={len(values)}"
    )


def start(cmd: str, env: dict, log: Path) -> subprocess.Popen:
    with open(log, "a") as out:
        return subprocess.Popen(
            ["bash", "-c", f"exec {cmd}"], cwd=ROOT, env=env, start_new_session=True,
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def cpu_seconds(procs: list[subprocess.Popen]) -> list[float]:
    import psutil

    def tree(pid: int) -> float:  # the process and its children (the worker pool's)
        parent = psutil.Process(pid)
        return sum(sum(p.cpu_times()[:2]) for p in [parent, *parent.children(recursive=True)])

    return [tree(proc.pid) for proc in procs]


def make_app(database_url: str, redis_url: str):
    from app import create_app
    from tests.conftest import make_config

    return create_app(make_config(database_url, redis_url))


def seed(app, count: int, expression_for, start_after: datetime) -> list[int]:
    """Insert schedules directly (the service's validation is not what is measured)."""
    from app.extensions import db
    from app.models import Organization, Schedule
    from app.scheduling import bridge
    from app.scheduling.timing import build_timing

    with app.app_context():
        org = db.session.execute(db.select(Organization)).scalar_one_or_none()
        if org is None:
            org = Organization(name="Bench")
            db.session.add(org)
            db.session.flush()
        rows = []
        for i in range(count):
            config = {"expression": expression_for(i)}
            timing = build_timing("CRON", config, "UTC")
            rows.append(
                Schedule(
                    organization_id=org.id,
                    name=f"bench {time.monotonic_ns()} {i}",
                    prompt="Say hello",
                    schedule_type="CRON",
                    schedule_config=timing.config,
                    overlap_policy="allow",
                    next_run_at=timing.next_after(start_after),
                )
            )
        db.session.add_all(rows)
        db.session.commit()
        ids = [s.id for s in rows]
        bridge.arm_many([(s.id, s.next_run_at) for s in rows])
        return ids


def disable(app, ids: list[int]) -> None:
    from app.extensions import db
    from app.models import Schedule
    from app.scheduling import bridge

    with app.app_context():
        db.session.execute(
            db.update(Schedule).where(Schedule.id.in_(ids)).values(enabled=False, next_run_at=None)
        )
        db.session.commit()
        for sid in ids:
            bridge.cancel(sid)


def runs_since(app, ids: list[int], since: datetime):
    from app.extensions import db
    from app.models import Run

    with app.app_context():
        rows = db.session.execute(
            db.select(
                Run.schedule_id,
                Run.slot_at,
                Run.scheduled_for,
                Run.enqueued_at,
                Run.started_at,
                Run.completed_at,
            ).where(Run.schedule_id.in_(ids), Run.scheduled_for >= since)
        ).all()
        db.session.rollback()
        return rows


def bench_idle(args, app, env: dict, redis_url: str, tmp: Path) -> dict:
    """The scheduler alone with N schedules due in a year: CPU share and Redis commands/s."""
    import psutil

    from app.scheduling import bridge

    ids = seed(app, args.schedules, lambda i: f"{i % 60} {i % 60} 0 1 1 *", datetime.now(UTC))
    proc = start("flask --app wsgi scheduler", env, tmp / "scheduler-idle.log")
    connection = Redis.from_url(redis_url)
    try:
        # Started, leading, and past the reconciler's look-back at the freshly seeded rows.
        time.sleep(bridge.SKEW.total_seconds() + 6)
        ps = psutil.Process(proc.pid)
        cpu0, wall0 = sum(ps.cpu_times()[:2]), time.monotonic()
        commands0 = connection.info("stats")["total_commands_processed"]
        time.sleep(args.idle_seconds)
        commands1 = connection.info("stats")["total_commands_processed"]
        cpu1, wall1 = sum(ps.cpu_times()[:2]), time.monotonic()
    finally:
        stop([proc])
    disable(app, ids)
    seconds = wall1 - wall0
    return {
        "cpu_percent": 100 * (cpu1 - cpu0) / seconds,
        "commands_per_s": (commands1 - commands0 - 1) / seconds,  # minus our own INFO
    }


def bench_engine(args, database_url: str, redis_url: str, tmp: Path) -> dict:
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench",
        "TASKPLAN_REDIS_PREFIX": "taskplan",
    }
    subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
        capture_output=True,
    )  # fmt: skip
    app = make_app(database_url, redis_url)
    out: dict = {"idle": bench_idle(args, app, env, redis_url, tmp) if args.idle_seconds else None}
    procs = [start("flask --app wsgi scheduler", env, tmp / "scheduler.log")]
    # One `worker` command, as the Procfile has it, running --workers processes.
    procs.append(
        start(f"flask --app wsgi worker --processes {args.workers}", env, tmp / "worker.log")
    )
    try:
        time.sleep(4)  # processes up, leader elected
        n = args.schedules
        # 1. Spread: schedule i fires at second (i * 60 / n) of every minute.
        # Measured from when the reconciler has stopped comparing the freshly seeded rows
        # (its look-back is bridge.SKEW): 1,000 schedules edited in the same second is a
        # bulk import, not the steady state the target is about.
        from app.scheduling import bridge

        settle = bridge.SKEW.total_seconds() + 6
        ids = seed(app, n, lambda i: f"{int(i * 60 / n)} * * * * *", datetime.now(UTC))
        measure_from = datetime.now(UTC) + timedelta(seconds=settle)
        time.sleep(settle)
        cpu0 = cpu_seconds(procs)
        time.sleep(args.seconds)
        cpu1 = cpu_seconds(procs)
        rows = [r for r in runs_since(app, ids, measure_from) if r.started_at is not None]
        out["lag"] = [(r.started_at - r.scheduled_for).total_seconds() for r in rows]
        out["dispatch"] = [(r.started_at - r.enqueued_at).total_seconds() for r in rows]
        # The first run of each second shows the scheduler's part (fire → queue → a free
        # worker); the rest is runs of the same second waiting for a worker.
        first: dict = {}
        for r in rows:
            lag = (r.started_at - r.scheduled_for).total_seconds()
            first[r.scheduled_for] = min(lag, first.get(r.scheduled_for, lag))
        out["first"] = list(first.values())
        # CPU per run, measured on the processes themselves: the scheduler's share is
        # the fire, the workers' share everything from the queue to the run's end.
        out["cpu_scheduler"] = (cpu1[0] - cpu0[0]) / max(1, len(rows))
        out["cpu_workers"] = (sum(cpu1[1:]) - sum(cpu0[1:])) / max(1, len(rows))
        out["busy"] = [
            (r.completed_at - r.started_at).total_seconds() for r in rows if r.completed_at
        ]
        disable(app, ids)
        time.sleep(2)
        if args.skip_burst:
            return out

        # 2. Burst: n schedules whose next slot is the same second.
        due = (datetime.now(UTC) + timedelta(seconds=6)).replace(microsecond=0)
        burst_ids = seed(app, n, lambda i: f"{due.second} * * * * *", due - timedelta(seconds=1))
        deadline = time.monotonic() + 30
        rows = []
        while time.monotonic() < deadline:
            rows = runs_since(app, burst_ids, due)
            if len([r for r in rows if r.enqueued_at]) >= n:
                break
            time.sleep(0.2)
        queued = [r.enqueued_at for r in rows if r.enqueued_at]
        slots = [(r.schedule_id, r.slot_at) for r in rows]
        out["burst_queued"] = len(queued)
        out["burst_all_queued_s"] = (max(queued) - due).total_seconds() if queued else None
        out["burst_duplicates"] = len(slots) - len(set(slots))
        disable(app, burst_ids)
    finally:
        stop(procs)
    return out


def _noop_jobs(redis_url: str, count: int, worker_kind: str, app=None) -> float:
    """Per-job time of `count` no-op JSON jobs through one burst worker of this kind:
    RQ's fork-per-job Worker, its SimpleWorker, or ours (TaskplanWorker, with the jobs
    enqueued as the scheduler enqueues runs)."""
    from rq import Queue, SimpleWorker, Worker
    from rq.serializers import JSONSerializer

    connection = Redis.from_url(redis_url)
    queue = Queue(f"bench-{worker_kind}", connection=connection, serializer=JSONSerializer)
    if worker_kind == "taskplan":
        from app.runs.worker import TaskplanWorker
        from app.scheduling import bridge

        data = Queue.prepare_data(
            "builtins.len", args=[[1]], result_ttl=bridge.RESULT_TTL, failure_ttl=3600
        )
        queue.enqueue_many([data] * count)
        with app.app_context():
            worker = TaskplanWorker([queue], connection=connection, flask_app=app)
            started = time.perf_counter()
            worker.work(burst=True, logging_level="WARNING")
            return (time.perf_counter() - started) / count
    for _ in range(count):
        queue.enqueue("builtins.len", [1], result_ttl=0)
    cls = SimpleWorker if worker_kind == "simple" else Worker
    worker = cls([queue], connection=connection, serializer=JSONSerializer)
    started = time.perf_counter()
    worker.work(burst=True, logging_level="WARNING")
    return (time.perf_counter() - started) / count


def bench_stock(args, redis_url: str, tmp: Path) -> list[float]:
    """Stock rq-scheduler (pickle, its default) and a stock rq worker: lag of N jobs."""
    from rq_scheduler import Scheduler

    connection = Redis.from_url(redis_url)
    connection.flushdb()
    scheduler = Scheduler(queue_name="stock", connection=connection)
    base = time.time() + 5
    n = args.schedules
    planned = {}
    for i in range(n):
        at = base + i * args.seconds / n
        job = scheduler.enqueue_at(
            datetime.fromtimestamp(at, UTC).replace(tzinfo=None), time.time, job_result_ttl=600
        )  # rq-scheduler works in naive UTC
        planned[job.id] = at
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    procs = [start(f"rqscheduler --url {redis_url} --interval 1", env, tmp / "rqscheduler.log")]
    procs += [
        start(f"rq worker --url {redis_url} stock", env, tmp / f"rqworker{i}.log")
        for i in range(args.workers)
    ]
    try:
        time.sleep(args.seconds + 8)
    finally:
        stop(procs)
    from rq.job import Job

    lags = []
    for job_id, at in planned.items():
        value = Job.fetch(job_id, connection=connection).return_value()
        if value is not None:
            lags.append(value - at)
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8, help="worker processes")
    parser.add_argument("--seconds", type=int, default=60, help="length of the lag window")
    parser.add_argument("--idle-seconds", type=int, default=30, help="0 skips the idle phase")
    parser.add_argument("--skip-stock", action="store_true")
    parser.add_argument("--skip-burst", action="store_true")
    parser.add_argument("--postgresql", action="store_true")
    args = parser.parse_args()

    redis = services.start_redis()
    pg = services.start_postgres() if args.postgresql else None
    tmp = Path(tempfile.mkdtemp(prefix="bench-fire-lag-"))
    database_url = pg.url if pg else f"sqlite:///{tmp / 'bench.db'}"
    try:
        engine = bench_engine(args, database_url, redis.url, tmp)
        Redis.from_url(redis.url).flushdb()
        fork = _noop_jobs(redis.url, 200, "fork")
        simple = _noop_jobs(redis.url, 200, "simple")
        ours = _noop_jobs(redis.url, 200, "taskplan", make_app(database_url, redis.url))
        stock = None if args.skip_stock else bench_stock(args, redis.url, tmp)
    finally:
        redis.stop()
        if pg:
            pg.stop()

    print(f"# bench_fire_lag  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"# machine: {platform.node()}  {platform.processor() or platform.machine()}  "
        f"{os.cpu_count()} cores  Python {platform.python_version()}  "
        f"database: {'postgresql' if pg else 'sqlite'}  workers: {args.workers}"
    )
    print(f"# logs: {tmp}")
    print(f"\nTaskplan, {args.schedules} schedules spread over each minute, {args.seconds} s:")
    print(f"  fire lag (started_at - scheduled_for): {ms(engine['lag'])}")
    print(f"  queue -> RUNNING (dispatch):           {ms(engine['dispatch'])}")
    print(f"  first run of each second:              {ms(engine['first'])}")
    print(f"  RUNNING -> ended (the run itself):     {ms(engine['busy'])}")
    print(
        f"  CPU per run: workers {engine['cpu_workers'] * 1000:.1f} ms, "
        f"scheduler {engine['cpu_scheduler'] * 1000:.1f} ms"
    )
    if "burst_queued" in engine:
        print(f"\nBurst: {args.schedules} schedules due in the same second:")
        print(
            f"  queued {engine['burst_queued']}/{args.schedules}, the last "
            f"{engine['burst_all_queued_s']:.3f} s after the slot; "
            f"duplicates: {engine['burst_duplicates']}"
        )
    print("\nPer-job overhead of a no-op JSON job (200 jobs, one burst worker):")
    print(f"  rq Worker (fork per job): {fork * 1000:6.2f} ms")
    print(f"  rq SimpleWorker:          {simple * 1000:6.2f} ms")
    print(f"  TaskplanWorker (ours):    {ours * 1000:6.2f} ms")
    if stock is not None:
        print(
            f"\nStock rqscheduler --interval 1 + rq worker, {args.schedules} jobs over the window:"
        )
        print(f"  fire lag: {ms(stock)}")
    if engine["idle"]:
        idle = engine["idle"]
        print(f"\nIdle scheduler, {args.schedules} schedules none due, {args.idle_seconds} s:")
        print(
            f"  CPU {idle['cpu_percent']:.2f} % of one core; "
            f"Redis {idle['commands_per_s']:.1f} commands/s"
        )


if __name__ == "__main__":
    main()
