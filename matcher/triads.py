"""Chip–algorithm–application triads per sector, from the stored profiles and their vectors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from matcher.model import Profile
from matcher.ports import VectorStore

TRIADS_PER_SECTOR = 10
MAX_ANCHORS = 200


@dataclass(frozen=True)
class Triad:
    id: str
    chip: Profile
    algorithm: Profile
    application: Profile
    sector: str
    score: float
    score_breakdown: dict[str, float]

    def members(self) -> tuple[Profile, Profile, Profile]:
        return self.chip, self.algorithm, self.application


def partnership_id(member_ids: Iterable[str], project_id: str | None = None) -> str:
    """Stable for the same members (and project), whatever order they come in."""
    key = "|".join(sorted(member_ids)) + (f"#{project_id}" if project_id else "")
    return "pt_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def sector_triads(store: VectorStore, sector: str, limit: int = TRIADS_PER_SECTOR) -> list[Triad]:
    """For each application in the sector, its nearest chip and algorithm in the same sector."""
    anchors, _ = store.scroll(filter={"sectors": [sector], "roles": ["application"]},
                              limit=MAX_ANCHORS, with_vectors=True)
    triads: dict[str, Triad] = {}
    for anchor in anchors:
        application = Profile.from_payload(anchor.payload)
        best = {}
        for role in ("chip", "algorithm"):
            hits = store.search(anchor.vector, filter={"sectors": [sector], "roles": [role]}, limit=2)
            hits = [h for h in hits if h.id != application.id]
            if not hits:
                break
            best[role] = hits[0]
        if len(best) < 2:
            continue
        chip, algorithm = (Profile.from_payload(best[r].payload) for r in ("chip", "algorithm"))
        if chip.id == algorithm.id:
            continue
        breakdown = {"application_chip": round(best["chip"].score, 6),
                     "application_algorithm": round(best["algorithm"].score, 6)}
        triad = Triad(
            id=partnership_id((chip.id, algorithm.id, application.id)),
            chip=chip, algorithm=algorithm, application=application, sector=sector,
            score=round(sum(breakdown.values()) / 2, 6), score_breakdown=breakdown,
        )
        triads[triad.id] = triad
    return sorted(triads.values(), key=lambda t: (-t.score, t.id))[:limit]
