"""API keys at run time (CONTRACT section 5) and per-key rate limits, over the fake backend."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from builders import make_entity, make_event
from fakes import FakeBackend
from fastapi.testclient import TestClient

from api.app import create_app
from api.keyring import KeyRecord, Keyring, secret_hash
from api.rate_limits import RateLimiter
from chainmatch.settings import ApiKey, Settings
from matcher.model import Profile, Upsert

KEYS = {"staff-key": ApiKey(role="staff", name="Ada"), "hk-platform": ApiKey(role="platform", region="HK")}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def backend() -> FakeBackend:
    backend = FakeBackend()
    backend.matcher().apply([Upsert(Profile.from_data("company", make_entity(id="chip-1", roles=["chip"]))),
                             Upsert(Profile.from_data("company", make_entity(id="algo-1", roles=["algorithm"])))])
    return backend


@pytest.fixture
def client(backend) -> TestClient:
    return TestClient(create_app(settings=Settings(api_keys=KEYS), backend=backend))


def create(client: TestClient, **body) -> dict:
    response = client.post("/v1/keys", json={"role": "company", "name": "Chip One", "entity_id": "chip-1", **body},
                           headers=auth("staff-key"))
    assert response.status_code == 201, response.text
    return response.json()


def test_a_key_made_at_run_time_works_at_once_and_its_secret_is_shown_once_and_kept_as_a_hash(client, backend):
    made = create(client)
    assert made["key"].startswith("cmk_") and made["id"].startswith("key_") and made["source"] == "api"
    assert client.get("/v1/entities/chip-1", headers=auth(made["key"])).status_code == 200
    assert client.get("/v1/entities/algo-1", headers=auth(made["key"])).status_code == 403
    listed = client.get("/v1/keys", headers=auth("staff-key")).json()["items"]
    mine = next(k for k in listed if k["id"] == made["id"])
    assert "key" not in mine and made["key"] not in json.dumps(listed)
    assert mine["last_used_at"] is not None and mine["created_at"] == made["created_at"]
    assert {k["id"]: k["source"] for k in listed if k["source"] == "environment"} == {
        "env_1": "environment", "env_2": "environment"}
    [(topic, key, value, _)] = backend.published
    assert (topic, key) == ("chain.keys.v1", made["id"].encode())
    assert made["key"].encode() not in value and secret_hash(made["key"]).encode() in value


def test_rotating_keeps_the_key_and_refuses_the_old_secret(client):
    made = create(client)
    rotated = client.post(f"/v1/keys/{made['id']}/rotate", headers=auth("staff-key"))
    assert rotated.status_code == 200 and rotated.json()["id"] == made["id"]
    assert client.get("/v1/entities/chip-1", headers=auth(made["key"])).status_code == 401
    assert client.get("/v1/entities/chip-1", headers=auth(rotated.json()["key"])).status_code == 200


def test_a_revoked_key_is_refused_and_gone_from_the_list(client):
    made = create(client)
    assert client.delete(f"/v1/keys/{made['id']}", headers=auth("staff-key")).status_code == 204
    refused = client.get("/v1/entities/chip-1", headers=auth(made["key"]))
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert made["id"] not in [k["id"] for k in client.get("/v1/keys", headers=auth("staff-key")).json()["items"]]
    assert client.delete(f"/v1/keys/{made['id']}", headers=auth("staff-key")).status_code == 404
    assert client.post(f"/v1/keys/{made['id']}/rotate", headers=auth("staff-key")).status_code == 404


def test_configured_keys_cannot_be_revoked_or_rotated_here(client):
    for response in (client.delete("/v1/keys/env_1", headers=auth("staff-key")),
                     client.post("/v1/keys/env_2/rotate", headers=auth("staff-key"))):
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/keys", headers=auth("staff-key")).status_code == 200


def test_only_staff_manage_keys_and_bad_bodies_are_422(client):
    assert client.get("/v1/keys", headers=auth("hk-platform")).status_code == 403
    assert client.post("/v1/keys", json={"role": "staff", "name": "x"}, headers=auth("hk-platform")).status_code == 403
    assert client.get("/v1/keys").status_code == 401
    for body in ({"role": "company", "name": "no entity"}, {"role": "platform", "name": "x", "region": "hk"},
                 {"role": "owner", "name": "x"},
                 {"role": "platform", "name": "x", "expires_at": (datetime.now(UTC) - timedelta(1)).isoformat()}):
        response = client.post("/v1/keys", json=body, headers=auth("staff-key"))
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"


def test_an_expired_key_is_refused(client, backend):
    made = create(client, expires_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    assert client.get("/v1/entities/chip-1", headers=auth(made["key"])).status_code == 200
    record = backend.keyring().get(made["id"])
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    backend.keyring().apply(KeyRecord.from_data({**record.data(), "expires_at": past, "revision": 2}))
    assert client.get("/v1/entities/chip-1", headers=auth(made["key"])).status_code == 401


def test_a_revocation_holds_whatever_order_the_records_arrive_in():
    issued = KeyRecord(id="key_00000000000000aa", hash=secret_hash("s1"), role="platform", name="p",
                       entity_id=None, region=None, created_at="2026-12-04T00:00:00Z")
    rotated, revoked = issued.rotated(secret_hash("s2")), issued.revoked("2026-12-04T01:00:00Z")
    now = datetime.now(UTC)
    for order in ([issued, revoked, rotated], [revoked, issued], [rotated, revoked, issued]):
        keyring = Keyring(order)
        assert keyring.find(secret_hash("s1"), now) is None and keyring.find(secret_hash("s2"), now) is None
    keyring = Keyring([rotated, issued])
    assert keyring.find(secret_hash("s1"), now) is None and keyring.find(secret_hash("s2"), now).id == issued.id
    assert Keyring.from_snapshot(json.loads(json.dumps(keyring.snapshot()))).records() == keyring.records()


def test_expensive_routes_answer_429_with_retry_after_past_a_keys_limit(backend):
    settings = Settings(api_keys={**KEYS, "other-staff": ApiKey(role="staff")}, rate_limit_per_minute=6,
                        rate_limit_burst=2)
    client = TestClient(create_app(settings=settings, backend=backend))
    for _ in range(2):
        assert client.get("/v1/entities/chip-1/suggestions", headers=auth("staff-key")).status_code == 200
    limited = client.get("/v1/entities", params={"q": "chips"}, headers=auth("staff-key"))
    assert limited.status_code == 429 and limited.headers["content-type"] == "application/problem+json"
    assert 1 <= int(limited.headers["retry-after"]) <= 10
    event = make_event("chain.company.upserted", make_entity(id="co-9"))
    assert client.post("/v1/events", json=event, headers=auth("staff-key")).status_code == 429
    assert client.get("/v1/entities", headers=auth("staff-key")).status_code == 200  # a plain listing is cheap
    assert client.post("/v1/events", json=event, headers=auth("other-staff")).status_code == 202


def test_a_token_bucket_refills_at_its_rate():
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert [limiter.take("k") for _ in range(3)] == [0, 0, 1]
    now[0] = 1.0
    assert limiter.take("k") == 0 and limiter.take("other") == 0
    assert RateLimiter(per_minute=0, burst=1).take("k") == 0


def test_a_runtime_platform_keys_subscription_survives_a_rotation_and_stops_at_revocation(tmp_path):
    from builders import make_partnership_event

    from subscribers.hub import Subscribers

    settings = Settings(api_keys=KEYS, data_dir=tmp_path, webhook_allow_private=True)
    keyring = Keyring()
    hub = Subscribers(settings, keyring=keyring)
    client = TestClient(create_app(settings=settings, backend=FakeBackend(subscribers=hub, keyring=keyring)))
    made = client.post("/v1/keys", json={"role": "platform", "name": "Portal", "region": "US"},
                       headers=auth("staff-key")).json()
    subscribed = client.post("/v1/subscriptions", json={"url": "http://127.0.0.1:9/hook", "filter": {}},
                             headers=auth(made["key"]))
    assert subscribed.status_code == 201, subscribed.text
    new_key = client.post(f"/v1/keys/{made['id']}/rotate", headers=auth("staff-key")).json()["key"]
    listed = client.get("/v1/subscriptions", headers=auth(new_key)).json()["items"]
    assert [s["id"] for s in listed] == [subscribed.json()["id"]]
    assert hub._plan([make_partnership_event()]) == 1
    client.delete(f"/v1/keys/{made['id']}", headers=auth("staff-key"))
    assert hub._plan([make_partnership_event()]) == 0
    hub.close()


async def test_the_key_feed_keeps_valid_records_skips_the_rest_and_snapshots_them(tmp_path):
    from api.keyring import changed_event, used_event
    from schemas.cloudevents import to_structured
    from subscribers.keys import KeyFeed, load_keyring

    keyring = Keyring()
    feed = KeyFeed(keyring, Settings(data_dir=tmp_path), publish=None)
    record = KeyRecord(id="key_00000000000000bb", hash=secret_hash("s"), role="staff", name="n", entity_id=None,
                       region=None, created_at="2026-12-04T00:00:00Z")
    junk = {"id": "x", "type": "chain.company.upserted", "data": {}}
    bad = {**to_structured(changed_event(record)), "data": {"id": "key_00000000000000cc"}}
    await feed.absorb([junk, bad, to_structured(changed_event(record)), to_structured(used_event(record.id, 1e9))], {})
    assert [r.id for r in keyring.records()] == [record.id] and keyring.last_used(record.id) == 1e9
    reloaded = load_keyring(tmp_path)
    assert reloaded.records() == keyring.records() and reloaded.last_used(record.id) == 1e9


def test_keys_from_a_snapshot_wait_for_the_topic_and_configured_ones_do_not(client, backend):
    made = create(client)
    restarted = FakeBackend(keyring=Keyring.from_snapshot(backend.keyring().snapshot()))
    restarted.matcher().apply([Upsert(Profile.from_data("company", make_entity(id="chip-1", roles=["chip"])))])
    client = TestClient(create_app(settings=Settings(api_keys=KEYS), backend=restarted))
    waiting = client.get("/v1/entities/chip-1", headers=auth(made["key"]))
    assert waiting.status_code == 503 and waiting.headers["retry-after"] == "2"
    assert client.get("/v1/keys", headers=auth("staff-key")).status_code == 200
    restarted.keyring().caught_up()
    assert client.get("/v1/entities/chip-1", headers=auth(made["key"])).status_code == 200
