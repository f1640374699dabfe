"""RQ plumbing shared by the web, the worker and the scheduler.

Everything Taskplan puts in Redis is JSON (SPEC §10): never pickle, which would let
anyone who can write to Redis run code in our workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from app.extensions import redis_client, rkey


class JSONJob(Job):
    """An RQ job whose payload is serialized as JSON unless told otherwise."""

    def __init__(self, id=None, connection=None, serializer=None):  # noqa: A002 (RQ's signature)
        super().__init__(id, connection=connection, serializer=serializer or JSONSerializer)


class JSONQueue(Queue):
    """An RQ queue of JSON jobs (what RQ's worker pool builds in each of its processes)."""

    def __init__(self, name: str = "default", *args, **kwargs) -> None:
        kwargs.setdefault("job_class", JSONJob)
        kwargs.setdefault("serializer", JSONSerializer)
        super().__init__(name, *args, **kwargs)


def run_queue(connection: Redis | None = None) -> Queue:
    return JSONQueue(current_app.config["QUEUE_NAME"], connection=connection or redis_client())


def process_name() -> str:
    return f"{socket.gethostname()}.{os.getpid()}"


class Heartbeat:
    """Publishes `{name, state, at, ...}` under a key that expires unless refreshed.

    A thread rather than the main loop, so a process busy with work still beats and a
    process that died stops beating: its key expires and health reports it gone.
    """

    def __init__(
        self, kind: str, name: str, interval: float, state: Callable[[], dict] | None = None
    ) -> None:
        self.key = rkey("heartbeat", kind, name)
        self.name, self.interval, self.state = name, interval, state or dict
        self.connection = redis_client()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{kind}", daemon=True)

    def beat(self) -> None:
        body = {"name": self.name, "pid": os.getpid(), "at": time.time(), **self.state()}
        # With Redis down the key expires by itself, and the next beat restores it.
        with contextlib.suppress(RedisError):
            self.connection.set(self.key, json.dumps(body), ex=max(3, int(self.interval * 3)))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def start(self) -> Heartbeat:
        self.beat()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(RedisError):
            self.connection.delete(self.key)
