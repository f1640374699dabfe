"""The engine on a real database and Redis, with time passed in (no waiting): claims,
overlap, Run Now, retries, lost workers, ONCE completion, reconciling, the run endpoints."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db, redis_client
from app.models import ChatSession, Message, Run, Schedule, utcnow
from app.runs import engine
from app.schedules import service
from app.scheduling import bridge
from tests.engine_helpers import execute, make_schedule, runs_of

EVERY_MINUTE = {"expression": "* * * * *"}


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def due(schedule_id: int, late=timedelta(milliseconds=20)):
    schedule = db.session.get(Schedule, schedule_id)
    return schedule.next_run_at, schedule.next_run_at + late


def test_a_slot_is_claimed_once_however_often_it_is_fired(ctx, admin):
    sid = make_schedule(admin.id, admin.org_id, schedule_config=EVERY_MINUTE)
    slot, now = due(sid)
    first = engine.fire_due([sid], now)
    # A second scheduler that read the same slot before the first one moved it.
    db.session.get(Schedule, sid).next_run_at = slot
    db.session.commit()
    second = engine.fire_due([sid], now)
    assert (first.enqueued, second.enqueued, second.lost_claims) == (1, 0, 1)
    [run] = runs_of(sid)
    assert (run.slot_at, run.trigger, run.status) == (slot, "scheduled", "PENDING")
    assert db.session.get(Schedule, sid).next_run_at == slot + timedelta(minutes=1)
    queued = redis_client().lrange("rq:queue:taskplan", 0, -1)
    assert queued == [bridge.run_job_id(run.id).encode()]


def test_a_run_goes_pending_running_success_and_writes_its_session(ctx, admin):
    sid = make_schedule(admin.id, admin.org_id, schedule_config=EVERY_MINUTE, name="Sales")
    engine.fire_due([sid], due(sid)[1])
    [run] = runs_of(sid)
    execute(run.id, worker="w1")
    [run] = runs_of(sid)
    assert run.status == "SUCCESS" and run.worker == "w1"
    assert run.started_at and run.completed_at and run.duration_ms is not None
    session = db.session.get(ChatSession, run.session_id)
    assert session.name.startswith("Scheduled: Sales - ")
    roles = [(m.role, m.content[:11]) for m in session.messages]
    assert roles == [("user", "[Scheduled]"), ("assistant", "This is the")]
    schedule = db.session.get(Schedule, sid)
    assert schedule.run_count == 1 and schedule.last_run_at == run.started_at


def test_skip_records_a_skipped_slot_while_a_run_is_in_progress(ctx, admin):
    sid = make_schedule(admin.id, admin.org_id, schedule_config=EVERY_MINUTE)
    engine.fire_due([sid], due(sid)[1])
    outcome = engine.fire_due([sid], due(sid)[1])
    assert outcome.skipped == 1
    assert [(r.status, r.reason) for r in runs_of(sid)] == [
        ("PENDING", None),
        ("SKIPPED", "overlap"),
    ]


def test_queue_one_holds_one_slot_until_the_previous_run_ends(ctx, admin):
    sid = make_schedule(
        admin.id, admin.org_id, schedule_config=EVERY_MINUTE, overlap_policy="queue_one"
    )
    for _ in range(3):
        engine.fire_due([sid], due(sid)[1])
    first, waiting, skipped = runs_of(sid)
    assert (waiting.status, waiting.reason, waiting.enqueued_at) == ("PENDING", "overlap", None)
    assert (skipped.status, skipped.reason) == ("SKIPPED", "overlap")
    execute(first.id)
    waiting = db.session.get(Run, waiting.id)
    assert waiting.reason is None and waiting.enqueued_at is not None
    execute(waiting.id)
    assert db.session.get(Run, waiting.id).status == "SUCCESS"


def test_run_now_works_on_a_disabled_schedule_and_does_not_move_next_run(ctx, admin, token_for):
    sid = make_schedule(admin.id, admin.org_id, schedule_config=EVERY_MINUTE)
    service.set_enabled(db.session.get(Schedule, sid), None, False)
    client = ctx.test_client()
    headers = token_for(admin)
    response = client.post(f"/api/v1/schedules/{sid}/run", headers=headers)
    assert response.status_code == 202, response.json
    assert response.json["trigger"] == "manual" and response.json["status"] == "PENDING"
    schedule = db.session.get(Schedule, sid)
    assert not schedule.enabled and schedule.next_run_at is None
    refused = client.post(f"/api/v1/schedules/{sid}/run", headers=headers)
    assert refused.status_code == 409
    assert "already in progress" in refused.json["error"]
    execute(response.json["id"])
    run = client.get(f"/api/v1/runs/{response.json['id']}", headers=headers).json
    assert run["status"] == "SUCCESS"
    session = db.session.get(ChatSession, run["session_id"])
    assert session.messages[0].content.startswith("[Run now] ")


def test_run_endpoints_check_roles_and_organizations(ctx, admin, viewer, outsider, token_for):
    sid = make_schedule(admin.id, admin.org_id, schedule_config=EVERY_MINUTE)
    client = ctx.test_client()
    assert client.post(f"/api/v1/schedules/{sid}/run", headers=token_for(viewer)).status_code == 403
    assert (
        client.post(f"/api/v1/schedules/{sid}/run", headers=token_for(outsider)).status_code == 404
    )
    assert client.get(f"/api/v1/schedules/{sid}/run", headers=token_for(admin)).status_code == 405
    assert (
        client.get(f"/api/v1/schedules/{sid}/runs", headers=token_for(outsider)).status_code == 404
    )


def test_history_is_newest_first_with_a_keyset_cursor(ctx, admin, token_for):
    sid = make_schedule(
        admin.id, admin.org_id, schedule_config=EVERY_MINUTE, overlap_policy="allow"
    )
    for _ in range(5):
        engine.fire_due([sid], due(sid)[1])
    client, headers = ctx.test_client(), token_for(admin)
    page = client.get(f"/api/v1/schedules/{sid}/runs?limit=3", headers=headers).json
    ids = [r["id"] for r in page["items"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 3 and page["next"]
    rest = client.get(
        f"/api/v1/schedules/{sid}/runs?limit=3&before={page['next']}", headers=headers
    ).json
    assert len(rest["items"]) == 2 and rest["next"] is None
    assert max(r["id"] for r in rest["items"]) < min(ids)


def test_a_failed_run_is_retried_as_new_runs_with_backoff(ctx, admin):
    sid = make_schedule(
        admin.id, admin.org_id, schedule_config=EVERY_MINUTE, prompt="[demo:fail]",
        max_retries=2, retry_delay_seconds=30,
    )  # fmt: skip
    engine.fire_due([sid], due(sid)[1])
    [first] = runs_of(sid)
    execute(first.id)
    first, retry = runs_of(sid)
    assert (first.status, first.reason) == ("FAILED", "agent_error")
    assert (retry.trigger, retry.attempt, retry.retry_of_id) == ("retry", 2, first.id)
    assert retry.slot_at == first.slot_at and retry.reason == "backoff"
    assert timedelta(seconds=29) < retry.scheduled_for - first.completed_at <= timedelta(seconds=31)
    score = redis_client().zscore(bridge.fires_key(), bridge.retry_member(retry.id))
    assert score == retry.scheduled_for.timestamp()
    engine.fire_retries([retry.id])
    execute(retry.id)
    runs = runs_of(sid)
    assert [(r.attempt, r.status) for r in runs] == [(1, "FAILED"), (2, "FAILED"), (3, "PENDING")]
    assert runs[2].scheduled_for - runs[1].completed_at > timedelta(seconds=59)  # doubled
    engine.fire_retries([runs[2].id])
    execute(runs[2].id)
    assert [r.status for r in runs_of(sid)] == ["FAILED"] * 3  # no fourth attempt


def test_a_once_schedule_completes_after_its_last_attempt(ctx, admin):
    sid = make_schedule(admin.id, admin.org_id, schedule_type="ONCE", schedule_config={})
    slot, now = due(sid)
    engine.fire_due([sid], now)
    schedule = db.session.get(Schedule, sid)
    assert schedule.enabled and schedule.next_run_at is None
    assert redis_client().zscore(bridge.fires_key(), bridge.fire_member(sid)) is None
    execute(runs_of(sid)[0].id)
    schedule = db.session.get(Schedule, sid)
    assert not schedule.enabled and schedule.completed_at is not None
    assert service.status_of(schedule, False) == "Completed"


def test_a_run_on_a_worker_that_stopped_beating_fails_as_worker_lost(ctx, admin):
    sid = make_schedule(admin.id, admin.org_id, schedule_config=EVERY_MINUTE)
    engine.fire_due([sid], due(sid)[1])
    [run] = runs_of(sid)
    run.status, run.started_at, run.worker = "RUNNING", utcnow(), "gone-worker"
    alive = db.session.get(Run, run.id)
    db.session.commit()
    redis_client().set("taskplan:heartbeat:worker:live-worker", "{}")
    assert engine.sweep().lost == 1
    lost = db.session.get(Run, alive.id)
    assert (lost.status, lost.reason) == ("FAILED", "worker_lost")
    # Its overlap lock is released: the next slot runs instead of being skipped.
    assert engine.fire_due([sid], due(sid)[1]).enqueued == 1


def test_a_queued_run_whose_job_left_redis_is_queued_again(ctx, admin):
    sid = make_schedule(admin.id, admin.org_id, schedule_config=EVERY_MINUTE)
    engine.fire_due([sid], due(sid)[1])
    [run] = runs_of(sid)
    redis_client().flushdb()
    assert engine.sweep(now=run.enqueued_at + timedelta(seconds=1)).requeued == 0  # too new
    assert engine.sweep(now=run.enqueued_at + timedelta(seconds=10)).requeued == 1
    assert redis_client().lrange("rq:queue:taskplan", 0, -1) == [bridge.run_job_id(run.id).encode()]


def test_the_reconciler_rebuilds_a_flushed_redis_and_follows_missed_edits(ctx, admin):
    sids = [
        make_schedule(admin.id, admin.org_id, name=f"S{i}", schedule_config=EVERY_MINUTE)
        for i in range(3)
    ]
    state = bridge.ReconcileState()
    # The signals armed all three; the first check rebuilds (no "synced" marker yet) and
    # finds nothing to fix.
    assert bridge.reconcile_check(state) == 0
    assert redis_client().exists(bridge.synced_key())
    assert bridge.reconcile_check(state) == 0
    redis_client().flushdb()
    assert bridge.reconcile_check(state) == 3
    scores = redis_client().zrange(bridge.fires_key(), 0, -1, withscores=True)
    expected = {bridge.fire_member(s).encode(): due(s)[0].timestamp() for s in sids}
    assert dict(scores) == expected
    # An edit whose signal never reached Redis (the web process died after its commit).
    schedule = db.session.get(Schedule, sids[0])
    schedule.next_run_at += timedelta(hours=1)
    db.session.commit()
    assert bridge.reconcile_check(state) == 1
    member = bridge.fire_member(sids[0])
    assert redis_client().zscore(bridge.fires_key(), member) == due(sids[0])[0].timestamp()


def test_disable_and_delete_remove_the_schedule_from_redis(ctx, admin):
    sid = make_schedule(admin.id, admin.org_id, schedule_config=EVERY_MINUTE, name="Gone")
    r = redis_client()
    assert r.zscore(bridge.fires_key(), bridge.fire_member(sid)) is not None
    assert r.exists(f"rq:job:{bridge.fire_member(sid)}")
    service.set_enabled(db.session.get(Schedule, sid), None, False)
    assert r.zscore(bridge.fires_key(), bridge.fire_member(sid)) is None
    service.set_enabled(db.session.get(Schedule, sid), None, True)
    assert r.zscore(bridge.fires_key(), bridge.fire_member(sid)) is not None
    service.delete_schedule(db.session.get(Schedule, sid), None, "Gone")
    mentions = [k for k in r.scan_iter() if k.decode().endswith(f"-fire-{sid}")]
    assert mentions == []
    assert r.zrange(bridge.fires_key(), 0, -1) == []


def test_the_agent_answering_skip_ends_the_run_skipped(ctx, admin):
    sid = make_schedule(admin.id, admin.org_id, schedule_config=EVERY_MINUTE, prompt="[demo:skip]")
    engine.fire_due([sid], due(sid)[1])
    execute(runs_of(sid)[0].id)
    [run] = runs_of(sid)
    assert (run.status, run.reason) == ("SKIPPED", "agent_skip")
    assert db.session.execute(db.select(Message).where(Message.run_id == run.id)).all()


def test_run_now_waits_for_a_concurrent_overlap_decision_and_then_refuses(ctx, admin):
    """Run Now and the scheduler both count the runs in progress and then add one. While the
    scheduler holds the schedule (between its count and its commit), Run Now must wait, and
    then see the scheduler's run: under `skip` it is refused, never a second run."""
    import threading

    sid = make_schedule(admin.id, admin.org_id, schedule_config=EVERY_MINUTE)
    engine.lock_schedules([sid])  # this transaction plays the scheduler, mid-decision

    outcome: dict = {}

    def run_now_elsewhere():
        with ctx.app_context():
            try:
                outcome["run"] = engine.run_now(db.session.get(Schedule, sid)).id
            except engine.RunRefused as exc:
                outcome["refused"] = str(exc)

    other = threading.Thread(target=run_now_elsewhere)
    other.start()
    other.join(timeout=0.5)
    assert other.is_alive(), "Run Now did not wait for the schedule's lock"
    now = utcnow()
    db.session.add(
        Run(
            schedule_id=sid, organization_id=admin.org_id, trigger="scheduled",
            scheduled_for=now, slot_at=now, status="RUNNING", started_at=now,
        )
    )  # fmt: skip
    db.session.commit()
    other.join(timeout=15)
    assert not other.is_alive()
    assert "already in progress" in outcome.get("refused", ""), outcome
    assert [r.trigger for r in runs_of(sid)] == ["scheduled"]
