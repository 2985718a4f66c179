"""`make bench`: the raw encoder against the matcher pipeline on the same profile texts."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.profiles import synthetic_profiles
from matcher.adapters.edge_store import EdgeStore
from matcher.adapters.hashing_embedder import HashingEmbedder
from matcher.model import Upsert
from matcher.ports import Embedder
from matcher.service import Matcher

BATCH = 64


def encoder_rate(embedder: Embedder, texts: list[str]) -> float:
    started = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        embedder.embed(texts[start : start + BATCH])
    return len(texts) / (time.perf_counter() - started)


def pipeline_rate(embedder: Embedder, *, stored: int, events: int) -> float:
    """Profiles/s through Matcher.apply into a real Edge shard already holding `stored` profiles."""
    with tempfile.TemporaryDirectory() as folder:
        store = EdgeStore(Path(folder) / "store")
        matcher = Matcher(embedder=embedder, store=store)
        matcher.ensure_model()
        for start in range(0, stored, 500):
            matcher.apply([Upsert(p) for p in synthetic_profiles(min(500, stored - start), seed=start,
                                                                 prefix=f"old{start}")])
        fresh = synthetic_profiles(events, seed=99, prefix="new")
        started = time.perf_counter()
        for start in range(0, events, BATCH):
            matcher.apply([Upsert(p) for p in fresh[start : start + BATCH]])
        rate = events / (time.perf_counter() - started)
        store.close()
    return rate


def main() -> None:
    from matcher.adapters.sentence_embedder import SentenceEmbedder

    model = SentenceEmbedder(None, progress=print)
    texts = [p.text() for p in synthetic_profiles(256, seed=1)]
    model.embed(texts[:32])  # warm-up
    rows = [
        ("raw encoder, default model", encoder_rate(model, texts), "texts/s"),
        ("matcher pipeline, default model, 0 stored", pipeline_rate(model, stored=0, events=256), "profiles/s"),
        ("matcher pipeline, hashing embedder, 3,000 stored",
         pipeline_rate(HashingEmbedder(dimension=384), stored=3000, events=3000), "profiles/s"),
    ]
    print(f"\n{'benchmark':55} {'rate':>10}")
    for name, rate, unit in rows:
        print(f"{name:55} {rate:10.1f} {unit}")


if __name__ == "__main__":
    main()
