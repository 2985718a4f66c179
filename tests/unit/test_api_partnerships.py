"""GET /v1/partnerships (filters, status, keyset cursors, company scope), GET /v1/chain and feedback."""

from __future__ import annotations

import json

import pytest
from builders import make_entity, make_project
from fakes import FakeBackend
from fastapi.testclient import TestClient

from api.app import create_app
from chainmatch.settings import ApiKey, Settings
from matcher.model import Profile, Upsert

KEYS = {
    "staff": ApiKey(role="staff", name="Ada"),
    "us-platform": ApiKey(role="platform", region="US"),
    "chip-1": ApiKey(role="company", entity_id="chip-1"),
    "owner": ApiKey(role="company", entity_id="owner-co"),
}


def upsert(kind: str, **data) -> Upsert:
    return Upsert(Profile.from_data(kind, make_entity(**data) if kind != "project" else make_project(**data)))


@pytest.fixture
def backend() -> FakeBackend:
    backend = FakeBackend()
    backend.matcher().apply([
        *(upsert("company", id=f"chip-{n}", name=f"Chip {n}", roles=["chip"],
                 description=f"Chip maker {n} for hospital imaging.") for n in range(1, 4)),
        *(upsert("lab", id=f"algo-{n}", name=f"Algo {n}", roles=["algorithm"],
                 description=f"Imaging models {n} for hospitals.") for n in range(1, 4)),
        *(upsert("company", id=f"app-{n}", name=f"App {n}", roles=["application"],
                 description=f"Hospital {n} deploying AI.") for n in range(1, 4)),
        upsert("company", id="owner-co", name="Owner", roles=[], sectors=["cloud"], description="A holding company."),
        upsert("project", id="pj-1", name="Project", owner_id="owner-co", data_policy="cn_only"),
        upsert("company", id="secret-co", name="Secret", roles=["chip"], data_policy="hk_only", region="HK"),
    ])
    return backend


@pytest.fixture
def client(backend) -> TestClient:
    return TestClient(create_app(settings=Settings(api_keys=KEYS), backend=backend))


def get(client: TestClient, key: str, path: str = "/v1/partnerships", **params):
    return client.get(path, params=params, headers={"Authorization": f"Bearer {key}"})


def walk(client: TestClient, key: str, between=lambda: None, **params) -> list[dict]:
    """Every page, calling `between` after each one."""
    items, cursor = [], None
    while True:
        page = get(client, key, **params, **({"cursor": cursor} if cursor else {})).json()
        items += page["items"]
        cursor = page["next_cursor"]
        between()
        if cursor is None:
            return items


def key_of(item: dict) -> tuple[float, str]:
    return -item["score"], item["id"]


def test_pages_follow_score_then_id_and_end_with_a_null_cursor(client):
    everything = get(client, "staff", limit=100).json()
    assert everything["next_cursor"] is None and len(everything["items"]) > 6
    assert [key_of(i) for i in everything["items"]] == sorted(key_of(i) for i in everything["items"])
    assert walk(client, "staff", limit=4) == everything["items"]
    assert walk(client, "staff", limit=1, sector="healthcare") == get(client, "staff", limit=100,
                                                                        sector="healthcare").json()["items"]


def test_pages_stay_correct_while_the_ranking_changes_underneath(client, backend):
    """Between pages, feedback re-ranks and withdraws partnerships: nothing shows twice, and each one
    that stayed listed with the same score all along is shown."""
    refusals = iter([("app-1", "chip-1"), ("app-2", "algo-2"), ("algo-3", "chip-3"), ("chip-2", "app-3")])
    snapshots = []

    def listed() -> dict[str, float]:
        return {r["id"]: r["score"] for r in backend.matcher().partnerships()}

    def refuse_one():
        pair = next(refusals, None)
        if pair:
            backend.matcher().not_interested(*pair)
            backend.matcher().settle()
        snapshots.append(listed())

    snapshots.append(listed())
    shown = [i["id"] for i in walk(client, "staff", refuse_one, limit=3)]
    assert snapshots[0] != snapshots[-1]  # the ranking did move
    assert len(shown) == len(set(shown))
    stayed = {pid for pid, score in snapshots[0].items() if all(s.get(pid) == score for s in snapshots)}
    assert stayed and stayed <= set(shown)


def test_status_is_a_checked_comma_separated_list_defaulting_to_proposed_and_approved(client, backend):
    [first, *_] = get(client, "staff").json()["items"]
    backend.matcher().decide(first["id"], decision="rejected", note="no", by="Ada")
    assert first["id"] not in [i["id"] for i in walk(client, "staff")]
    rejected = get(client, "staff", status="rejected,withdrawn").json()["items"]
    assert [i["id"] for i in rejected] == [first["id"]] and rejected[0]["status"] == "rejected"
    response = get(client, "staff", status="proposed,maybe")
    assert response.status_code == 422
    assert response.json()["errors"] == [{"detail": "'maybe' is not one of: proposed, approved, rejected, withdrawn",
                                          "pointer": "/query/status"}]


