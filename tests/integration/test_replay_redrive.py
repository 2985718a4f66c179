"""`replay` and `redrive`: from the journal in the data dir, and against the real embedded broker."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from builders import make_entity, make_event
from kafka import KafkaProducer

from chainmatch.bootstrap import open_worker_state
from chainmatch.broker import ensure_topics
from chainmatch.cli import cmd_redrive, cmd_replay, parser
from chainmatch.settings import Settings
from matcher.adapters.edge_store import EdgeStore
from matcher.adapters.sqlite_state import SqliteState
from matcher.book import VISIBLE
from matcher.service import Matcher
from streams.deadletter import KeptDeadLetters, deadletter_row
from streams.pipeline import BatchHandler, Incoming, PipelineState
from streams.replay import read_to_end, read_topics, replay

_prefixes = itertools.count(1)
_schemas = itertools.count(1)
TOPICS = ("companies.v1", "labs.v1", "projects.v1", "curation.v1", "deadletter.v1")


def fresh_prefix(broker) -> str:
    prefix = f"replay{next(_prefixes)}."
    ensure_topics(broker.bootstrap, [prefix + t for t in TOPICS], partitions=4)
    return prefix


class Node:
    """A matcher over its own Edge shard and state, fed through the real pipeline."""

    def __init__(self, folder, embedder, prefix, **state_settings):
        self.store = EdgeStore(folder / "store")
        self.state = open_worker_state(Settings(_env_file=None, data_dir=folder, **state_settings))
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
        return pool.submit(replay, read_topics(broker.bootstrap, groups), handler=node.handler,
                           settle_before=lambda record: record.topic == prefix + "curation.v1").result()


def incoming(topic: str, offset: int, event: dict) -> Incoming:
    return Incoming(topic, 0, offset, event["data"].get("id", "").encode() or None, json.dumps(event).encode(), [])


@pytest.fixture(params=["sqlite", "postgres"])
def state_settings(request) -> dict:
    """The settings that put the workers' state in the data dir's state.db, or in a PostgreSQL schema
    of the test's own on the session's server."""
    if request.param == "sqlite":
        return {}
    return {"state_url": request.getfixturevalue("postgres"), "state_schema": f"replay_{next(_schemas)}"}


def run_cli(command, argv: list[str], **settings_overrides) -> int:
    """A CLI command that runs its own event loop, on a thread of its own."""
    import concurrent.futures

    args = parser().parse_args(argv)
    settings = Settings(data_dir=Path(args.data_dir), model="hashing:384", **settings_overrides,
                        **({"kafka_port": args.kafka_port} if getattr(args, "kafka_port", None) else {}))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(command, settings, args).result()


async def test_replay_rebuilds_an_existing_data_dir_from_its_journal_never_skipping(tmp_path, hashing_embedder,
                                                                                      capsys, state_settings):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    live = Node(data_dir, hashing_embedder, "chain.", **state_settings)
    for offset, (topic, event) in enumerate(events(24)):
        await live.handler.handle([incoming(f"chain.{topic}", offset, event)])
        await live.handler.settle()
    [first, *_] = [r for r in live.matcher.partnerships() if r["rank"] < VISIBLE]
    decision = make_event("chain.partnership.decision.submitted", {
        "partnership_id": first["id"], "decision": "approved", "note": "good fit", "by": "Ada"})
    await live.handler.handle([Incoming("chain.curation.v1", 0, 0, first["id"].encode(),
                                        json.dumps(decision).encode(), [])])
    await live.handler.handle([Incoming("chain.companies.v1", 3, 99, b"x", b"not json", [])])
    expected = live.snapshot()
    # Derived state gone astray: a profile lost from the store, a partnership record lost.
    live.store.delete(["rp-0"])
    live.state.delete("partnerships", [first["id"]])
    live.close()
    (data_dir / "staff.key").write_text("cm_kept\n")

    assert run_cli(cmd_replay, ["replay", "--data-dir", str(data_dir)], **state_settings) == 2  # asks for --yes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    assert run_cli(cmd_replay, ["replay", "--data-dir", str(data_dir), "--yes"], **state_settings) == 0
    out = capsys.readouterr().out
    assert "replayed 25 record(s) from the journal" in out and "25 applied, 0 dead-lettered" in out
    assert "profiles: 23 -> 24 (1 new, 0 gone, 0 changed)" in out
    assert "partnerships: " in out and "1 new, 0 gone" in out
    [kept] = [p for p in tmp_path.iterdir() if p.name.startswith("data.before-replay-")]
    assert (kept / "store").is_dir() and (data_dir / "staff.key").read_text() == "cm_kept\n"

    if state_settings:  # the old schema is kept beside the rebuilt one, which took its name
        assert f"and schema {state_settings['state_schema']}_before_replay_" in out
    rebuilt = Node(data_dir, hashing_embedder, "chain.", **state_settings)
    assert rebuilt.snapshot() == expected
    assert rebuilt.matcher.partnership(first["id"])["status"] == "approved"
    assert [d["error_class"] for d in KeptDeadLetters(rebuilt.state, None).page()] == ["NotACloudEvent"]
    rebuilt.close()


def test_redrive_sends_kept_dead_letters_back_once_as_they_came(broker, tmp_path, capsys):
    prefix = "chain."
    ensure_topics(broker.bootstrap, [prefix + "companies.v1"], partitions=4)
    before = sum(len(batch) for batch in read_to_end(broker.bootstrap, [prefix + "companies.v1"]))
    state = SqliteState(tmp_path / "state.db")
    record = Incoming(prefix + "companies.v1", 2, 7, b"co-1", b"original bytes", [("trace", b"t")])
    state.put("deadletters", dict([deadletter_row(record, error_class="SchemaViolation", error_message="bad")]))
    state.close()
    argv = ["redrive", "--data-dir", str(tmp_path), "--kafka-port", broker.bootstrap.rsplit(":", 1)[1]]
    assert run_cli(cmd_redrive, [*argv, "--dry-run"]) == 0
    assert "would send" in capsys.readouterr().out
    assert sum(len(batch) for batch in read_to_end(broker.bootstrap, [prefix + "companies.v1"])) == before
    assert run_cli(cmd_redrive, argv) == 0
    assert "sent 1 record(s)" in capsys.readouterr().out
    back = [r for batch in read_to_end(broker.bootstrap, [prefix + "companies.v1"]) for r in batch]
    assert [(r.key, r.value, r.headers) for r in back[before:]] == [(b"co-1", b"original bytes", [("trace", b"t")])]
    assert run_cli(cmd_redrive, argv) == 0
    assert "sent 0 record(s)" in capsys.readouterr().out
