"""The worker: RQ workers that run each job inside the Flask app context.

Jobs run in the worker process itself (RQ's SimpleWorker), not in a fork per job: the
dispatch overhead drops from a fork plus a fresh database connection per run to a queue pop
(see docs/engine.md for the figures), and timeouts are still enforced, by RQ's SIGALRM
death penalty in this same process. A killed worker takes its run with it; the scheduler
notices the missing heartbeat and records the run as `worker_lost`.

One `flask worker` runs TASKPLAN_WORKER_PROCESSES such workers under RQ's WorkerPool, which
forks them from a parent that has already imported everything and restarts any that dies.
Each runs one run at a time, so this is how many runs (agent calls, which take seconds) a
machine carries at once; it also decides how fast a second's worth of due runs starts
(docs/engine.md, "Fire lag and the cost of a run").
"""

from __future__ import annotations

import logging
import time

from flask import Flask, current_app
from rq import Queue
from rq.serializers import JSONSerializer
from rq.utils import now
from rq.worker import SimpleWorker
from rq.worker_pool import WorkerPool

from app.agents import kind_module
from app.extensions import db, redis_client
from app.models import AGENT_KINDS
from app.redisjobs import Heartbeat, JSONJob, JSONQueue, process_name, run_queue
from app.runs import jobs

log = logging.getLogger(__name__)


class TaskplanWorker(SimpleWorker):
    """RQ's SimpleWorker with fewer Redis round trips per job.

    About 17 runs are due at the same instant every second at 1,000 schedules, and under
    that burst every round trip waits for Redis to get a core, so round trips count more
    than CPU. Stock SimpleWorker makes 21 per job; with successful jobs expiring instead of
    being deleted (bridge.RESULT_TTL) and the four cuts below, 8 remain, and what RQ records
    is unchanged (docs/engine.md, "Fire lag and the cost of a run"):

    - the worker key's heartbeat (HSET + EXPIRE of worker_ttl + 60 s, three times per job)
      is refreshed once every few seconds, which keeps a key that lives minutes alive just
      the same (Taskplan's own liveness signal is the Heartbeat below, not this key);
    - the worker's state is written when it changes, not twice as IDLE between two jobs;
    - `rq suspend` is looked for once a second rather than before every job;
    - the job's heartbeat after it ran is not written: it gives success and failure
      callbacks time to run, Taskplan registers none, and the next round trip removes the
      job from the started registry anyway.
    """

    RQ_HEARTBEAT_EVERY = 5.0
    SUSPENSION_CHECK_EVERY = 1.0
    flask_app: Flask | None = None  # set by run_worker before the pool forks

    def __init__(self, queues, *args, flask_app: Flask | None = None, **kwargs) -> None:
        # JSON jobs on JSON queues, whoever builds the worker: RQ's pool hands over plain
        # queues, which would read jobs with pickle.
        names = [q.name if isinstance(q, Queue) else q for q in queues]
        kwargs.update(serializer=JSONSerializer, job_class=JSONJob, queue_class=JSONQueue)
        # The name a RUNNING run records and the heartbeat is published under (RQ's pool
        # would name its workers with random ids).
        kwargs["name"] = process_name()
        super().__init__(names, *args, **kwargs)
        self.flask_app = flask_app or type(self).flask_app
        self._rq_beat_at = float("-inf")
        self._suspension_checked_at = float("-inf")

    def work(self, burst: bool = False, logging_level: str = "INFO", **kwargs) -> bool:
        kwargs["with_scheduler"] = False  # scheduling is the scheduler process's job
        jobs.WORKER_NAME = self.name
        with self.flask_app.app_context():
            # A forked worker must not use the connections it inherited from its parent.
            db.engine.dispose(close=False)
            beat = Heartbeat(
                "worker",
                self.name,
                self.flask_app.config["WORKER_HEARTBEAT_SECONDS"],
                state=lambda: {"state": str(self.get_state()), "job": self.get_current_job_id()},
            ).start()
        try:
            return super().work(burst=burst, logging_level=logging_level, **kwargs)
        finally:
            beat.stop()

    def heartbeat(self, timeout=None, pipeline=None):
        if timeout is None and pipeline is None:
            if time.monotonic() - self._rq_beat_at < self.RQ_HEARTBEAT_EVERY:
                return
            self._rq_beat_at = time.monotonic()
        super().heartbeat(timeout, pipeline)

    def set_state(self, state, pipeline=None):
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline)

    def check_for_suspension(self, burst: bool) -> None:
        if time.monotonic() - self._suspension_checked_at < self.SUSPENSION_CHECK_EVERY:
            return
        super().check_for_suspension(burst)
        self._suspension_checked_at = time.monotonic()

    def handle_execution_ended(self, job, queue, heartbeat_ttl):
        job.ended_at = now()

    def perform_job(self, job, queue):
        # A fresh app context per job: its database session ends (and returns its
        # connection to the pool) with the job, so no state leaks from one run to the next.
        with self.flask_app.app_context():
            return super().perform_job(job, queue)


def run_worker(burst: bool = False, processes: int = 1) -> None:
    app = current_app._get_current_object()
    # Import every agent kind now (the openai SDK alone takes seconds), not in the first run,
    # and before forking, so every worker of the pool starts with them.
    for kind in AGENT_KINDS:
        kind_module(kind)
    TaskplanWorker.flask_app = app
    if processes == 1:
        TaskplanWorker([run_queue()], connection=redis_client()).work(burst=burst)
        return
    db.engine.dispose()  # nothing open to inherit
    pool = WorkerPool(
        [app.config["QUEUE_NAME"]],
        connection=redis_client(),
        num_workers=processes,
        worker_class=TaskplanWorker,
        serializer=JSONSerializer,
        job_class=JSONJob,
        queue_class=JSONQueue,
    )
    log.info("worker pool of %d processes", processes)
    pool.start(burst=burst, logging_level="INFO")
