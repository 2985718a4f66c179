"""Chip–algorithm–application triads: a beam search over the best candidates per role.

A triad's score uses all three pairwise fits between its members, plus each member's fit to the
project when there is one, so a chip that is best on its own but fits neither partner loses.
Diversity is a penalty on members already used (in the spirit of MMR), never a hard cut: the
selection returns min(K, valid triads) whenever that many exist.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from matcher.model import ROLES, Profile
from matcher.scoring import pair_scores

PAIR_WEIGHT = 0.6
ANCHOR_WEIGHT = 0.4
BEAM_WIDTH = 24
REPEAT_PENALTY = 0.05
DIVERSITY_POOL = 4


@dataclass(frozen=True)
class Candidate:
    profile: Profile
    vector: np.ndarray


@dataclass(frozen=True)
class Triad:
    id: str
    chip: Profile
    algorithm: Profile
    application: Profile
    sectors: tuple[str, ...]
    project_id: str | None
    score: float
    score_breakdown: dict[str, float]
    reasons: tuple[str, ...] = field(default=())
    # Travels with the partnership so every edge can redact the project id for its audience.
    project_data_policy: str | None = None

    def members(self) -> tuple[Profile, Profile, Profile]:
        return self.chip, self.algorithm, self.application

    def member_ids(self) -> tuple[str, str, str]:
        return self.chip.id, self.algorithm.id, self.application.id


def partnership_id(member_ids: Iterable[str], project_id: str | None = None) -> str:
    """Stable for the same members (and project), whatever order they come in."""
    key = "|".join(sorted(member_ids)) + (f"#{project_id}" if project_id else "")
    return "pt_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def member_fit(a: Candidate, b: Candidate) -> float:
    shared = bool(set(a.profile.sectors) & set(b.profile.sectors))
    return 0.7 * max(float(a.vector @ b.vector), 0.0) + 0.3 * shared


def shared_sectors(members: Sequence[Profile], anchor: Profile | None) -> tuple[str, ...]:
    common = set(members[0].sectors).intersection(*(m.sectors for m in members[1:]))
    if anchor is not None and anchor.sectors:
        common &= set(anchor.sectors)
    return tuple(sorted(common))


def search_triads(
    candidates: Mapping[str, Sequence[Candidate]],
    *,
    anchor: Candidate | None = None,
    limit: int = 10,
    penalised_pairs: frozenset[tuple[str, str]] = frozenset(),
    borrowed: Mapping[str, str | None] = MappingProxyType({}),
    several_roles: frozenset[str] = frozenset(),
) -> list[Triad]:
    """The best `limit` valid triads from the candidates per role (chip, algorithm, application).

    `borrowed`: roles whose candidates come from outside the anchor's sectors (from the related sector
    named, or None: from any), because nobody plays them within; those members need not share a sector.
    `several_roles`: ids that may fill more than one role of a triad (a project's owner playing two).
    """
    everyone = [c for role in candidates for c in candidates[role]]
    if anchor is None:
        fits = {c.profile.id: 0.0 for c in everyone}
    else:
        scored = pair_scores(anchor.profile, [c.profile for c in everyone],
                             [float(anchor.vector @ c.vector) for c in everyone])
        fits = dict(zip((c.profile.id for c in everyone), scored.scores.tolist(), strict=True))
    pairs = sorted(
        ((member_fit(app, alg) + (fits[app.profile.id] + fits[alg.profile.id]) / 2, app, alg)
         for app in candidates.get("application", ()) for alg in candidates.get("algorithm", ())
         if app.profile.id != alg.profile.id or app.profile.id in several_roles),
        key=lambda item: -item[0],
    )[:BEAM_WIDTH]
    found: dict[str, Triad] = {}
    for _, app, alg in pairs:
        for chip in candidates.get("chip", ()):
            if chip.profile.id in (app.profile.id, alg.profile.id) and chip.profile.id not in several_roles:
                continue
            triad = _triad(chip, alg, app, anchor, fits, penalised_pairs, borrowed)
            if triad is not None and triad.score > found.get(triad.id, triad).score - 1e-12:
                found[triad.id] = triad
    return diverse(sorted(found.values(), key=lambda t: (-t.score, t.id)), limit)


def _triad(chip: Candidate, alg: Candidate, app: Candidate, anchor: Candidate | None,
           fits: Mapping[str, float], penalised_pairs: frozenset[tuple[str, str]],
           borrowed: Mapping[str, str | None]) -> Triad | None:
    members = (chip.profile, alg.profile, app.profile)
    own = [m for role, m in zip(ROLES, members, strict=True) if role not in borrowed]
    sectors = shared_sectors(own, anchor.profile if anchor else None) if own else tuple(anchor.profile.sectors)
    if not sectors:
        return None
    pair_fit = (member_fit(chip, alg) + member_fit(alg, app) + member_fit(chip, app)) / 3
    breakdown = {"members": round(PAIR_WEIGHT * pair_fit, 6)}
    if anchor is not None:
        breakdown["project"] = round(ANCHOR_WEIGHT * sum(fits[m.id] for m in members) / 3, 6)
    else:
        breakdown["sector"] = round(ANCHOR_WEIGHT * 1.0, 6)
    ids = {m.id for m in members}
    project_id = anchor.profile.id if anchor else None
    # A project's own feedback counts too: it is a party to the partnership.
    party = ids | {project_id} if project_id else ids
    if any((a, b) in penalised_pairs for a in party for b in party if a != b):
        breakdown["feedback"] = -0.2
    return Triad(
        id=partnership_id(ids, project_id), chip=chip.profile, algorithm=alg.profile, application=app.profile,
        sectors=sectors, project_id=project_id, score=round(sum(breakdown.values()), 6),
        project_data_policy=anchor.profile.data_policy if anchor else None,
        score_breakdown=breakdown, reasons=_sector_reasons(sectors, borrowed),
    )


def _sector_reasons(sectors: Sequence[str], borrowed: Mapping[str, str | None]) -> tuple[str, ...]:
    if not borrowed:
        return tuple(f"all three work in {s.replace('_', ' ')}" for s in sectors)
    here = " or ".join(s.replace("_", " ") for s in sectors)
    said = [f"the others work in {here}"] if len(borrowed) < len(ROLES) else []
    for role in ROLES:
        if role in borrowed:
            source = borrowed[role]
            where = f"from {source.replace('_', ' ')}, a related sector" if source else "from another sector"
            # Never the member's name: a reason must stay true for a viewer the member is redacted for.
            said.append(f"the {role} partner comes {where}: none works in {here}")
    return tuple(said)


def diverse(ranked: Sequence[Triad], limit: int) -> list[Triad]:
    """Greedy selection with a penalty per member already selected: varied, and never short.

    Only the best few times `limit` are weighed: a triad further down cannot climb past them.
    """
    remaining = list(enumerate(ranked[: limit * DIVERSITY_POOL]))
    chosen: list[Triad] = []
    used: Counter[str] = Counter()
    while remaining and len(chosen) < limit:
        best = max(remaining, key=lambda item: (
            item[1].score - REPEAT_PENALTY * sum(used[m] for m in item[1].member_ids()), -item[0]))
        remaining.remove(best)
        chosen.append(best[1])
        used.update(best[1].member_ids())
    return sorted(chosen, key=lambda t: (-t.score, t.id))
