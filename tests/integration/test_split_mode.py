"""`chainmatch worker` and `chainmatch api` apart: two runtimes, two app objects, sharing only the real
broker and one vector store (qdrant-client's local mode standing in for the Qdrant server). The API's
partnerships come from its read model of the partnership topic, never from the workers' book."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from builders import make_entity, make_event
from kafka import KafkaProducer
from pydantic import SecretStr
from qdrant_client import QdrantClient

from api.app import create_app
from chainmatch.bootstrap import Runtime, topic_configs, topic_names
from chainmatch.broker import ensure_topics
from chainmatch.health import create_health_app
from chainmatch.settings import ApiKey, Settings
from matcher.adapters.hashing_embedder import HashingEmbedder
from matcher.adapters.qdrant_store import QdrantServerStore

STAFF = {"Authorization": "Bearer staff-key"}
TRIO = (("companies.v1", "chain.company.upserted", "chip-s", "chip"),
        ("labs.v1", "chain.lab.upserted", "lab-s", "algorithm"),
        ("companies.v1", "chain.company.upserted", "app-s", "application"))


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 60) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def settings(tmp_path, broker):
    def make(name: str, prefix: str) -> Settings:
        return Settings(kafka_bootstrap=broker.bootstrap, topic_prefix=prefix, data_dir=tmp_path / name,
                        model="hashing:64", api_keys={"staff-key": ApiKey(role="staff", name="Ada")},
                        topic_partitions=2, settle_idle_s=0.2)

    prefix = f"split{uuid.uuid4().hex[:8]}."
    worker, api = make("worker", prefix), make("api", prefix)
    ensure_topics(broker.bootstrap, topic_names(worker), 2, configs=topic_configs(worker))
    return worker, api


async def test_profiles_on_kafka_become_partnerships_the_api_serves_decides_and_withdraws(settings, broker):
    worker_settings, api_settings = settings
    store = QdrantServerStore(QdrantClient(":memory:"), "split")
    embedder = HashingEmbedder(dimension=64)
    worker = Runtime(worker_settings, run_workers=True, serve_api=False, embedder=embedder, store=store)
    api = Runtime(api_settings, run_workers=False, embedder=embedder, store=store)
    # The API starts first: it waits for the workers to create the collection rather than create it.
    async with api.lifespan(None), worker.lifespan(None), \
            httpx.AsyncClient(transport=httpx.ASGITransport(create_app(settings=api_settings, backend=api)),
                              base_url="http://api", headers=STAFF) as http, \
            httpx.AsyncClient(transport=httpx.ASGITransport(create_health_app(worker)),
                              base_url="http://worker") as probe:
        async def healthy(client: httpx.AsyncClient) -> dict | None:
            response = await client.get("/healthz")
            return response.json() if response.status_code == 200 else None

        assert (await until(lambda: healthy(probe), "the worker's health"))["workers"] == "ok"
        assert (await until(lambda: healthy(http), "the API's health"))["partnerships"] == "ok"
        assert (await probe.get("/v1/partnerships")).status_code == 404  # the worker serves no API

        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False)
        for topic, event_type, entity_id, role in TRIO:
            event = make_event(event_type, make_entity(id=entity_id, roles=[role], sectors=["healthcare"]))
            producer.send(worker_settings.topic(topic), key=entity_id.encode(), value=json.dumps(event).encode())
        producer.flush(timeout=10)
        producer.close()

        async def listed(status: str = "proposed,approved") -> list[dict]:
            return (await http.get("/v1/partnerships", params={"status": status})).json()["items"]

        [partnership] = await until(listed, "the partnership in the API")
        pid = partnership["id"]
        assert [partnership[r]["id"] for r in ("chip", "algorithm", "application")] == ["chip-s", "lab-s", "app-s"]
        assert api.matcher() is not worker.matcher()
        assert api.matcher().partnership(pid)["revision"] == worker.matcher().partnership(pid)["revision"]

        decision = await http.post(f"/v1/partnerships/{pid}/decision",
                                   json={"decision": "approved", "note": "pilot at the Kwai Chung hospital"})
        assert decision.status_code == 202

        async def decided() -> dict | None:
            record = (await http.get(f"/v1/partnerships/{pid}")).json()
            return record if record["status"] == "approved" else None

        record = await until(decided, "the decision to come back")
        assert [(d["decision"], d["note"], d["by"]) for d in record["decisions"]] == [
            ("approved", "pilot at the Kwai Chung hospital", "Ada")]

        suggested = await http.get("/v1/entities/chip-s/suggestions", params={"role": "algorithm"})
        assert "lab-s" in [s["entity"]["id"] for s in suggested.json()["items"]]
        feedback = await http.post("/v1/entities/chip-s/feedback", json={"other_id": "lab-s",
                                                                          "signal": "not_interested"})
        assert feedback.status_code == 202

        async def not_suggested() -> bool:
            response = await http.get("/v1/entities/chip-s/suggestions", params={"role": "algorithm"})
            return "lab-s" not in [s["entity"]["id"] for s in response.json()["items"]]

        await until(not_suggested, "the feedback to reach the API")

        deleted = await http.post("/v1/events", json=make_event("chain.company.deleted", {"id": "app-s"}))
        assert deleted.status_code == 202
        [withdrawn] = await until(lambda: listed("withdrawn"), "the withdrawal")
        assert withdrawn["id"] == pid and await listed() == []
        assert (await http.get(f"/v1/partnerships/{pid}")).json()["decisions"] == record["decisions"]
    store.close()


async def test_a_restarted_api_serves_its_partnerships_before_it_reads_the_topic_again(settings):
    """The read model is kept in the API's data dir (subscribers.partnerships.STATE_FILE)."""
    from builders import make_partnership_event

    from matcher.adapters.sqlite_state import SqliteState
    from matcher.service import Matcher
    from subscribers.partnerships import STATE_FILE, PartnershipReadModel

    _, api_settings = settings
    event = make_partnership_event()
    store, embedder = QdrantServerStore(QdrantClient(":memory:"), "split"), HashingEmbedder(dimension=64)
    state = SqliteState(api_settings.data_dir / STATE_FILE)
    model = PartnershipReadModel(Matcher(embedder=embedder, store=store, state=state), partnership_topic="p",
                                 feedback_topic="f")
    await model.absorb([event, {**event, "id": "junk", "data": {"id": "pt_junk", "revision": 1}}], {})
    state.close()
    reopened = Matcher(embedder=embedder, store=store, state=SqliteState(api_settings.data_dir / STATE_FILE))
    assert [r["id"] for r in reopened.partnerships()] == [event["data"]["id"]]  # and not the invalid one


