"""The subscribers' SQLite file in the data dir: the SSE window, consumed offsets, subscriptions and
deliveries. One connection serialised by a lock; callers on the event loop go through a thread."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS window_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids never reused, even after pruning
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    sectors TEXT,                           -- JSON list; NULL when unknown
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS consumed_offsets (
    consumer TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (consumer, topic, partition)
);
CREATE TABLE IF NOT EXISTS partnership_sectors (partnership_id TEXT PRIMARY KEY, sectors TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subscriptions (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,                    -- SHA-256 of the API key that made it, never the key
    url TEXT NOT NULL,
    sectors TEXT NOT NULL,
    types TEXT NOT NULL,
    secret TEXT NOT NULL,
    status TEXT NOT NULL,
    disabled_reason TEXT,
    failures_in_row INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body BLOB NOT NULL,                     -- the redacted CloudEvent, byte for byte the same on each attempt
    status TEXT NOT NULL,                   -- pending, delivered, failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    lease_until REAL NOT NULL DEFAULT 0,    -- an attempt in flight, so two processes never send it at once
    last_status INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (subscription_id, status, next_at);
"""


class Database:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def rows(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()
