"""The worker process: an RQ worker that runs each job inside the Flask app context."""

from __future__ import annotations

import logging

from flask import Flask, current_app
from rq import Worker
from rq.serializers import JSONSerializer

from app.extensions import db, redis_client
from app.redisjobs import Heartbeat, JSONJob, process_name, run_queue

log = logging.getLogger(__name__)


class TaskplanWorker(Worker):
    def __init__(self, *args, flask_app: Flask, **kwargs) -> None:
        super().__init__(*args, serializer=JSONSerializer, job_class=JSONJob, **kwargs)
        self.flask_app = flask_app

    def perform_job(self, job, queue):  # runs in the forked work horse
        # The horse inherits the parent's pooled database sockets; sharing a socket
        # between two processes corrupts both, so the horse opens its own.
        with self.flask_app.app_context():
            db.engine.dispose(close=False)
            return super().perform_job(job, queue)


def run_worker(burst: bool = False) -> None:
    app = current_app._get_current_object()
    name = process_name()
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
