"""How long building a schedule's timing and computing its next slot take.

Builds 10,000 varied schedules (every type, many zones, DST zones included), then times
``build_timing`` and ``next_after(now)`` for each, several rounds, and prints per-call
median and p95 plus the round totals. Not a test: it only prints figures.

    .venv/bin/python bench/bench_next_slot.py [--schedules 10000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.scheduling.timing import build_timing  # noqa: E402

ZONES = (
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "America/Santiago",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Pacific/Auckland",
)
CRONS = (
    "*/15 * * * *",
    "*/5 9-17 * * 1-5",
    "0 8 * * mon-fri",
    "30 2 * * *",
    "0 */2 * * *",
    "0 0 1,15 * *",
    "0 0 13 * 5",
    "15 10 * jan,apr,jul,oct 1",
    "0 0 29 2 *",
    "*/10 * * * * *",
    "0 30 1 * * 0",
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
)


def schedules(count: int, rng: random.Random) -> list[tuple]:
    specs = []
    for index in range(count):
        zone = ZONES[index % len(ZONES)]
        kind = rng.choice(("ONCE", "DAILY", "WEEKLY", "MONTHLY", "CRON", "CRON", "CRON"))
        hour, minute = rng.randint(0, 23), rng.choice((0, 15, 30, 45, rng.randint(0, 59)))
        if kind == "ONCE":
            config = {"execute_at": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 09:00"}
        elif kind == "DAILY":
            config = {"hour": hour, "minute": minute}
        elif kind == "WEEKLY":
            config = {"day_of_week": rng.sample(range(7), rng.randint(1, 3)), "hour": hour}
        elif kind == "MONTHLY":
            config = {"day_of_month": rng.choice((1, 15, 28, 30, 31, "last")), "hour": hour}
        else:
            config = {"expression": rng.choice(CRONS)}
        specs.append((kind, config, zone))
    return specs


def per_call(func, items) -> tuple[list[float], list]:
    """Nanoseconds per call, and the results."""
    timings, results = [], []
    clock = time.perf_counter_ns
    for item in items:
        started = clock()
        result = func(item)
        timings.append(clock() - started)
        results.append(result)
    return timings, results


def report(name: str, rounds: list[list[float]]) -> None:
    calls = sorted(value for timings in rounds for value in timings)
    totals = [sum(timings) / 1e6 for timings in rounds]
    p95 = calls[int(len(calls) * 0.95)]
    print(
        f"{name:<34} median {statistics.median(calls) / 1e3:7.1f} us   p95 {p95 / 1e3:7.1f} us"
        f"   total per round: median {statistics.median(totals):7.1f} ms"
        f" (min {min(totals):.1f}, max {max(totals):.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    specs = schedules(args.schedules, random.Random(7))
    now = datetime.now(UTC)
    # Just before New York falls back, while Lord Howe is 30 minutes into its own
    # autumn: the fixed-instant run measures the DST code paths too, reproducibly.
    around_dst = datetime(2025, 11, 2, 5, 50, tzinfo=UTC)

    print("bench_next_slot")
    print(f"date:      {now:%Y-%m-%d %H:%M} UTC")
    print(f"machine:   {platform.platform()}; {platform.machine()}; cpus: {os.cpu_count()}")
    print(f"python:    {platform.python_implementation()} {platform.python_version()}")
    print(f"schedules: {len(specs)} ({args.rounds} rounds)")

    build_rounds, next_rounds, dst_rounds = [], [], []
    for _ in range(args.rounds):
        # Each round builds afresh; the LRU caches (zones, day sets) stay warm, as in a
        # long-running scheduler.
        build_times, timings = per_call(lambda spec: build_timing(*spec), specs)
        build_rounds.append(build_times)
        next_rounds.append(per_call(lambda timing: timing.next_after(now), timings)[0])
        dst_rounds.append(per_call(lambda timing: timing.next_after(around_dst), timings)[0])

    report("build_timing", build_rounds)
    report("next_after(now)", next_rounds)
    report("next_after(2025-11-02T05:50Z)", dst_rounds)


if __name__ == "__main__":
    main()
