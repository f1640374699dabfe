"""The worker process: an RQ worker that runs each job inside the Flask app context.

Jobs run in the worker process itself (RQ's SimpleWorker), not in a fork per job: the
dispatch overhead drops from a fork plus a fresh database connection per run to a queue pop
(see docs/engine.md for the figures), and timeouts are still enforced, by RQ's SIGALRM
death penalty in this same process. A killed worker takes its run with it; the scheduler
notices the missing heartbeat and records the run as `worker_lost`.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, current_app
from rq.serializers import JSONSerializer
from rq.worker import SimpleWorker

from app.agents import kind_module
from app.extensions import redis_client
from app.models import AGENT_KINDS
from app.redisjobs import Heartbeat, JSONJob, process_name, run_queue
from app.runs import jobs

log = logging.getLogger(__name__)


class TaskplanWorker(SimpleWorker):
    # RQ refreshes its worker key (an HSET and an EXPIRE of worker_ttl + 60 s) three times
    # per job; at 17 runs a second that is a hundred round trips a second for a key that
    # lives for minutes. Once every few seconds keeps it alive just the same. (Taskplan's
    # own liveness signal is the Heartbeat below, not this key.)
    RQ_HEARTBEAT_EVERY = 5.0

    def __init__(self, *args, flask_app: Flask, **kwargs) -> None:
        super().__init__(*args, serializer=JSONSerializer, job_class=JSONJob, **kwargs)
        self.flask_app = flask_app
        self._rq_beat_at = float("-inf")

    def heartbeat(self, timeout=None, pipeline=None):
        if timeout is None and pipeline is None:
            if time.monotonic() - self._rq_beat_at < self.RQ_HEARTBEAT_EVERY:
                return
            self._rq_beat_at = time.monotonic()
        super().heartbeat(timeout, pipeline)

    def perform_job(self, job, queue):
        # A fresh app context per job: its database session ends (and returns its
        # connection to the pool) with the job, so no state leaks from one run to the next.
        with self.flask_app.app_context():
            return super().perform_job(job, queue)


def run_worker(burst: bool = False) -> None:
    app = current_app._get_current_object()
    # Import every agent kind now (the openai SDK alone takes seconds), not in the first run.
    for kind in AGENT_KINDS:
        kind_module(kind)
    name = process_name()
    jobs.WORKER_NAME = name
    worker = TaskplanWorker([run_queue()], connection=redis_client(), name=name, flask_app=app)
    beat = Heartbeat(
        "worker",
        name,
        app.config["WORKER_HEARTBEAT_SECONDS"],
        state=lambda: {"state": str(worker.get_state()), "job": worker.get_current_job_id()},
    ).start()
    try:
        worker.work(burst=burst, with_scheduler=False, logging_level="INFO")
    finally:
        beat.stop()
