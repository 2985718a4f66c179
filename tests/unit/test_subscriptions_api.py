"""The subscription and stream routes over a real Subscribers store (tmp data dir), through TestClient."""

from __future__ import annotations

import pytest
from builders import make_partnership_event
from fakes import FakeBackend
from fastapi.testclient import TestClient

from api.app import create_app
from chainmatch.settings import ApiKey, Settings
from subscribers.hub import Subscribers

KEYS = {
    "staff-key": ApiKey(role="staff"),
    "hk-platform": ApiKey(role="platform", region="HK"),
    "us-platform": ApiKey(role="platform", region="US"),
    "chip-co-key": ApiKey(role="company", entity_id="chip-1"),
}


def public_resolver(host, port):
    return ["93.184.216.34"] if host.endswith(".example") else ["127.0.0.1"]


@pytest.fixture
def hub(tmp_path):
    hub = Subscribers(Settings(api_keys=KEYS, data_dir=tmp_path), resolver=public_resolver)
    yield hub
    hub.close()


@pytest.fixture
def client(hub):
    return TestClient(create_app(settings=hub.settings, backend=FakeBackend(subscribers=hub)))


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def subscribe(client, key="hk-platform", **body):
    return client.post("/v1/subscriptions", headers=auth(key), json={"url": "https://hooks.example/in", **body})


def test_a_subscription_answers_201_with_its_secret_once(client):
    made = subscribe(client, filter={"sectors": ["healthcare"], "types": ["chain.partnership.recommended"]})
    assert made.status_code == 201
    body = made.json()
    assert body["secret"].startswith("whsec_") and body["status"] == "active"
    assert body["filter"] == {"sectors": ["healthcare"], "types": ["chain.partnership.recommended"]}
    shown = client.get(f"/v1/subscriptions/{body['id']}", headers=auth("hk-platform")).json()
    assert "secret" not in shown and shown["disabled_reason"] is None


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/h", "http://localhost/h", "http://10.1.2.3/h",
                                 "http://169.254.169.254/latest", "http://[::1]/h", "ftp://hooks.example/"])
def test_private_loopback_and_non_http_urls_are_422_at_url(client, url):
    response = client.post("/v1/subscriptions", headers=auth("hk-platform"), json={"url": url})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["pointer"] == "/url"


def test_bad_bodies_are_422_problems_with_pointers(client):
    unknown = subscribe(client, filter={"types": ["chain.partnership.recommended", "nope"]})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["pointer"] == "/filter/types/1"
    missing = client.post("/v1/subscriptions", headers=auth("hk-platform"), json={"filter": {}})
    assert missing.status_code == 422 and missing.json()["errors"][0]["pointer"] == "/url"


def test_platforms_see_and_delete_only_their_own_and_staff_see_all(client):
    hk = subscribe(client).json()["id"]
    us = subscribe(client, key="us-platform").json()["id"]
    assert [s["id"] for s in client.get("/v1/subscriptions", headers=auth("hk-platform")).json()["items"]] == [hk]
    assert {s["id"] for s in client.get("/v1/subscriptions", headers=auth("staff-key")).json()["items"]} == {hk, us}
    assert client.get(f"/v1/subscriptions/{us}", headers=auth("hk-platform")).status_code == 403
    assert client.delete(f"/v1/subscriptions/{us}", headers=auth("hk-platform")).status_code == 403
    assert client.get("/v1/subscriptions/sub_nope", headers=auth("hk-platform")).status_code == 404
    assert client.post("/v1/subscriptions", headers=auth("chip-co-key"), json={"url": "https://a.example/"}
                       ).status_code == 403
    assert client.get("/v1/subscriptions", headers={}).status_code == 401
    assert client.delete(f"/v1/subscriptions/{us}", headers=auth("staff-key")).status_code == 204
    assert client.get(f"/v1/subscriptions/{us}", headers=auth("us-platform")).status_code == 404


async def test_the_delivery_log_and_a_manual_retry(client, hub):
    sub = subscribe(client).json()["id"]
    await hub.plan([make_partnership_event(policies={"chip": "cn_only"})])
    [delivery] = client.get(f"/v1/subscriptions/{sub}/deliveries", headers=auth("hk-platform")).json()["items"]
    assert delivery["status"] == "pending" and delivery["attempts"] == 0
    assert delivery["event_type"] == "chain.partnership.recommended"
    retried = client.post(f"/v1/subscriptions/{sub}/deliveries/{delivery['id']}/retry", headers=auth("hk-platform"))
    assert retried.status_code == 202 and retried.json()["id"] == delivery["id"]
    assert client.post(f"/v1/subscriptions/{sub}/deliveries/dlv_nope/retry",
                       headers=auth("hk-platform")).status_code == 404
    assert client.get(f"/v1/subscriptions/{sub}/deliveries", headers=auth("us-platform")).status_code == 403


def test_the_stream_needs_a_staff_or_platform_key_and_valid_parameters(client):
    assert client.get("/v1/partnerships/stream").status_code == 401
    assert client.get("/v1/partnerships/stream", headers=auth("chip-co-key")).status_code == 403
    bad_type = client.get("/v1/partnerships/stream?type=nope", headers=auth("hk-platform"))
    assert bad_type.status_code == 422 and bad_type.json()["errors"][0]["pointer"] == "/query/type"
    bad_id = client.get("/v1/partnerships/stream", headers={**auth("hk-platform"), "Last-Event-ID": "x"})
    assert bad_id.status_code == 400


def test_the_stream_and_subscriptions_are_in_the_openapi(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "text/event-stream" in paths["/v1/partnerships/stream"]["get"]["responses"]["200"]["content"]
    assert {"/v1/subscriptions", "/v1/subscriptions/{subscription_id}",
            "/v1/subscriptions/{subscription_id}/deliveries",
            "/v1/subscriptions/{subscription_id}/deliveries/{delivery_id}/retry"} <= set(paths)
