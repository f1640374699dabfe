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


def _list(name: str, default: str = "") -> tuple[str, ...]:
    """A comma-separated list; blanks dropped."""
    raw = os.environ.get(name)
    raw = default if raw is None else raw
    return tuple(item.strip() for item in raw.split(",") if item.strip())


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

        # The built-in `orchestrator` agent (SPEC §5.1): an OpenAI-compatible endpoint when
        # AGENT_BASE_URL or AGENT_API_KEY is set, else the offline demo agent. The key itself is
        # never copied into the config: the agent reads AGENT_API_KEY from the environment
        # at call time, as it reads every other agent secret.
        self.AGENT_BASE_URL = env("AGENT_BASE_URL") or None
        self.AGENT_MODEL = env("AGENT_MODEL") or None
        self.AGENT_CONFIGURED = bool(self.AGENT_BASE_URL or env("AGENT_API_KEY"))
        if self.AGENT_BASE_URL and not self.AGENT_BASE_URL.startswith(("http://", "https://")):
            raise ConfigError(
                f"AGENT_BASE_URL must start with http:// or https://, not {self.AGENT_BASE_URL!r}"
            )
        if self.AGENT_CONFIGURED and not self.AGENT_MODEL:
            raise ConfigError(
                "AGENT_MODEL is not set. With AGENT_BASE_URL or AGENT_API_KEY set, the "
                "orchestrator agent needs a model name, e.g. AGENT_MODEL=gpt-4o-mini."
            )
        # Earlier messages of a continuous session sent with each prompt (newest kept).
        self.AGENT_HISTORY_MESSAGES = _int("TASKPLAN_AGENT_HISTORY", 50, minimum=0)
        # `python` agents may only load modules under these prefixes; empty: none at all.
        self.PYTHON_AGENT_PREFIXES = _list("TASKPLAN_PYTHON_AGENT_PREFIXES")
        # Agents name the environment variables holding their API keys and webhook secrets;
        # only names under these prefixes may be used, so an agent cannot send, say,
        # SECRET_KEY or DATABASE_URL to an endpoint of its choosing.
        self.AGENT_SECRET_PREFIXES = _list(
            "TASKPLAN_AGENT_SECRET_PREFIXES", "AGENT_,OPENAI_,WEBHOOK_"
        )

        self.QUEUE_NAME = env("TASKPLAN_QUEUE") or "taskplan"
        self.WORKER_HEARTBEAT_SECONDS = _int("TASKPLAN_WORKER_HEARTBEAT", 10, minimum=1)
        # Worker processes one `flask worker` runs: how many runs one machine carries at once.
        self.WORKER_PROCESSES = _int("TASKPLAN_WORKER_PROCESSES", 4, minimum=1)
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
