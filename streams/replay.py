"""Reading topics from the start with a plain consumer: `chainmatch replay` and `chainmatch redrive`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from tqdm import tqdm

from streams.pipeline import BatchHandler, Incoming

DEADLETTER_HEADERS = ("error.class", "error.message", "source.topic", "source.partition", "source.offset")


def read_to_end(bootstrap: str, topics: Sequence[str], *, batch: int = 256,
                idle_polls: int = 2) -> Iterator[list[Incoming]]:
    """Every record now in `topics`, from offset 0, in batches that keep each partition's order.

    The end is `idle_polls` empty polls in a row: the embedded broker's end offsets do not count
    records, so they cannot tell when the last one was read.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        consumer.topics()  # fetches the cluster metadata, so every partition is known below
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        idle = 0
        with tqdm(unit="record", desc="replay") as bar:
            while partitions and idle < idle_polls:
                polled = consumer.poll(timeout_ms=1000, max_records=batch)
                records = [Incoming(topic=r.topic, partition=r.partition, offset=r.offset, key=r.key, value=r.value,
                                    headers=list(r.headers or ())) for rs in polled.values() for r in rs]
                idle = 0 if records else idle + 1
                if records:
                    bar.update(len(records))
                    yield records
    finally:
        consumer.close()


def replay(bootstrap: str, *, topic_groups: Sequence[Sequence[str]], handler: BatchHandler) -> int:
    """Feed the topics through the pipeline, group by group (profiles before the decisions on them),
    settling after each group as a live worker does when its input falls idle."""

    async def run() -> int:
        count = 0
        for topics in topic_groups:
            for records in read_to_end(bootstrap, topics):
                await handler.handle(records)
                count += len(records)
            await handler.settle()
        return count

    return asyncio.run(run())


def redrive(bootstrap: str, *, deadletter_topic: str, dry_run: bool, group: str = "chainmatch-redrive",
            report: Callable[[str], None] = print) -> int:
    """Send each dead letter not redriven before back to its source topic, as it was first sent."""
    consumer = KafkaConsumer(deadletter_topic, bootstrap_servers=bootstrap, group_id=group,
                             enable_auto_commit=False, auto_offset_reset="earliest", consumer_timeout_ms=8000,
                             session_timeout_ms=6000, heartbeat_interval_ms=1000)
    producer = None if dry_run else KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    sent = 0
    try:
        for record in consumer:
            headers = dict(record.headers or ())
            source = headers.get("source.topic", b"").decode()
            kept = [(k, v) for k, v in record.headers or () if k not in DEADLETTER_HEADERS]
            report(f"{'would send' if dry_run else 'sent'} {source} key={record.key!r} "
                   f"({headers.get('error.class', b'?').decode()}: {headers.get('error.message', b'').decode()})")
            if producer is not None and source:
                producer.send(source, key=record.key, value=record.value, headers=kept)
                sent += 1
        if producer is not None:
            producer.flush()
            consumer.commit()
    finally:
        consumer.close()
        if producer is not None:
            producer.close()
    return sent
