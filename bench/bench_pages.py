"""Server time of the console's list and history pages with 10,000 schedules and 1,000,000 runs.

Seeds a fresh database (SQLite by default; PostgreSQL with --postgresql) with INSERT …
SELECT over a recursive number series (no row-by-row Python), signs in through the real
login form, then times each page with the Flask test client: the whole request, from the
WSGI call to the rendered body, without a network in between. Prints median and p95.

Not a test: it only prints figures (SPEC §11: p95 ≤ 100 ms).

    .venv/bin/python bench/bench_pages.py [--schedules 10000] [--runs 1000000] [--postgresql]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from tests import services  # noqa: E402

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def make_app(database_url: str, redis_url: str):
    from app import create_app
    from tests.conftest import make_config

    return create_app(make_config(database_url, redis_url))


def seed(app, schedules: int, runs: int) -> dict:
    """Organization, admin, `schedules` schedules (1 in 10 disabled, half DAILY, half CRON)
    and `runs` runs spread evenly over them, a few still RUNNING."""
    import flask_migrate

    from app.extensions import db
    from app.models import Membership, Organization, User

    with app.app_context():
        flask_migrate.upgrade()
        org = Organization(name="Bench")
        user = User(email="bench@example.com")
        user.set_password("bench password")
        db.session.add_all([org, user, Membership(user=user, organization=org, role="admin")])
        db.session.commit()
        pg = db.engine.dialect.name == "postgresql"
        # The dialects differ only in date arithmetic, JSON literals and booleans.
        plus = (
            (lambda n, unit: f"(CAST(:base AS timestamptz) + ({n}) * interval '1 {unit}')")
            if pg
            else (lambda n, unit: f"datetime(:base, '+' || ({n}) || ' {unit}s')")
        )
        minus = (
            (lambda n, unit: f"(CAST(:base AS timestamptz) - ({n}) * interval '1 {unit}')")
            if pg
            else (lambda n, unit: f"datetime(:base, '-' || ({n}) || ' {unit}s')")
        )
        js = (lambda s: f"CAST({s} AS json)") if pg else (lambda s: s)
        true, false = ("true", "false") if pg else ("1", "0")
        base = BASE.isoformat() if pg else BASE.strftime("%Y-%m-%d %H:%M:%S")
        series = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)"
        started = time.perf_counter()
        db.session.execute(
            text(f"""
            {series}
            INSERT INTO schedules (organization_id, name, name_key, description, prompt,
                agent_name, schedule_type, schedule_config, timezone, enabled, session_config,
                timeout_seconds, overlap_policy, catchup_window_seconds, max_retries,
                retry_delay_seconds, next_run_at, last_run_at, run_count, created_at, updated_at)
            SELECT :org, 'Report ' || i, 'report ' || i, '', 'Summarise {{{{ yesterday }}}}',
                'orchestrator',
                CASE WHEN i % 2 = 0 THEN 'DAILY' ELSE 'CRON' END,
                CASE WHEN i % 2 = 0 THEN {js(":daily")} ELSE {js(":cron")} END,
                'Europe/Berlin', CASE WHEN i % 10 = 0 THEN {false} ELSE {true} END,
                {js(":session")}, 300, 'skip', 3600, 0, 60,
                CASE WHEN i % 10 = 0 THEN NULL ELSE {plus("i", "second")} END,
                :base, :per, :base, :base
            FROM n
            """),
            {
                "count": schedules,
                "org": org.id,
                "base": base,
                "per": runs // schedules,
                "daily": json.dumps({"hour": 8, "minute": 0}),
                "cron": json.dumps({"expression": "*/15 9-17 * * 1-5"}),
                "session": json.dumps({"use_existing": False}),
            },  # fmt: skip
        )
        first = db.session.execute(text("SELECT min(id) FROM schedules")).scalar_one()
        db.session.execute(
            text(f"""
            {series}
            INSERT INTO runs (schedule_id, organization_id, trigger, scheduled_for, slot_at,
                status, reason, attempt, enqueued_at, started_at, completed_at, duration_ms,
                error, created_at)
            SELECT :first + (i - 1) % :schedules, :org, 'scheduled',
                {minus("i", "second")}, {minus("i", "second")},
                CASE WHEN i <= 20 THEN 'RUNNING' WHEN i % 25 = 0 THEN 'FAILED' ELSE 'SUCCESS' END,
                CASE WHEN i > 20 AND i % 25 = 0 THEN 'timeout' END, 1,
                {minus("i", "second")}, {minus("i", "second")},
                CASE WHEN i <= 20 THEN NULL ELSE {minus("i", "second")} END,
                CASE WHEN i <= 20 THEN NULL ELSE 300 + i % 5000 END,
                CASE WHEN i > 20 AND i % 25 = 0 THEN 'Timeout after 300s' END,
                {minus("i", "second")}
            FROM n
            """),
            {"count": runs, "first": first, "schedules": schedules, "org": org.id, "base": base},
        )
        db.session.commit()
        seeded = time.perf_counter() - started
        if pg:
            # PostgreSQL's autovacuum gathers statistics by itself; do it now rather than wait.
            # SQLite is left as the app leaves it: never analyzed. With sqlite_stat1 the
            # planner sees 3 statuses over 1,000,000 runs, takes the status index for
            # unselective, and scans the table for "running" (~500 ms; docs/BENCHMARKS.md).
            with db.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        counts = {
            "schedules": db.session.execute(text("SELECT count(*) FROM schedules")).scalar_one(),
            "runs": db.session.execute(text("SELECT count(*) FROM runs")).scalar_one(),
        }
        print(
            f"seeded {counts['schedules']:,} schedules and {counts['runs']:,} runs "
            f"in {seeded:.1f} s"
        )
        return {"first": first, "email": user.email}


def measure(client, path: str, rounds: int) -> list[float]:
    for _ in range(5):  # warm caches and the template cache
        assert client.get(path).status_code == 200, path
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path)
        response.get_data()
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, path
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--postgresql", action="store_true")
    args = parser.parse_args()

    redis = services.start_redis()
    pg = services.start_postgres() if args.postgresql else None
    tmp = tempfile.TemporaryDirectory()
    database_url = pg.url if pg else f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    try:
        app = make_app(database_url, redis.url)
        info = seed(app, args.schedules, args.runs)
        from tests.conftest import csrf_token

        client = app.test_client()
        response = client.post(
            "/login",
            data={"email": info["email"], "password": "bench password",
                  "csrf_token": csrf_token(client)},
        )  # fmt: skip
        assert response.status_code == 302, response.get_data(as_text=True)
        rng = random.Random(7)
        middle = info["first"] + args.schedules // 2
        last_page = -(-args.schedules // app.config["PAGE_SIZE"])
        pages = {
            "list, first page": ["/schedules"],
            "list, search (q=report 77)": ["/schedules?q=report+77"],
            "list, filter status=disabled": ["/schedules?status=disabled"],
            "list, filter status=running": ["/schedules?status=running"],
            "list, filter type=DAILY, page 50": ["/schedules?type=DAILY&page=50"],
            f"list, page {last_page // 2} (middle)": [f"/schedules?page={last_page // 2}"],
            f"list, page {last_page} (last)": [f"/schedules?page={last_page}"],
            "history (schedule page), random schedules": [
                f"/schedules/{info['first'] + rng.randrange(args.schedules)}" for _ in range(20)
            ],
            "history, older page (before=)": [f"/schedules/{middle}?before=500000"],
        }
        print(
            f"\n{platform.machine()}, {platform.system()} {platform.release()}, "
            f"CPython {platform.python_version()}, database: {'postgresql' if pg else 'sqlite'}, "
            f"page size {app.config['PAGE_SIZE']}, {args.rounds} requests each\n"
        )
        print(f"{'page':46} {'median':>9} {'p95':>9}")
        for label, paths in pages.items():
            times: list[float] = []
            for path in paths:
                times += measure(client, path, max(5, args.rounds // len(paths)))
            print(
                f"{label:46} {statistics.median(times) * 1000:7.1f} ms {p95(times) * 1000:7.1f} ms"
            )
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
        app.extensions["taskplan_redis"].close()
    finally:
        redis.stop()
        if pg:
            pg.stop()
        tmp.cleanup()


if __name__ == "__main__":
    main()
