"""Configuration read from the environment (SPEC §9); the defaults let `make run` start bare."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


class ConfigError(RuntimeError):
    """A setting is missing or malformed; raised at start-up, never later."""


def _int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def database_url(raw: str | None) -> str:
    """Normalise DATABASE_URL: default SQLite under instance/, and Heroku-style postgres://."""
    if not raw:
        return f"sqlite:///{INSTANCE / 'taskplan.db'}"
    # SQLAlchemy dropped the `postgres://` alias; platforms still hand it out.
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix) :]
    return raw


class Config:
    """Production defaults; every value can come from the environment, read when instantiated."""

    TESTING = False

    def __init__(self) -> None:
        env = os.environ.get
        self.DEBUG = _bool("FLASK_DEBUG", False)
        self.SECRET_KEY = env("SECRET_KEY") or None
        # `make run` sets this so a bare local start works without a SECRET_KEY (SPEC §9).
        self.LOCAL_RUNNER = _bool("TASKPLAN_LOCAL", False)

        self.SQLALCHEMY_DATABASE_URI = database_url(env("DATABASE_URL"))
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.REDIS_URL = env("REDIS_URL") or "redis://127.0.0.1:6379/0"
        # Every key Taskplan writes starts with this, so one Redis can serve several installs.
        self.REDIS_PREFIX = env("TASKPLAN_REDIS_PREFIX") or "taskplan"

        self.AGENT_BASE_URL = env("AGENT_BASE_URL") or None
        self.AGENT_MODEL = env("AGENT_MODEL") or None

        self.QUEUE_NAME = env("TASKPLAN_QUEUE") or "taskplan"
        self.WORKER_HEARTBEAT_SECONDS = _int("TASKPLAN_WORKER_HEARTBEAT", 10, minimum=1)
        self.SCHEDULER_HEARTBEAT_SECONDS = _int("TASKPLAN_SCHEDULER_HEARTBEAT", 5, minimum=1)

        self.LOGIN_MAX_FAILURES = _int("TASKPLAN_LOGIN_MAX_FAILURES", 5, minimum=1)
        self.LOGIN_FAILURE_WINDOW_SECONDS = _int("TASKPLAN_LOGIN_WINDOW", 300, minimum=1)
        # API requests per token per minute; past it, 429 with Retry-After. 0 turns it off.
        self.API_RATE_LIMIT = _int("TASKPLAN_API_RATE_LIMIT", 600, minimum=0)

        self.MAX_CONTENT_LENGTH = 1024 * 1024  # SPEC §7: a body over 1 MB is a 413
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
        self.PAGE_SIZE = _int("TASKPLAN_PAGE_SIZE", 25, minimum=1)

        if not self.SECRET_KEY:
            if self.DEBUG or self.LOCAL_RUNNER:
                self.SECRET_KEY = "dev-only-not-secret"
            elif click.get_current_context(silent=True) is not None:
                # A `flask …` command (db upgrade, users create, worker, scheduler) never signs
                # a cookie, so a release step needs no key; the web server still does.
                self.SECRET_KEY = secrets.token_hex(32)
            elif not self.TESTING:
                raise ConfigError(
                    "SECRET_KEY is not set. Set it to a long random string, e.g. the output of "
                    "python -c 'import secrets; print(secrets.token_hex(32))'."
                )


class TestConfig(Config):
    """The test suite's settings; the URLs come from the throwaway servers in tests/services.py."""

    TESTING = True

    def __init__(self) -> None:
        super().__init__()
        self.SECRET_KEY = "test-secret"
        self.SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
        self.REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
        self.SQLALCHEMY_ENGINE_OPTIONS = {}
