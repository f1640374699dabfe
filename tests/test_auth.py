"""Signing in and out, the login rate limit, CSRF, the organization switcher."""

from __future__ import annotations

from app.extensions import db
from app.models import User
from tests.conftest import csrf_token, login


def test_an_anonymous_visitor_is_sent_to_sign_in(app):
    response = app.test_client().get("/schedules")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/schedules")


def test_it_signs_in_with_the_right_password_and_lands_on_schedules(app, admin):
    client = app.test_client()
    response = login(client, admin)
    assert response.status_code == 302
    assert response.headers["Location"] == "/schedules"
    page = client.get("/schedules").get_data(as_text=True)
    assert "admin@acme.test" in page and "Acme" in page


def test_a_wrong_password_is_refused(app, admin):
    client = app.test_client()
    response = login(client, admin, password="not the password")
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert client.get("/schedules").status_code == 302


def test_an_unknown_email_gets_the_same_answer_as_a_wrong_password(app, admin):
    client = app.test_client()
    response = client.post(
        "/login",
        data={"email": "nobody@acme.test", "password": "x", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)


def test_repeated_failures_for_an_account_are_slowed_down(app, admin):
    client = app.test_client()
    for _ in range(5):
        assert login(client, admin, password="wrong").status_code == 401
    # Even the right password is refused while the account is throttled.
    response = login(client, admin)
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.get_data(as_text=True)


def test_repeated_failures_from_an_address_are_slowed_down_across_accounts(app, make_user):
    users = [make_user(f"u{i}@acme.test") for i in range(6)]
    client = app.test_client()
    for user in users[:5]:
        assert login(client, user, password="wrong").status_code == 401
    assert login(client, users[5]).status_code == 429


def test_a_success_clears_the_account_counter(app, admin):
    client = app.test_client()
    for _ in range(4):
        login(client, admin, password="wrong")
    assert login(client, admin).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/schedules")})
    # The account starts again from zero (the address keeps its 4 failures, under the limit).
    assert login(client, admin, password="wrong").status_code == 401


def test_a_post_without_csrf_token_is_refused(app, admin):
    client = app.test_client()
    response = client.post("/login", data={"email": admin.email, "password": admin.password})
    assert response.status_code == 400
    assert client.get("/schedules").status_code == 302


def test_sign_out_is_a_post_and_needs_the_csrf_token(app, signed_in, admin):
    client = signed_in(admin)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/schedules")})
    assert response.status_code == 302
    assert client.get("/schedules").status_code == 302


def test_it_does_not_redirect_off_site_after_sign_in(app, admin):
    client = app.test_client()
    response = client.post(
        "/login?next=//evil.example/phish",
        data={"email": admin.email, "password": admin.password, "csrf_token": csrf_token(client)},
    )
    assert response.headers["Location"] == "/schedules"


def test_passwords_are_stored_as_argon2_hashes(app):
    with app.app_context():
        user = User(email="new@acme.test")
        user.set_password("s3cret-pass")
        assert user.password_hash.startswith("$argon2id$")
        assert "s3cret-pass" not in user.password_hash
        assert user.check_password("s3cret-pass") and not user.check_password("s3cret-pasS")


def test_an_inactive_user_cannot_sign_in(app, admin):
    with app.app_context():
        db.session.get(User, admin.id).active = False
        db.session.commit()
    assert login(app.test_client(), admin).status_code == 401


def test_the_switcher_changes_organization_only_to_ones_the_user_belongs_to(
    app, make_user, signed_in
):
    acme = make_user("both@example.test", "admin", "Acme")
    globex = make_user("both@example.test", "viewer", "Globex")
    make_user("x@initech.test", "admin", "Initech")
    client = signed_in(acme)
    page = client.get("/schedules").get_data(as_text=True)
    assert 'id="org-switch"' in page and "Globex" in page and "Initech" not in page
    token = csrf_token(client, "/schedules")
    response = client.post(
        "/orgs/switch", data={"organization_id": globex.org_id, "csrf_token": token}
    )
    assert response.status_code == 302
    page = client.get("/schedules").get_data(as_text=True)
    assert "badge-viewer" in page
    with app.app_context():
        from app.models import Organization

        initech = db.session.execute(
            db.select(Organization).where(Organization.name == "Initech")
        ).scalar_one()
        foreign = initech.id
    response = client.post("/orgs/switch", data={"organization_id": foreign, "csrf_token": token})
    assert response.status_code == 404
