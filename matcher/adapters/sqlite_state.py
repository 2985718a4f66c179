"""StateStore on SQLite in the data dir: one file, WAL journal, every call one transaction."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

_TABLE = re.compile(r"^[a-z_]{1,40}$")


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
        if not _TABLE.match(table):
            raise ValueError(f"bad table name {table!r}")
        if table not in self._tables:
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, doc TEXT NOT NULL)")
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
            self._db.execute("BEGIN")
            try:
                for table, items in tables.items():
                    self._db.executemany(f"INSERT OR REPLACE INTO {names[table]} (key, doc) VALUES (?, ?)",
                                         [(k, json.dumps(doc, ensure_ascii=False)) for k, doc in items.items()])
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

    def close(self) -> None:
        with self._lock:
            self._db.close()
