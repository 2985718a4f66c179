"""Pair scores: a weighted sum of components a person can check, each named in the breakdown.

score = Σ WEIGHTS[c] × component[c]; `score_breakdown` holds each weighted term, so its values sum
to the score. Distance never counts against a match: region only ever adds a small bonus.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from matcher import policy, sectors
from matcher.lexical import terms
from matcher.model import RESOURCES, Profile

# Learned, not hand-set: `make fit` (benchmarks/fit_scoring.py) fits them on the dev split of the park
# set, English and bilingual, over the candidates each suggestion weighs, with five folds by profile.
WEIGHTS: Mapping[str, float] = {
    "semantic": 0.095,
    "lexical": 0.191,
    "sector": 0.212,
    "capability": 0.067,
    "stage": 0.003,
    "resource": 0.015,
    "region": 0.001,
    "mention": 0.291,
    "role": 0.125,
}
STAGES = ("research", "testing", "commercialization")


@dataclass(frozen=True)
class PairScore:
    score: float
    breakdown: dict[str, float]
    reasons: tuple[str, ...]


@functools.lru_cache(maxsize=4096)
def _words(capability: str) -> frozenset[str]:
    """A capability's terms as BM25 counts them (Chinese folded and segmented); cached: the same
    capabilities are read against every candidate of a request."""
    return frozenset(terms(capability))


# Each component is two functions: its values for one profile against many (a suggestion ranks some
# 80 candidates), and the reasons for one pair (only the shown ones are explained).

def sector_values(me: Profile, others: Sequence[Profile]) -> list[float]:
    """1.0 for a shared sector, less for related ones (matcher.sectors), 0.0 for none."""
    return [sectors.relatedness(me.sectors, other.sectors) for other in others]


def sector_reasons(me: Profile, other: Profile) -> list[str]:
    shared = [f"shares sector {s}" for s in other.sectors if s in me.sectors]
    if shared:
        return shared
    value, mine, theirs = sectors.nearest_pair(me.sectors, other.sectors)
    return [f"works in {_label(theirs)}, related to {_label(mine)}"] if value else []


def _label(sector: str | None) -> str:
    return (sector or "").replace("_", " ")


def _role_certainty(me: Profile, other: Profile) -> tuple[float, str | None]:
    """How sure it is that `other` plays a role `me` lacks: 1.0 declared, else the inferred confidence."""
    best: tuple[float, str | None] = (0.0, None)
    for role in me.partner_roles():
        if role in other.roles:
            sure = 1.0 if other.declares_roles else float(other.inferred.get("roles", {}).get(role, 0.0))
            best = max(best, (sure, role), key=lambda b: b[0])
    return best


def role_values(me: Profile, others: Sequence[Profile]) -> list[float]:
    return [_role_certainty(me, other)[0] for other in others]


def role_reasons(me: Profile, other: Profile) -> list[str]:
    sure, role = _role_certainty(me, other)
    return [f"its {role} role is inferred (confidence {sure:.2f})"] if role and sure < 1.0 else []


def mention_values(me: Profile, others: Sequence[Profile]) -> list[float]:
    """Half for each side whose description names the other."""
    return [0.5 * me.mentions(other) + 0.5 * other.mentions(me) for other in others]


def mention_reasons(me: Profile, other: Profile) -> list[str]:
    said = [f"{me.name} names {other.name}"] if me.mentions(other) else []
    return said + ([f"{other.name} names {me.name}"] if other.mentions(me) else [])


def _capability_hits(me: Profile, other: Profile) -> list[str]:
    """Capabilities of one that the other's profile talks about (either way round)."""
    # Each side's words are read only when the other side has capabilities to look for.
    hits = [c for c in other.capabilities if _words(c) and _words(c) <= me.document().counts.keys()]
    return hits + [c for c in me.capabilities if _words(c) and _words(c) <= other.document().counts.keys()]


def capability_values(me: Profile, others: Sequence[Profile]) -> list[float]:
    return [min(len(_capability_hits(me, other)) / 2, 1.0) if me.capabilities or other.capabilities else 0.0
            for other in others]


def capability_reasons(me: Profile, other: Profile) -> list[str]:
    return [f"its capability {c} fits" for c in dict.fromkeys(_capability_hits(me, other))][:2]


_FAVOURED = {"research": "lab", "commercialization": "company"}


def stage_values(me: Profile, others: Sequence[Profile]) -> list[float]:
    """A research-stage project favours labs, a commercialization-stage one companies."""
    if me.kind != "project" or me.stage is None:
        return [0.5] * len(others)
    favoured = _FAVOURED.get(me.stage)
    return [0.5 if other.kind == "project" else 0.75 if favoured is None else 1.0 if other.kind == favoured else 0.25
            for other in others]


