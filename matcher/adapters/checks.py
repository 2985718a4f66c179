"""Argument checks every store runs itself, so all of them fail the same way on the same input.

The engines would fail too, but each with its own exception type and message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from matcher.ports import INDEXED_FIELDS, Filter, NoCollection, Point, StoreInfo, Vector

_TABLE = re.compile(r"^[a-z_]{1,40}$")


def require(info: StoreInfo | None) -> StoreInfo:
    if info is None:
        raise NoCollection("the store has no collection yet: call recreate(info) first")
    return info


def check_filter(filter: Filter | None) -> None:
    for key, values in (filter or {}).items():
        if key not in INDEXED_FIELDS:
            raise ValueError(f"cannot filter on {key!r}: only {', '.join(INDEXED_FIELDS)} are indexed")
        if isinstance(values, str):
            # A bare string is a Sequence[str] too; matching its letters is never what was meant.
            raise ValueError(f"filter values for {key!r} must be a list of strings, not a string")


def check_vector(vector: Vector, info: StoreInfo) -> None:
    if len(vector) != info.dimension:
        raise ValueError(
            f"vector has {len(vector)} dimensions, the store holds {info.dimension} ({info.model})"
        )


def check_points(points: Sequence[Point], info: StoreInfo) -> None:
    for point in points:
        check_vector(point.vector, info)


def check_table(table: str) -> str:
    """A state table's name, which the SQL state stores put in their statements: a plain word only."""
    if not _TABLE.match(table):
        raise ValueError(f"bad table name {table!r}")
    return table
