"""Extensions, created once here and bound to an app in create_app()."""

from __future__ import annotations

from flask import current_app
from flask_htmx import HTMX
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from redis import Redis
from sqlalchemy import MetaData
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
