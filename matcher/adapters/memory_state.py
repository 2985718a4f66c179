"""StateStore in memory for unit tests: copies in, copies out; each row remembers when it was written."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from typing import Any


class MemoryState:
    def __init__(self) -> None:
        self._tables: dict[str, dict[str, dict[str, Any]]] = {}
        # Per table: key -> when it was last written; dicts keep insertion order, so a rewritten key
        # is moved to the end and the order is the order of writing.
        self._written: dict[str, dict[str, float]] = {}

    def get_many(self, table: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = self._tables.get(table, {})
        return {key: copy.deepcopy(rows[key]) for key in keys if key in rows}

    def put(self, table: str, items: Mapping[str, dict[str, Any]]) -> None:
        self.write({table: items})

    def write(self, tables: Mapping[str, Mapping[str, dict[str, Any]]]) -> None:
        now = time.time()
        for table, items in copy.deepcopy({t: dict(i) for t, i in tables.items()}).items():
            self._tables.setdefault(table, {}).update(items)
            written = self._written.setdefault(table, {})
            for key in items:
                written.pop(key, None)
                written[key] = now

    def delete(self, table: str, keys: Sequence[str]) -> None:
        for key in keys:
            self._tables.get(table, {}).pop(key, None)
            self._written.get(table, {}).pop(key, None)

    def items(self, table: str) -> list[tuple[str, dict[str, Any]]]:
        return [(key, copy.deepcopy(doc)) for key, doc in self._tables.get(table, {}).items()]

    def page(self, table: str, *, after: str | None = None, limit: int = 100) -> list[tuple[str, dict[str, Any]]]:
        rows = self._tables.get(table, {})
        keys = sorted(key for key in rows if after is None or key > after)[:limit]
        return [(key, copy.deepcopy(rows[key])) for key in keys]

    def count(self, table: str) -> int:
        return len(self._tables.get(table, {}))

    def trim(self, table: str, *, keep: int, written_before: float) -> int:
        written = list(self._written.get(table, {}).items())
        kept = [key for key, at in written if at >= written_before]
        doomed = [key for key, at in written if at < written_before] + kept[: max(len(kept) - keep, 0)]
        self.delete(table, doomed)
        return len(doomed)

    def close(self) -> None:
        pass
