"""Feeding what was accepted before through the pipeline again (`chainmatch replay`): from the journal
(streams.journal) or from the topics, read from offset 0 with a plain consumer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Sequence

from kafka import KafkaConsumer, TopicPartition
from tqdm import tqdm

from streams.pipeline import BatchHandler, Incoming


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
        while partitions and idle < idle_polls:
            polled = consumer.poll(timeout_ms=1000, max_records=batch)
            records = [Incoming(topic=r.topic, partition=r.partition, offset=r.offset, key=r.key, value=r.value,
                                headers=list(r.headers or ())) for rs in polled.values() for r in rs]
            idle = 0 if records else idle + 1
            if records:
                yield records
    finally:
        consumer.close()


def read_topics(bootstrap: str, topic_groups: Sequence[Sequence[str]]) -> Iterator[list[Incoming]]:
    """The topics group after group (profiles before the decisions on them)."""
    for topics in topic_groups:
        yield from read_to_end(bootstrap, topics)


def _runs(batch: Sequence[Incoming], settle_before: Callable[[Incoming], bool]) -> Iterator[tuple[bool, list]]:
    """The batch cut where `settle_before` changes, each run with its value."""
    run: list[Incoming] = []
    for record in batch:
        if run and settle_before(record) != settle_before(run[0]):
            yield settle_before(run[0]), run
            run = []
        run.append(record)
    if run:
        yield settle_before(run[0]), run


def replay(batches: Iterable[list[Incoming]], *, handler: BatchHandler, settle_before: Callable[[Incoming], bool],
           total: int | None = None) -> int:
    """Feed the records through the pipeline in their order, settling (as a live worker does when its
    input falls idle) before each run of records that `settle_before` picks (decisions, which need the
    partnerships proposed first) and at the end; returns how many records were fed, with a progress bar."""

    async def run() -> int:
        count = 0
        with tqdm(total=total, unit="record", desc="replay") as bar:
            for batch in batches:
                for settle_first, records in _runs(batch, settle_before):
                    if settle_first:
                        await handler.settle()
                    await handler.handle(records)
                    count += len(records)
                    bar.update(len(records))
            await handler.settle()
        return count

    return asyncio.run(run())