def stage_reasons(me: Profile, other: Profile) -> list[str]:
    return [f"a {other.kind} suits a {me.stage}-stage project"] if stage_values(me, [other]) == [1.0] else []


def _needed(me: Profile) -> list[str]:
    return [r for r in me.needs if r in RESOURCES] if me.kind == "project" else []


def resource_values(me: Profile, others: Sequence[Profile]) -> list[float]:
    """Resources a project needs that the other offers."""
    needed = _needed(me)
    if not needed:
        return [0.0] * len(others)
    return [sum(r in other.offers for r in needed) / len(needed) for other in others]


def resource_reasons(me: Profile, other: Profile) -> list[str]:
    return [f"offers the {r.replace('_', ' ')} the project needs" for r in _needed(me) if r in other.offers]


def _region_reason(me: Profile, other: Profile) -> str | None:
    """A bonus for GBA members and for cross-border complementarity; never a penalty."""
    mine, theirs = policy.in_gba(me.region), policy.in_gba(other.region)
    if mine and theirs:
        return "both are in the Greater Bay Area"
    if mine != theirs and None not in (me.region, other.region):
        return "brings a cross-border partner to the Greater Bay Area"
    return None


def region_values(me: Profile, others: Sequence[Profile]) -> list[float]:
    return [0.0 if _region_reason(me, other) is None else 1.0 for other in others]


def region_reasons(me: Profile, other: Profile) -> list[str]:
    reason = _region_reason(me, other)
    return [reason] if reason is not None else []


# The components after semantic and lexical, in the order of WEIGHTS.
COMPONENTS = ((sector_values, sector_reasons), (capability_values, capability_reasons),
              (stage_values, stage_reasons), (resource_values, resource_reasons), (region_values, region_reasons),
              (mention_values, mention_reasons), (role_values, role_reasons))


@dataclass(frozen=True)
class ScoredPairs:
    """`me` scored with each of `others`: scores, and each one's weighted components as a row in the
    order of WEIGHTS. Each weighted term is rounded and a score is the rounded sum of its row, so a
    breakdown a person adds up is its score."""

    me: Profile
    others: Sequence[Profile]
    scores: np.ndarray
    weighted: np.ndarray
    partners: tuple[str, ...]  # me.partner_roles(), read once for all the pairs explained

    def explain(self, index: int, shared_terms: Sequence[str] = ()) -> PairScore:
        """The pair at `index` with its reasons; `shared_terms` are the words both texts use."""
        me, other = self.me, self.others[index]
        roles = [f"is a {r} partner" for r in other.roles if r in self.partners]
        mentioned = [f"both mention {', '.join(shared_terms)}"] if shared_terms else []
        found = [reason for _, reasons in COMPONENTS for reason in reasons(me, other)]
        return PairScore(score=float(self.scores[index]),
                         breakdown=dict(zip(WEIGHTS, self.weighted[index].tolist(), strict=True)),
                         reasons=tuple(roles + mentioned + found))


def pair_scores(me: Profile, others: Sequence[Profile], similarities: Sequence[float],
                lexical_fits: Sequence[float] | None = None) -> ScoredPairs:
    """All at once: a suggestion ranks some 80 candidates and explains only the few it shows."""
    components = np.array([similarities, [0.0] * len(others) if lexical_fits is None else lexical_fits,
                           *(values(me, others) for values, _ in COMPONENTS)], dtype=np.float64)
    np.maximum(components[0], 0.0, out=components[0])  # a dissimilar profile scores no semantic fit, not less
    weighted = (components.T * _WEIGHT_ROW).round(6)  # a row per candidate, a column per component
    total = weighted[:, 0].copy()
    for column in range(1, len(WEIGHTS)):  # left to right, as the breakdown is read
        total += weighted[:, column]
    return ScoredPairs(me=me, others=others, scores=total.round(6), weighted=weighted,
                       partners=me.partner_roles())


def pair_score(me: Profile, other: Profile, similarity: float, lexical: tuple[float, Sequence[str]] = (0.0, ())
               ) -> PairScore:
    """One explained pair: `lexical` is the BM25 fit of the other's text to this profile's, and the
    terms they share."""
    return pair_scores(me, [other], [similarity], [lexical[0]]).explain(0, lexical[1])


_WEIGHT_ROW = np.array(list(WEIGHTS.values()), dtype=np.float64)
