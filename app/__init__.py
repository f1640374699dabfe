"""Taskplan: run AI-agent work on a schedule."""

from __future__ import annotations

from flask import Flask
from redis import Redis

from app.config import INSTANCE, ROOT, Config


def create_app(config: Config | type[Config] | None = None) -> Flask:
    """Build the app. The web, the worker and the scheduler all start here."""
    if config is None or isinstance(config, type):
        config = (config or Config)()
    app = Flask(
        __name__,
        instance_path=str(INSTANCE),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_object(config)
    INSTANCE.mkdir(exist_ok=True)

    from app.extensions import csrf, db, htmx, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    htmx.init_app(app)
    app.extensions["taskplan_redis"] = Redis.from_url(
        app.config["REDIS_URL"],
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
    )

    from app import models  # noqa: F401  (register the tables with the metadata)
    from app.agents_admin import bp as agents_admin_bp
    from app.api import bp as api_bp
    from app.audit import bp as audit_bp
    from app.auth import bp as auth_bp
    from app.auth.access import init_access
    from app.errors import init_errors
    from app.health import bp as health_bp
    from app.runs.routes import bp as runs_bp
    from app.schedules import bp as schedules_bp
    from app.sessions import bp as sessions_bp
    from app.web import init_web

    init_access(app)
    init_errors(app)
    init_web(app)
    app.register_blueprint(auth_bp)
    app.register_blueprint(schedules_bp)
    app.register_blueprint(runs_bp)
    app.register_blueprint(sessions_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(agents_admin_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")

    from app.cli import register_cli

    register_cli(app)
    from app.scheduling.bridge import init_bridge

    init_bridge(app)
    return app
