from __future__ import annotations

import json

import pytest
from builders import make_entity, make_event, make_project
from fakes import FakeBackend
from fastapi.testclient import TestClient

from api.app import create_app
from chainmatch.settings import ApiKey, Settings
from matcher.model import Profile, Upsert

KEYS = {
    "staff-key": ApiKey(role="staff", name="Ada"),
    "hk-platform": ApiKey(role="platform", region="HK"),
    "chip-co-key": ApiKey(role="company", entity_id="chip-1"),
    "us-platform": ApiKey(role="platform", region="US"),
}


@pytest.fixture
def backend() -> FakeBackend:
    backend = FakeBackend()
    backend.matcher().apply([
        Upsert(Profile.from_data("company", make_entity(id="chip-1", roles=["chip"], region="HK"))),
        Upsert(Profile.from_data("company", make_entity(id="algo-1", roles=["algorithm"],
                                                         data_policy="gba_only"))),
        Upsert(Profile.from_data("lab", make_entity(id="app-1", roles=["application"], region="US"))),
    ])
    return backend


@pytest.fixture
def client(backend) -> TestClient:
    return TestClient(create_app(settings=Settings(api_keys=KEYS), backend=backend))


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_healthz_needs_no_key(client):
    assert client.get("/healthz").json()["status"] == "ok"


@pytest.mark.parametrize("path", ["/v1/stats", "/v1/entities/chip-1", "/v1/entities/chip-1/suggestions",
                                  "/v1/partnerships"])
def test_a_missing_or_unknown_key_is_a_401_problem_with_www_authenticate(client, path):
    for headers in ({}, auth("nope"), {"Authorization": "Basic staff-key"}):
        response = client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 401


def test_wrong_role_or_someone_elses_entity_is_403(client):
    assert client.get("/v1/stats", headers=auth("chip-co-key")).status_code == 403
    assert client.get("/v1/entities/chip-1", headers=auth("hk-platform")).status_code == 403
    assert client.get("/v1/entities/algo-1", headers=auth("chip-co-key")).status_code == 403


def test_a_company_reads_its_own_entity(client):
    body = client.get("/v1/entities/chip-1", headers=auth("chip-co-key")).json()
    assert body["id"] == "chip-1" and body["kind"] == "company" and body["roles"] == ["chip"]


def test_unknown_entity_and_route_are_404_problems(client):
    assert client.get("/v1/entities/nobody", headers=auth("staff-key")).status_code == 404
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.delete("/healthz").status_code == 405


def test_suggestions_filter_by_role_and_redact_by_region(client):
    staff = client.get("/v1/entities/chip-1/suggestions", headers=auth("staff-key")).json()
    assert {i["entity"]["id"] for i in staff["items"]} == {"algo-1", "app-1"}
    own = client.get("/v1/entities/chip-1/suggestions", headers=auth("chip-co-key")).json()
    # The company's region is its entity's (HK), which is in the GBA: gba_only is visible.
    assert {i["entity"]["id"] for i in own["items"]} == {"algo-1", "app-1"}
    only = client.get("/v1/entities/chip-1/suggestions?role=application", headers=auth("staff-key")).json()
    assert [i["entity"]["id"] for i in only["items"]] == ["app-1"]


