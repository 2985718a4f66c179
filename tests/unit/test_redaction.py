"""Cross-border redaction over every GET a key may call: no value of a profile it may not see leaves."""

from __future__ import annotations

import json

import pytest
from builders import make_entity, make_project
from fakes import FakeBackend
from fastapi.testclient import TestClient

from api.app import create_app
from chainmatch.settings import ApiKey, Settings
from matcher import policy
from matcher.model import ROLES, Profile, Upsert

POLICIES = ("open", "gba_only", "hk_only", "cn_only")
PLATFORMS = {"hk-platform": "HK", "sz-platform": "CN-GD-SZ", "us-platform": "US", "no-region-platform": None}
COMPANIES = {"hk-co": "HK", "sz-co": "CN-GD-SZ", "us-co": "US"}
KEYS = {"staff": ApiKey(role="staff"),
        **{key: ApiKey(role="platform", region=region) for key, region in PLATFORMS.items()},
        **{key: ApiKey(role="company", entity_id=key) for key in COMPANIES}}


def tag(data_policy: str, role: str) -> str:
    return f"{role}{data_policy.replace('_', '')}"  # e.g. chipcnonly: unique, so a find is a leak


def profiles() -> list[Profile]:
    made = []
    for data_policy in POLICIES:
        for role in ROLES:
            t = tag(data_policy, role)
            made.append(Profile.from_data("company", make_entity(
                id=f"{role}-{data_policy.replace('_', '')}", name=f"Name {t}", roles=[role], data_policy=data_policy,
                description=f"Edge AI for hospital imaging, {role} work, marker {t}desc.",
                capabilities=[f"capability {t}cap"], region="HK" if data_policy != "cn_only" else "CN-GD-SZ")))
        t = tag(data_policy, "project")
        made.append(Profile.from_data("project", make_project(
            id=f"pj-{data_policy.replace('_', '')}", name=f"Name {t}", data_policy=data_policy,
            description=f"A hospital imaging pilot, marker {t}desc.",
            owner_id="hk-co" if data_policy in ("open", "cn_only") else None)))
    for key, region in COMPANIES.items():
        made.append(Profile.from_data("company", make_entity(
            id=key, name=f"Company {key}", roles=["chip"], region=region,
            description="Edge AI chips for hospital imaging.")))
    return made


def values(profile: Profile) -> list[str]:
    return [profile.id, profile.name, profile.description, *profile.capabilities]


@pytest.fixture(scope="module")
def client() -> TestClient:
    backend = FakeBackend()
    backend.matcher().apply([Upsert(p) for p in profiles()])
    return TestClient(create_app(settings=Settings(api_keys=KEYS), backend=backend))


def bodies(client: TestClient, key: str) -> str:
    """Every body `key` gets from the GET endpoints, for every id and filter it might try."""
    every = profiles()
    headers = {"Authorization": f"Bearer {key}"}
    got = []

    def fetch(path: str, **params) -> dict:
        response = client.get(path, params=params, headers=headers)
        got.append(response.text)
        return response.json()

    def walk(**params) -> list[dict]:
        items, cursor = [], None
        while True:
            page = fetch("/v1/partnerships", limit=20, **params, **({"cursor": cursor} if cursor else {}))
            items += page.get("items", [])
            if not (cursor := page.get("next_cursor")):
                return items

    walk(status="proposed,approved,rejected,withdrawn")
    for profile in every:
        walk(entity_id=profile.id)
        if profile.kind == "project":
            walk(project_id=profile.id)
    staff_ids = {i["id"] for i in json.loads(client.get("/v1/partnerships?limit=100&status=proposed,approved,"
                                                        "rejected,withdrawn",
                                                        headers={"Authorization": "Bearer staff"}).text)["items"]}
    for partnership_id in sorted(staff_ids):
        fetch(f"/v1/partnerships/{partnership_id}")
    for sector in (None, "healthcare"):
        fetch("/v1/chain", **({"sector": sector} if sector else {}))
    fetch("/v1/entities", limit=100)
    fetch("/v1/entities", q="hospital imaging", limit=100)
    if key in COMPANIES:
        fetch(f"/v1/entities/{key}")
        for role in (None, *ROLES):
            fetch(f"/v1/entities/{key}/suggestions", limit=100, **({"role": role} if role else {}))
        fetch(f"/v1/entities/{key}/suggestions", offers="compute")
    return "\n".join(got)


def hidden_from(key: str) -> list[Profile]:
    region = PLATFORMS.get(key) or COMPANIES.get(key)
    # A company sees its own profile and its own projects, whatever their policy.
    return [p for p in profiles() if key not in (p.id, p.data.get("owner_id"))
            and not policy.may_see(viewer_region=region, data_policy=p.data_policy)]


def test_staff_bodies_hold_every_value_so_the_search_below_can_find_a_leak(client):
    seen = bodies(client, "staff")
    assert all(p.id in seen for p in profiles() if p.kind == "project" or p.roles)
    assert json.loads(client.get("/v1/partnerships?limit=100", headers={"Authorization": "Bearer staff"}).text)[
        "items"]


@pytest.mark.parametrize("key", [*PLATFORMS, *COMPANIES])
def test_no_value_of_a_profile_the_key_may_not_see_leaves_the_api(client, key):
    seen = bodies(client, key)
    hidden = hidden_from(key)
    assert hidden  # every key here is denied something
    leaks = [(p.id, value) for p in hidden for value in values(p) if value in seen]
    markers = [marker for p in hidden for role in (*ROLES, "project") if (marker := tag(p.data_policy, role)) in seen]
    assert leaks == [] and markers == []
    if key in PLATFORMS:  # partnerships with hidden members were served, redacted
        assert '"redacted":true' in seen.replace(" ", "")
