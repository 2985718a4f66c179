"""`make bench`: the raw encoder against the stream pipeline on the same profile texts.

The pipeline figure is one worker's BatchHandler (decode, validate, de-duplicate, embed, store,
recompute partnerships, persist marks and outbox) over a real Edge shard and SQLite state; the
publish step is left out (it is the broker's speed, not ours).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.profiles import synthetic_profiles
from chainmatch.bootstrap import embedder_factory
from chainmatch.settings import Settings
from matcher.adapters.edge_store import EdgeStore
from matcher.adapters.hashing_embedder import HashingEmbedder
from matcher.adapters.label_files import load_label_models
from matcher.adapters.sqlite_state import SqliteState
from matcher.model import Profile, Upsert
from matcher.ports import Embedder
from matcher.service import Matcher
from schemas.cloudevents import new_event, to_record
from streams.pipeline import BatchHandler, Incoming, PipelineState

ENCODER_BATCH = 32


def encoder_rate(embedder: Embedder, texts: list[str]) -> float:
    started = time.perf_counter()
    for start in range(0, len(texts), ENCODER_BATCH):
        embedder.embed(texts[start : start + ENCODER_BATCH])
    return len(texts) / (time.perf_counter() - started)


def as_records(profiles: Sequence[Profile]) -> list[Incoming]:
    records = []
    for offset, profile in enumerate(profiles):
        event = new_event("chain.company.upserted", dict(profile.data), id=f"bench-{offset}", source="bench")
        topic, key, value, headers = to_record(event, topic_prefix="chain.", now=event.time)
        records.append(Incoming(topic, 0, offset, key, value, headers))
    return records


def pipeline_rate(embedder: Embedder, *, stored: int, events: int, batch: int) -> float:
    """Events/s through one BatchHandler into a store already holding `stored` profiles."""

    async def discard(records) -> None:
        return None

    with tempfile.TemporaryDirectory() as folder:
        store, state = EdgeStore(Path(folder) / "store"), SqliteState(Path(folder) / "state.db")
        matcher = Matcher(embedder=embedder, store=store, state=state, label_models=load_label_models(embedder.name))
        matcher.ensure_model()
        for start in range(0, stored, 500):
            matcher.apply([Upsert(p) for p in synthetic_profiles(min(500, stored - start), seed=start,
                                                                 prefix=f"old{start}")])
        matcher.persist()
        handler = BatchHandler(matcher=matcher, state=state, publish=discard, prefix="chain.",
                               counters=PipelineState())
        records = as_records(synthetic_profiles(events, seed=99, prefix="new"))

        async def ingest() -> None:
            for start in range(0, events, batch):
                await handler.handle(records[start : start + batch])
            await handler.settle()  # the input is idle now, as a live worker would see it

        started = time.perf_counter()
        asyncio.run(ingest())
        rate = events / (time.perf_counter() - started)
        store.close()
        state.close()
    return rate


def default_encoder() -> Embedder:
    """The model as `chainmatch up` runs it (the default one, one BLAS thread: chainmatch.settings), here
    in this process."""
    return embedder_factory(Settings())()


def main() -> None:
    hashing = pipeline_rate(HashingEmbedder(dimension=384), stored=3000, events=3000, batch=500)
    model = default_encoder()
    profiles = synthetic_profiles(256, seed=1)
    model.embed([p.text() for p in profiles[:32]])  # warm-up
    raw = encoder_rate(model, [p.text() for p in profiles])
    with_model = pipeline_rate(model, stored=0, events=256, batch=64)
    rows = [
        ("raw encoder, default model, batches of 32", raw, "texts/s"),
        ("pipeline, default model, batches of 64", with_model, f"events/s (ratio {with_model / raw:.2f})"),
        ("pipeline, hashing embedder, 3,000 stored, batches of 500", hashing, "events/s"),
    ]
    print(f"\n{'benchmark':60} {'rate':>10}")
    for name, rate, unit in rows:
        print(f"{name:60} {rate:10.1f} {unit}")


if __name__ == "__main__":
    main()
