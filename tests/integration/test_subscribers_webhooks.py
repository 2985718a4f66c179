"""Webhooks to a real local receiver that verifies each signature by the Standard Webhooks spec."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
from builders import make_partnership_event
from kafka import KafkaProducer
from subscriber_harness import Api, Receiver, SseReader, eventually, receiving

from chainmatch.broker import ensure_topics
from chainmatch.settings import ApiKey, Settings
from subscribers.hub import Subscribers

KEYS = {"staff-key": ApiKey(role="staff"), "hk-platform": ApiKey(role="platform", region="HK")}
TINY = (0.05,) * 9


def verify(secret: str, received) -> bool:
    """From the spec alone: HMAC-SHA256 of "{id}.{timestamp}.{body}" under base64-decoded secret after
    "whsec_", compared with each space-separated "v1,<base64>" entry; timestamps within 5 minutes."""
    headers = received.headers
    if abs(time.time() - int(headers["webhook-timestamp"])) > 300:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + received.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(entry == f"v1,{expected}" for entry in headers["webhook-signature"].split())


def hub_in(tmp_path, *, keys=KEYS, schedule=TINY, allow_private=True, prefix="chain.") -> Subscribers:
    return Subscribers(Settings(api_keys=keys, data_dir=tmp_path, webhook_allow_private=allow_private,
                                webhook_retry_schedule=schedule, topic_prefix=prefix), poll_s=0.05)


def subscribe(api: Api, url: str, key: str = "hk-platform", **filters) -> dict:
    response = httpx.post(f"{api.url}/v1/subscriptions", headers={"Authorization": f"Bearer {key}"},
                          json={"url": url, "filter": filters})
    assert response.status_code == 201, response.text
    return response.json()


def get(api: Api, path: str, key: str = "hk-platform") -> dict:
    return httpx.get(f"{api.url}{path}", headers={"Authorization": f"Bearer {key}"}).json()


def test_signed_redacted_deliveries_and_a_receiver_that_fails_twice(tmp_path):
    receiver = Receiver(script=[(500, {}, 0), (502, {}, 0)])
    event = make_partnership_event(policies={"algorithm": "cn_only"})
    with receiving(receiver) as url, Api(hub_in(tmp_path)) as api:
        sub = subscribe(api, url)
        api.receive([event])
        attempts = receiver.wait_for(3)
        assert len(attempts) == 3 and all(verify(sub["secret"], a) for a in attempts)
        assert {a.headers["webhook-id"] for a in attempts} == {event["id"]}
        body = json.loads(attempts[0].body)
        assert body["id"] == event["id"] and body["data"]["chip"]["id"] == event["data"]["chip"]["id"]
        assert body["data"]["algorithm"] == {"redacted": True, "roles": ["algorithm"]}
        assert attempts[0].headers["content-type"] == "application/cloudevents+json"
        assert eventually(lambda: get(api, f"/v1/subscriptions/{sub['id']}/deliveries")["items"][0]["status"]
                          == "delivered")
        [logged] = get(api, f"/v1/subscriptions/{sub['id']}/deliveries")["items"]
        assert logged["attempts"] == 3 and logged["last_status"] == 204
        redo = httpx.post(f"{api.url}/v1/subscriptions/{sub['id']}/deliveries/{logged['id']}/retry",
                          headers={"Authorization": "Bearer hk-platform"})
        assert redo.status_code == 202
        assert receiver.wait_for(4)[3].headers["webhook-id"] == event["id"]
        assert get(api, f"/v1/subscriptions/{sub['id']}")["status"] == "active"
    api.hub.close()


def test_410_disables_at_once_and_ten_failures_in_a_row_disable(tmp_path):
    gone, failing = Receiver(then=(410, {}, 0)), Receiver(then=(500, {}, 0))
    with receiving(gone) as gone_url, receiving(failing) as failing_url, Api(hub_in(tmp_path)) as api:
        sub_gone, sub_failing = subscribe(api, gone_url), subscribe(api, failing_url)
        api.receive([make_partnership_event(), make_partnership_event()])
        assert eventually(lambda: get(api, f"/v1/subscriptions/{sub_failing['id']}")["status"] == "disabled")
        assert len(gone.received) == 1
        assert get(api, f"/v1/subscriptions/{sub_gone['id']}")["disabled_reason"] == "the receiver answered 410 Gone"
        assert len(failing.received) == 10
        assert "10 failed attempts in a row" in get(api, f"/v1/subscriptions/{sub_failing['id']}")["disabled_reason"]
        time.sleep(0.3)
        assert len(failing.received) == 10
    api.hub.close()


def test_retry_after_is_honoured(tmp_path):
    receiver = Receiver(script=[(503, {"Retry-After": "1"}, 0)])
    with receiving(receiver) as url, Api(hub_in(tmp_path)) as api:
        subscribe(api, url)
        api.receive([make_partnership_event()])
        first, second = receiver.wait_for(2)
        assert second.at - first.at >= 0.95  # the schedule alone says 0.05 s
    api.hub.close()


def test_private_and_loopback_urls_are_refused_by_default_also_when_delivering(tmp_path):
    with receiving(Receiver()) as url, Api(hub_in(tmp_path, allow_private=False)) as api:
        refused = httpx.post(f"{api.url}/v1/subscriptions", headers={"Authorization": "Bearer hk-platform"},
                             json={"url": url})
        assert refused.status_code == 422 and refused.json()["errors"][0]["pointer"] == "/url"
    api.hub.close()
    receiver = Receiver()
    with receiving(receiver) as url:
        with Api(hub_in(tmp_path)) as allowed:
            subscribe(allowed, url)
        allowed.hub.close()
        with Api(hub_in(tmp_path, allow_private=False)) as strict:  # the address is checked again on delivery
            strict.receive([make_partnership_event()])
            [sub] = get(strict, "/v1/subscriptions")["items"]
            assert eventually(lambda: get(strict, f"/v1/subscriptions/{sub['id']}/deliveries")["items"][0][
                "attempts"] >= 1)
            logged = get(strict, f"/v1/subscriptions/{sub['id']}/deliveries")["items"][0]
            assert "not public" in logged["last_error"] and receiver.received == []
        strict.hub.close()


def test_subscriptions_and_pending_deliveries_survive_a_restart_and_stop_with_their_key(tmp_path):
    receiver = Receiver(script=[(503, {"Retry-After": "2"}, 0)])
    event = make_partnership_event()
    with receiving(receiver) as url:
        with Api(hub_in(tmp_path)) as api:
            subscribe(api, url)
            staff_sub = subscribe(api, url, key="staff-key", types=["chain.partnership.decided"])
            api.receive([event])
            receiver.wait_for(1)
        api.hub.close()
        with Api(hub_in(tmp_path)) as restarted:
            [first, second] = receiver.wait_for(2)
            assert first.headers["webhook-id"] == second.headers["webhook-id"] == event["id"]
        restarted.hub.close()
        without_hk = {"staff-key": KEYS["staff-key"]}
        with Api(hub_in(tmp_path, keys=without_hk)) as fewer_keys:
            decided = make_partnership_event("decided")
            fewer_keys.receive([make_partnership_event(), decided])
            [delivered] = receiver.wait_for(3)[2:]
            assert delivered.headers["webhook-id"] == decided["id"]  # the staff subscription only
            time.sleep(0.3)
            assert len(receiver.received) == 3
            subs = {s["id"]: s for s in get(fewer_keys, "/v1/subscriptions", key="staff-key")["items"]}
            assert subs[staff_sub["id"]]["status"] == "active"
            [orphan] = [s for s in subs.values() if s["id"] != staff_sub["id"]]
            assert orphan["status"] == "disabled" and "removed" in orphan["disabled_reason"]
        fewer_keys.hub.close()


def test_events_from_the_broker_reach_sse_and_webhooks_once_across_a_restart(tmp_path, broker):
    prefix = f"t{uuid.uuid4().hex[:8]}."
    topic = f"{prefix}partnerships.v1"
    ensure_topics(broker.bootstrap, [topic], partitions=2)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False)

    def publish(events):
        for event in events:
            producer.send(topic, key=event["data"]["id"].encode(), value=json.dumps(event).encode())
        producer.flush()

    receiver = Receiver()
    sent = [make_partnership_event() for _ in range(6)]
    with receiving(receiver) as url:
        with Api(hub_in(tmp_path, prefix=prefix), bootstrap=broker.bootstrap) as api:
            subscribe(api, url)
            publish(sent[:3])
            reader = SseReader(api, "staff-key", last_event_id=0)
            assert sorted(e.data["id"] for e in reader.take(3)) == sorted(e["id"] for e in sent[:3])
            reader.close()
            assert len(receiver.wait_for(3, timeout=20)) == 3
        api.hub.close()
        publish(sent[3:])
        with Api(hub_in(tmp_path, prefix=prefix), bootstrap=broker.bootstrap) as restarted:
            reader = SseReader(restarted, "staff-key", last_event_id=0)
            window = reader.take(6)
            assert sorted(e.data["id"] for e in window) == sorted(e["id"] for e in sent)
            assert [e.id for e in window] == list(range(1, 7))
            reader.close()
            got = receiver.wait_for(6, timeout=20)
            time.sleep(0.5)
        restarted.hub.close()
    producer.close()
    assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(e["id"] for e in sent)
    assert len(got) == 6


async def test_the_runtime_starts_the_window_feeder_when_the_api_runs(tmp_path, broker):
    import asyncio

    from chainmatch.bootstrap import Runtime
    from matcher.adapters.hashing_embedder import HashingEmbedder
    from matcher.adapters.memory_store import MemoryStore

    prefix = f"r{uuid.uuid4().hex[:8]}."
    ensure_topics(broker.bootstrap, [f"{prefix}partnerships.v1"], partitions=2)
    settings = Settings(api_keys=KEYS, data_dir=tmp_path, topic_prefix=prefix, kafka_bootstrap=broker.bootstrap)
    runtime = Runtime(settings, run_workers=False, embedder=HashingEmbedder(dimension=32), store=MemoryStore())
    event = make_partnership_event()
    async with runtime.lifespan(None):
        for _ in range(100):
            if runtime.subscribers() is not None:
                break
            await asyncio.sleep(0.1)
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False)
        producer.send(f"{prefix}partnerships.v1", key=b"k", value=json.dumps(event).encode()).get(timeout=10)
        producer.close()
        hub = runtime.subscribers()
        for _ in range(100):
            if hub.window.after(0):
                break
            await asyncio.sleep(0.1)
        assert [e.event["id"] for e in hub.window.after(0)] == [event["id"]]
