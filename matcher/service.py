"""The matcher: keeps profiles, their vectors and partnerships current; answers who completes whose chain."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

import numpy as np

from matcher.book import ACTIVE, PartnershipBook, PartnershipEvent
from matcher.chain import ChainGaps, chain_gaps
from matcher.inference import (
    ROLE_ACCEPT,
    SECTOR_ACCEPT,
    SECTOR_SECONDARY,
    SECTORS,
    Inferrer,
    LabelCentroids,
    LabelModel,
)
from matcher.lexical import TermStats
from matcher.model import ROLES, Change, Delete, Profile, Suggestion, Upsert
from matcher.ports import Embedder, Point, StateStore, StoreInfo, Vector, VectorStore
from matcher.profile_cache import ProfileCache
from matcher.scoring import pair_scores
from matcher.triad_lists import TriadLists

Progress = Callable[[str], None]
REEMBED_BATCH = 64
# Profiles embedded per model call in a write: small enough that storing and inferring one chunk
# overlaps the model's work on the next, large enough to keep the model's batches efficient.
WRITE_CHUNK = 32
# Candidates per search of a suggestion, however few are shown: the pair score reads more than the
# vector (sectors, shared terms, mentions), so the best partner need not be among the nearest few.
MIN_CANDIDATES = 41
NEIGHBOURS = 10
# Profiles kept decoded (when the store is this process's alone): every profile of a 30,000-profile park.
PROFILE_CACHE = 50_000


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _latest_per_id(changes: Iterable[Change]) -> list[Change]:
    """The later change of an entity wins within a batch, as it does across batches."""
    latest: dict[str, Change] = {}
    for change in changes:
        entity_id = change.profile.id if isinstance(change, Upsert) else change.id
        latest.pop(entity_id, None)
        latest[entity_id] = change
    return list(latest.values())


class Matcher:
    def __init__(self, *, embedder: Embedder, store: VectorStore, state: StateStore | None = None,
                 progress: Progress | None = None, label_models: Mapping[str, LabelModel] | None = None):
        """`label_models`: classifiers fitted offline for this embedder's vectors (matcher.inference), by
        group; inference uses them beside what it learns from the store."""
        self._embedder = embedder
        self._store = store
        self._state = state
        self._profiles = ProfileCache(self._read_profiles, capacity=PROFILE_CACHE if store.exclusive else 0)
        self._book = PartnershipBook(doc for _, doc in state.items("partnerships")) if state else PartnershipBook()
        self._not_interested = self._stored_feedback()
        self._unsaved_feedback: dict[str, dict[str, Any]] = {}
        self._progress = progress or (lambda message: None)
        self._inferrer = Inferrer.build(embedder.embed, multilingual=getattr(embedder, "multilingual", False),
                                        learned=label_models)
        self._role_centroids = LabelCentroids(ROLES)
        self._sector_centroids = LabelCentroids(SECTORS)
        self._triads = TriadLists(store)
        self._terms = TermStats()
        # What changed since the last settle: partnerships are recomputed at settle points only.
        self._touched_sectors: set[str] = set()
        self._touched_projects: set[str] = set()
        self._deleted: set[str] = set()
        self._unsettled = False

    # -- lifecycle ---------------------------------------------------------------------------------

    def ensure_model(self) -> int:
        """Make the store hold vectors of this embedder, re-embedding what another model wrote, then
        rebuild what is derived from the stored profiles. Returns how many profiles were re-embedded."""
        wanted = StoreInfo(model=self._embedder.name, dimension=self._embedder.dimension)
        current = self._store.info()
        reembedded = 0
        if current != wanted:
            profiles = [p for p, _ in self._scan()] if current is not None else []
            self._store.recreate(wanted)
            self._profiles.clear()
            if profiles:
                self._progress(f"re-embedding {len(profiles)} profiles: {current.model} -> {wanted.model}")
            for start in range(0, len(profiles), REEMBED_BATCH):
                self._write(profiles[start : start + REEMBED_BATCH])
                self._progress(f"re-embedded {min(start + REEMBED_BATCH, len(profiles))}/{len(profiles)}")
            reembedded = len(profiles)
        self._rebuild_derived()
        return reembedded

    def _rebuild_derived(self) -> None:
        self._role_centroids = LabelCentroids(ROLES)
        self._sector_centroids = LabelCentroids(SECTORS)
        self._terms = TermStats()
        sectors, projects, scanned = set(), [], []
        for profile, vector in self._scan(with_vectors=True):
            self._learn(profile, vector, sign=1)
            scanned.append(profile)
            sectors.update(profile.sectors)
            if profile.kind == "project":
                projects.append(profile.id)
        # Kept from the start: read on demand, the profiles would come in while requests are served and
        # each full garbage collection meanwhile would walk them (the process freezes what startup made).
        self._profiles.clear()
        self._profiles.keep(scanned)
        self._recompute(sectors, projects)
        self._touched_sectors, self._touched_projects, self._deleted = set(), set(), set()
        # The book may lag the store (a crash between a batch and its settle): the next settle compares.
        self._unsettled = True

    # -- writes ------------------------------------------------------------------------------------

    def apply(self, changes: Sequence[Change], *, now: str | None = None) -> list[PartnershipEvent]:
        """Ingest and settle in one step, for callers without a stream (evaluation, benchmarks, tests)."""
        self.ingest(changes)
        return self.settle(now=now)

    def ingest(self, changes: Sequence[Change]) -> None:
        """Store one micro-batch: one embedding call for all its upserts; the sectors and projects it
        touches wait for the next `settle`. Nothing is persisted here: the caller persists with
        `persist`, together with its own marks."""
        latest = _latest_per_id(changes)
        upserted = [c.profile for c in latest if isinstance(c, Upsert)]
        deleted = [c.id for c in latest if isinstance(c, Delete)]
        if not latest:
            return
        previous = {p.id: p for p in self._store.retrieve([p.id for p in upserted] + deleted, with_vectors=True)}
        for point in previous.values():
            self._learn(Profile.from_payload(point.payload), point.vector, sign=-1)
        stored = self._write(upserted)
        if deleted:
            self._store.delete(deleted)
            self._profiles.forget(deleted)
        # A profile's sectors before and after the change both lose or gain partners.
        sectors = {s for p in stored for s in p.sectors} | {
            s for point in previous.values() for s in point.payload["sectors"]}
        self.touch(sectors=sectors, projects={p.id for p in stored if p.kind == "project"}, deleted=deleted)
        self._deleted = (self._deleted | set(deleted)) - {p.id for p in stored}

    def take_changes(self) -> dict[str, list[str]]:
        """What `ingest` touched since the last call, handed to a partnerships worker in another
        process (its `touch`) instead of settled here."""
        changes = {"sectors": sorted(self._touched_sectors), "projects": sorted(self._touched_projects),
                   "deleted": sorted(self._deleted)}
        self._touched_sectors, self._touched_projects, self._deleted = set(), set(), set()
        self._unsettled = False
        return changes

    def touch(self, *, sectors: Iterable[str], projects: Iterable[str], deleted: Iterable[str] = ()) -> None:
        """Sectors and projects whose partnerships the next settle recomputes: changed here (ingest,
        feedback) or by an ingest worker in another process."""
        deleted = set(deleted)
        for entity_id in deleted:
            self._triads.forget_project(entity_id)
        self._touched_sectors |= set(sectors)
        self._touched_projects = (self._touched_projects | set(projects)) - deleted
        self._unsettled = True

    @property
    def unsettled(self) -> bool:
        """Whether changes were ingested that the partnerships do not reflect yet."""
        return self._unsettled

    def settle(self, *, now: str | None = None) -> list[PartnershipEvent]:
        """Recompute the partnerships of every sector and project touched since the last settle, once
        each however many batches touched them, and return what changed in the book."""
        if not self._unsettled:
            return []
        touched = self._touched_sectors
        # A project without sectors draws on every sector, so any change may touch it.
        projects = self._touched_projects | self._triads.projects_drawing_on(touched)
        self._recompute(touched, projects)
        self._touched_sectors, self._touched_projects, self._deleted = set(), set(), set()
        self._unsettled = False
        return self._reconcile(now or _now())

    def decide(self, partnership_id: str, *, decision: str, note: str, by: str,
               at: str | None = None) -> PartnershipEvent | None:
        """A staff decision; None when no such partnership was ever proposed."""
        return self._book.decide(partnership_id, decision=decision, note=note, by=by, at=at or _now())

    def absorb(self, event_type: str, data: dict[str, Any], *, at: str = "") -> bool:
        """A partnership event read from the full topic, for a matcher that serves partnerships it does
        not compute (matcher.book.PartnershipBook.absorb); persisted by the next `persist`."""
        return self._book.absorb(event_type, data, at=at)

    def persist(self, extra: Mapping[str, Mapping[str, dict[str, Any]]] | None = None) -> None:
        """Write the changed partnership records, the new feedback and the caller's `extra` tables in one
        transaction."""
        if self._state is not None:
            feedback, self._unsaved_feedback = self._unsaved_feedback, {}
            self._state.write({"partnerships": self._book.take_dirty(), "feedback": feedback, **(extra or {})})

    def recover(self) -> None:
        """After a failed batch, before it is retried: forget the unpersisted partnership changes and
        rebuild what the half-applied batch may have skewed (centroids, term statistics, lists)."""
        if self._state is not None:
            self._book = PartnershipBook(doc for _, doc in self._state.items("partnerships"))
            self._not_interested, self._unsaved_feedback = self._stored_feedback(), {}
        self._rebuild_derived()

    def _stored_feedback(self) -> set[tuple[str, str]]:
        rows = self._state.items("feedback") if self._state is not None else []
        return {(doc["entity_id"], doc["other_id"]) for _, doc in rows}

    def _reconcile(self, now: str) -> list[PartnershipEvent]:
        return self._book.reconcile(self._triads.ranked(), exists=lambda member: bool(self.stored([member])),
                                    now=now)

    def _recompute(self, sectors: Iterable[str], project_ids: Iterable[str]) -> None:
        self._triads.recompute(sectors, project_ids, centroids=self._sector_centroids,
                               penalised=frozenset(self._not_interested))

    def not_interested(self, entity_id: str, other_id: str, *, now: str | None = None) -> bool:
        """`entity_id` is not interested in `other_id`: it is not suggested to it again, and triads that
        pair them carry the feedback penalty from the next settle, which recomputes both entities'
        sectors and the projects drawing on them. False when either is unknown.

        Kept in memory until the next `persist`, which writes it with the batch that carried it."""
        points = self._store.retrieve(list(dict.fromkeys((entity_id, other_id))))
        if len(points) != 2:
            return False
        if (entity_id, other_id) not in self._not_interested:
            self._not_interested.add((entity_id, other_id))
            self._unsaved_feedback[f"{entity_id}|{other_id}"] = {
                "entity_id": entity_id, "other_id": other_id, "signal": "not_interested", "at": now or _now()}
            self.touch(sectors={s for point in points for s in point.payload["sectors"]},
                       projects={p.id for p in points if p.payload["kind"] == "project"})
        return True

    def _write(self, profiles: Sequence[Profile]) -> list[Profile]:
        """Embed and store, a chunk at a time: each chunk's profiles that declare all their labels are
        stored first, so that inference for the rest already learns from them, and the rest only once
        inferred, so a reader never sees a profile without the labels inference gives it. An embedder
        that can (`embed_chunks`) encodes the next chunk meanwhile."""
        chunks = [profiles[start : start + WRITE_CHUNK] for start in range(0, len(profiles), WRITE_CHUNK)]
        enriched: list[Profile] = []
        for chunk, vectors in zip(chunks, self._embedded(chunks), strict=True):
            for profile, vector in zip(chunk, vectors, strict=True):
                self._learn(profile, vector, sign=1)
            complete = [(p, v) for p, v in zip(chunk, vectors, strict=True) if not self._needs_inference(p)]
            if complete:
                self._store.upsert([Point(p.id, v, p.payload()) for p, v in complete])
            done = [self._infer(p, v) if self._needs_inference(p) else p for p, v in zip(chunk, vectors, strict=True)]
            inferred = [(p, v) for p, v in zip(done, vectors, strict=True) if self._needs_inference(p)]
            if inferred:
                self._store.upsert([Point(p.id, v, p.payload()) for p, v in inferred])
            enriched += done
        self._profiles.forget(p.id for p in profiles)
        return enriched

    def _embedded(self, chunks: Sequence[Sequence[Profile]]) -> Iterable[list[Vector]]:
        texts = ([p.text() for p in chunk] for chunk in chunks)
        embed_chunks = getattr(self._embedder, "embed_chunks", None)
        return embed_chunks(texts) if embed_chunks is not None else map(self._embedder.embed, texts)

    @staticmethod
    def _needs_inference(profile: Profile) -> bool:
        return not profile.declares_sectors or (profile.kind != "project" and not profile.declares_roles)

    def _infer(self, profile: Profile, vector: Sequence[float]) -> Profile:
        """Declared roles and sectors win; missing ones are inferred, or left for review when unsure."""
        text = profile.text()
        roles, sectors = profile.roles, profile.sectors
        inferred: dict[str, dict[str, float]] = {"roles": {}, "sectors": {}}
        review = False
        if not profile.declares_roles and profile.kind != "project":
            guess = self._inferrer.infer("roles", vector, text, self._role_centroids,
                                         self._declared_neighbours(vector, "roles"), accept=ROLE_ACCEPT)
            # A role read only from keywords of a language the model cannot read stays out of role
            # filters until staff confirm it; a sector from them is safe enough to place the profile.
            roles = guess.accepted if self._inferrer.reads(text) else ()
            inferred["roles"], review = guess.confidences, not roles
        if not profile.declares_sectors:
            guess = self._inferrer.infer("sectors", vector, text, self._sector_centroids,
                                         self._declared_neighbours(vector, "sectors"),
                                         accept=SECTOR_ACCEPT, secondary=SECTOR_SECONDARY)
            sectors, inferred["sectors"] = guess.accepted, guess.confidences
            review = review or not guess.accepted
        return profile.with_inference(roles=roles, sectors=sectors, inferred=inferred, needs_review=review)

    def _declared_neighbours(self, vector: Sequence[float], group: str) -> list[tuple[float, list[str]]]:
        hits = self._store.search(list(vector), filter={"declared": [group]}, limit=NEIGHBOURS)
        return [(hit.score, hit.payload[group]) for hit in hits]

    def _learn(self, profile: Profile, vector: Sequence[float], *, sign: int) -> None:
        """Only declared labels teach the classifier, so an inference never reinforces itself."""
        self._terms.add(profile.document().counts, sign)  # the same counts a suggestion reads
        vector = np.asarray(vector, dtype=np.float64)  # once, not once per label group
        if profile.declares_roles:
            self._role_centroids.add(vector, profile.roles, sign)
        if profile.declares_sectors:
            self._sector_centroids.add(vector, profile.sectors, sign)

    # -- partnerships ------------------------------------------------------------------------------

    def partnerships(self, *, sector: str | None = None, project_id: str | None = None,
                     entity_ids: AbstractSet[str] | None = None, statuses: Collection[str] = ACTIVE,
                     after: tuple[float, str] | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Partnership records from the book, best first (score descending, then id): computed when a
        batch touches them, never per request, and kept in order, so a page walks only what it needs.

        `entity_ids`: records with one of them as a member or as the project. `after`: the (score, id)
        of the last record of the previous page; the page holds what ranks strictly after it."""
        wanted = set(statuses)
        found = (r for r in self._book.best_first(after=after)
                 if r["status"] in wanted
                 and (sector is None or sector in r["sectors"])
                 and (project_id is None or r["project_id"] == project_id)
                 and (entity_ids is None or r["project_id"] in entity_ids
                      or not entity_ids.isdisjoint((r["chip"]["id"], r["algorithm"]["id"], r["application"]["id"]))))
        return list(itertools.islice(found, limit))

    def projects_owned_by(self, entity_id: str) -> set[str]:
        """The ids of the stored projects whose `owner_id` is `entity_id` (a scan of the projects)."""
        return {p.id for p, _ in self._scan(filter_={"kind": ["project"]}) if p.data.get("owner_id") == entity_id}

    def chain(self, *, sector: str | None = None, region: str | None = None,
              data_policies: Sequence[str] | None = None) -> ChainGaps:
        """The chain-gap view (matcher.chain) over the stored profiles under `data_policies` (None: all)
        and the current partnership records."""
        filter_ = {"data_policy": list(data_policies)} if data_policies is not None else None
        profiles = (p for p, _ in self._scan(filter_=filter_))
        return chain_gaps(profiles, self._book.records(), sector=sector, region=region)

    def partnership(self, partnership_id: str) -> dict[str, Any] | None:
        return self._book.get(partnership_id)

    # -- reads -------------------------------------------------------------------------------------

    def get(self, entity_id: str) -> Profile | None:
        found = self._profiles.many([entity_id])
        return found[0] if found else None

    def profiles(self, entity_ids: Sequence[str]) -> list[Profile]:
        """The stored profiles among `entity_ids`, in one read."""
        return self._profiles.many(entity_ids)

    def stored(self, entity_ids: Sequence[str]) -> list[str]:
        """Which of `entity_ids` the store holds now."""
        return [profile.id for profile in self._profiles.many(entity_ids)]

    def _read_profiles(self, entity_ids: Sequence[str]) -> list[Profile]:
        return [Profile.from_payload(p.payload) for p in self._store.retrieve(entity_ids)]

    def count(self) -> int:
        return self._store.count()

    def list_entities(self, *, filter: dict[str, list[str]], limit: int,
                      offset: str | None = None) -> tuple[list[Profile], str | None]:
        """One page of stored profiles in the engine's order, and the offset of the next."""
        points, next_offset = self._store.scroll(filter=filter or None, limit=limit, offset=offset)
        return [Profile.from_payload(p.payload) for p in points], next_offset

    def search_entities(self, query: str, *, filter: dict[str, list[str]], limit: int,
                        skip: int = 0) -> list[tuple[Profile, float]]:
        """Semantic search: profiles nearest to the query text, filtered in the engine."""
        [vector] = self._embedder.embed([query])
        hits = self._store.search(vector, filter=filter or None, limit=skip + limit)
        return [(Profile.from_payload(h.payload), h.score) for h in hits[skip:]]

    def suggest(
        self,
        entity_id: str,
        *,
        roles: Sequence[str] | None = None,
        offers: Sequence[str] | None = None,
        visible: Callable[[Profile], bool] | None = None,
        limit: int = 20,
    ) -> list[Suggestion] | None:
        """Partners for `entity_id`, best first; None when the entity is unknown. `visible` says which
        profiles the caller may see (None: all of them).

        Candidates come from filtered searches in the engine, by role and (when the entity has
        sectors) by role within its sectors, then are ranked by the explained pair score.
        """
        # One read either way: the vector alone when the profile is kept, else the point with its payload.
        me = self._profiles.kept(entity_id)
        points = self._store.retrieve([entity_id], with_vectors=True, with_payload=me is None)
        if not points:
            return None
        if me is None:
            me = Profile.from_payload(points[0].payload)
        vector = points[0].vector
        filters = [{"offers": list(offers)}] if offers else [{"roles": [r]} for r in roles or me.partner_roles()]
        similarity: dict[str, float] = {}
        for filter_ in filters:
            similarity.update(self._nearest(me, vector, filter_, max(limit * 2 + 1, MIN_CANDIDATES)))
        my_terms = self._terms.against(me.document().counts)
        # In id order, so that a stable sort by score puts ties in id order.
        candidates = sorted((other for other in self._profiles.many(list(similarity))
                             if other.id != me.id and (me.id, other.id) not in self._not_interested
                             and (visible is None or visible(other))), key=attrgetter("id"))
        documents = [other.document() for other in candidates]
        scored = pair_scores(me, candidates, [similarity[other.id] for other in candidates],
                             my_terms.bm25(documents))
        # Only the shown ones are explained.
        shown = (-scored.scores).argsort(kind="stable")[:limit].tolist()
        suggestions = []
        for i in shown:
            pair = scored.explain(i, my_terms.distinctive_shared(documents[i]))
            suggestions.append(Suggestion(profile=candidates[i], score=pair.score, reasons=pair.reasons,
                                          score_breakdown=pair.breakdown))
        return suggestions

    def _nearest(self, me: Profile, vector: Vector, filter_: dict[str, list[str]], depth: int) -> dict[str, float]:
        """The `depth` nearest matching `filter_`, and (when `me` has sectors) the `depth` nearest of
        those within its sectors: partners in its own sectors are not crowded out by nearer ones
        elsewhere. Each search is a pass over the stored points, so the second one runs only when the
        first could have missed any: when it filled up with profiles outside `me`'s sectors."""
        hits = self._store.search(vector, filter=filter_, limit=depth, with_payload=False, approximate=True)
        nearest = {h.id: h.score for h in hits}
        mine = set(me.sectors)
        if mine and len(hits) == depth and any(mine.isdisjoint(p.sectors) for p in self._profiles.many(list(nearest))):
            in_sectors = self._store.search(vector, filter={**filter_, "sectors": sorted(mine)}, limit=depth,
                                            with_payload=False, approximate=True)
            nearest.update((h.id, h.score) for h in in_sectors)
        return nearest

    def _scan(self, *, filter_: dict[str, list[str]] | None = None,
              with_vectors: bool = False) -> Iterable[tuple[Profile, list[float]]]:
        offset: str | None = None
        while True:
            page, offset = self._store.scroll(filter=filter_, limit=256, offset=offset, with_vectors=with_vectors)
            yield from ((Profile.from_payload(p.payload), p.vector) for p in page)
            if offset is None:
                return
