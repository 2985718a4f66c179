"""Errors are problem+json (RFC 9457) on every route, the framework's own included; every route but the public
ones wants a key; every operation documents its problem responses. The walks cover routes added later too."""

from __future__ import annotations

import re

import pytest
from builders import make_entity
from fakes import FakeBackend
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from api.app import create_app
from api.body_limit import MAX_BODY
from api.deps import KeyHolder, get_matcher
from api.problems import PROBLEM_JSON
from chainmatch.settings import ApiKey, Settings
from matcher.model import Profile, Upsert

STAFF = {"Authorization": "Bearer staff-key"}
PUBLIC = {"/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/v1/asyncapi.json"}
PUBLIC_PREFIXES = ("/v1/schemas/",)


@pytest.fixture
def app():
    backend = FakeBackend()
    backend.matcher().apply([
        Upsert(Profile.from_data("company", make_entity(id="chip-1", roles=["chip"]))),
        Upsert(Profile.from_data("company", make_entity(id="algo-1", roles=["algorithm"]))),
        Upsert(Profile.from_data("lab", make_entity(id="app-1", roles=["application"]))),
    ])
    return create_app(settings=Settings(api_keys={"staff-key": ApiKey(role="staff", name="Ada")}), backend=backend)


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app)


@pytest.fixture
def partnership_id(client) -> str:
    [listed] = client.get("/v1/partnerships", headers=STAFF).json()["items"]
    return listed["id"]


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"] == "about:blank"
    return body


def test_the_frameworks_own_404_and_405_are_problems(client):
    assert_problem(client.get("/v1/nothing-here"), 404)
    response = client.delete("/healthz")
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET"


def test_validation_errors_point_at_the_offending_member(client, partnership_id):
    query = assert_problem(client.get("/v1/entities?limit=0&role=cpu", headers=STAFF), 422)
    assert {e["pointer"] for e in query["errors"]} == {"/query/limit", "/query/role"}
    body = assert_problem(client.post(f"/v1/partnerships/{partnership_id}/decision", headers=STAFF,
                                      json={"decision": "maybe", "note": 7}), 422)
    assert {e["pointer"] for e in body["errors"]} == {"/decision", "/note"}
    missing = assert_problem(client.post(f"/v1/partnerships/{partnership_id}/decision", headers=STAFF, json={}), 422)
    assert [e["pointer"] for e in missing["errors"]] == ["/decision"]


@pytest.mark.parametrize("body", [b"{not json", b'{"decision": "approved"', b"\xff\xfe", b"[" * 100_000,
                                  b"{" + b'"a":{' * 50_000])
def test_malformed_or_deeply_nested_json_is_a_400_problem_on_every_json_route(client, partnership_id, body):
    # Python's parser raises RecursionError, not ValueError, on deep nesting: it must not become a 500.
    headers = {**STAFF, "content-type": "application/json"}
    for path in ("/v1/events", f"/v1/partnerships/{partnership_id}/decision"):
        problem = assert_problem(client.post(path, content=body, headers=headers), 400)
        assert "errors" not in problem or problem["errors"][0]["pointer"] == ""


def test_a_body_over_1_mib_is_a_413_problem_on_any_route(client, partnership_id):
    too_big = b" " * (MAX_BODY + 1)
    for path in ("/v1/events", f"/v1/partnerships/{partnership_id}/decision", "/v1/nothing-here", "/healthz"):
        assert_problem(client.post(path, content=too_big, headers={**STAFF, "content-type": "application/json"}), 413)


def test_a_chunked_body_is_counted_as_it_arrives(client, partnership_id):
    def chunks(total: int):
        sent = 0
        while sent < total:
            yield b" " * 65536
            sent += 65536

    headers = {**STAFF, "content-type": "application/json"}
    for path in ("/v1/events", f"/v1/partnerships/{partnership_id}/decision"):
        response = client.post(path, content=chunks(MAX_BODY + 65536), headers=headers)
        assert "content-length" not in response.request.headers
        assert_problem(response, 413)
    # Just under the limit is read whole, and fails for what it is (whitespace is no JSON), not for its size.
    assert_problem(client.post("/v1/events", content=chunks(MAX_BODY - 65536), headers=headers), 400)


def test_a_body_of_the_wrong_type_on_post_events_is_a_415_problem(client):
    for content_type in ("text/plain", "application/xml", "multipart/form-data; boundary=x"):
        assert_problem(client.post("/v1/events", content=b"{}", headers={**STAFF, "content-type": content_type}),
                       415)


def test_an_unexpected_exception_is_a_500_problem_that_leaks_nothing(app):
    @app.get("/v1/boom")
    def boom():
        raise RuntimeError("secret internals at /srv/chainmatch/db.py")

    response = TestClient(app, raise_server_exceptions=False).get("/v1/boom")
    body = assert_problem(response, 500)
    assert "secret" not in response.text and "Traceback" not in response.text and "RuntimeError" not in response.text
    assert body["detail"] == "an unexpected error occurred; it has been logged"


def _is_public(path: str) -> bool:
    return path in PUBLIC or path.startswith(PUBLIC_PREFIXES)


def _requests(app):
    """(method, concrete path, template) for every route and method; path parameters get dummy values.

    app.routes holds included routers as one entry each; iter_route_contexts opens them, prefixes applied."""
    for route in iter_route_contexts(app.routes):
        for method in sorted(set(route.methods or ()) - {"HEAD"}):
            yield method, re.sub(r"{[^}]+}", "dummy-1", route.path), route.path


def test_every_route_but_the_public_ones_wants_a_key(app, client):
    routes = list(_requests(app))
    assert {template for _, _, template in routes} >= PUBLIC | {"/v1/schemas/{name}", "/v1/stats"}
    for method, path, template in routes:
        for headers in ({}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic staff-key"}):
            response = client.request(method, path, headers=headers)
            if _is_public(template):
                assert response.status_code != 401, (method, template)
                continue
            assert_problem(response, 401)
            assert response.headers["www-authenticate"] == "Bearer", (method, template)


def _dependency_calls(dependant) -> set:
    return {dependant.call} | {call for sub in dependant.dependencies for call in _dependency_calls(sub)}


def _expected_problems(route: APIRoute, operation: dict) -> set[str]:
    calls = _dependency_calls(route.dependant)
    expected = {"500"}
    if any(isinstance(call, KeyHolder) for call in calls):
        expected |= {"401", "403"}
    if get_matcher in calls:
        expected.add("503")
    if route.dependant.path_params:
        expected.add("404")
    if operation.get("parameters") or "requestBody" in operation:
        expected.add("422")
    if "requestBody" in operation:
        expected |= {"400", "413"}
    return expected


def test_every_operation_documents_its_problem_responses_as_problem_json(app):
    document = app.openapi()
    assert set(document["components"]["schemas"]["Problem"]["required"]) == {"title", "status", "detail"}
    checked = 0
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        for method in route.methods:
            operation = document["paths"][context.path_format][method.lower()]
            responses = operation["responses"]
            assert _expected_problems(route, operation) <= set(responses), (method, context.path)
            for status, response in responses.items():
                if status.startswith("4") or status == "500" or (status == "503" and context.path != "/healthz"):
                    assert response["content"] == {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
            checked += 1
    assert checked >= 10
    assert "HTTPValidationError" not in str(document)
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_post_events_documents_415_and_its_media_types(app):
    operation = app.openapi()["paths"]["/v1/events"]["post"]
    assert "415" in operation["responses"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "application/cloudevents+json",
                                                         "application/cloudevents-batch+json"}
