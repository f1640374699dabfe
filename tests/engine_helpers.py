"""Helpers for the engine's tests: schedules made through the real service, and the run
job executed in-process (the same function a worker runs)."""

from __future__ import annotations

from datetime import datetime

from app.extensions import db
from app.models import Run, Schedule, User
from app.runs import jobs
from app.schedules import service


def make_schedule(user_id: int, org_id: int, **fields) -> int:
    data = {
        "name": fields.pop("name", "Report"),
        "prompt": fields.pop("prompt", "Summarise yesterday"),
        "schedule_type": fields.pop("schedule_type", "CRON"),
        "schedule_config": fields.pop("schedule_config", {"expression": "0 * * * *"}),
        **fields,
    }
    schedule = service.create_schedule(org_id, db.session.get(User, user_id), data)
    return schedule.id


def runs_of(schedule_id: int) -> list[Run]:
    db.session.expire_all()
    return list(
        db.session.execute(db.select(Run).where(Run.schedule_id == schedule_id).order_by(Run.id))
        .scalars()
        .all()
    )


def set_next_run(schedule_id: int, when: datetime) -> None:
    db.session.get(Schedule, schedule_id).next_run_at = when
    db.session.commit()


def execute(run_id: int, worker: str = "test-worker") -> None:
    jobs.WORKER_NAME = worker
    jobs.execute_run(run_id)
    db.session.expire_all()