def test_a_cursor_is_a_400_when_garbage_or_used_with_other_filters(client):
    cursor = get(client, "staff", limit=2).json()["next_cursor"]
    assert get(client, "staff", limit=2, cursor=cursor).status_code == 200
    for bad in ("garbage", "eyJrIjoicGFydG5lcnNoaXBzIn0", cursor + "x"):
        response = get(client, "staff", cursor=bad)
        assert response.status_code == 400 and response.json()["errors"][0]["pointer"] == "/query/cursor"
    assert get(client, "staff", limit=2, sector="healthcare", cursor=cursor).status_code == 400
    assert get(client, "staff", limit=2, status="proposed", cursor=cursor).status_code == 400
    assert get(client, "chip-1", limit=2, cursor=cursor).status_code == 400  # made for no entity filter


def test_a_company_lists_its_own_partnerships_and_those_of_projects_it_owns(client, backend):
    mine = walk(client, "chip-1")
    assert mine and all("chip-1" == i["chip"]["id"] for i in mine)
    assert get(client, "chip-1", entity_id="chip-2").status_code == 403
    assert walk(client, "chip-1", entity_id="chip-1") == mine
    owned = walk(client, "owner")
    assert owned and {i["project_id"] for i in owned} == {"pj-1"}
    assert get(client, "owner", f"/v1/partnerships/{owned[0]['id']}").status_code == 200
    assert get(client, "chip-1", f"/v1/partnerships/{owned[0]['id']}").status_code in (200, 403)
    assert walk(client, "staff", entity_id="owner-co") == walk(client, "staff", project_id="pj-1")


def test_a_platform_may_not_filter_by_a_profile_it_may_not_see_nor_read_its_project_id(client):
    assert get(client, "us-platform", project_id="pj-1").json() == {"items": [], "next_cursor": None}
    assert get(client, "staff", project_id="pj-1").json()["items"]
    listed = walk(client, "us-platform")
    assert listed and "pj-1" not in json.dumps(listed)
    assert any(i["project_id"] is None for i in listed)


def test_chain_view_counts_and_lists_only_what_the_key_may_see(client):
    staff = get(client, "staff", "/v1/chain").json()
    assert staff["roles"]["healthcare"] == {"chip": 4, "algorithm": 3, "application": 3}
    assert staff["projects"] == {"healthcare": 1}
    assert staff["projects_without_partnership"] == []
    us = get(client, "us-platform", "/v1/chain").json()
    assert us["roles"]["healthcare"]["chip"] == 3 and us["projects"] == {}
    assert "secret-co" not in json.dumps(us) and "pj-1" not in json.dumps(us)
    sz = get(client, "staff", "/v1/chain", region="CN-GD-SZ", sector="healthcare").json()
    assert sz["roles"] == {} and sz["entities_without_partner"] == []
    assert get(client, "staff", "/v1/chain", region="hk").status_code == 422
    assert get(client, "chip-1", "/v1/chain").status_code == 403


def test_chain_lists_a_project_without_partnership(client, backend):
    backend.matcher().apply([upsert("project", id="pj-alone", sectors=["space"])])
    body = get(client, "staff", "/v1/chain", sector="space").json()
    assert [p["id"] for p in body["projects_without_partnership"]] == ["pj-alone"]
    assert body["projects_without_partnership"][0]["kind"] == "project"


def post_feedback(client: TestClient, key: str, entity_id: str, body: dict):
    return client.post(f"/v1/entities/{entity_id}/feedback", json=body, headers={"Authorization": f"Bearer {key}"})


def test_feedback_is_published_on_the_feedback_topic(client, backend):
    response = post_feedback(client, "chip-1", "chip-1", {"other_id": "algo-2", "signal": "not_interested"})
    assert response.status_code == 202 and response.json()["accepted"] == 1
    [(topic, key, value, headers)] = backend.published
    assert (topic, key) == ("chain.feedback.v1", b"chip-1")
    event = json.loads(value)
    assert event["type"] == "chain.entity.feedback.submitted" and event["id"] == response.json()["event_id"]
    assert event["data"] == {"entity_id": "chip-1", "other_id": "algo-2", "signal": "not_interested",
                             "by": "chip-1"}
    assert event["dataschema"].endswith("/chain.entity.feedback.submitted")


@pytest.mark.parametrize(("key", "entity_id", "body", "status"), [
    ("chip-1", "chip-2", {"other_id": "algo-2", "signal": "not_interested"}, 403),
    ("us-platform", "chip-1", {"other_id": "algo-2", "signal": "not_interested"}, 403),
    ("staff", "chip-1", {"other_id": "nobody", "signal": "not_interested"}, 404),
    ("staff", "nobody", {"other_id": "chip-1", "signal": "not_interested"}, 404),
    ("chip-1", "chip-1", {"other_id": "pj-1", "signal": "not_interested"}, 404),  # cn_only; chip-1 is in HK
    ("staff", "chip-1", {"other_id": "chip-1", "signal": "not_interested"}, 422),
    ("staff", "chip-1", {"other_id": "algo-2", "signal": "love"}, 422),
    ("staff", "chip-1", {"other_id": "Not An Id", "signal": "not_interested"}, 422),
    ("staff", "chip-1", {"signal": "not_interested"}, 422),
])
def test_feedback_role_rules_and_bad_input(client, backend, key, entity_id, body, status):
    response = post_feedback(client, key, entity_id, body)
    assert response.status_code == status, response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert backend.published == []
