"""StateStore on SQLite in the data dir: one file, WAL journal, every call one transaction. Each row
keeps when it was last written (`written`, seconds since the epoch), which `trim` reads."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matcher.adapters.checks import check_table


class SqliteState:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the API's threads and the workers' thread, serialised by a lock.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.Lock()
        self._tables: set[str] = set()

    def _table(self, table: str) -> str:
        if check_table(table) not in self._tables:
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, doc TEXT NOT NULL, "
                             "written REAL NOT NULL DEFAULT 0)")
            columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if "written" not in columns:  # a table made before rows kept their time: they count as written now
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN written REAL NOT NULL DEFAULT {time.time()}")
            self._db.execute(f"CREATE INDEX IF NOT EXISTS {table}_written ON {table} (written)")
            self._tables.add(table)
        return table

    def get_many(self, table: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        with self._lock:
            name = self._table(table)
            found: dict[str, dict[str, Any]] = {}
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, doc FROM {name} WHERE key IN ({marks})", chunk)
                found.update((key, json.loads(doc)) for key, doc in rows)
            return found

    def put(self, table: str, items: Mapping[str, dict[str, Any]]) -> None:
        self.write({table: items})

    def write(self, tables: Mapping[str, Mapping[str, dict[str, Any]]]) -> None:
        with self._lock:
            names = {table: self._table(table) for table in tables}
            now = time.time()
            self._db.execute("BEGIN")
            try:
                for table, items in tables.items():
                    self._db.executemany(
                        f"INSERT OR REPLACE INTO {names[table]} (key, doc, written) VALUES (?, ?, ?)",
                        [(k, json.dumps(doc, ensure_ascii=False), now) for k, doc in items.items()])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def delete(self, table: str, keys: Sequence[str]) -> None:
        with self._lock:
            name = self._table(table)
            self._db.execute("BEGIN")
            try:
                self._db.executemany(f"DELETE FROM {name} WHERE key = ?", [(key,) for key in keys])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def items(self, table: str) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            name = self._table(table)
            return [(key, json.loads(doc)) for key, doc in self._db.execute(f"SELECT key, doc FROM {name}")]

    def page(self, table: str, *, after: str | None = None, limit: int = 100) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            name = self._table(table)
            rows = self._db.execute(f"SELECT key, doc FROM {name} WHERE key > ? ORDER BY key LIMIT ?",
                                    (after if after is not None else "", limit))
            return [(key, json.loads(doc)) for key, doc in rows]

    def count(self, table: str) -> int:
        with self._lock:
            return self._db.execute(f"SELECT count(*) FROM {self._table(table)}").fetchone()[0]

    def trim(self, table: str, *, keep: int, written_before: float) -> int:
        with self._lock:
            name = self._table(table)
            self._db.execute("BEGIN")
            try:
                old = self._db.execute(f"DELETE FROM {name} WHERE written < ?", (written_before,)).rowcount
                over = self._db.execute(
                    f"DELETE FROM {name} WHERE rowid IN (SELECT rowid FROM {name} "
                    "ORDER BY written DESC, rowid DESC LIMIT -1 OFFSET ?)", (keep,)).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return old + over

    def close(self) -> None:
        with self._lock:
            self._db.close()
