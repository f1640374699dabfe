"""Fixtures: real Redis and a real database (SQLite, or PostgreSQL: TASKPLAN_TEST_DB=postgresql).

The `app` fixture does not keep an app context pushed: Flask would reuse it for every
test request, sharing `g` (and the signed-in user) between clients. Fixtures and tests
that touch the database open `with app.app_context():` for just that.
"""

from __future__ import annotations

import os
import re
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.config import TestConfig
from app.extensions import db, redis_client
from app.models import ApiToken, Membership, Organization, User
from tests import services

DB_KIND = os.environ.get("TASKPLAN_TEST_DB", "sqlite")
PASSWORD = "correct horse battery"


def pytest_report_header(config) -> str:
    return f"taskplan: database={DB_KIND}"


@pytest.fixture(scope="session")
def redis_url():
    server = services.start_redis()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if DB_KIND == "postgresql":
        server = services.start_postgres()
        yield server.url
        server.stop()
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'taskplan.db'}"


def make_config(database_url: str, redis_url: str, **overrides) -> TestConfig:
    config = TestConfig()
    config.SQLALCHEMY_DATABASE_URI = database_url
    config.REDIS_URL = redis_url
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


@pytest.fixture(scope="session")
def _schema(database_url, redis_url):
    """The schema comes from the migrations, as in production: they are tested by every test."""
    import flask_migrate

    app = create_app(make_config(database_url, redis_url))
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def password_hash():
    # Argon2 is slow on purpose; hash the shared test password once per session.
    user = User(email="x@example.com")
    user.set_password(PASSWORD)
    return user.password_hash


@pytest.fixture
def app(_schema, database_url, redis_url) -> Flask:
    app = create_app(make_config(database_url, redis_url))
    with app.app_context():
        # Clean at the start, so a test that failed half-way leaves nothing behind for the next.
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        redis_client().flushdb()
    yield app
    with app.app_context():
        db.engine.dispose()
    app.extensions["taskplan_redis"].close()


@pytest.fixture
def make_app():
    """make_app(database_url, redis_url) → an extra app (e.g. pointing at a dead server);
    its connection pool is closed after the test, so no connection outlives its server."""
    made: list[Flask] = []

    def make(database_url: str, redis_url: str) -> Flask:
        made.append(create_app(make_config(database_url, redis_url)))
        return made[-1]

    yield make
    for extra in made:
        with extra.app_context():
            db.engine.dispose()
        extra.extensions["taskplan_redis"].close()


@pytest.fixture
def make_user(app, password_hash):
    """make_user("a@x.com", role="viewer", org="Acme") → namespace with id, email, org_id."""

    def make(email: str, role: str = "admin", org: str = "Acme") -> SimpleNamespace:
        with app.app_context():
            organization = db.session.execute(
                db.select(Organization).where(Organization.name == org)
            ).scalar_one_or_none() or Organization(name=org)
            user = db.session.execute(
                db.select(User).where(User.email == email)
            ).scalar_one_or_none() or User(email=email, password_hash=password_hash)
            db.session.add(Membership(user=user, organization=organization, role=role))
            db.session.commit()
            return SimpleNamespace(
                id=user.id, email=user.email, password=PASSWORD, org_id=organization.id, role=role
            )

    return make


@pytest.fixture
def admin(make_user):
    return make_user("admin@acme.test", "admin", "Acme")


@pytest.fixture
def viewer(make_user):
    return make_user("viewer@acme.test", "viewer", "Acme")


@pytest.fixture
def outsider(make_user):
    return make_user("admin@globex.test", "admin", "Globex")


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: FlaskClient, user: SimpleNamespace, password: str | None = None):
    return client.post(
        "/login",
        data={
            "email": user.email,
            "password": password or user.password,
            "csrf_token": csrf_token(client),
        },
    )


@pytest.fixture
def signed_in(app):
    """signed_in(user) → a test client with that user's session."""

    def make(user: SimpleNamespace) -> FlaskClient:
        client = app.test_client()
        response = login(client, user)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


@pytest.fixture
def token_for(app):
    """token_for(user) → Authorization headers with a fresh API token of that user."""

    def make(user: SimpleNamespace) -> dict[str, str]:
        with app.app_context():
            token, plain = ApiToken.issue(db.session.get(User, user.id))
            db.session.add(token)
            db.session.commit()
        return {"Authorization": f"Bearer {plain}"}

    return make
