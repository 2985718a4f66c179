"""`replay` and `redrive` against the real embedded broker."""

from __future__ import annotations

import itertools
import json

import numpy as np
from builders import make_entity, make_event
from kafka import KafkaProducer

from chainmatch.broker import ensure_topics
from matcher.adapters.edge_store import EdgeStore
from matcher.adapters.sqlite_state import SqliteState
from matcher.book import VISIBLE
from matcher.service import Matcher
from streams.pipeline import BatchHandler, Incoming, PipelineState
from streams.replay import read_to_end, redrive, replay

_prefixes = itertools.count(1)
TOPICS = ("companies.v1", "labs.v1", "projects.v1", "curation.v1", "deadletter.v1")


def fresh_prefix(broker) -> str:
    prefix = f"replay{next(_prefixes)}."
    ensure_topics(broker.bootstrap, [prefix + t for t in TOPICS], partitions=4)
    return prefix


class Node:
    """A matcher over its own Edge shard and state, fed through the real pipeline."""

    def __init__(self, folder, embedder, prefix):
        self.store, self.state = EdgeStore(folder / "store"), SqliteState(folder / "state.db")
        self.matcher = Matcher(embedder=embedder, store=self.store, state=self.state)
        self.matcher.ensure_model()

        async def discard(records):
            return None

        self.handler = BatchHandler(matcher=self.matcher, state=self.state, publish=discard, prefix=prefix,
                                    counters=PipelineState())

    def snapshot(self):
        points, _ = self.store.scroll(limit=1000, with_vectors=True)
        entities = {p.id: (p.payload, np.round(p.vector, 5).tolist()) for p in points}
        # The partnerships in the visible top of their lists. Which lower-ranked ones hysteresis still
        # retains depends on the path (how records were batched), so those are left out.
        partnerships = {r["id"]: [r[role]["id"] for role in ("chip", "algorithm", "application")]
                        for r in self.matcher.partnerships() if r["rank"] < VISIBLE}
        return entities, partnerships

    def close(self):
        self.store.close()
        self.state.close()


def events(n: int):
    roles = ("chip", "algorithm", "application")
    for i in range(n):
        kind = "lab" if i % 4 == 1 else "company"
        customers = ("hospitals", "cars")[i % 2]
        data = make_entity(id=f"rp-{i}", roles=[roles[i % 3]], sectors=[("healthcare", "vehicles")[i % 2]],
                           description=f"Profile {i} building {roles[i % 3]} things for {customers}.")
        yield f"{kind}s.v1" if kind == "lab" else "companies.v1", make_event(f"chain.{kind}.upserted", data)


async def test_replay_into_an_empty_data_dir_matches_the_live_run(broker, tmp_path, hashing_embedder):
    prefix = fresh_prefix(broker)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False)
    published = list(events(30))
    for topic, event in published:
        producer.send(prefix + topic, key=event["data"]["id"].encode(), value=json.dumps(event).encode())
    producer.flush()
    producer.close()

    (tmp_path / "live").mkdir()
    (tmp_path / "replayed").mkdir()
    live = Node(tmp_path / "live", hashing_embedder, prefix)
    for records in read_to_end(broker.bootstrap, [prefix + t for t in ("companies.v1", "labs.v1")]):
        for record in records:  # the live run, one record at a time with idle moments between them
            await live.handler.handle([record])
            await live.handler.settle()
    replayed = Node(tmp_path / "replayed", hashing_embedder, prefix)
    replayed_count = await_replay(broker, prefix, replayed)
    assert replayed_count == 30
    live_entities, live_partnerships = live.snapshot()
    entities, partnerships = replayed.snapshot()
    assert entities == live_entities and len(entities) == 30
    assert partnerships == live_partnerships and partnerships
    live.close()
    replayed.close()


def await_replay(broker, prefix, node) -> int:
    import concurrent.futures

    groups = [[prefix + t for t in ("companies.v1", "labs.v1", "projects.v1")], [prefix + "curation.v1"]]
    # replay() runs its own event loop, so it runs on a thread of its own here.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(replay, broker.bootstrap, topic_groups=groups, handler=node.handler).result()


def test_redrive_sends_dead_letters_back_once_without_their_error_headers(broker):
    prefix = fresh_prefix(broker)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False)
    producer.send(prefix + "deadletter.v1", key=b"co-1", value=b"original bytes", headers=[
        ("trace", b"t"), ("error.class", b"SchemaViolation"), ("error.message", b"bad"),
        ("source.topic", (prefix + "companies.v1").encode()), ("source.partition", b"0"), ("source.offset", b"7")])
    producer.flush()
    producer.close()
    lines: list[str] = []
    assert redrive(broker.bootstrap, deadletter_topic=prefix + "deadletter.v1", dry_run=True,
                   group=f"{prefix}redrive", report=lines.append) == 0
    assert "would send" in lines[0] and "SchemaViolation" in lines[0]
    assert list(read_to_end(broker.bootstrap, [prefix + "companies.v1"])) == []
    assert redrive(broker.bootstrap, deadletter_topic=prefix + "deadletter.v1", dry_run=False,
                   group=f"{prefix}redrive", report=lines.append) == 1
    [[back]] = list(read_to_end(broker.bootstrap, [prefix + "companies.v1"]))
    assert isinstance(back, Incoming)
    assert (back.key, back.value, back.headers) == (b"co-1", b"original bytes", [("trace", b"t")])
    assert redrive(broker.bootstrap, deadletter_topic=prefix + "deadletter.v1", dry_run=False,
                   group=f"{prefix}redrive", report=lines.append) == 0
