"""Rules that hold for every route, present and future (SPEC §4, §6, §10).

The routes are read from the app's URL map, so a new route is covered the day it is added.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import csrf_token

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Changes only to the caller's own session, or reads: open to every member.
SELF_SERVICE = {"auth.login", "auth.logout", "auth.switch_org", "api.preview", "schedules.preview"}


def unsafe_routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & UNSAFE):
            yield rule, method


def url_for_rule(rule) -> str:
    # Any id will do: the role check comes before the object is looked up.
    return re.sub(r"<(?:\w+:)?\w+>", "1", rule.rule)


def test_no_state_changing_route_answers_get(app):
    checked = 0
    for rule, _method in unsafe_routes(app):
        if rule.endpoint == "auth.login":
            continue  # GET shows the form; only the POST signs in
        assert "GET" not in rule.methods, f"{rule.rule} changes state and also answers GET"
        checked += 1
    assert checked >= 8


def test_a_viewer_is_refused_every_state_changing_route(app, viewer, signed_in, token_for):
    client, headers = signed_in(viewer), token_for(viewer)
    token = csrf_token(client, "/schedules")
    checked = []
    for rule, method in unsafe_routes(app):
        if rule.endpoint in SELF_SERVICE:
            continue
        url = url_for_rule(rule)
        if rule.rule.startswith("/api/"):
            response = client.open(url, method=method, headers=headers, json={})
        else:
            response = client.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == 403, f"{method} {url} answered {response.status_code}"
        checked.append(url)
    assert len(checked) >= 5


def test_pages_refuse_a_post_without_csrf_token(app, admin, signed_in):
    client = signed_in(admin)
    page_routes = [(r, m) for r, m in unsafe_routes(app) if not r.rule.startswith("/api/")]
    assert page_routes
    for rule, method in page_routes:
        response = client.open(url_for_rule(rule), method=method, data={})
        assert response.status_code == 400, f"{method} {rule.rule} accepted no CSRF token"


@pytest.mark.parametrize("path", ["/schedules", "/health"])
def test_pages_send_security_headers(app, admin, signed_in, path):
    response = signed_in(admin).get(path)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
