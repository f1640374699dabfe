"""The OpenAPI document: generated from the code, complete, and true to the served API.

The fuzz run is schemathesis against the document the app serves, on the real database and
Redis: every generated request must answer without a 5xx, with a status code, content type
and body that the document declares.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.api.openapi import document
from app.schedules import service
from tests.engine_helpers import make_schedule


def test_the_document_is_served_without_a_token_and_lists_every_api_route(app):
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    routes = {
        (rule.rule.replace("<int:", "{").replace(">", "}"), method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert documented == routes
    assert ("/api/v1/schedules/{schedule_id}/run", "POST") in documented


def test_an_undocumented_api_view_is_an_error_not_a_silent_gap(app):
    def undocumented_probe():
        return ""

    app.add_url_rule("/api/v1/undocumented-probe", "api.undocumented_probe", undocumented_probe)
    with pytest.raises(LookupError, match="api.undocumented_probe"):
        document(app)


def test_schemas_come_from_the_validation_rules(app):
    schemas = document(app)["components"]["schemas"]
    create = schemas["ScheduleCreate"]
    assert set(create["properties"]) == set(service.FIELDS)
    assert set(create["required"]) == {"name", "prompt", "schedule_type"}
    low, high = service.RANGES["max_retries"]
    assert create["properties"]["max_retries"] | {} == {
        "type": "integer", "minimum": low, "maximum": high, "default": 0,
    }  # fmt: skip
    assert schemas["Schedule"]["properties"]["prompt"]["maxLength"] == service.MAX_PROMPT


def test_a_token_over_its_rate_limit_gets_429_with_retry_after(app, admin, token_for):
    app.config["API_RATE_LIMIT"] = 3
    client = app.test_client()
    headers = token_for(admin)
    statuses = [client.get("/api/v1/schedules", headers=headers).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get("/api/v1/schedules", headers=headers)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "at most 3 a minute" in refused.get_json()["error"]
    # Another token has its own minute.
    assert client.get("/api/v1/schedules", headers=token_for(admin)).status_code == 200


# ---- the fuzz run


@pytest.fixture
def fuzz_headers(app, admin, token_for):
    app.config["API_RATE_LIMIT"] = 0  # the fuzz sends hundreds of requests a minute
    with app.app_context():
        make_schedule(admin.id, admin.org_id, name="Fuzz target")  # something to find
    return token_for(admin)


def _served_document() -> dict:
    """The document as the app builds it; the paths depend only on the code, so an app that
    is never served (no database, no Redis) builds the same one at collection time."""
    from app import create_app
    from tests.conftest import make_config

    return document(create_app(make_config("sqlite://", "redis://127.0.0.1:1/0")))


fuzzed = schemathesis.openapi.from_dict(_served_document())


@fuzzed.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_api_fuzz_answers_without_5xx_and_as_documented(case, app, fuzz_headers):
    case.call_and_validate(
        app=app,
        headers=fuzz_headers,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )


def test_ids_past_what_the_database_holds_are_404_not_500(app, admin, token_for):
    """Found by the fuzz run on PostgreSQL, whose INTEGER keys stop at 2**31 - 1."""
    client, headers = app.test_client(), token_for(admin)
    for path in ("/api/v1/schedules/2147483648", "/api/v1/runs/99999999999999999999",
                 "/api/v1/agents/2147483648", "/api/v1/sessions/2147483648"):  # fmt: skip
        assert client.get(path, headers=headers).status_code == 404, path
    response = client.get("/api/v1/schedules?before=2147483648", headers=headers)
    assert response.status_code == 422


def test_nul_characters_are_refused_with_400_not_stored(app, admin, token_for, signed_in):
    """Found by the fuzz run on PostgreSQL, which stores no NUL in text."""
    client, headers = app.test_client(), token_for(admin)
    body = {"name": "x", "prompt": "p", "schedule_type": "CRON", "agent": "\u0000"}
    response = client.post("/api/v1/schedules", json=body, headers=headers)
    assert response.status_code == 400
    assert "NUL" in response.get_json()["error"]
    assert client.get("/api/v1/schedules?q=a%00b", headers=headers).status_code == 400
    assert signed_in(admin).get("/schedules?q=a%00b").status_code == 400
