"""BM25 over profile texts, fused into pair scores: the small model blurs jargon (BPU, AOI,
colonoscopy) that two partners' profiles often share word for word."""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_WORD = re.compile(r"[a-z0-9][a-z0-9+-]*[a-z0-9+]|[a-z0-9]")
STOPWORDS = frozenset(
    "a an and are as at be by for from has have in into is it its of on or our that the their them they this "
    "to we with who which while will can also more than other such using use used based across per via all "
    "its it's not no one two new over under up out about".split()
)
K1, B = 1.2, 0.75
SATURATION = 10.0


def terms(text: str) -> Counter[str]:
    return Counter(w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1)


@functools.lru_cache(maxsize=4096)
def read_only_terms(text: str) -> Mapping[str, int]:
    """`terms`, remembered by text: suggestions read the same candidates' texts request after request.
    Read-only, since every caller shares it."""
    return MappingProxyType(terms(text))


@dataclass
class TermStats:
    """Document frequencies over the stored profiles, kept up to date as they change."""

    documents: int = 0
    total_length: int = 0
    frequencies: Counter[str] = field(default_factory=Counter)

    def add(self, document: Counter[str], sign: int = 1) -> None:
        self.documents += sign
        self.total_length += sign * sum(document.values())
        if sign > 0:
            self.frequencies.update(document.keys())  # counts an iterable in C: the hot path of ingest
        else:
            self.frequencies.subtract(document.keys())

    def bm25(self, query: Counter[str], document: Counter[str]) -> float:
        """BM25 of `document` for `query`, squashed into [0, 1)."""
        return self.against(query).bm25(document)

    def distinctive_shared(self, query: Counter[str], document: Counter[str], count: int = 3) -> list[str]:
        """The rarest terms both texts use: what a person would check first."""
        return self.against(query).distinctive_shared(document, count)

    def against(self, query: Counter[str]) -> QueryTerms:
        """`query` scored against many documents: what depends only on the query is computed once."""
        return QueryTerms(query, self)


class QueryTerms:
    """One query's idf and rarity order, read from the statistics once and reused for each document
    (a suggestion request scores dozens of candidates against the same profile)."""

    def __init__(self, query: Counter[str], stats: TermStats):
        self._documents = stats.documents
        self._average = (stats.total_length / stats.documents or 1.0) if stats.documents > 0 else 1.0
        # Keyed like `query`, in its order, so `keys() & document.keys()` walks the terms as before.
        self._idf = {term: math.log(1 + (stats.documents - df + 0.5) / (df + 0.5))
                     for term, df in ((t, max(stats.frequencies.get(t, 0), 1)) for t in query)}
        self._rarity = {term: (stats.frequencies.get(term, 0), term) for term in query if not term.isdigit()}

    def bm25(self, document: Mapping[str, int]) -> float:
        if self._documents <= 0:
            return 0.0
        length = sum(document.values())
        norm = K1 * (1 - B + B * length / self._average)
        raw = 0.0
        idf = self._idf
        for term in idf.keys() & document.keys():
            tf = document[term]
            raw += idf[term] * tf * (K1 + 1) / (tf + norm)
        return raw / (raw + SATURATION)

    def distinctive_shared(self, document: Mapping[str, int], count: int = 3) -> list[str]:
        rarity = self._rarity
        return sorted(rarity.keys() & document.keys(), key=rarity.__getitem__)[:count]
