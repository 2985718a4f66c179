"""The retained window of partnership events behind SSE: durable, numbered by a sequence that keeps
growing across restarts, pruned to the newest `retain` events."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from subscribers.database import Database
from subscribers.events import event_sectors

RETAIN = 10_000
TopicPartition = tuple[str, int]


@dataclass(frozen=True)
class WindowEvent:
    seq: int
    type: str
    sectors: list[str] | None
    event: dict[str, Any]


def known_sectors(db: sqlite3.Connection, event: dict[str, Any]) -> list[str] | None:
    """The event's sectors; for a withdrawal (which does not carry them), those last seen for its
    partnership. Remembers what it learns."""
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    partnership_id = data.get("id")
    sectors = event_sectors(event)
    if not isinstance(partnership_id, str):
        return sectors
    if sectors is not None:
        db.execute("INSERT OR REPLACE INTO partnership_sectors VALUES (?, ?)", (partnership_id, json.dumps(sectors)))
        return sectors
    row = db.execute("SELECT sectors FROM partnership_sectors WHERE partnership_id = ?", (partnership_id,)).fetchone()
    return json.loads(row[0]) if row else None


def save_offsets(db: sqlite3.Connection, consumer: str, offsets: Mapping[TopicPartition, int]) -> None:
    db.executemany("INSERT OR REPLACE INTO consumed_offsets VALUES (?, ?, ?, ?)",
                   [(consumer, topic, partition, offset) for (topic, partition), offset in offsets.items()])


class EventWindow:
    CONSUMER = "sse-window"

    def __init__(self, db: Database, *, retain: int = RETAIN):
        self._db = db
        self.retain = retain
        self._changed = asyncio.Event()

    @property
    def changed(self) -> asyncio.Event:
        """Set once after the next append: take it before reading, then wait on it."""
        return self._changed

    def append(self, events: Sequence[dict[str, Any]], offsets: Mapping[TopicPartition, int] | None = None) -> int:
        """Append the events not yet in the window (by CloudEvent id, a function of partnership and
        revision) and record the offsets consumed, in one transaction. Returns how many were new."""
        with self._db.transaction() as db:
            added = 0
            for event in events:
                sectors = known_sectors(db, event)
                # Not INSERT OR IGNORE: an ignored insert still takes a sequence number.
                cursor = db.execute(
                    "INSERT INTO window_events (event_id, type, sectors, body) SELECT ?, ?, ?, ? "
                    "WHERE NOT EXISTS (SELECT 1 FROM window_events WHERE event_id = ?)",
                    (str(event["id"]), str(event["type"]), None if sectors is None else json.dumps(sectors),
                     json.dumps(event, ensure_ascii=False, separators=(",", ":")), str(event["id"])))
                added += cursor.rowcount
            save_offsets(db, self.CONSUMER, offsets or {})
            if added:
                db.execute("DELETE FROM window_events WHERE seq <= (SELECT MAX(seq) FROM window_events) - ?",
                           (self.retain,))
        return added

    def sectors_for(self, events: Sequence[dict[str, Any]]) -> list[list[str] | None]:
        """Each event's sectors, a withdrawal's from what was seen of its partnership before."""
        with self._db.transaction() as db:
            return [known_sectors(db, event) for event in events]

    def notify(self) -> None:
        """Wake every stream waiting for news; call on the event loop after an append."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def offsets(self) -> dict[TopicPartition, int]:
        rows = self._db.rows("SELECT topic, partition, next_offset FROM consumed_offsets WHERE consumer = ?",
                             (self.CONSUMER,))
        return {(row["topic"], row["partition"]): row["next_offset"] for row in rows}

    def bounds(self) -> tuple[int, int]:
        """(first retained seq, last seq ever given); (last + 1, last) when nothing is retained."""
        [row] = self._db.rows("SELECT MIN(seq), MAX(seq) FROM window_events")
        [last] = self._db.rows("SELECT seq FROM sqlite_sequence WHERE name = 'window_events'") or [(0,)]
        return (row[0] if row[0] is not None else last[0] + 1), last[0]

    def after(self, seq: int, limit: int = 200) -> list[WindowEvent]:
        rows = self._db.rows("SELECT seq, type, sectors, body FROM window_events WHERE seq > ? ORDER BY seq LIMIT ?",
                             (seq, limit))
        return [WindowEvent(seq=row["seq"], type=row["type"],
                            sectors=None if row["sectors"] is None else json.loads(row["sectors"]),
                            event=json.loads(row["body"])) for row in rows]
