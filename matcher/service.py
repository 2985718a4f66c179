"""The matcher: keeps profiles and their vectors current, and answers who completes whose chain."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from matcher.model import Change, Delete, Profile, Suggestion, Upsert
from matcher.ports import Embedder, Point, StoreInfo, VectorStore
from matcher.triads import Triad, sector_triads

Progress = Callable[[str], None]
REEMBED_BATCH = 64


def _latest_per_id(changes: Iterable[Change]) -> list[Change]:
    """The later change of an entity wins within a batch, as it does across batches."""
    latest: dict[str, Change] = {}
    for change in changes:
        entity_id = change.profile.id if isinstance(change, Upsert) else change.id
        latest.pop(entity_id, None)
        latest[entity_id] = change
    return list(latest.values())


class Matcher:
    def __init__(self, *, embedder: Embedder, store: VectorStore, progress: Progress | None = None):
        self._embedder = embedder
        self._store = store
        self._progress = progress or (lambda message: None)
        self._triads: dict[str, list[Triad]] = {}

    def ensure_model(self) -> int:
        """Make the store hold vectors of this embedder; re-embed what another model wrote.

        Returns how many profiles were re-embedded.
        """
        wanted = StoreInfo(model=self._embedder.name, dimension=self._embedder.dimension)
        current = self._store.info()
        if current == wanted:
            return 0
        profiles = self._all_profiles() if current is not None else []
        self._store.recreate(wanted)
        if profiles:
            self._progress(f"re-embedding {len(profiles)} profiles: {current.model} -> {wanted.model}")
        for start in range(0, len(profiles), REEMBED_BATCH):
            self._write(profiles[start : start + REEMBED_BATCH])
            self._progress(f"re-embedded {min(start + REEMBED_BATCH, len(profiles))}/{len(profiles)}")
        return len(profiles)

    def apply(self, changes: Sequence[Change]) -> None:
        """Apply one micro-batch: one embedding call for all its upserts, then the deletes."""
        latest = _latest_per_id(changes)
        upserted = [c.profile for c in latest if isinstance(c, Upsert)]
        deleted = [c.id for c in latest if isinstance(c, Delete)]
        touched = {s for p in upserted for s in p.sectors}
        touched |= {s for p in self._store.retrieve([c.profile.id for c in latest if isinstance(c, Upsert)]
                                                    + deleted) for s in p.payload["sectors"]}
        self._write(upserted)
        if deleted:
            self._store.delete(deleted)
        for sector in touched:
            self._triads[sector] = sector_triads(self._store, sector)

    def partnerships(self, *, sector: str | None = None, entity_id: str | None = None) -> list[Triad]:
        """Stored triads, best first; computed when a batch touches their sector, never per request."""
        found = {t.id: t for s, triads in self._triads.items() if sector in (None, s) for t in triads
                 if entity_id is None or entity_id in {m.id for m in t.members()}}
        return sorted(found.values(), key=lambda t: (-t.score, t.id))

    def get(self, entity_id: str) -> Profile | None:
        points = self._store.retrieve([entity_id])
        return Profile.from_payload(points[0].payload) if points else None

    def stored(self, entity_ids: Sequence[str]) -> list[str]:
        """Which of `entity_ids` the store holds now."""
        return [point.id for point in self._store.retrieve(entity_ids)]

    def count(self) -> int:
        return self._store.count()

    def suggest(
        self,
        entity_id: str,
        *,
        roles: Sequence[str] | None = None,
        offers: Sequence[str] | None = None,
        visible: Callable[[Profile], bool] = lambda profile: True,
        limit: int = 20,
    ) -> list[Suggestion] | None:
        """Partners for `entity_id`, best first; None when the entity is unknown."""
        points = self._store.retrieve([entity_id], with_vectors=True)
        if not points:
            return None
        me = Profile.from_payload(points[0].payload)
        wanted_roles = list(roles) if roles else list(me.partner_roles())
        filter_: dict[str, list[str]] = {"offers": list(offers)} if offers else {"roles": wanted_roles}
        hits = self._store.search(points[0].vector, filter=filter_, limit=limit * 3 + 1)
        suggestions = []
        for hit in hits:
            other = Profile.from_payload(hit.payload)
            if other.id == me.id or not visible(other):
                continue
            suggestions.append(_suggestion(me, other, hit.score))
        return suggestions[:limit]

    def _write(self, profiles: Sequence[Profile]) -> None:
        if not profiles:
            return
        vectors = self._embedder.embed([p.text() for p in profiles])
        self._store.upsert([Point(p.id, v, p.payload()) for p, v in zip(profiles, vectors, strict=True)])

    def _all_profiles(self) -> list[Profile]:
        profiles: list[Profile] = []
        offset: str | None = None
        while True:
            page, offset = self._store.scroll(limit=256, offset=offset)
            profiles.extend(Profile.from_payload(p.payload) for p in page)
            if offset is None:
                return profiles


def _suggestion(me: Profile, other: Profile, similarity: float) -> Suggestion:
    reasons = [f"is a {role} partner {me.name} lacks" for role in other.roles if role in me.partner_roles()]
    reasons += [f"shares sector {sector}" for sector in other.sectors if sector in me.sectors]
    return Suggestion(
        profile=other,
        score=round(similarity, 6),
        reasons=tuple(reasons),
        score_breakdown={"semantic": round(similarity, 6)},
    )
