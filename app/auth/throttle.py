"""Login rate limit (SPEC §10): 5 failures for an account or an address within 5 minutes → 429.

Counters are short-lived Redis keys, so every web process on every machine shares them.
"""

from __future__ import annotations

import contextlib
import logging

from flask import current_app
from redis.exceptions import RedisError

from app.extensions import redis_client, rkey

log = logging.getLogger(__name__)


def _keys(email: str, address: str) -> list[str]:
    return [rkey("login-fail", "acct", email.strip().lower()), rkey("login-fail", "addr", address)]


def retry_after(email: str, address: str) -> int:
    """Seconds until this account and address may try again; 0 when they may now."""
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    try:
        pipe = redis_client().pipeline()
        for key in _keys(email, address):
            pipe.get(key)
            pipe.ttl(key)
        values = pipe.execute()
    except RedisError:
        # Fail open: with Redis down an admin must still reach the health page.
        log.warning("login throttle unavailable: Redis did not answer")
        return 0
    waits = [
        max(int(ttl), 1)
        for count, ttl in zip(values[::2], values[1::2], strict=True)
        if count is not None and int(count) >= limit
    ]
    return max(waits, default=0)


def record_failure(email: str, address: str) -> None:
    window = current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"]
    try:
        pipe = redis_client().pipeline()
        for key in _keys(email, address):
            # The window starts at the first failure and later ones do not extend it
            # (SET NX EX rather than EXPIRE NX, which Redis < 7 lacks).
            pipe.set(key, 0, ex=window, nx=True)
            pipe.incr(key)
        pipe.execute()
    except RedisError:
        log.warning("login throttle unavailable: Redis did not answer")


def clear_account(email: str) -> None:
    with contextlib.suppress(RedisError):
        redis_client().delete(_keys(email, "")[0])
