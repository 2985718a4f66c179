"""The current chip–algorithm–application triads of every sector and every project, searched in the
store: what the partnership book is reconciled against at each settle."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace

import numpy as np

from matcher import sectors
from matcher.book import RETAINED
from matcher.inference import LabelCentroids
from matcher.model import ROLES, Profile
from matcher.ports import VectorStore
from matcher.triads import Candidate, Triad, search_triads

TRIAD_CANDIDATES = 10
TRIAD_ROLE_CONFIDENCE = 0.6


class TriadLists:
    def __init__(self, store: VectorStore):
        self._store = store
        self._by_sector: dict[str, list[Triad]] = {}
        self._by_project: dict[str, list[Triad]] = {}
        self._project_sectors: dict[str, frozenset[str]] = {}

    def recompute(self, sectors: Iterable[str], project_ids: Iterable[str], *, centroids: LabelCentroids,
                  penalised: frozenset[tuple[str, str]]) -> None:
        """Search again the lists of `sectors` (around the centroid of each sector's declared profiles)
        and of the projects (around each project), with `penalised` pairs ranked lower."""
        for sector in sectors:
            self._by_sector[sector] = self._sector_search(sector, centroids, penalised)
        for point in self._store.retrieve(sorted(project_ids), with_vectors=True):
            project = Candidate(Profile.from_payload(point.payload), np.asarray(point.vector))
            self._by_project[project.profile.id] = self._project_search(project, penalised)
            self._project_sectors[project.profile.id] = frozenset(project.profile.sectors)

    def forget_project(self, project_id: str) -> None:
        self._by_project.pop(project_id, None)
        self._project_sectors.pop(project_id, None)

    def projects_drawing_on(self, sectors: AbstractSet[str]) -> set[str]:
        """Projects in any of `sectors`; a project without sectors draws on every sector."""
        return {pid for pid, among in self._project_sectors.items() if not among or among & sectors}

    def ranked(self) -> dict[str, tuple[Triad, int]]:
        """Every current triad and its best rank in any of its lists."""
        ranked: dict[str, tuple[Triad, int]] = {}
        for triads in (*self._by_sector.values(), *self._by_project.values()):
            for rank, triad in enumerate(triads):
                if triad.id not in ranked or rank < ranked[triad.id][1]:
                    ranked[triad.id] = (triad, rank)
        return ranked

    def _sector_search(self, sector: str, centroids: LabelCentroids,
                       penalised: frozenset[tuple[str, str]]) -> list[Triad]:
        centroid = centroids.sums.get(sector)
        if centroid is None or not np.linalg.norm(centroid):
            points, _ = self._store.scroll(filter={"sectors": [sector]}, limit=1, with_vectors=True)
            if not points:
                return []
            centroid = np.asarray(points[0].vector)
        query = list(centroid / np.linalg.norm(centroid))
        candidates = {role: self._candidates(query, role, {"sectors": [sector]}) for role in ROLES}
        return search_triads(candidates, limit=RETAINED, penalised_pairs=penalised)

    def _project_search(self, project: Candidate, penalised: frozenset[tuple[str, str]]) -> list[Triad]:
        """A role the project does not ask for is filled by its owner when the owner plays it. A role
        nobody plays in the project's sectors is filled from the nearest related sector, else from any:
        a project whose roles exist anywhere in the park always gets partnerships."""
        query = list(project.vector)
        mine = project.profile.sectors
        owner_id = project.profile.data.get("owner_id")
        owner = self._store.retrieve([owner_id], with_vectors=True) if owner_id else []
        candidates, borrowed = {}, {}
        for role in ROLES:
            if role not in project.profile.needs and owner and role in owner[0].payload["roles"]:
                # The owner runs the project, so it works in the project's sectors whatever was inferred.
                runner = Profile.from_payload(owner[0].payload)
                runner = replace(runner, sectors=tuple(dict.fromkeys(runner.sectors + mine)))
                candidates[role] = [Candidate(runner, np.asarray(owner[0].vector))]
                continue
            candidates[role] = self._candidates(query, role, {"sectors": list(mine)} if mine else {})
            for source in ([*sectors.related_to(mine), None] if mine and not candidates[role] else ()):
                candidates[role] = self._candidates(query, role, {"sectors": [source]} if source else {})
                if candidates[role]:
                    borrowed[role] = source
                    break
        # An owner playing two of the roles fills both: a hospital group that builds its own models and
        # needs only a chip partner (or only resources) is still served.
        return search_triads(candidates, anchor=project, limit=RETAINED, penalised_pairs=penalised,
                             borrowed=borrowed, several_roles=frozenset([owner_id] if owner else []))

    def _candidates(self, query: Sequence[float], role: str, filter_: dict[str, list[str]]) -> list[Candidate]:
        """Members for a triad: a partnership is a curated recommendation, so an inferred role must be
        surer than it needs to be for a suggestion."""
        hits = self._store.search(list(query), filter={"roles": [role], **filter_}, limit=TRIAD_CANDIDATES * 2)
        points = self._store.retrieve([h.id for h in hits], with_vectors=True)
        profiles = [(Profile.from_payload(p.payload), p.vector) for p in points]
        return [Candidate(p, np.asarray(v)) for p, v in profiles if p.kind != "project" and (
            p.declares_roles or p.inferred["roles"].get(role, 0.0) >= TRIAD_ROLE_CONFIDENCE)][:TRIAD_CANDIDATES]
