"""The constraints the spec relies on, enforced by the database itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError, StatementError

from app.extensions import db
from app.models import Organization, Run, Schedule


def _schedule(org: Organization, name: str) -> Schedule:
    return Schedule(
        organization=org, name=name, prompt="p", schedule_type="DAILY",
        schedule_config={"hour": 8, "minute": 0},
    )  # fmt: skip


def test_schedule_names_are_unique_per_organization_ignoring_case(app):
    with app.app_context():
        acme, globex = Organization(name="Acme"), Organization(name="Globex")
        db.session.add_all([_schedule(acme, "Daily report"), _schedule(globex, "daily REPORT")])
        db.session.commit()
        db.session.add(_schedule(acme, "  DAILY   Report "))
        with pytest.raises(IntegrityError):
            db.session.commit()


def test_one_scheduled_run_per_schedule_and_slot(app):
    slot = datetime(2026, 1, 1, 8, tzinfo=UTC)
    with app.app_context():
        schedule = _schedule(Organization(name="Acme"), "S")
        db.session.add(schedule)
        db.session.commit()

        def run(**kw) -> Run:
            return Run(schedule=schedule, organization_id=schedule.organization_id, **kw)

        db.session.add(run(trigger="scheduled", scheduled_for=slot, slot_at=slot))
        db.session.commit()
        # A retry is another attempt at the same slot; manual runs have no slot.
        db.session.add_all(
            [
                run(trigger="retry", scheduled_for=slot, slot_at=slot, attempt=2),
                run(trigger="manual", scheduled_for=slot),
                run(trigger="manual", scheduled_for=slot),
            ]
        )
        db.session.commit()
        db.session.add(run(trigger="scheduled", scheduled_for=slot, slot_at=slot))
        with pytest.raises(IntegrityError):
            db.session.commit()


def test_times_come_back_aware_in_utc_and_naive_ones_are_refused(app):
    with app.app_context():
        schedule = _schedule(Organization(name="Acme"), "S")
        schedule.start_at = datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2)))
        db.session.add(schedule)
        db.session.commit()
        schedule_id = schedule.id
        db.session.expire_all()
        stored = db.session.get(Schedule, schedule_id).start_at
        assert stored == datetime(2026, 3, 29, 1, 30, tzinfo=UTC) and stored.tzinfo == UTC
        db.session.get(Schedule, schedule_id).end_at = datetime(2026, 4, 1)  # noqa: DTZ001
        with pytest.raises(StatementError):
            db.session.commit()


def test_status_values_outside_the_spec_are_refused(app):
    with app.app_context():
        schedule = _schedule(Organization(name="Acme"), "S")
        db.session.add(schedule)
        db.session.commit()
        db.session.add(
            Run(schedule=schedule, organization_id=schedule.organization_id, trigger="manual",
                scheduled_for=datetime.now(UTC), status="DONE")
        )  # fmt: skip
        with pytest.raises(IntegrityError):
            db.session.commit()
