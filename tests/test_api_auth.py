"""The API's bearer-token authentication and its JSON errors."""

from __future__ import annotations

from app.extensions import db
from app.models import ApiToken, utcnow


def test_an_unauthenticated_api_call_gets_401_json(app):
    response = app.test_client().get("/api/v1/health")
    assert response.status_code == 401
    assert response.is_json and response.get_json()["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_token_gets_401(app, admin):
    response = app.test_client().get(
        "/api/v1/health", headers={"Authorization": "Bearer tp_not-a-real-token"}
    )
    assert response.status_code == 401


def test_a_session_cookie_does_not_authenticate_the_api(app, signed_in, admin):
    assert signed_in(admin).get("/api/v1/health").status_code == 401


def test_a_valid_token_reads_health(app, admin, token_for):
    response = app.test_client().get("/api/v1/health", headers=token_for(admin))
    assert response.status_code == 200
    body = response.get_json()
    assert body["database"]["ok"] is True and body["redis"]["ok"] is True
    assert body["queue"]["size"] == 0


def test_tokens_are_stored_hashed_and_a_revoked_one_stops_working(app, admin, token_for):
    headers = token_for(admin)
    plain = headers["Authorization"].split()[1]
    with app.app_context():
        row = db.session.execute(db.select(ApiToken)).scalar_one()
        assert row.token_hash == ApiToken.digest(plain) and plain not in row.token_hash
        row.revoked_at = utcnow()
        db.session.commit()
    assert app.test_client().get("/api/v1/health", headers=headers).status_code == 401


def test_a_member_of_several_organizations_names_one(app, make_user, token_for):
    user = make_user("both@example.test", "admin", "Acme")
    make_user("both@example.test", "viewer", "Globex")
    headers = token_for(user)
    client = app.test_client()
    response = client.get("/api/v1/health", headers=headers)
    assert response.status_code == 400
    assert "X-Organization" in response.get_json()["error"]
    assert (
        client.get("/api/v1/health", headers={**headers, "X-Organization": "Globex"}).status_code
        == 200
    )
    assert (
        client.get("/api/v1/health", headers={**headers, "X-Organization": "Nope"}).status_code
        == 403
    )


def test_an_unknown_endpoint_answers_json_404(app, admin, token_for):
    response = app.test_client().get("/api/v1/nothing-here", headers=token_for(admin))
    assert response.status_code == 404
    assert response.get_json() == {"error": "Not Found"}


def test_a_wrong_method_answers_json_405(app, admin, token_for):
    response = app.test_client().delete("/api/v1/health", headers=token_for(admin))
    assert response.status_code == 405
    assert response.get_json() == {"error": "Method Not Allowed"}
