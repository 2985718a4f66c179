"""VectorStore over qdrant-client: a Qdrant server in production, local mode (":memory:") in tests.

StoreInfo lives in the collection's own `metadata` (create_collection(metadata=...), read back
from get_collection().config.metadata): it is dropped and created with the collection, so the
two can never disagree. Servers too old to keep metadata are caught by reading it back in
recreate. Local mode keeps metadata as well, in memory and on disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:
    from qdrant_client import QdrantClient, models
except ImportError as error:  # pragma: no cover - exercised in a subprocess by the contract suite
    raise ImportError(
        "QdrantServerStore needs qdrant-client: pip install 'chainmatch[server]'"
    ) from error

from matcher.adapters.checks import check_filter, check_points, check_vector, require
from matcher.adapters.ids import ENTITY_KEY, from_stored, point_id, to_stored
from matcher.adapters.qdrant_filter import qdrant_filter
from matcher.adapters.ties import ties_by_point_id
from matcher.ports import INDEXED_FIELDS, Filter, Hit, Point, StoreInfo, Vector

__all__ = ["QdrantServerStore"]

_META_KEY = "chainmatch_store"
# Keeps each request well under the server's default 32 MiB body limit at dimension 384.
_BATCH = 512


class QdrantServerStore:
    """One collection on `client`. The store owns the client: close() closes it."""

    exclusive = False  # workers and API processes may all write the server's collection

    def __init__(self, client: QdrantClient, collection: str) -> None:
        self._client = client
        self.collection = collection
        self._info: StoreInfo | None = None

    @classmethod
    def from_url(cls, url: str, api_key: str | None, collection: str) -> QdrantServerStore:
        return cls(QdrantClient(url=url, api_key=api_key), collection)

    def info(self) -> StoreInfo | None:
        # Cached once seen: the info changes only through recreate, which refreshes it.
        if self._info is None:
            self._info = self._read_info()
        return self._info

    def recreate(self, info: StoreInfo) -> None:
        self._info = None
        if self._client.collection_exists(self.collection):
            self._client.delete_collection(self.collection)
        self._client.create_collection(
            self.collection,
            vectors_config=models.VectorParams(size=info.dimension, distance=models.Distance.COSINE),
            metadata={_META_KEY: {"model": info.model, "dimension": info.dimension}},
        )
        for field in INDEXED_FIELDS:
            self._client.create_payload_index(
                self.collection, field, models.PayloadSchemaType.KEYWORD, wait=True
            )
        if self._read_info() != info:
            raise RuntimeError(
                f"Qdrant did not keep the metadata of collection {self.collection!r}; "
                "chainmatch needs a server that supports collection metadata (Qdrant >= 1.16)"
            )
        self._info = info

    def upsert(self, points: Sequence[Point]) -> None:
        check_points(points, require(self.info()))
        for start in range(0, len(points), _BATCH):
            batch = points[start : start + _BATCH]
            self._client.upsert(
                self.collection,
                [
                    models.PointStruct(
                        id=point_id(p.id), vector=[float(x) for x in p.vector],
                        payload=to_stored(p.id, p.payload),
                    )
                    for p in batch
                ],
                # Without wait the server acknowledges before the points are searchable.
                wait=True,
            )

    def delete(self, ids: Sequence[str]) -> None:
        require(self.info())
        if ids:
            self._client.delete(
                self.collection, models.PointIdsList(points=[point_id(i) for i in ids]), wait=True
            )

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False, with_payload: bool = True) -> list[Point]:
        require(self.info())
        wanted = list(dict.fromkeys(ids))
        records = self._client.retrieve(
            self.collection, [point_id(i) for i in wanted], with_payload=True if with_payload else [ENTITY_KEY],
            with_vectors=with_vectors,
        )
        by_id = {p.id: p for p in (_to_point(r.payload, r.vector, with_vectors) for r in records)}
        return [by_id[i] for i in wanted if i in by_id]

    def search(self, vector: Vector, *, filter: Filter | None = None, limit: int = 10,
               with_payload: bool = True, approximate: bool = False) -> list[Hit]:
        """`approximate` changes nothing here: the collection keeps no compressed copies (the server may
        still walk its HNSW graph, as it always has)."""
        check_vector(vector, require(self.info()))
        check_filter(filter)
        if limit <= 0:
            return []
        query = [float(x) for x in vector]
        found = ties_by_point_id(lambda fetch: self._client.query_points(
            self.collection, query=query, query_filter=_qdrant_filter(filter),
            limit=fetch, with_payload=True if with_payload else [ENTITY_KEY], with_vectors=False,
        ).points, limit)
        hits = []
        for scored in found:
            entity_id, payload = from_stored(scored.payload)
            hits.append(Hit(entity_id, float(scored.score), payload))
        return hits

    def count(self, *, filter: Filter | None = None) -> int:
        require(self.info())
        check_filter(filter)
        return self._client.count(self.collection, count_filter=_qdrant_filter(filter), exact=True).count

    def scroll(
        self, *, filter: Filter | None = None, limit: int = 100, offset: str | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[Point], str | None]:
        require(self.info())
        check_filter(filter)
        records, next_offset = self._client.scroll(
            self.collection, scroll_filter=_qdrant_filter(filter), limit=limit, offset=offset,
            with_payload=True, with_vectors=with_vectors,
        )
        points = [_to_point(r.payload, r.vector, with_vectors) for r in records]
        return points, None if next_offset is None else str(next_offset)

    def flush(self) -> None:
        """Nothing to do: every write above waits until the server has applied it."""

    def close(self) -> None:
        self._client.close()

    def _read_info(self) -> StoreInfo | None:
        if not self._client.collection_exists(self.collection):
            return None
        metadata = self._client.get_collection(self.collection).config.metadata or {}
        raw = metadata.get(_META_KEY)
        if not isinstance(raw, dict):
            return None
        return StoreInfo(model=str(raw["model"]), dimension=int(raw["dimension"]))


def _qdrant_filter(filter: Filter | None) -> models.Filter | None:
    if not filter:
        return None
    return qdrant_filter(filter.items(), Filter=models.Filter, FieldCondition=models.FieldCondition,
                         MatchValue=models.MatchValue, MatchAny=models.MatchAny)


def _to_point(stored: dict[str, Any] | None, vector: Any, with_vectors: bool) -> Point:
    entity_id, payload = from_stored(stored)
    values = [float(x) for x in vector] if with_vectors and vector is not None else []
    return Point(entity_id, values, payload)
