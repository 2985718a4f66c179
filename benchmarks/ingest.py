"""End-to-end ingest: profiles published to Kafka, counted only once `GET /v1/entities/{id}` serves
them, next to the raw encoder's texts/s on the same texts (the text the model reads), in one run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from kafka import KafkaProducer

from benchmarks.profiles import synthetic_profiles
from benchmarks.run import default_encoder, encoder_rate
from chainmatch.broker import free_port
from schemas.cloudevents import new_event, to_record

COUNT = 2560  # about ten seconds of input: a throughput, not the first batch's latency


def served(client: httpx.Client, entity_id: str) -> bool:
    return client.get(f"/v1/entities/{entity_id}").status_code == 200


def wait_until_served(client: httpx.Client, last_per_partition: list[str], timeout: float) -> float:
    """Seconds until the last profile of every partition is served. A partition's records are stored
    in order, a batch at a time, so the ones before it are served by then too (checked after)."""
    started, pending = time.monotonic(), list(last_per_partition)
    while pending and time.monotonic() - started < timeout:
        # One request at a time, ten a second at most: the requests take CPU from the model too.
        if served(client, pending[0]):
            pending.pop(0)
        else:
            time.sleep(0.1)
    if pending:
        raise SystemExit(f"{len(pending)} partitions not served after {timeout} s")
    return time.monotonic() - started


def main() -> None:
    profiles = synthetic_profiles(COUNT, seed=5, prefix="ingest")
    # The encoder's speed drifts on a shared machine: measured before and after the run, averaged.
    encoder, texts = default_encoder(), [p.text() for p in profiles]
    raw_before = encoder_rate(encoder, texts)
    with tempfile.TemporaryDirectory() as folder:
        port, kafka_port = free_port(), free_port()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("CHAINMATCH_")},
               "CHAINMATCH_API_KEYS": json.dumps({"bench": {"role": "staff"}}), "CHAINMATCH_BATCH_SIZE": "256"}
        up = subprocess.Popen([sys.executable, "-m", "chainmatch.cli", "up", "--port", str(port), "--kafka-port",
                               str(kafka_port), "--data-dir", folder], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(Path(folder) / "up.log", "wb"))
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": "Bearer bench"})
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
            producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{kafka_port}", acks="all",
                                     enable_idempotence=False, linger_ms=5)
            started = time.monotonic()
            sent = []
            for number, profile in enumerate(profiles):
                event = new_event("chain.company.upserted", dict(profile.data), id=f"i-{number}", source="bench")
                topic, key, value, headers = to_record(event, topic_prefix="chain.", now=event.time)
                sent.append((profile.id, producer.send(topic, key=key, value=value, headers=headers)))
            producer.flush()
            last = {future.get().partition: entity_id for entity_id, future in sent}
            elapsed = time.monotonic() - started + wait_until_served(client, list(last.values()), timeout=600)
            missing = [p.id for p in profiles if not served(client, p.id)]
            if missing:
                raise SystemExit(f"{len(missing)} profiles not served, e.g. {missing[:3]}")
        finally:
            up.send_signal(signal.SIGTERM)
            up.wait(timeout=60)
    raw = (raw_before + encoder_rate(encoder, texts)) / 2
    rate = COUNT / elapsed
    print(f"raw encoder on the same texts: {raw:.1f} texts/s (mean of before and after the run)")
    print(f"end to end (Kafka in, served by GET /v1/entities/{{id}}): {rate:.1f} events/s, ratio {rate / raw:.2f}")


if __name__ == "__main__":
    main()
