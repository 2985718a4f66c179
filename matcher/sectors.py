"""The known sectors and how near each is to the others.

Two partners need not name the same sector to work together: a drug-design firm (life sciences) works
with pharmaceutical groups filed under healthcare, and a compute provider (cloud) serves every sector.
`relatedness` grades that, 1.0 for the same sector; scoring counts it as partial overlap, and a project
with no candidate of a role in its own sectors draws one from the nearest related sector.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["RELATED", "SECTORS", "nearest_pair", "related_to", "relatedness"]

SECTORS = ("healthcare", "life_sciences", "manufacturing", "vehicles", "smart_city", "cloud")

RELATED: Mapping[frozenset[str], float] = {
    frozenset(("healthcare", "life_sciences")): 0.6,
    frozenset(("vehicles", "smart_city")): 0.4,  # connected vehicles run on city roads and pilots
    frozenset(("vehicles", "manufacturing")): 0.3,  # carmakers build in their own plants
    **{frozenset(("cloud", other)): 0.4 for other in SECTORS if other != "cloud"},  # compute serves every sector
}


def _pair(a: str, b: str) -> float:
    return 1.0 if a == b else RELATED.get(frozenset((a, b)), 0.0)


def nearest_pair(mine: Iterable[str], theirs: Iterable[str]) -> tuple[float, str | None, str | None]:
    """The most related (mine, theirs) pair of sectors and its relatedness; (0.0, None, None) if none."""
    best: tuple[float, str | None, str | None] = (0.0, None, None)
    theirs = tuple(theirs)
    for a in mine:
        for b in theirs:
            value = _pair(a, b)
            if value > best[0]:
                best = (value, a, b)
    return best


def relatedness(mine: Iterable[str], theirs: Iterable[str]) -> float:
    return nearest_pair(mine, theirs)[0]


def related_to(sectors: Iterable[str]) -> list[str]:
    """Known sectors related to any of `sectors` (not themselves), nearest first."""
    sectors = tuple(sectors)
    graded = {other: relatedness(sectors, [other]) for other in SECTORS if other not in sectors}
    return sorted((s for s, value in graded.items() if value > 0), key=lambda s: (-graded[s], s))
