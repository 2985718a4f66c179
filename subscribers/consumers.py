"""The Kafka side of the subscribers: two readers of the full partnership topic.

- The window feeder reads every partition itself (no group: each API process keeps its own window)
  and stores the offsets it appended with the events, so a restart resumes without duplicates.
- The webhook dispatcher reads in a consumer group shared by every API process, so each event is
  planned once, and commits only after the deliveries are written.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError

from chainmatch.retry import until_done

log = logging.getLogger(__name__)
Events = list[dict[str, Any]]
Offsets = dict[tuple[str, int], int]


def partnership_event(value: bytes | None) -> dict[str, Any] | None:
    """A structured CloudEvent as the matcher writes it; anything else is skipped, never fatal."""
    try:
        event = json.loads(value or b"")
    except ValueError:
        return None
    ok = isinstance(event, dict) and isinstance(event.get("id"), str) and isinstance(event.get("type"), str)
    return event if ok else None


def events_and_offsets(batches: Mapping[TopicPartition, Iterable[ConsumerRecord]]) -> tuple[Events, Offsets]:
    events, offsets = [], {}
    for tp, records in batches.items():
        for record in records:
            event = partnership_event(record.value)
            if event is None:
                log.warning("skipping a record that is not a partnership event at %s[%d]@%d",
                            tp.topic, tp.partition, record.offset)
            else:
                events.append(event)
            offsets[(tp.topic, tp.partition)] = record.offset + 1
    return events, offsets


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    while True:
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return [TopicPartition(topic, p) for p in sorted(partitions)]
        await consumer.force_metadata_update()
        await asyncio.sleep(0.5)


async def feed(*, bootstrap: str, topic: str, start_offsets: Callable[[], Offsets],
               append: Callable[[Events, Offsets], Awaitable[None]], what: str = "appending to the SSE window",
               caught_up: Callable[[], None] | None = None) -> None:
    """Every partition of `topic`, from `start_offsets` (the beginning where it has none), into
    `append`; `caught_up` is called once everything that was on the topic at the start is appended."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        consumer.assign(partitions)
        stored = await asyncio.to_thread(start_offsets)
        for tp in partitions:
            if (tp.topic, tp.partition) in stored:
                consumer.seek(tp, stored[(tp.topic, tp.partition)])  # past the end (a new broker): earliest
            else:
                await consumer.seek_to_beginning(tp)
        ends = await consumer.end_offsets(partitions) if caught_up is not None else {}
        while True:
            if ends and all([await consumer.position(tp) >= end for tp, end in ends.items()]):
                caught_up()
                ends = {}
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            if batches:
                events, offsets = events_and_offsets(batches)
                await until_done(lambda: append(events, offsets), what)  # noqa: B023
    finally:
        await consumer.stop()


async def dispatch(*, bootstrap: str, topic: str, group: str, session_timeout_s: float,
                   plan: Callable[[Events], Awaitable[None]]) -> None:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest",
                                session_timeout_ms=int(session_timeout_s * 1000),
                                heartbeat_interval_ms=max(int(session_timeout_s * 1000 / 6), 500))
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            if batches:
                events, _ = events_and_offsets(batches)
                await until_done(lambda: plan(events), "planning webhook deliveries")  # noqa: B023
                try:
                    await consumer.commit()
                except CommitFailedError:  # a rebalance: whoever gets these records plans them again, a no-op
                    log.warning("webhook dispatcher: commit refused after a rebalance")
    finally:
        await consumer.stop()
