"""Dead letters: the original record, unchanged, plus why and where it came from (CONTRACT section 2).

Each is also kept in the workers' state store (table `deadletters`) until it is redriven: the
embedded broker forgets `chain.deadletter.v1` at every stop, the state store does not."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from matcher.ports import StateStore
from schemas.cloudevents import Record
from streams.incoming import Incoming, record_doc, record_from_doc

TABLE = "deadletters"

Headers = list[tuple[str, bytes]]


def deadletter_headers(
    *,
    original: Sequence[tuple[str, bytes]],
    error_class: str,
    error_message: str,
    topic: str,
    partition: int,
    offset: int,
) -> Headers:
    """The original headers, then the error and source headers (a replaced header keeps one copy)."""
    added = {
        "error.class": error_class,
        "error.message": error_message[:2000],
        "source.topic": topic,
        "source.partition": str(partition),
        "source.offset": str(offset),
    }
    kept = [(name, value) for name, value in original if name not in added]
    return kept + [(name, value.encode()) for name, value in added.items()]


def deadletter_row(record: Incoming, *, error_class: str, error_message: str) -> tuple[str, dict[str, Any]]:
    """The kept dead letter, by an id that is a function of the record, so a batch delivered again
    keeps it once."""
    digest = hashlib.sha256(repr((record.topic, record.partition, record.offset, record.key, record.value,
                                  record.headers)).encode()).hexdigest()
    received_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return f"dl_{digest[:24]}", {"record": record_doc(record), "error_class": error_class,
                                 "error_message": error_message[:2000], "received_at": received_at}


class KeptDeadLetters:
    """The dead letters kept in a state store, in id order, each as one flat document: `id`, `topic`,
    `partition`, `offset`, `key`, `value`, `headers` (the original record, bytes as bytes),
    `error_class`, `error_message`, `received_at`."""

    def __init__(self, state: StateStore, publish: Callable[[Sequence[Record]], Awaitable[None]]):
        self._state = state
        self._publish = publish

    def page(self, *, after: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return [_flat(deadletter_id, row) for deadletter_id, row in self._state.page(TABLE, after=after, limit=limit)]

    def get(self, deadletter_id: str) -> dict[str, Any] | None:
        row = self._state.get_many(TABLE, [deadletter_id]).get(deadletter_id)
        return None if row is None else _flat(deadletter_id, row)

    async def redrive(self, ids: Sequence[str]) -> int:
        """Send each of these dead letters back to its topic as it first came (its own key, bytes and
        headers), then forget it; returns how many were sent. Unknown ids are skipped."""
        rows = self._state.get_many(TABLE, ids)
        records = [record_from_doc(rows[i]["record"]) for i in ids if i in rows]
        await self._publish([(r.topic, r.key, r.value or b"", r.headers) for r in records])
        self._state.delete(TABLE, [i for i in ids if i in rows])
        return len(records)


def _flat(deadletter_id: str, row: dict[str, Any]) -> dict[str, Any]:
    record = record_from_doc(row["record"])
    return {"id": deadletter_id, "topic": record.topic, "partition": record.partition, "offset": record.offset,
            "key": record.key, "value": record.value, "headers": record.headers, "error_class": row["error_class"],
            "error_message": row["error_message"], "received_at": row["received_at"]}
