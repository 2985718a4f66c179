"""What de-duplication keeps is bounded by age and count; past that, the same event applies again."""

from __future__ import annotations

import json
import time

from builders import make_entity, make_event

from matcher.adapters.hashing_embedder import HashingEmbedder
from matcher.adapters.memory_state import MemoryState
from matcher.adapters.memory_store import MemoryStore
from matcher.service import Matcher
from streams.pipeline import BatchHandler, Incoming, PipelineState, Retention


def handler(state, retention) -> BatchHandler:
    async def publish(records):
        return None

    matcher = Matcher(embedder=HashingEmbedder(dimension=32), store=MemoryStore(), state=state)
    matcher.ensure_model()
    return BatchHandler(matcher=matcher, state=state, publish=publish, prefix="chain.", counters=PipelineState(),
                        retention=retention)


def record(n: int) -> Incoming:
    event = make_event("chain.company.upserted", make_entity(id=f"co-{n}"), id=f"evt-{n}")
    return Incoming("chain.companies.v1", 0, n, f"co-{n}".encode(), json.dumps(event).encode(), [])


async def test_marks_outbox_and_settles_are_kept_at_most_max_rows_each():
    state = MemoryState()
    worker = handler(state, Retention(max_age_s=3600, max_rows=3, every_s=0))
    for n in range(6):
        await worker.handle([record(n)])
        await worker.settle()
    assert state.count("seen") == 3 and state.count("outbox") <= 3 and state.count("settles") <= 3
    assert state.count("journal") == 6  # the journal is what replay rebuilds from: never trimmed


async def test_past_the_age_a_mark_is_gone_and_the_same_event_applies_again(monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    state = MemoryState()
    worker = handler(state, Retention(max_age_s=60, max_rows=100, every_s=0))
    await worker.handle([record(1)])
    await worker.handle([record(1)])
    assert state.count("journal") == 1  # within the window: a duplicate
    clock[0] += 61
    await worker.handle([record(2)])  # the trim after this batch drops record 1's mark
    assert sorted(key.split("\x1f")[1] for key, _ in state.items("seen")) == ["evt-2"]
    await worker.handle([record(1)])
    assert state.count("journal") == 3  # past the window: accepted again


async def test_without_retention_nothing_is_trimmed():
    state = MemoryState()
    worker = handler(state, None)
    for n in range(5):
        await worker.handle([record(n)])
    assert state.count("seen") == 5
