"""The two ports of the matching core: an embedder and a vector store.

Adapters live in matcher/adapters/. The core sees only these shapes, so a unit test can run the
whole matcher over the in-memory store and the hashing embedder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

Vector = list[float]

# A filter is an AND over payload keys; each key matches when the payload holds any of the values
# (for list-valued payloads: when the lists intersect). Only the INDEXED_FIELDS may be filtered on
# (adapters raise ValueError for any other key).
Filter = Mapping[str, Sequence[str]]
INDEXED_FIELDS = ("kind", "roles", "sectors", "region", "offers", "data_policy", "review", "declared")


@dataclass(frozen=True)
class Point:
    """One stored profile: `id` is the entity id (adapters map it to a UUIDv5 point id)."""

    id: str
    vector: Vector
    payload: dict[str, Any] = field(default_factory=dict)


class Hit(NamedTuple):
    """A tuple, not a frozen dataclass: a suggestion makes some 160 of them, and a frozen dataclass
    costs about 1 us each to build."""

    id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class StoreInfo:
    """Which model wrote the vectors, so another model never mixes its vectors in."""

    model: str
    dimension: int


class Embedder(Protocol):
    name: str
    dimension: int
    # Whether it reads Chinese as well as English: inference trusts its vectors of other languages only then.
    multilingual: bool

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        """Unit-length vectors, one per text, computed in as few model calls as possible."""


class NoCollection(RuntimeError):
    """A store was read or written before `recreate` made its collection."""


class VectorStore(Protocol):
    """Every method but info, recreate, flush and close raises NoCollection while info() is None."""

    # True when nothing but this object writes the collection, so what it last wrote is what a read
    # returns and readers may keep what they read until they write again.
    exclusive: bool

    def info(self) -> StoreInfo | None:
        """The model and dimension the collection was created for, None when there is none."""

    def recreate(self, info: StoreInfo) -> None:
        """Drop everything and start an empty collection for `info`."""

    def upsert(self, points: Sequence[Point]) -> None:
        """Insert or replace by id. Vectors must have `info().dimension` entries (ValueError);
        "entity_id" is a reserved payload key."""

    def delete(self, ids: Sequence[str]) -> None:
        """Remove the points among `ids`; unknown ids are ignored."""

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False, with_payload: bool = True) -> list[Point]:
        """The stored points among `ids`, in the order asked; missing ids are left out.

        Payloads are copies, or empty without `with_payload` (for callers that hold the profiles and
        want only the vectors). Vectors come back unit-length (cosine stores normalize on write), or
        empty without `with_vectors`."""

    def search(self, vector: Vector, *, filter: Filter | None = None, limit: int = 10,
               with_payload: bool = True, approximate: bool = False) -> list[Hit]:
        """Nearest first by cosine similarity, filtered in the engine; without `with_payload`, every
        payload is empty (for callers that read each hit once from several searches).

        `approximate` lets the engine pick candidates by compressed copies of the vectors, where it
        keeps them, and rescore those exactly: the scores are exact, but a near neighbour can be
        missed. Only for answers that are read and dropped (suggestions): whatever feeds an event must
        not depend on whether the copies have been built yet."""

    def count(self, *, filter: Filter | None = None) -> int: ...

    def scroll(
        self, *, filter: Filter | None = None, limit: int = 100, offset: str | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[Point], str | None]:
        """One page and the offset of the next page (None at the end).

        Pages follow the engine's order (point id order, the same in every adapter), not entity id
        order; `offset` is an opaque token: pass back only what a previous page returned."""

    def flush(self) -> None:
        """Make every write so far durable."""

    def close(self) -> None: ...


class StateStore(Protocol):
    """Small durable documents by (table, key), written in one transaction per call: partnership
    records, decisions, feedback and de-duplication marks live here, beside the vectors."""

    def get_many(self, table: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    def put(self, table: str, items: Mapping[str, dict[str, Any]]) -> None: ...

    def write(self, tables: Mapping[str, Mapping[str, dict[str, Any]]]) -> None:
        """Several tables in one transaction: all of it is written, or none."""

    def delete(self, table: str, keys: Sequence[str]) -> None: ...

    def items(self, table: str) -> list[tuple[str, dict[str, Any]]]: ...

    def page(self, table: str, *, after: str | None = None, limit: int = 100) -> list[tuple[str, dict[str, Any]]]:
        """Up to `limit` rows in key order, starting after the key `after` (from the first without it)."""

    def count(self, table: str) -> int: ...

    def trim(self, table: str, *, keep: int, written_before: float) -> int:
        """Delete the rows last written before `written_before` (seconds since the epoch) and, of the
        others, all but the `keep` written last; returns how many were deleted."""

    def close(self) -> None: ...
