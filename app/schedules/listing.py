"""What the schedule pages read: the filtered, paginated list and a schedule's recent runs.

Each page costs a fixed number of queries whatever its size: the running flags and the last
runs of a whole page are fetched in one query each (no N+1).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func

from app.extensions import db
from app.models import ACTIVE_STATUSES, Run, Schedule
from app.schedules import service

TYPES = ("ONCE", "DAILY", "WEEKLY", "MONTHLY", "CRON")
STATUSES = {
    "enabled": "Enabled",
    "disabled": "Disabled",
    "running": "Running",
    "completed": "Completed",
}


@dataclass
class Filters:
    q: str = ""
    status: str = ""
    type: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Any) -> Filters:
        """Read the query string; a value that is not one of the choices is ignored."""
        status = args.get("status", "")
        kind = args.get("type", "")
        page = args.get("page", 1, type=int) or 1
        return cls(
            q=" ".join(args.get("q", "").split())[:200],
            status=status if status in STATUSES else "",
            type=kind if kind in TYPES else "",
            page=max(1, page),
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query-string arguments for a link to this list with some filters changed."""
        values = {"q": self.q, "status": self.status, "type": self.type, "page": self.page}
        values.update(changes)
        return {k: v for k, v in values.items() if v and not (k == "page" and v == 1)}

    @property
    def active(self) -> bool:
        return bool(self.q or self.status or self.type)


@dataclass
class Row:
    schedule: Schedule
    status: str
    last_run: Run | None = None


@dataclass
class Page:
    rows: list[Row]
    total: int
    page: int
    pages: int
    size: int
    filters: Filters = field(default_factory=Filters)

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.size + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.page * self.size, self.total)


def _active_schedule_ids():
    # Served by ix_runs_status: only runs in progress are read, however long the history.
    return db.select(Run.schedule_id).where(Run.status.in_(ACTIVE_STATUSES))


def schedule_page(organization_id: int, filters: Filters, size: int) -> Page:
    """One page of the organization's schedules, by name (the unique (org, name_key) index
    serves the order, so a later page costs an index walk, not a sort)."""
    where = [Schedule.organization_id == organization_id]
    if filters.q:
        where.append(Schedule.name_key.contains(filters.q.casefold(), autoescape=True))
    if filters.type:
        where.append(Schedule.schedule_type == filters.type)
    if filters.status == "enabled":
        where.append(Schedule.enabled.is_(True))
    elif filters.status == "disabled":
        where += [Schedule.enabled.is_(False), Schedule.completed_at.is_(None)]
    elif filters.status == "completed":
        where.append(Schedule.completed_at.is_not(None))
    elif filters.status == "running":
        where.append(Schedule.id.in_(_active_schedule_ids()))
    total = db.session.execute(db.select(func.count(Schedule.id)).where(*where)).scalar_one()
    pages = max(1, math.ceil(total / size))
    page = min(filters.page, pages)
    schedules = list(
        db.session.execute(
            db.select(Schedule)
            .where(*where)
            .order_by(Schedule.name_key)
            .limit(size)
            .offset((page - 1) * size)
        ).scalars()
    )
    ids = [s.id for s in schedules]
    running = service.running_ids(ids)
    last = last_runs(ids)
    rows = [Row(s, service.status_of(s, s.id in running), last.get(s.id)) for s in schedules]
    return Page(rows, total, page, pages, size, filters)


def row_for(schedule: Schedule) -> Row:
    running = bool(service.running_ids([schedule.id]))
    return Row(
        schedule, service.status_of(schedule, running), last_runs([schedule.id]).get(schedule.id)
    )


def last_runs(schedule_ids: list[int]) -> dict[int, Run]:
    """The newest run of each schedule, in one query (max(id) per schedule through the
    (schedule_id, id) index)."""
    if not schedule_ids:
        return {}
    newest = (
        db.select(func.max(Run.id))
        .where(Run.schedule_id.in_(schedule_ids))
        .group_by(Run.schedule_id)
    )
    runs = db.session.execute(db.select(Run).where(Run.id.in_(newest))).scalars()
    return {run.schedule_id: run for run in runs}


def history(schedule_id: int, before: int | None, size: int) -> tuple[list[Run], int | None]:
    """A page of a schedule's runs, newest first, keyset on the id; and the next cursor."""
    query = db.select(Run).where(Run.schedule_id == schedule_id)
    if before is not None:
        query = query.where(Run.id < before)
    runs = list(db.session.execute(query.order_by(Run.id.desc()).limit(size + 1)).scalars())
    more = len(runs) > size
    runs = runs[:size]
    return runs, (runs[-1].id if more and runs else None)


FINISHED = ("SUCCESS", "FAILED")


@dataclass
class Bar:
    run: Run
    x: float
    height: float


@dataclass
class Chart:
    """Success and duration over a schedule's recent runs, drawn as an inline SVG."""

    bars: list[Bar]
    success: int
    total: int
    median_ms: int | None
    max_ms: int
    width: int = 300
    height: int = 64

    @property
    def rate(self) -> float | None:
        return self.success / self.total if self.total else None


def chart(schedule_id: int, count: int = 30) -> Chart:
    """The last `count` finished runs, oldest on the left; bar height is the duration."""
    runs = list(
        db.session.execute(
            db.select(Run)
            .where(Run.schedule_id == schedule_id, Run.status.in_(FINISHED))
            .order_by(Run.id.desc())
            .limit(count)
        ).scalars()
    )[::-1]
    durations = [r.duration_ms or 0 for r in runs]
    top = max(durations, default=0) or 1
    result = Chart([], sum(r.status == "SUCCESS" for r in runs), len(runs), None, top)
    if durations:
        result.median_ms = int(statistics.median(durations))
    step = result.width / count
    for i, run in enumerate(runs):
        # Every bar stays visible: a 0 ms failure still shows as a red stub.
        height = max(3.0, (run.duration_ms or 0) / top * (result.height - 4))
        result.bars.append(
            Bar(run, round(i * step + (count - len(runs)) * step, 1), round(height, 1))
        )
    return result
