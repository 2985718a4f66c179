"""Equal scores in point id order, whatever the engine's segment layout.

An engine returns hits of equal score in the order of its segments' internal offsets, and rebuilding
segments (an optimizer run, or a restart that runs one) changes that order. The workers derive
partnership events from searches, and those must not depend on the layout the store happened to have,
so a search asks for one hit more than it needs, asks again for more while the last hit ties the one at
the cut, and orders ties by point id: the order MemoryStore gives.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any, Protocol, TypeVar


class Scored(Protocol):
    @property
    def id(self) -> Any: ...

    @property
    def score(self) -> float: ...


S = TypeVar("S", bound=Scored)


def ties_by_point_id(search: Callable[[int], Sequence[S]], limit: int) -> list[S]:
    """The best `limit` of `search(n)` (the best n, best first), equal scores in point id order."""
    fetch = limit + 1
    while True:
        found = search(fetch)
        if len(found) < fetch or found[-1].score != found[limit - 1].score:
            break
        fetch *= 2
    if any(a.score == b.score for a, b in pairwise(found)):
        found = sorted(found, key=lambda s: (-s.score, *_point_order(s.id)))
    return list(found[:limit])


def _point_order(point_id: int | uuid.UUID | str) -> tuple[int, int]:
    """Integers first, then UUIDs (as the engine orders a shard that holds both), each by value."""
    if isinstance(point_id, int):
        return 0, point_id
    return 1, (point_id if isinstance(point_id, uuid.UUID) else uuid.UUID(point_id)).int
