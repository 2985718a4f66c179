"""In-memory VectorStore: the fake the unit tests run the matcher over.

Brute-force cosine in numpy. It mirrors what the Qdrant engines do where callers could notice:
vectors are normalized on write, pages follow point id order, and payloads go in and come out
as deep copies, so a caller's later edits never reach storage (qdrant-client#624 was this bug).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from matcher.adapters.checks import check_filter, check_points, check_vector, require
from matcher.adapters.ids import point_id
from matcher.ports import Filter, Hit, Point, StoreInfo, Vector


@dataclass(frozen=True)
class _Stored:
    entity_id: str
    vector: np.ndarray
    payload: dict[str, Any]


def _unit(vector: Sequence[float]) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    # Qdrant leaves a zero vector as it is rather than dividing by zero.
    return array / norm if norm > 0 else array


def _matches(payload: dict[str, Any], filter: Filter | None) -> bool:
    for key, wanted in (filter or {}).items():
        held = payload.get(key)
        held_values = set(held) if isinstance(held, list) else {held}
        if held_values.isdisjoint(wanted):
            return False
    return True


class MemoryStore:
    exclusive = True

    def __init__(self) -> None:
        self._info: StoreInfo | None = None
        self._points: dict[str, _Stored] = {}  # by point id

    def info(self) -> StoreInfo | None:
        return self._info

    def recreate(self, info: StoreInfo) -> None:
        self._info = info
        self._points = {}

    def upsert(self, points: Sequence[Point]) -> None:
        check_points(points, require(self._info))
        for point in points:
            self._points[point_id(point.id)] = _Stored(
                point.id, _unit(point.vector), copy.deepcopy(point.payload)
            )

    def delete(self, ids: Sequence[str]) -> None:
        require(self._info)
        for entity_id in ids:
            self._points.pop(point_id(entity_id), None)

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False, with_payload: bool = True) -> list[Point]:
        require(self._info)
        found = (self._points.get(point_id(entity_id)) for entity_id in dict.fromkeys(ids))
        return [self._to_point(stored, with_vectors, with_payload) for stored in found if stored is not None]

    def search(self, vector: Vector, *, filter: Filter | None = None, limit: int = 10,
               with_payload: bool = True, approximate: bool = False) -> list[Hit]:
        """Always exact: nothing here keeps compressed copies."""
        check_vector(vector, require(self._info))
        check_filter(filter)
        candidates = sorted(
            (pid, stored) for pid, stored in self._points.items() if _matches(stored.payload, filter)
        )
        if not candidates or limit <= 0:
            return []
        scores = np.stack([stored.vector for _, stored in candidates]) @ _unit(vector)
        # Stable sort over point-id-ordered candidates: ties break by point id, as in Qdrant.
        order = np.argsort(-scores, kind="stable")[:limit]
        return [
            Hit(candidates[i][1].entity_id, float(scores[i]),
                copy.deepcopy(candidates[i][1].payload) if with_payload else {})
            for i in order
        ]

    def count(self, *, filter: Filter | None = None) -> int:
        require(self._info)
        check_filter(filter)
        return sum(1 for stored in self._points.values() if _matches(stored.payload, filter))

    def scroll(
        self, *, filter: Filter | None = None, limit: int = 100, offset: str | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[Point], str | None]:
        require(self._info)
        check_filter(filter)
        # Like Qdrant, the offset is the point id the next page starts at (inclusive).
        page = [
            (pid, stored)
            for pid, stored in sorted(self._points.items())
            if (offset is None or pid >= offset) and _matches(stored.payload, filter)
        ][: limit + 1]
        next_offset = page[limit][0] if len(page) > limit else None
        return [self._to_point(stored, with_vectors) for _, stored in page[:limit]], next_offset

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    @staticmethod
    def _to_point(stored: _Stored, with_vectors: bool, with_payload: bool = True) -> Point:
        vector = [float(x) for x in stored.vector] if with_vectors else []
        return Point(stored.entity_id, vector, copy.deepcopy(stored.payload) if with_payload else {})
