"""Rate limits. Login (SPEC §10): 5 failures for an account or an address within 5 minutes
→ 429. API: API_RATE_LIMIT requests per token per minute → 429 with Retry-After.

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


def api_retry_after(token_id: int) -> int:
    """Count this API request against its token's minute; seconds to wait if it is over."""
    limit = current_app.config["API_RATE_LIMIT"]
    if not limit:
        return 0
    key = rkey("api-rate", str(token_id))
    try:
        pipe = redis_client().pipeline()
        pipe.set(key, 0, ex=60, nx=True)  # a fixed one-minute window from the first request
        pipe.incr(key)
        pipe.ttl(key)
        _, count, ttl = pipe.execute()
    except RedisError:
        log.warning("API rate limit unavailable: Redis did not answer")
        return 0  # fail open, as the login throttle does
    return max(int(ttl), 1) if int(count) > limit else 0
