"""StateStore in memory for unit tests: copies in, copies out."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any


class MemoryState:
    def __init__(self) -> None:
        self._tables: dict[str, dict[str, dict[str, Any]]] = {}

    def get_many(self, table: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = self._tables.get(table, {})
        return {key: copy.deepcopy(rows[key]) for key in keys if key in rows}

    def put(self, table: str, items: Mapping[str, dict[str, Any]]) -> None:
        self.write({table: items})

    def write(self, tables: Mapping[str, Mapping[str, dict[str, Any]]]) -> None:
        for table, items in copy.deepcopy({t: dict(i) for t, i in tables.items()}).items():
            self._tables.setdefault(table, {}).update(items)

    def delete(self, table: str, keys: Sequence[str]) -> None:
        for key in keys:
            self._tables.get(table, {}).pop(key, None)

    def items(self, table: str) -> list[tuple[str, dict[str, Any]]]:
        return [(key, copy.deepcopy(doc)) for key, doc in self._tables.get(table, {}).items()]

    def close(self) -> None:
        pass
