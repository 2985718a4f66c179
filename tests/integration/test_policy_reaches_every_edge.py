"""A member tightens its data_policy from `open` to `hk_only` while its partnership keeps its rank and
score: every edge must stop showing it to a key outside Hong Kong. The API (in both deployments), the
public topic, SSE and webhooks, on the real broker; in the split deployment the API knows the policy
only from the partnership events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from builders import make_entity, make_event
from kafka import KafkaConsumer, KafkaProducer
from qdrant_client import QdrantClient
from subscriber_harness import Receiver, receiving
from test_split_mode import until

from api.app import create_app
from api.auth import Caller
from chainmatch.bootstrap import Runtime, topic_configs, topic_names
from chainmatch.broker import ensure_topics
from chainmatch.settings import ApiKey, Settings
from matcher.adapters.hashing_embedder import HashingEmbedder
from matcher.adapters.qdrant_store import QdrantServerStore
from subscribers.events import EventFilter

KEYS = {"staff-key": ApiKey(role="staff", name="Ada"), "us-platform": ApiKey(role="platform", region="US")}
US = {"Authorization": "Bearer us-platform"}
US_CALLER = Caller(role="platform", name=None, entity_id=None, region="US")
REDACTED = {"redacted": True, "roles": ["chip"]}


@contextlib.asynccontextmanager
async def deployment(broker, tmp_path, split: bool) -> AsyncIterator[tuple[Settings, Runtime]]:
    prefix = f"edges{uuid.uuid4().hex[:8]}."

    def settings(name: str) -> Settings:
        return Settings(kafka_bootstrap=broker.bootstrap, topic_prefix=prefix, data_dir=tmp_path / name,
                        model="hashing:64", api_keys=KEYS, topic_partitions=2, settle_idle_s=0.2,
                        webhook_allow_private=True, webhook_retry_schedule=(0.05,) * 9)

    api_settings = settings("api")
    ensure_topics(broker.bootstrap, topic_names(api_settings), 2, configs=topic_configs(api_settings))
    store, embedder = QdrantServerStore(QdrantClient(":memory:"), "edges"), HashingEmbedder(dimension=64)
    api = Runtime(api_settings, run_workers=not split, embedder=embedder, store=store)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(api.lifespan(None))
        if split:
            worker = Runtime(settings("worker"), run_workers=True, serve_api=False, embedder=embedder, store=store)
            await stack.enter_async_context(worker.lifespan(None))
        yield api_settings, api
    store.close()


def publish(settings: Settings, *events: tuple[str, dict]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", enable_idempotence=False)
    for topic, event in events:
        producer.send(settings.topic(topic), key=event["data"]["id"].encode(), value=json.dumps(event).encode())
    producer.flush(timeout=10)
    producer.close()


def public_events(settings: Settings) -> list[dict]:
    consumer = KafkaConsumer(settings.topic("partnerships.public.v1"), bootstrap_servers=settings.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=3000, group_id=None)
    try:
        return [json.loads(record.value) for record in consumer]
    finally:
        consumer.close()


async def sse_updates(api: Runtime) -> list[dict]:
    """The SSE edge's frames for the US platform key, from the start of the window until it idles."""
    frames = api.subscribers().stream(viewer=US_CALLER, filter=EventFilter.of(types=["updated"]), last_event_id=0)
    found = []
    with contextlib.suppress(TimeoutError):
        while True:
            frame = await asyncio.wait_for(anext(frames), 1)
            if frame.startswith("id: "):
                found.append(json.loads(frame.split("data: ", 1)[1]))
    await frames.aclose()
    return found


@pytest.mark.parametrize("split", [False, True], ids=["up", "worker and api apart"])
async def test_a_member_that_tightens_its_policy_is_redacted_on_every_edge(broker, tmp_path, split):
    receiver = Receiver()
    with receiving(receiver) as hook_url:
        async with deployment(broker, tmp_path, split) as (settings, api), httpx.AsyncClient(
                transport=httpx.ASGITransport(create_app(settings=settings, backend=api)), base_url="http://api",
                headers=US) as http:
            await until(lambda: asyncio.sleep(0, api.health()[0]), "the deployment's health")
            subscribed = await http.post("/v1/subscriptions", json={"url": hook_url, "filter": {}})
            assert subscribed.status_code == 201, subscribed.text
            chip = make_entity(id="chip-p", roles=["chip"], sectors=["healthcare"], region="HK")
            publish(settings, ("companies.v1", make_event("chain.company.upserted", chip)),
                    ("labs.v1", make_event("chain.lab.upserted", make_entity(
                        id="lab-p", roles=["algorithm"], sectors=["healthcare"]))),
                    ("companies.v1", make_event("chain.company.upserted", make_entity(
                        id="app-p", roles=["application"], sectors=["healthcare"]))))

            async def listed() -> list[dict]:
                return (await http.get("/v1/partnerships")).json()["items"]

            [partnership] = await until(listed, "the partnership")
            assert partnership["chip"]["id"] == "chip-p"
            pid, score = partnership["id"], partnership["score"]

            tightened = make_event("chain.company.upserted", {**chip, "data_policy": "hk_only"})
            publish(settings, ("companies.v1", tightened))

            async def api_redacts() -> dict | None:
                shown = (await http.get(f"/v1/partnerships/{pid}")).json()
                return shown if shown["chip"] == REDACTED else None

            shown = await until(api_redacts, "the API to redact the chip", timeout_s=20)
            assert shown["score"] == score  # nothing but the policy changed
            [update] = [e for e in public_events(settings) if e["type"] == "chain.partnership.updated"]
            assert update["data"]["id"] == pid and update["data"]["chip"] == REDACTED
            await until(lambda: asyncio.sleep(0, len(receiver.received) >= 2), "the webhook delivery")
            bodies = [json.loads(r.body) for r in receiver.received]
            assert [b["data"]["chip"].get("id") for b in bodies] == ["chip-p", None]
            assert bodies[1]["data"]["chip"] == REDACTED
            [sse] = await sse_updates(api)
            assert sse["data"]["chip"] == REDACTED and sse["data"]["revision"] == update["data"]["revision"]