def test_limit_outside_1_to_100_is_a_422_with_a_pointer(client):
    response = client.get("/v1/entities/chip-1/suggestions?limit=0", headers=auth("staff-key"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/query/limit"


def test_post_events_publishes_valid_events_to_their_topics(client, backend):
    event = make_event("chain.lab.upserted", make_entity(id="lab-9", roles=["algorithm"]))
    response = client.post("/v1/events", json=[event], headers=auth("staff-key"))
    assert response.status_code == 202 and response.json() == {"accepted": 1}
    [(topic, key, value, headers)] = backend.published
    assert (topic, key) == ("chain.labs.v1", b"lab-9")
    assert json.loads(value)["data"]["id"] == "lab-9"
    assert dict(headers)["content-type"].startswith(b"application/cloudevents+json")


def test_post_events_publishes_none_when_one_is_invalid(client, backend):
    good = make_event("chain.company.upserted", make_entity(id="co-ok"))
    bad = make_event("chain.company.upserted", make_entity(id="Not Valid"))
    response = client.post("/v1/events", json=[good, bad], headers=auth("staff-key"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"].startswith("/1/data/id")
    assert backend.published == []


def test_a_company_publishes_only_its_own_entity(client, backend):
    mine = make_event("chain.company.upserted", make_entity(id="chip-1"))
    theirs = make_event("chain.company.upserted", make_entity(id="algo-1"))
    assert client.post("/v1/events", json=mine, headers=auth("chip-co-key")).status_code == 202
    assert client.post("/v1/events", json=theirs, headers=auth("chip-co-key")).status_code == 403
    assert len(backend.published) == 1


def test_a_company_key_may_not_change_the_kind_of_what_it_publishes(client, backend):
    """chip-1 is stored as a company: as a lab or a project it is something else, and one such event
    refuses the whole batch."""
    mine = make_event("chain.company.upserted", make_entity(id="chip-1"))
    as_lab = make_event("chain.lab.upserted", make_entity(id="chip-1"))
    as_project = make_event("chain.project.upserted", make_project(id="chip-1"))
    deleted_as_lab = make_event("chain.lab.deleted", {"id": "chip-1"})
    for other_kind in (as_lab, as_project, deleted_as_lab):
        response = client.post("/v1/events", json=[mine, other_kind], headers=auth("chip-co-key"))
        assert response.status_code == 403, other_kind["type"]
        assert response.headers["content-type"] == "application/problem+json"
    assert backend.published == []


def test_a_new_entity_takes_the_kind_its_batch_first_gives_it(backend):
    client = TestClient(create_app(settings=Settings(api_keys={"new-co": ApiKey(role="company", entity_id="new-1")}),
                                   backend=backend))
    as_company = make_event("chain.company.upserted", make_entity(id="new-1"))
    as_lab = make_event("chain.lab.upserted", make_entity(id="new-1"))
    assert client.post("/v1/events", json=[as_company, as_lab], headers=auth("new-co")).status_code == 403
    assert client.post("/v1/events", json=[as_lab, as_lab], headers=auth("new-co")).status_code == 202


def test_a_company_publishes_its_own_projects_only(client, backend):
    own = make_event("chain.project.upserted", make_project(id="pj-own"))
    theirs = make_event("chain.project.upserted", make_project(id="pj-theirs", owner_id="algo-1"))
    backend.matcher().apply([Upsert(Profile.from_data("project", make_project(id="pj-algo", owner_id="algo-1")))])
    taken = make_event("chain.project.upserted", make_project(id="pj-algo"))
    assert client.post("/v1/events", json=[own], headers=auth("chip-co-key")).status_code == 202
    for batch in ([own, theirs], [own, taken]):
        assert client.post("/v1/events", json=batch, headers=auth("chip-co-key")).status_code == 403
    assert len(backend.published) == 1


def test_malformed_bodies_are_4xx_problems(client):
    headers = {**auth("staff-key"), "content-type": "application/json"}
    assert client.post("/v1/events", content=b"{not json", headers=headers).status_code == 400
    assert client.post("/v1/events", content=b"[" * 100_000, headers=headers).status_code == 400
    assert client.post("/v1/events", content=b"x" * (1024 * 1024 + 1), headers=headers).status_code == 413
    text = {**auth("staff-key"), "content-type": "text/plain"}
    assert client.post("/v1/events", content=b"{}", headers=text).status_code == 415


def test_stats_for_staff(client):
    body = client.get("/v1/stats", headers=auth("staff-key")).json()
    assert body == {"entities": 3, "partnerships": 1, "events_processed": 3, "deadlettered": 1}


def test_partnerships_list_redacts_members_the_key_may_not_see(client):
    staff = client.get("/v1/partnerships", headers=auth("staff-key")).json()["items"]
    assert [(p["chip"]["id"], p["algorithm"]["id"], p["application"]["id"]) for p in staff] == [
        ("chip-1", "algo-1", "app-1")]
    [unseen] = client.get("/v1/partnerships", headers=auth("us-platform")).json()["items"]
    assert unseen["algorithm"] == {"redacted": True, "roles": ["algorithm"]}
    assert "algo-1" not in json.dumps(unseen)


def test_entities_list_pages_with_cursors_and_rejects_bad_ones(client):
    seen, cursor = [], None
    while True:
        page = client.get("/v1/entities", params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                          headers=auth("staff-key")).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["algo-1", "app-1", "chip-1"]
    assert client.get("/v1/entities?cursor=nonsense", headers=auth("staff-key")).status_code == 400
    assert client.get("/v1/entities", headers=auth("chip-co-key")).status_code == 403


def test_entities_filter_by_role_and_search_by_meaning(client):
    chips = client.get("/v1/entities?role=chip", headers=auth("staff-key")).json()["items"]
    assert [i["id"] for i in chips] == ["chip-1"]
    found = client.get("/v1/entities?q=inference+chips&limit=1", headers=auth("staff-key")).json()
    assert len(found["items"]) == 1 and found["next_cursor"]


def test_entities_needing_review_are_listed_for_staff(client, backend):
    backend.matcher().apply([Upsert(Profile.from_data("company", make_entity(
        id="zh-co", roles=None, sectors=None, description="我们设计芯片。")))])
    items = client.get("/v1/entities?needs_review=true", headers=auth("staff-key")).json()["items"]
    assert [i["id"] for i in items] == ["zh-co"]


def test_one_partnership_by_id_for_members_staff_and_platforms(client):
    [listed] = client.get("/v1/partnerships", headers=auth("staff-key")).json()["items"]
    assert client.get(f"/v1/partnerships/{listed['id']}", headers=auth("staff-key")).json() == listed
    assert client.get(f"/v1/partnerships/{listed['id']}", headers=auth("chip-co-key")).status_code == 200
    assert client.get("/v1/partnerships/pt_0000", headers=auth("staff-key")).status_code == 404


def test_a_staff_decision_goes_to_the_curation_topic(client, backend):
    [listed] = client.get("/v1/partnerships", headers=auth("staff-key")).json()["items"]
    response = client.post(f"/v1/partnerships/{listed['id']}/decision", json={"decision": "approved", "note": "ok"},
                           headers=auth("staff-key"))
    assert response.status_code == 202
    [(topic, key, value, _)] = backend.published
    assert (topic, key) == ("chain.curation.v1", listed["id"].encode())
    assert json.loads(value)["data"] == {"partnership_id": listed["id"], "decision": "approved", "note": "ok",
                                         "by": "Ada"}
    assert client.post(f"/v1/partnerships/{listed['id']}/decision", json={"decision": "maybe"},
                       headers=auth("staff-key")).status_code == 422
    assert client.post(f"/v1/partnerships/{listed['id']}/decision", json={"decision": "approved"},
                       headers=auth("hk-platform")).status_code == 403
    assert client.post("/v1/partnerships/pt_00/decision", json={"decision": "approved"},
                       headers=auth("staff-key")).status_code == 404
