"""A plain Kafka producer for edges that publish without running agents (the API, `produce`)."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from schemas.cloudevents import Record


class KafkaPublisher:
    """acks=all and no idempotence: idempotent producers fail on the embedded broker (Tansu)."""

    def __init__(self, bootstrap: str):
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=5
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, records: Sequence[Record]) -> None:
        """Send (topic, key, value, headers) records and wait until the broker has them all."""
        futures = [
            await self._producer.send(topic, value=value, key=key, headers=headers)
            for topic, key, value, headers in records
        ]
        for future in futures:
            await future
