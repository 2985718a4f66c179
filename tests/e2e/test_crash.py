"""A worker killed with SIGKILL mid-ingest, the broker running on: nothing lost, nothing doubled; its store
and its partnership events equal those of a run that was not interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np
from builders import make_entity, make_event
from kafka import KafkaProducer

from chainmatch.broker import ensure_topics, free_port
from matcher.adapters.edge_store import EdgeStore
from matcher.adapters.sqlite_state import SqliteState
from matcher.book import VISIBLE
from streams.replay import read_to_end

TOPICS = ("companies.v1", "labs.v1", "projects.v1", "curation.v1", "partnerships.v1", "partnerships.public.v1",
          "deadletter.v1")
ROLES = ("chip", "algorithm", "application")
SECTORS = ("healthcare", "vehicles", "manufacturing")
COUNT = 400


def workload() -> list[tuple[str, dict]]:
    events = []
    for i in range(COUNT):
        data = make_entity(id=f"k-{i}", name=f"Member {i}", roles=[ROLES[i % 3]], sectors=[SECTORS[i % 5 % 3]],
                           description=f"Member {i} works on {ROLES[i % 3]} for {SECTORS[i % 5 % 3]} partners.")
        events.append(("companies.v1", make_event("chain.company.upserted", data, id=f"ev-{i}")))
    # Later records for the same key win: a rename and a delete near the end.
    renamed = make_entity(id="k-5", roles=["algorithm"], sectors=["vehicles"], name="Renamed",
                          description="Member 5 now builds perception models for vehicles.")
    events.append(("companies.v1", make_event("chain.company.upserted", renamed, id="ev-rename")))
    events.append(("companies.v1", make_event("chain.company.deleted", {"id": "k-7"}, id="ev-delete")))
    return events


def publish(bootstrap: str, prefix: str, events: list[tuple[str, dict]]) -> None:
    ensure_topics(bootstrap, [prefix + t for t in TOPICS], partitions=4)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    for topic, event in events:
        producer.send(prefix + topic, key=event["data"]["id"].encode(), value=json.dumps(event).encode())
    producer.flush()
    producer.close()


def start(data_dir: Path, bootstrap: str, prefix: str) -> tuple[subprocess.Popen, httpx.Client]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINMATCH_")}
    env.update(CHAINMATCH_KAFKA_BOOTSTRAP=bootstrap, CHAINMATCH_TOPIC_PREFIX=prefix, CHAINMATCH_MODEL="hashing:64",
               CHAINMATCH_API_KEYS=json.dumps({"k": {"role": "staff"}}), CHAINMATCH_BATCH_SIZE="8")
    process = subprocess.Popen([sys.executable, "-m", "chainmatch.cli", "up", "--port", str(port),
                                "--data-dir", str(data_dir)], env=env, stdout=subprocess.DEVNULL,
                               stderr=open(data_dir / f"up-{time.time()}.log", "wb"))
    return process, httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": "Bearer k"})


def stats(client: httpx.Client) -> dict:
    """The API's counters, or an empty dict while it is still starting."""
    try:
        response = client.get("/v1/stats", timeout=2)
        return response.json() if response.status_code == 200 else {}
    except (httpx.TransportError, ValueError):
        return {}


def run_until(client: httpx.Client, process: subprocess.Popen, condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "chainmatch up exited"
        if condition(stats(client)):
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def snapshot(data_dir: Path) -> tuple[dict, dict]:
    store, state = EdgeStore(data_dir / "store"), SqliteState(data_dir / "state.db")
    try:
        points, offset, entities = [], None, {}
        while True:
            points, offset = store.scroll(limit=256, offset=offset, with_vectors=True)
            entities.update({p.id: (p.payload, np.round(p.vector, 5).tolist()) for p in points})
            if offset is None:
                break
        partnerships = {key: [doc[r]["id"] for r in ROLES] for key, doc in state.items("partnerships")
                        if doc["status"] == "proposed" and doc["rank"] < VISIBLE}
        return entities, partnerships
    finally:
        store.close()
        state.close()


def test_sigkill_mid_ingest_loses_nothing_and_duplicates_nothing(broker, tmp_path):
    calm, crashed = tmp_path / "calm", tmp_path / "crashed"
    calm.mkdir()
    crashed.mkdir()
    events = workload()
    publish(broker.bootstrap, "calm.", events)
    publish(broker.bootstrap, "crash.", events)

    process, client = start(calm, broker.bootstrap, "calm.")
    run_until(client, process, lambda s: s.get("events_processed", 0) >= len(events))
    stop(process)

    process, client = start(crashed, broker.bootstrap, "crash.")
    run_until(client, process, lambda s: s.get("events_processed", 0) >= 60)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert 0 < len(snapshot(crashed)[0]) < COUNT, "the kill landed mid-ingest"
    process, client = start(crashed, broker.bootstrap, "crash.")
    run_until(client, process, lambda s: s.get("entities") == COUNT - 1
              and client.get("/v1/entities/k-5").json()["name"] == "Renamed")
    time.sleep(2)  # let the last batches settle
    stop(process)

    calm_entities, calm_partnerships = snapshot(calm)
    entities, partnerships = snapshot(crashed)
    assert entities == calm_entities and len(entities) == COUNT - 1 and "k-7" not in entities
    assert partnerships == calm_partnerships and partnerships
    assert event_ids(broker.bootstrap, "crash.") == event_ids(broker.bootstrap, "calm."), \
        "the partnership events differ from those of the uninterrupted run"


def event_ids(bootstrap: str, prefix: str) -> set[str]:
    """The partnership event ids on the topic; an id sent twice must carry the same data both times."""
    copies = defaultdict(set)
    for batch in read_to_end(bootstrap, [f"{prefix}partnerships.v1"]):
        for record in batch:
            event = json.loads(record.value)
            copies[event["id"]].add(json.dumps(event["data"], sort_keys=True))
    assert copies and all(len(versions) == 1 for versions in copies.values()), "an event id with two contents"
    return set(copies)