@pytest.mark.parametrize("state", ["sqlite", "postgres"])
async def test_the_api_apart_counts_and_redrives_what_the_workers_kept(settings, broker, request, state):
    """The API reads the workers' counts and dead letters from their state: from state.db when they
    share the data dir (each its own files in it), or, as in the compose file, from PostgreSQL while
    each keeps a data dir of its own."""
    worker_settings, api_settings = settings
    if state == "sqlite":
        api_settings = api_settings.model_copy(update={"data_dir": worker_settings.data_dir})
    else:
        shared = {"state_url": SecretStr(request.getfixturevalue("postgres")),
                  "state_schema": f"split_{uuid.uuid4().hex[:8]}"}
        worker_settings, api_settings = (s.model_copy(update=shared) for s in (worker_settings, api_settings))
    store = QdrantServerStore(QdrantClient(":memory:"), "split")
    embedder = HashingEmbedder(dimension=64)
    worker = Runtime(worker_settings, run_workers=True, serve_api=False, embedder=embedder, store=store)
    api = Runtime(api_settings, run_workers=False, embedder=embedder, store=store)
    async with worker.lifespan(None), api.lifespan(None), \
            httpx.AsyncClient(transport=httpx.ASGITransport(create_app(settings=api_settings, backend=api)),
                              base_url="http://api", headers=STAFF) as http:
        async def stats() -> dict | None:
            response = await http.get("/v1/stats")
            return response.json() if response.status_code == 200 else None

        await until(stats, "the API")
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False)
        topic, event_type, entity_id, role = TRIO[0]
        event = make_event(event_type, make_entity(id=entity_id, roles=[role]))
        producer.send(worker_settings.topic(topic), key=entity_id.encode(), value=json.dumps(event).encode())
        producer.send(worker_settings.topic(topic), key=b"bad", value=b"[]")
        producer.flush(timeout=10)
        producer.close()

        async def counted() -> dict | None:
            body = await stats()
            return body if body and body["events_processed"] == 2 and body["deadlettered"] == 1 else None

        assert (await until(counted, "the workers' counts in the API"))["entities"] == 1
        [kept] = (await http.get("/v1/deadletters")).json()["items"]
        assert (kept["topic"], kept["key"]) == (worker_settings.topic(topic), "bad")
        assert (await http.post(f"/v1/deadletters/{kept['id']}/redrive")).status_code == 202

        async def dead_again() -> dict | None:
            body = await stats()
            return body if body and body["deadlettered"] == 2 else None

        await until(dead_again, "the redriven record to come back through the workers")
    store.close()
    if state == "postgres":
        assert not any((s.data_dir / "state.db").exists() for s in (worker_settings, api_settings))
