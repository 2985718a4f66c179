"""One Kafka record as a worker received it, and as a JSON document for the state store."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Incoming:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def record_doc(record: Incoming) -> dict[str, Any]:
    """A record as a JSON document: its bytes in base64, so nothing about them is assumed."""
    encoded = lambda raw: None if raw is None else base64.b64encode(raw).decode()  # noqa: E731
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset,
            "key": encoded(record.key), "value": encoded(record.value),
            "headers": [[name, encoded(value)] for name, value in record.headers]}


def record_from_doc(doc: dict[str, Any]) -> Incoming:
    decoded = lambda text: None if text is None else base64.b64decode(text)  # noqa: E731
    return Incoming(topic=doc["topic"], partition=doc["partition"], offset=doc["offset"], key=decoded(doc["key"]),
                    value=decoded(doc["value"]), headers=[(name, decoded(value)) for name, value in doc["headers"]])
