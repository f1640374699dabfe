"""Extensions, created once here and bound to an app in create_app()."""

from __future__ import annotations

from flask import current_app
from flask_htmx import HTMX
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from redis import Redis
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Named constraints so Alembic can alter them on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite only: enforce the foreign keys the schema declares (ON DELETE CASCADE / SET NULL
    do nothing without this), and let several processes (web, worker, scheduler) share the
    file: WAL lets readers proceed during a write, and writers wait instead of failing.
    Under WAL, synchronous=NORMAL is SQLite's recommended setting: a commit survives a crash
    of any process and costs no fsync; only a power cut may lose the last commits."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "memory":
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
htmx = HTMX()


def redis_client() -> Redis:
    """The app's Redis connection (one pool per process)."""
    return current_app.extensions["taskplan_redis"]


def rkey(*parts: object) -> str:
    """A Redis key under this install's prefix: rkey("login", "ip", addr)."""
    return ":".join([current_app.config["REDIS_PREFIX"], *map(str, parts)])
