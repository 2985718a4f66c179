"""Dead letters kept in the workers' state store: written with their batch, listed, inspected and
redriven through the API; and the workers' counts, kept the same way."""

from __future__ import annotations

import json

import pytest
from builders import make_entity, make_event
from fakes import FakeBackend
from fastapi.testclient import TestClient

from api.app import create_app
from chainmatch.settings import ApiKey, Settings
from matcher.adapters.hashing_embedder import HashingEmbedder
from matcher.adapters.memory_state import MemoryState
from matcher.adapters.memory_store import MemoryStore
from matcher.service import Matcher
from streams.journal import read_journal
from streams.pipeline import BatchHandler, Incoming, PipelineState, persisted_totals

KEYS = {"staff-key": ApiKey(role="staff"), "platform-key": ApiKey(role="platform")}
STAFF = {"Authorization": "Bearer staff-key"}


def handler_over(state: MemoryState, store: MemoryStore, published: list) -> BatchHandler:
    async def publish(records):
        published.extend(records)

    matcher = Matcher(embedder=HashingEmbedder(dimension=64), store=store, state=state)
    matcher.ensure_model()
    return BatchHandler(matcher=matcher, state=state, publish=publish, prefix="chain.", counters=PipelineState())


def good(offset: int, entity_id: str) -> Incoming:
    event = make_event("chain.company.upserted", make_entity(id=entity_id))
    return Incoming("chain.companies.v1", 0, offset, entity_id.encode(), json.dumps(event).encode(), [])


def bad(offset: int) -> Incoming:
    return Incoming("chain.companies.v1", 1, offset, b"co-x", b"\xffnot json", [("trace", b"\x00\xfe")])


async def test_a_batch_keeps_what_it_accepted_its_dead_letters_and_its_counts_across_a_restart():
    state, store, published = MemoryState(), MemoryStore(), []
    first, co1 = handler_over(state, store, published), good(0, "co-1")
    await first.handle([co1, bad(0), good(1, "co-2")])
    await first.handle([co1])  # delivered again: a duplicate is not accepted twice
    restarted = handler_over(state, store, published)  # a new process over the same state store
    await restarted.handle([bad(7)])
    journal = [record for batch in read_journal(state) for record in batch]
    assert [(r.offset, r.key) for r in journal] == [(0, b"co-1"), (1, b"co-2")]
    assert journal[0] == co1
    kept = sorted((doc["record"]["offset"], doc["error_class"]) for _, doc in state.items("deadletters"))
    assert [offset for offset, _ in kept] == [0, 7]
    assert persisted_totals(state) == {"events_processed": 5, "deadlettered": 2}


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def client(backend) -> TestClient:
    return TestClient(create_app(settings=Settings(api_keys=KEYS), backend=backend))


async def deadletter(backend: FakeBackend, *offsets: int) -> None:
    handler = handler_over(backend.worker_state, MemoryStore(), [])
    await handler.handle([bad(offset) for offset in offsets])


async def test_staff_list_dead_letters_page_by_page(backend, client):
    await deadletter(backend, 3, 4, 5)
    first = client.get("/v1/deadletters?limit=2", headers=STAFF).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.get(f"/v1/deadletters?limit=2&cursor={first['next_cursor']}", headers=STAFF).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    items = first["items"] + rest["items"]
    assert sorted(item["offset"] for item in items) == [3, 4, 5]
    assert set(items[0]) == {"id", "topic", "partition", "offset", "key", "error_class", "error_message",
                             "received_at"}
    assert items[0]["topic"] == "chain.companies.v1" and items[0]["key"] == "co-x"
    assert client.get("/v1/deadletters?cursor=nope", headers=STAFF).status_code == 400
    assert client.get("/v1/deadletters", headers={"Authorization": "Bearer platform-key"}).status_code == 403


async def test_redrive_sends_the_original_record_back_once(backend, client):
    await deadletter(backend, 9)
    [item] = client.get("/v1/deadletters", headers=STAFF).json()["items"]
    detail = client.get(f"/v1/deadletters/{item['id']}", headers=STAFF).json()
    assert detail["value_base64"] == "/25vdCBqc29u" and detail["headers"] == [["trace", "\x00\ufffd"]]
    response = client.post(f"/v1/deadletters/{item['id']}/redrive", headers=STAFF)
    assert response.status_code == 202
    assert backend.published == [("chain.companies.v1", b"co-x", b"\xffnot json", [("trace", b"\x00\xfe")])]
    assert client.get("/v1/deadletters", headers=STAFF).json()["items"] == []
    assert client.post(f"/v1/deadletters/{item['id']}/redrive", headers=STAFF).status_code == 404


async def test_a_record_delivered_again_re_sends_outbox_rows_written_before_they_were_base64():
    state, store, published = MemoryState(), MemoryStore(), []
    worker, record = handler_over(state, store, published), good(0, "co-1")
    await worker.handle([record])
    [(mark, _)] = state.items("seen")
    state.put("outbox", {"old": {"topic": "chain.deadletter.v1", "key": "k", "value": "dmFsdWU=",
                                 "headers": [["trace", "t"]]}})
    state.put("seen", {mark: {"outbox": ["old"]}})
    published.clear()
    await worker.handle([record])
    assert published == [("chain.deadletter.v1", b"k", b"value", [("trace", b"t")])]
