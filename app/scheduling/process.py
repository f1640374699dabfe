"""The scheduler process: moves due fires from rq-scheduler's set onto the run queue.

Several may run for failover. One holds a short leader lease in Redis and does the work;
the others stand by, renewing their heartbeat and trying for the lease each tick, so a
standby takes over within one lease period of the leader's death.
"""

from __future__ import annotations

import logging
import signal
import threading

from flask import current_app
from redis.exceptions import RedisError
from rq_scheduler import Scheduler

from app.extensions import redis_client, rkey
from app.redisjobs import Heartbeat, JSONJob, process_name

log = logging.getLogger(__name__)

LEASE_SECONDS = 10
TICK_SECONDS = 1.0

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


def run_scheduler() -> None:
    app = current_app._get_current_object()
    name = process_name()
    stop = threading.Event()
    leadership = Leadership(name)
    rq_sched = Scheduler(
        queue_name=app.config["QUEUE_NAME"], connection=redis_client(), job_class=JSONJob
    )
    beat = Heartbeat(
        "scheduler",
        name,
        app.config["SCHEDULER_HEARTBEAT_SECONDS"],
        state=lambda: {"role": "leader" if leadership.is_leader else "standby"},
    ).start()

    def _stop(signum, _frame):
        log.info("scheduler %s: signal %s, stopping", name, signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("scheduler %s started", name)
    try:
        while not stop.is_set():
            if leadership.tick():
                try:
                    rq_sched.enqueue_jobs()
                except RedisError as exc:
                    log.warning("scheduler: could not move due jobs: %s", exc)
            stop.wait(TICK_SECONDS)
    finally:
        leadership.release()
        beat.stop()
        log.info("scheduler %s stopped", name)
