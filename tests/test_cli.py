"""`flask users create` and `flask tokens create`."""

from __future__ import annotations

from app.extensions import db
from app.models import ApiToken, Membership, Organization, User


def test_users_create_makes_a_user_with_a_role_in_a_new_organization(app):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "Ana@Example.com", "--password", "longenough", "--role", "viewer",
              "--org", "Acme"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.execute(db.select(User)).scalar_one()
        assert user.email == "ana@example.com" and user.check_password("longenough")
        membership = db.session.execute(db.select(Membership)).scalar_one()
        assert membership.role == "viewer" and membership.organization.name == "Acme"


def test_users_create_adds_an_existing_user_to_another_organization(app):
    runner = app.test_cli_runner()
    for org, role in (("Acme", "admin"), ("Globex", "viewer")):
        result = runner.invoke(
            args=["users", "create", "a@x.io", "--password", "longenough", "--role", role,
                  "--org", org]
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.execute(db.select(User)).scalar_one()
        assert {(m.organization.name, m.role) for m in user.memberships} == {
            ("Acme", "admin"),
            ("Globex", "viewer"),
        }
        assert db.session.execute(db.select(db.func.count(Organization.id))).scalar() == 2


def test_users_create_refuses_a_short_password_and_a_bad_role(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "a@x.io", "--password", "short"])
    assert result.exit_code != 0
    assert "at least 8 characters" in result.output
    result = runner.invoke(
        args=["users", "create", "a@x.io", "--password", "longenough", "--role", "owner"]
    )
    assert result.exit_code != 0 and "owner" in result.output
    with app.app_context():
        assert db.session.execute(db.select(User)).first() is None


def test_tokens_create_prints_a_working_token_on_its_last_line(app, admin):
    result = app.test_cli_runner().invoke(args=["tokens", "create", admin.email])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("tp_")
    response = app.test_client().get("/api/v1/health", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    with app.app_context():
        assert db.session.execute(db.select(ApiToken.token_hash)).scalar() != token


def test_tokens_create_for_an_unknown_user_fails_with_one_line(app):
    result = app.test_cli_runner().invoke(args=["tokens", "create", "ghost@x.io"])
    assert result.exit_code != 0
    assert "User 'ghost@x.io' not found." in result.output


def test_bootstrap_creates_the_first_admin_once(app, monkeypatch):
    monkeypatch.setenv("ADMIN_EMAIL", "boss@example.com")
    monkeypatch.setenv("ADMIN_PASSWORD", "first-password")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["bootstrap"])
    assert "boss@example.com" in first.output and "first-password" in first.output
    second = runner.invoke(args=["bootstrap"])
    assert "existing account" in second.output
    with app.app_context():
        assert db.session.execute(db.select(db.func.count(User.id))).scalar() == 1
