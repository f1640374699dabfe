"""/healthz for load balancers and the health page."""

from __future__ import annotations

from tests.services import free_port


def test_healthz_answers_200_when_database_and_redis_answer(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_answers_503_when_redis_is_unreachable(database_url, make_app):
    # A real connection attempt to a port where nothing listens: no mock.
    app = make_app(database_url, f"redis://127.0.0.1:{free_port()}/0")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and body["database"] == "ok"
    assert body["redis"] != "ok"


def test_healthz_answers_503_when_the_database_is_unreachable(redis_url, tmp_path, make_app):
    missing = tmp_path / "no-such-dir" / "db.sqlite"
    app = make_app(f"sqlite:///{missing}", redis_url)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] != "ok"


def test_healthz_needs_no_sign_in_but_the_health_page_does(app):
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/health").status_code == 302


def test_the_health_page_shows_each_component(app, signed_in, viewer):
    page = signed_in(viewer).get("/health").get_data(as_text=True)
    for part in ("Database", "Redis", "Scheduler", "Workers", "Queue", "Success rate"):
        assert part in page
    assert "no worker alive" in page and "no heartbeat" in page
