"""Entity id <-> point id of one Edge shard, held in memory by the shard's one writer.

Shards made since this module use 64-bit integer point ids: the top half of the entity's UUIDv5
(`ids.point_id`). The binding hands an integer id back as an int, but a UUID id as a Python uuid.UUID
built for every hit (about 1.6 us; a suggestion reads some 80 hits). The integers sort as their UUIDs
do, so pages come in the order every other adapter uses. An entity whose integer another entity already
holds (two UUIDv5s alike in their first 64 bits) keeps its UUID instead. Shards made before keep UUIDs.

Known ids also spare the binding its payloads: a hit is mapped back to its entity here, not by reading
the entity id stored with it (10-20 us per hit).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from matcher.adapters.ids import point_id

PointId = int | str  # an integer, or a UUID in its text form


def integer_id(entity_id: str) -> int:
    return uuid.UUID(point_id(entity_id)).int >> 64


class PointIds:
    def __init__(self, *, integers: bool, stored: Iterable[tuple[int | uuid.UUID, str]] = ()) -> None:
        """`integers`: new entities get integer ids; `stored` are the shard's (point id, entity id) pairs."""
        self.integers = integers
        self._entity: dict[int | uuid.UUID, str] = {}  # by the point id as the binding returns it
        self._point: dict[str, PointId] = {}
        for stored_id, entity_id in stored:
            self._add(entity_id, stored_id if isinstance(stored_id, int) else str(stored_id))

    @property
    def entities(self) -> Mapping[int | uuid.UUID, str]:
        """Entity id by point id as the binding returns it (an int, or a uuid.UUID)."""
        return self._entity

    def of(self, entity_id: str) -> PointId | None:
        """The stored entity's point id; None when it is not stored."""
        return self._point.get(entity_id)

    def stored(self, entity_ids: Iterable[str]) -> dict[str, PointId]:
        """The stored ones among `entity_ids`, once each in the order given, with their point ids."""
        return {entity_id: point for entity_id in entity_ids if (point := self._point.get(entity_id)) is not None}

    def assign(self, entity_id: str) -> PointId:
        """The point id to write `entity_id` under: the one it has, else a new one."""
        known = self._point.get(entity_id)
        if known is not None:
            return known
        wanted: PointId = point_id(entity_id)
        if self.integers and (integer := integer_id(entity_id)) not in self._entity:
            wanted = integer
        self._add(entity_id, wanted)
        return wanted

    def forget(self, entity_id: str) -> None:
        known = self._point.pop(entity_id, None)
        if known is not None:
            del self._entity[_key(known)]

    def _add(self, entity_id: str, stored_id: PointId) -> None:
        self._point[entity_id] = stored_id
        self._entity[_key(stored_id)] = entity_id


def _key(stored_id: PointId) -> int | uuid.UUID:
    """As the binding returns it: an int stays an int (looked up in C), a UUID becomes a uuid.UUID (never
    equal to an int)."""
    return stored_id if isinstance(stored_id, int) else uuid.UUID(stored_id)
