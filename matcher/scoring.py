"""Pair scores: a weighted sum of components a person can check, each named in the breakdown.

score = Σ WEIGHTS[c] × component[c]; `score_breakdown` holds each weighted term, so its values sum
to the score. Distance never counts against a match: region only ever adds a small bonus.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from matcher import policy
from matcher.model import RESOURCES, Profile

WEIGHTS: Mapping[str, float] = {
    "semantic": 0.2,
    "lexical": 0.25,
    "sector": 0.25,
    "capability": 0.03,
    "stage": 0.07,
    "resource": 0.1,
    "region": 0.02,
}
STAGES = ("research", "testing", "commercialization")


@dataclass(frozen=True)
class PairScore:
    score: float
    breakdown: dict[str, float]
    reasons: tuple[str, ...]


@functools.lru_cache(maxsize=4096)
def _words(text: str) -> frozenset[str]:
    """Cached: one profile's words are read against every candidate of a request."""
    return frozenset(re.findall(r"[a-z0-9][a-z0-9+-]{2,}", text.lower()))


def sector_fit(me: Profile, other: Profile) -> tuple[float, list[str]]:
    shared = [s for s in other.sectors if s in me.sectors]
    return (1.0 if shared else 0.0), [f"shares sector {s}" for s in shared]


def capability_fit(me: Profile, other: Profile) -> tuple[float, list[str]]:
    """Capabilities of one that the other's profile talks about (either way round)."""
    # Each side's words are read only when the other side has capabilities to look for.
    hits = [c for c in other.capabilities if _words(c) and _words(c) <= _words(me.text())]
    hits += [c for c in me.capabilities if _words(c) and _words(c) <= _words(other.text())]
    return min(len(hits) / 2, 1.0), [f"its capability {c} fits" for c in dict.fromkeys(hits)][:2]


def stage_fit(me: Profile, other: Profile) -> tuple[float, list[str]]:
    """A research-stage project favours labs, a commercialization-stage one companies."""
    if me.kind != "project" or me.stage is None or other.kind == "project":
        return 0.5, []
    favoured = {"research": "lab", "commercialization": "company"}.get(me.stage)
    if favoured is None:
        return 0.75, []
    if other.kind == favoured:
        return 1.0, [f"a {other.kind} suits a {me.stage}-stage project"]
    return 0.25, []


def resource_fit(me: Profile, other: Profile) -> tuple[float, list[str]]:
    """Resources a project needs that the other offers."""
    needed = [r for r in me.needs if r in RESOURCES] if me.kind == "project" else []
    offered = [r for r in needed if r in other.offers]
    if not needed:
        return 0.0, []
    return len(offered) / len(needed), [f"offers the {r.replace('_', ' ')} the project needs" for r in offered]


def region_fit(me: Profile, other: Profile) -> tuple[float, list[str]]:
    """A bonus for GBA members and for cross-border complementarity; never a penalty."""
    both_gba = policy.in_gba(me.region) and policy.in_gba(other.region)
    cross_border = policy.in_gba(me.region) != policy.in_gba(other.region) and None not in (me.region, other.region)
    if both_gba:
        return 1.0, ["both are in the Greater Bay Area"]
    if cross_border:
        return 1.0, ["brings a cross-border partner to the Greater Bay Area"]
    return 0.0, []


# The components after semantic and lexical, in the order of WEIGHTS.
FITS = (sector_fit, capability_fit, stage_fit, resource_fit, region_fit)


@dataclass(frozen=True)
class ScoredPairs:
    """`me` scored with each of `others`: scores, and each one's weighted components as a row in the
    order of WEIGHTS. Each weighted term is rounded and a score is the rounded sum of its row, so a
    breakdown a person adds up is its score."""

    me: Profile
    others: Sequence[Profile]
    scores: np.ndarray
    weighted: np.ndarray
    fits: list[list[tuple[float, list[str]]]]

    def explain(self, index: int, shared_terms: Sequence[str] = ()) -> PairScore:
        """The pair at `index` with its reasons; `shared_terms` are the words both texts use."""
        other = self.others[index]
        roles = [f"is a {r} partner" for r in other.roles if r in self.me.partner_roles()]
        mentioned = [f"both mention {', '.join(shared_terms)}"] if shared_terms else []
        found = [reason for _, said in self.fits[index] for reason in said]
        return PairScore(score=float(self.scores[index]),
                         breakdown=dict(zip(WEIGHTS, self.weighted[index].tolist(), strict=True)),
                         reasons=tuple(roles + mentioned + found))


def pair_scores(me: Profile, others: Sequence[Profile], similarities: Sequence[float],
                lexical_fits: Sequence[float] | None = None) -> ScoredPairs:
    """All at once: a suggestion ranks some 80 candidates and explains only the few it shows."""
    fits = [[fit(me, other) for fit in FITS] for other in others]
    lexical_fits = [0.0] * len(others) if lexical_fits is None else lexical_fits
    values = np.array([[max(similarity, 0.0), lexical, *(value for value, _ in found)]
                       for found, similarity, lexical in zip(fits, similarities, lexical_fits, strict=True)],
                      dtype=np.float64).reshape(len(others), len(WEIGHTS))
    weighted = np.round(values * _WEIGHT_ROW, 6)
    total = weighted[:, 0].copy()
    for column in range(1, len(WEIGHTS)):  # left to right, as the breakdown is read
        total += weighted[:, column]
    return ScoredPairs(me=me, others=others, scores=np.round(total, 6), weighted=weighted, fits=fits)


def pair_score(me: Profile, other: Profile, similarity: float, lexical: tuple[float, Sequence[str]] = (0.0, ())
               ) -> PairScore:
    """One explained pair: `lexical` is the BM25 fit of the other's text to this profile's, and the
    terms they share."""
    return pair_scores(me, [other], [similarity], [lexical[0]]).explain(0, lexical[1])


_WEIGHT_ROW = np.array(list(WEIGHTS.values()), dtype=np.float64)
