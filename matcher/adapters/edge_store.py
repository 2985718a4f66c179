"""VectorStore over Qdrant Edge: Qdrant's engine in-process, one shard in one folder.

Layout of `path`:
    chainmatch.lock   flock held while a store is open; holds the owner's pid
    store_info.json   StoreInfo and the kind of point ids, replaced atomically; written last by recreate
    shard/            the Edge shard (segments, WAL, edge_config.json)

The shard lives in a subfolder so recreate can drop it wholesale while the lock and the info stay
put. Edge itself refuses a second opener, but only with "Can't init WAL: Kind(WouldBlock)"; the
flock turns that into StoreLocked naming the process that holds the folder.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeOptimizersConfig,
    EdgeShard,
    EdgeVectorParams,
    FieldCondition,
    MatchAny,
    MatchValue,
    PayloadSchemaType,
    PayloadSelector,
    QuantizationSearchParams,
    Query,
    Record,
    ScalarQuantizationConfig,
    ScalarType,
    ScrollRequest,
    SearchParams,
    SearchRequest,
    UpdateOperation,
)
from qdrant_edge import Filter as EdgeFilter
from qdrant_edge import Point as EdgePoint

from matcher.adapters.checks import check_filter, check_points, check_vector, require
from matcher.adapters.edge_point_ids import PointIds
from matcher.adapters.ids import ENTITY_KEY, from_stored, to_stored
from matcher.adapters.qdrant_filter import qdrant_filter
from matcher.adapters.ties import ties_by_point_id
from matcher.ports import INDEXED_FIELDS, Filter, Hit, Point, StoreInfo, Vector

__all__ = ["EdgeStore", "StoreLocked"]

_LOCK, _INFO, _SHARD = "chainmatch.lock", "store_info.json", "shard"


class StoreLocked(RuntimeError):
    """Another EdgeStore (in this or another process) has the folder open."""


class EdgeStore:
    exclusive = True  # the folder's lock keeps every other writer out

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock: IO[str] | None = _acquire(self.path / _LOCK)
        self._shard: EdgeShard | None = None
        self._info: StoreInfo | None = None
        # Read when the shard opens; this object is the shard's only writer (the lock), so keeping it in
        # step with upsert and delete keeps it exact.
        self._ids: PointIds | None = None
        self._graph = True  # see optimize
        try:
            self._open_existing()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> EdgeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def info(self) -> StoreInfo | None:
        self._check_open()
        return self._info

    def recreate(self, info: StoreInfo) -> None:
        self._check_open()
        self._close_shard()
        # Info goes first and comes back last: a crash in between leaves "no collection", which
        # the caller answers with another recreate, never a shard that claims the wrong model.
        (self.path / _INFO).unlink(missing_ok=True)
        shutil.rmtree(self.path / _SHARD, ignore_errors=True)
        self._shard = EdgeShard.create(str(self.path / _SHARD), _config(info))
        self._ensure_indexes()
        self._shard.flush()
        _write_atomically(self.path / _INFO, json.dumps({"model": info.model, "dimension": info.dimension,
                                                         _POINT_IDS: _INTEGERS}))
        self._info, self._ids = info, PointIds(integers=True)

    def upsert(self, points: Sequence[Point]) -> None:
        check_points(points, require(self._info))
        if not points:
            return
        ids = self._known()
        new = [p.id for p in points if ids.of(p.id) is None]
        try:
            self._live().update(UpdateOperation.upsert_points([
                EdgePoint(ids.assign(p.id), _as_list(p.vector), _pack(p.id, p.payload)) for p in points
            ]))
        except BaseException:
            for entity_id in new:
                ids.forget(entity_id)
            raise

    def delete(self, ids: Sequence[str]) -> None:
        require(self._info)
        known = self._known()
        stored = known.stored(ids)
        if stored:
            self._live().update(UpdateOperation.delete_points(list(stored.values())))
            for entity_id in stored:
                known.forget(entity_id)

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False, with_payload: bool = True) -> list[Point]:
        require(self._info)
        known = self._known()
        stored = known.stored(ids)
        if not stored:
            return []
        # with_vector is required: the 0.9.0 binding rejects a call without it despite its stub.
        records = self._live().retrieve(list(stored.values()), with_payload=with_payload, with_vector=with_vectors)
        if with_payload:
            by_id = {point.id: point for point in (_to_point(r, with_vectors) for r in records)}
        else:
            by_id = {entity_id: Point(entity_id, _vector(r, with_vectors), {})
                     for r in records if (entity_id := known.entities.get(r.id)) is not None}
        return [by_id[i] for i in stored if i in by_id]

    def search(self, vector: Vector, *, filter: Filter | None = None, limit: int = 10,
               with_payload: bool = True, approximate: bool = False) -> list[Hit]:
        check_vector(vector, require(self._info))
        check_filter(filter)
        if limit <= 0:
            return []
        query, edge_filter = Query.Nearest(_as_list(vector)), _edge_filter(filter)
        params = _SHORTLIST if approximate else _FLOAT if self._graph else _SCAN
        found = ties_by_point_id(lambda fetch: self._live().search(SearchRequest(
            query=query, limit=fetch, filter=edge_filter, params=params, with_payload=with_payload,
            with_vector=False)), limit)
        if with_payload:
            return [_to_hit(scored.score, *_unpack(scored.payload)) for scored in found]
        # A point deleted (by the worker thread) since the engine found it is left out.
        entities = self._known().entities
        return [Hit(entity_id, float(scored.score), {}) for scored in found
                if (entity_id := entities.get(scored.id)) is not None]

    def count(self, *, filter: Filter | None = None) -> int:
        require(self._info)
        check_filter(filter)
        return self._live().count(CountRequest(exact=True, filter=_edge_filter(filter)))

    def scroll(
        self, *, filter: Filter | None = None, limit: int = 100, offset: str | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[Point], str | None]:
        require(self._info)
        check_filter(filter)
        records, next_offset = self._live().scroll(ScrollRequest(
            offset=int(offset) if offset is not None and offset.isdigit() else offset, limit=limit,
            filter=_edge_filter(filter), with_payload=True, with_vector=with_vectors,
        ))
        points = [_to_point(r, with_vectors) for r in records]
        return points, None if next_offset is None else str(next_offset)

    def _stored_ids(self) -> Iterator[tuple[Any, str]]:
        """(point id as the binding returns it, entity id) of every point."""
        offset = None
        while True:
            records, offset = self._live().scroll(ScrollRequest(
                offset=offset, limit=4096, filter=None, with_payload=PayloadSelector.Include([ENTITY_KEY]),
                with_vector=False))
            yield from ((record.id, record.payload[ENTITY_KEY]) for record in records)
            if offset is None:
                return

    def flush(self) -> None:
        self._check_open()
        if self._shard is not None:
            self._shard.flush()

    def optimize(self, *, graph: bool = True) -> bool:
        """Merge segments, build the HNSW index and the int8 copies of the vectors now; True when
        anything changed.

        Not on the port. Edge runs no background optimizer, so until this is called every search
        scans the float vectors (about 5 ms at 20k x 384, 1-2 ms once indexed). It blocks for as long as
        building takes (0.7 s for 3,000 x 384, about 25 s for 20k on 2 cores), so call it after a bulk
        load or when idle. Points written since stay in a segment of their own, searched exactly.

        `graph=False` keeps searches that are not approximate scanning instead of walking the HNSW
        graph, which finds near neighbours, not always the nearest: for a shard small enough to scan
        quickly, whose searches then give the same hits as before it was optimized.
        """
        self._graph = graph
        return self._live().optimize()

    def close(self) -> None:
        """Flush, close the shard and release the folder; calling it again does nothing."""
        self._close_shard()
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def _open_existing(self) -> None:
        info_file, shard_dir = self.path / _INFO, self.path / _SHARD
        if not (info_file.exists() and shard_dir.exists()):
            return  # new folder, or a recreate that never finished: no collection yet
        raw = json.loads(info_file.read_text())
        info = StoreInfo(model=raw["model"], dimension=int(raw["dimension"]))
        # With a config, load also brings a shard made before a setting changed up to date.
        self._shard = EdgeShard.load(str(shard_dir), _config(info))
        # An INDEXED_FIELDS added since the shard was made gets its index here.
        self._ensure_indexes()
        # Shards made before integer ids have no such entry and keep their UUIDs.
        self._ids = PointIds(integers=raw.get(_POINT_IDS) == _INTEGERS, stored=self._stored_ids())
        self._info = info

    def _ensure_indexes(self) -> None:
        shard = self._live()
        existing = shard.info().payload_schema
        for field in INDEXED_FIELDS:
            if field not in existing:
                shard.update(UpdateOperation.create_field_index(field, PayloadSchemaType.Keyword))

    def _close_shard(self) -> None:
        if self._shard is not None:
            self._shard.flush()
            self._shard.close()
            self._shard = None
        self._info = None
        self._ids = None

    def _known(self) -> PointIds:
        self._live()
        return self._ids  # type: ignore[return-value]  # set whenever the shard is

    def _live(self) -> EdgeShard:
        self._check_open()
        if self._shard is None:
            require(None)
        return self._shard  # type: ignore[return-value]

    def _check_open(self) -> None:
        if self._lock is None:
            raise RuntimeError(f"EdgeStore at {self.path} is closed")


def _acquire(lock_path: Path) -> IO[str]:
    handle = open(lock_path, "a+")  # held open for the store's whole life
    try:
        # Non-blocking: a second opener must fail at once, not hang behind a running worker.
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise StoreLocked(f"{lock_path.parent} is open in process {owner}") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _write_atomically(target: Path, text: str) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    # The rename itself is durable only once the directory entry is.
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


_PACKED = "_packed"
_POINT_IDS, _INTEGERS = "point_ids", "integer"


def _config(info: StoreInfo) -> EdgeConfig:
    """One search thread: by default the shard hands each search to a pool of one thread per CPU, and on
    two cores that hand-off cost more than the search (four filtered searches over 3,000 points: 1.86 ms
    with the default pool, 0.73 ms with one thread).

    Int8 copies of the vectors, made when `optimize` rebuilds a segment at any size: a filtered search
    reads every vector that passes the filter, and it waits on memory, not on arithmetic (a search over
    1,000 vectors took 150 us with them in cache, 500-700 us after other work had evicted them); a
    quarter of the bytes made it 22-25 % faster. Only approximate searches read them (_SHORTLIST), and
    rescore their candidates with the float vectors, so scores stay exact; only which points come back
    can differ, when a true neighbour ranks below the oversampled int8 candidates. Every other search
    ignores them (_FLOAT, _SCAN): its hits must be the same before and after a restart has built them.
    """
    return EdgeConfig(
        vectors=EdgeVectorParams(size=info.dimension, distance=Distance.Cosine,
                                 quantization_config=ScalarQuantizationConfig(type=ScalarType.Int8, quantile=0.99,
                                                                              always_ram=True)),
        optimizers=EdgeOptimizersConfig(indexing_threshold=1),
        max_search_threads=1,
    )


_SHORTLIST = SearchParams(quantization=QuantizationSearchParams(rescore=True, oversampling=2.0))
_FLOAT = SearchParams(quantization=QuantizationSearchParams(ignore=True))
_SCAN = SearchParams(exact=True, quantization=QuantizationSearchParams(ignore=True))


def _edge_filter(filter: Filter | None) -> EdgeFilter | None:
    if not filter:
        return None
    return _edge_filter_of(tuple((key, tuple(values)) for key, values in filter.items()))


@functools.lru_cache(maxsize=1024)
def _edge_filter_of(conditions: tuple[tuple[str, tuple[str, ...]], ...]) -> EdgeFilter:
    """Kept: the binding takes some 10 us to build one, and suggestions ask for the same few again and again."""
    return qdrant_filter(conditions, Filter=EdgeFilter, FieldCondition=FieldCondition, MatchValue=MatchValue,
                         MatchAny=MatchAny)


def _as_list(vector: Vector) -> list[float]:
    """The binding takes a list; converting one that already is costs more than the rest of the upsert."""
    return vector if isinstance(vector, list) else np.asarray(vector, dtype=np.float32).tolist()


def _pack(entity_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Indexed fields that hold a value stay members, for the engine's filters, and so does the entity
    id, for searches that return nothing else; the rest travels as one JSON string. The binding spends
    10-20 us converting each member but about as much on one string of any length, and a missing
    member filters like an empty one."""
    indexed = {k: v for k, v in payload.items() if k in INDEXED_FIELDS and v not in (None, [])}
    rest = {k: v for k, v in payload.items() if k not in indexed}
    return {**to_stored(entity_id, indexed), _PACKED: json.dumps(rest, ensure_ascii=False)}


def _unpack(stored: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    members = dict(stored or {})
    packed = members.pop(_PACKED, None)
    return from_stored({**members, **json.loads(packed)} if packed is not None else members)


def _to_hit(score: float, entity_id: str, payload: dict[str, Any]) -> Hit:
    return Hit(entity_id, float(score), payload)


def _to_point(record: Record, with_vectors: bool) -> Point:
    entity_id, payload = _unpack(record.payload)
    return Point(entity_id, _vector(record, with_vectors), payload)


def _vector(record: Record, with_vectors: bool) -> list[float]:
    return list(record.vector) if with_vectors and record.vector is not None else []
