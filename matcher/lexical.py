"""BM25 over profile texts, fused into pair scores: the small model blurs jargon (BPU, AOI,
colonoscopy) that two partners' profiles often share word for word."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

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
        if self.documents <= 0:
            return 0.0
        average = self.total_length / self.documents or 1.0
        length = sum(document.values())
        raw = 0.0
        for term in query.keys() & document.keys():
            df = max(self.frequencies.get(term, 0), 1)
            idf = math.log(1 + (self.documents - df + 0.5) / (df + 0.5))
            tf = document[term]
            raw += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average))
        return raw / (raw + SATURATION)

    def distinctive_shared(self, query: Counter[str], document: Counter[str], count: int = 3) -> list[str]:
        """The rarest terms both texts use: what a person would check first."""
        shared = [t for t in query.keys() & document.keys() if not t.isdigit()]
        return sorted(shared, key=lambda t: (self.frequencies.get(t, 0), t))[:count]
