"""`make bench`: the data dir's size after N events (default 1,000,000) through one worker's
BatchHandler, with the default retention: profile updates cycling over 10,000 entities, a settle every
20 batches, the hashing embedder over a real Edge shard and SQLite state. What grows with the events
is the journal (never trimmed) and the de-duplication marks (trimmed past CHAINMATCH_RETENTION_ROWS)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import tempfile
import time
from pathlib import Path

from benchmarks.profiles import synthetic_profiles
from benchmarks.run import as_records
from chainmatch.settings import Settings
from matcher.adapters.edge_store import EdgeStore
from matcher.adapters.hashing_embedder import HashingEmbedder
from matcher.adapters.sqlite_state import SqliteState
from matcher.service import Matcher
from streams.pipeline import BatchHandler, PipelineState, Retention

BATCH = 64
SETTLE_EVERY = 20


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def measure(events: int, entities: int) -> dict[str, float]:
    settings = Settings()

    async def discard(records) -> None:
        return None

    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        store, state = EdgeStore(data / "store"), SqliteState(data / "state.db")
        matcher = Matcher(embedder=HashingEmbedder(dimension=384), store=store, state=state)
        matcher.ensure_model()
        handler = BatchHandler(matcher=matcher, state=state, publish=discard, prefix="chain.",
                               counters=PipelineState(),
                               retention=Retention(max_age_s=settings.retention_days * 86400,
                                                   max_rows=settings.retention_rows))
        template = as_records(synthetic_profiles(entities, seed=3, prefix="size"))
        started = time.perf_counter()

        async def ingest() -> None:
            for number, start in enumerate(range(0, events, BATCH)):
                # Each event a new (source, id) for one of the entities, as a stream of profile updates.
                batch = [dataclasses.replace(template[n % entities], offset=n,
                                             value=template[n % entities].value.replace(
                                                 b'"id":"bench-', f'"id":"e{n}-'.encode(), 1))
                         for n in range(start, min(start + BATCH, events))]
                await handler.handle(batch)
                if number % SETTLE_EVERY == SETTLE_EVERY - 1:
                    await handler.settle()
                if number % 1000 == 999:
                    print(f"{start + BATCH} events, {time.perf_counter() - started:.0f} s", flush=True)
            await handler.settle()

        asyncio.run(ingest())
        elapsed = time.perf_counter() - started
        store.flush()
        state.close()
        store.close()
        state_bytes = folder_bytes(data) - folder_bytes(data / "store")
        return {"events": events, "seconds": elapsed, "store/ MB": folder_bytes(data / "store") / 1e6,
                "state.db MB": state_bytes / 1e6, "state.db bytes/event": state_bytes / events}


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__)
    arguments.add_argument("--events", type=int, default=1_000_000)
    arguments.add_argument("--entities", type=int, default=10_000)
    args = arguments.parse_args()
    for name, value in measure(args.events, args.entities).items():
        print(f"{name:20} {value:14.1f}")


if __name__ == "__main__":
    main()
