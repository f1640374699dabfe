"""The scheduler process: fires due schedules at their second, reconciles Redis with the
database, and finds runs whose worker died.

Several may run for failover. One holds a short leader lease in Redis and does the work;
the others stand by, renewing their heartbeat and trying for the lease every second, so a
standby takes over within LEASE_SECONDS + 1 s of the leader's death. The lease is only for
efficiency: exactly-once comes from the database's unique key on (schedule, slot, attempt).

Precision without polling: the leader reads the earliest score of rq-scheduler's sorted set
and sleeps until exactly then. Anyone who arms a fire earlier than that publishes on a wake
channel (app/scheduling/bridge.py), which a listener thread turns into an Event the main
loop waits on. Idle, a tick costs O(1) Redis commands: one ZRANGE, plus the lease renewal
and the reconciler's cheap check every few seconds.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time

from flask import Flask, current_app
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db, redis_client, rkey
from app.redisjobs import Heartbeat, process_name
from app.runs import engine
from app.scheduling import bridge

log = logging.getLogger(__name__)

LEASE_SECONDS = 10
STANDBY_TICK_SECONDS = 1.0
RECONCILE_SECONDS = 5.0  # FLUSHALL recovers within this (SPEC §3.5 asks for 60 s)
SWEEP_SECONDS = 5.0  # lost workers are found within heartbeat expiry + this
MAX_SLEEP_SECONDS = 30.0
BATCH = 500  # due fires handled per transaction

# Renew the lease only if we still hold it (compare-and-set), so a paused leader that lost
# its lease cannot steal it back from the standby that took over.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class Leadership:
    def __init__(self, name: str) -> None:
        self.name = name
        self.key = rkey("scheduler", "leader")
        self.connection = redis_client()
        self._renew = self.connection.register_script(_RENEW)
        self.is_leader = False

    def tick(self) -> bool:
        ms = LEASE_SECONDS * 1000
        try:
            if self.is_leader:
                self.is_leader = bool(self._renew(keys=[self.key], args=[self.name, ms]))
            if not self.is_leader:
                self.is_leader = bool(self.connection.set(self.key, self.name, nx=True, px=ms))
        except RedisError as exc:
            log.warning("scheduler: Redis unavailable (%s); standing by", exc)
            self.is_leader = False
        return self.is_leader

    def release(self) -> None:
        try:
            if self.connection.get(self.key) == self.name.encode():
                self.connection.delete(self.key)
        except RedisError:
            pass
        self.is_leader = False


class WakeListener:
    """Turns messages on the wake channel into a set Event, on its own connection (a
    subscribed connection blocks, and the app's has a socket timeout)."""

    def __init__(self, app: Flask, event: threading.Event, stop: threading.Event) -> None:
        self.url, self.channel = app.config["REDIS_URL"], bridge.wake_channel()
        self.event, self.stop = event, stop
        self.thread = threading.Thread(target=self._loop, name="scheduler-wake", daemon=True)

    def _loop(self) -> None:
        while not self.stop.is_set():
            connection = Redis.from_url(self.url, socket_connect_timeout=2, socket_keepalive=True)
            try:
                pubsub = connection.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                self.event.set()  # (re)subscribed: anything armed meanwhile is re-read
                while not self.stop.is_set():
                    if pubsub.get_message(timeout=1.0) is not None:
                        self.event.set()
            except RedisError as exc:
                log.debug("wake listener: %s; reconnecting", exc)
                self.stop.wait(1.0)
            finally:
                with contextlib.suppress(RedisError):
                    connection.close()

    def start(self) -> WakeListener:
        self.thread.start()
        return self


class Loop:
    """One scheduler's main loop; `step()` does one tick and says how long to sleep."""

    def __init__(self, name: str) -> None:
        self.leadership = Leadership(name)
        self.reconcile_state = bridge.ReconcileState()
        self.next_lease = 0.0
        self.next_reconcile = 0.0
        self.next_sweep = 0.0
        self.was_leader = False

    def step(self) -> float:
        clock = time.monotonic()
        if clock >= self.next_lease:
            leader = self.leadership.tick()
            self.next_lease = clock + (LEASE_SECONDS / 3 if leader else STANDBY_TICK_SECONDS)
            if leader and not self.was_leader:
                log.info("scheduler %s is the leader", self.leadership.name)
                self.next_reconcile = self.next_sweep = 0.0  # rebuild Redis before firing
            self.was_leader = leader
        if not self.was_leader:
            return max(0.0, self.next_lease - time.monotonic())
        try:
            if clock >= self.next_reconcile:
                if self.next_reconcile == 0.0:
                    bridge.reconcile_full()
                else:
                    bridge.reconcile_check(self.reconcile_state)
                self.next_reconcile = clock + RECONCILE_SECONDS
            self.fire_due()
            if clock >= self.next_sweep:
                engine.sweep()
                self.next_sweep = clock + SWEEP_SECONDS
            self.fire_due()  # anything that came due while sweeping
            earliest = bridge.earliest()
        except (RedisError, SQLAlchemyError) as exc:
            log.warning("scheduler: %s; retrying", exc)
            with contextlib.suppress(SQLAlchemyError):
                db.session.rollback()
            return 1.0
        finally:
            db.session.remove()
        now = time.monotonic()
        wait = min(self.next_lease, self.next_reconcile, self.next_sweep) - now
        if earliest is not None:
            wait = min(wait, earliest - time.time())
        return max(0.0, min(wait, MAX_SLEEP_SECONDS))

    def fire_due(self) -> None:
        while True:
            members = bridge.due(time.time(), BATCH)
            if not members:
                return
            fires, retries, junk = [], [], []
            for member in members:
                parsed = bridge.parse_member(member)
                if parsed is None:
                    junk.append(member)
                elif parsed[0] == "fire":
                    fires.append(parsed[1])
                else:
                    retries.append(parsed[1])
            bridge.remove_members(junk)
            if fires:
                outcome = engine.fire_due(fires)
                if outcome.lost_claims:
                    log.info("%d slots were already claimed elsewhere", outcome.lost_claims)
            if retries:
                engine.fire_retries(retries)
            if len(members) < BATCH:
                return


def run_scheduler() -> None:
    app = current_app._get_current_object()
    name = process_name()
    stop = threading.Event()
    wake = threading.Event()
    loop = Loop(name)
    beat = Heartbeat(
        "scheduler",
        name,
        app.config["SCHEDULER_HEARTBEAT_SECONDS"],
        state=lambda: {"role": "leader" if loop.leadership.is_leader else "standby"},
    ).start()
    WakeListener(app, wake, stop).start()

    def _stop(signum, _frame):
        log.info("scheduler %s: signal %s, stopping", name, signum)
        stop.set()
        wake.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("scheduler %s started", name)
    try:
        while not stop.is_set():
            wait = loop.step()
            if wait > 0:
                wake.wait(wait)
            wake.clear()
    finally:
        loop.leadership.release()
        beat.stop()
        log.info("scheduler %s stopped", name)
