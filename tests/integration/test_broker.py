"""The embedded Tansu broker: start, topics, a produce/consume round trip, and clean stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient

from chainmatch.broker import BrokerError, EmbeddedBroker, ensure_topics, port_in_use, tansu_binary

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_TOPICS = [
    "chain.companies.v1", "chain.labs.v1", "chain.projects.v1", "chain.curation.v1",
    "chain.partnerships.v1", "chain.partnerships.public.v1", "chain.deadletter.v1",
]


def partition_counts(bootstrap: str, topics: list[str]) -> dict[str, int]:
    with KafkaAdminClient(bootstrap_servers=bootstrap) as admin:
        return {t["name"]: len(t["partitions"]) for t in admin.describe_topics(topics)}


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting for a reaper."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()



def test_the_bundled_binary_is_executable():
    assert os.access(tansu_binary(), os.X_OK)


def test_broker_answers_metadata(broker):
    assert broker.running
    assert broker.bootstrap == f"127.0.0.1:{broker.port}"
    with KafkaAdminClient(bootstrap_servers=broker.bootstrap) as admin:
        assert isinstance(admin.list_topics(), list)


def test_ensure_topics_creates_the_contract_topics_and_is_idempotent(broker):
    ensure_topics(broker.bootstrap, CONTRACT_TOPICS, partitions=4)
    assert partition_counts(broker.bootstrap, CONTRACT_TOPICS) == dict.fromkeys(CONTRACT_TOPICS, 4)

    extra = f"test.extra.{uuid.uuid4().hex[:8]}"
    ensure_topics(broker.bootstrap, [*CONTRACT_TOPICS, extra], partitions=4)  # some exist, one is new
    assert partition_counts(broker.bootstrap, [*CONTRACT_TOPICS, extra]) == dict.fromkeys(
        [*CONTRACT_TOPICS, extra], 4)


def test_a_record_with_headers_round_trips_through_a_consumer_group(broker):
    topic = f"test.roundtrip.{uuid.uuid4().hex[:8]}"
    ensure_topics(broker.bootstrap, [topic], partitions=4)
    headers = [("content-type", b"application/cloudevents+json"), ("ce_id", b"event-1")]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False)
    sent = producer.send(topic, key=b"entity-1", value=b'{"hello": "world"}', headers=headers).get(timeout=10)
    producer.close()

    consumer = KafkaConsumer(
        topic, bootstrap_servers=broker.bootstrap, group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", enable_auto_commit=False,
        session_timeout_ms=6000, heartbeat_interval_ms=1000,
    )
    try:
        records = []
        deadline = time.monotonic() + 20
        while not records and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        assert len(records) == 1
        record = records[0]
        assert (record.partition, record.offset) == (sent.partition, sent.offset)
        assert (record.key, record.value) == (b"entity-1", b'{"hello": "world"}')
        assert record.headers == headers
        consumer.commit()
    finally:
        consumer.close()


def test_stop_with_a_client_connected_leaves_no_process_and_frees_the_port(free_port, tmp_path):
    embedded = EmbeddedBroker(free_port, log_dir=tmp_path).start()
    pid = embedded.pid
    admin = KafkaAdminClient(bootstrap_servers=embedded.bootstrap)  # a live connection slows Tansu's exit
    admin.list_topics()
    try:
        started = time.monotonic()
        embedded.stop()
        assert time.monotonic() - started < 10.5
    finally:
        admin.close()
    assert not embedded.running
    assert not alive(pid)
    assert wait_until(lambda: not port_in_use(free_port), timeout=5)
    assert "listening on" in (tmp_path / "tansu.log").read_text()


def test_a_taken_port_is_refused_before_spawning(broker):
    with pytest.raises(BrokerError, match="in use"):
        EmbeddedBroker(broker.port).start()


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux-only")
def test_the_broker_dies_with_a_sigkilled_parent(free_port):
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from chainmatch.broker import EmbeddedBroker; "
         f"b = EmbeddedBroker({free_port}).start(); print(b.pid, flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        child = int(parent.stdout.readline())
        assert alive(child)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert wait_until(lambda: not alive(child), timeout=5)
