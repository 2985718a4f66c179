"""How entity ids become point ids, shared by every store so they all agree on ids and order.

Qdrant accepts only unsigned integers and UUIDs as point ids, so each entity id maps to a UUIDv5
in one fixed namespace. The entity id also travels in the payload to map hits back.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

# Never change: every stored point id in every deployed store derives from it.
NAMESPACE = uuid.UUID("fe5df6a3-6239-51ba-b587-e69af776c832")
ENTITY_KEY = "entity_id"


@lru_cache(maxsize=65_536)
def point_id(entity_id: str) -> str:
    """Cached: a batch asks for each id at least twice (its previous version, then the upsert)."""
    return str(uuid.uuid5(NAMESPACE, entity_id))


def to_stored(entity_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    return {**payload, ENTITY_KEY: entity_id}


def from_stored(stored: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """(entity id, payload as the caller wrote it)."""
    payload = dict(stored or {})
    return str(payload.pop(ENTITY_KEY)), payload
