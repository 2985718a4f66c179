"""BM25 over profile texts, fused into pair scores: the model blurs jargon (BPU, AOI, colonoscopy,
自动驾驶) that two partners' profiles often share word for word. Chinese is folded to one written form
and segmented into words (matcher.chinese), so it counts like English."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from matcher import chinese

_WORD = re.compile(r"[a-z0-9][a-z0-9+-]*[a-z0-9+]|[a-z0-9]")
STOPWORDS = frozenset(
    "a an and are as at be by for from has have in into is it its of on or our that the their them they this "
    "to we with who which while will can also more than other such using use used based across per via all "
    "its it's not no one two new over under up out about".split()
)
K1, B = 1.2, 0.75
SATURATION = 10.0


def terms(text: str) -> Counter[str]:
    folded = chinese.fold(text)
    found = Counter(w for w in _WORD.findall(folded) if w not in STOPWORDS and len(w) > 1)
    if chinese.has_cjk(folded):
        found.update(chinese.words(folded))
    return found


@dataclass(frozen=True)
class Document:
    """One text's term counts, also as arrays so one request scores all its candidates in numpy.

    Terms are keyed by their `hash` (this process's, 64-bit): a collision would need two of the
    vocabulary's terms to share all 64 bits."""

    counts: Mapping[str, int]
    keys: np.ndarray
    frequencies: np.ndarray
    length: int

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> Document:
        return cls(counts=MappingProxyType(dict(counts)), keys=np.fromiter(map(hash, counts), np.int64, len(counts)),
                   frequencies=np.fromiter(counts.values(), np.float64, len(counts)), length=sum(counts.values()))


@functools.lru_cache(maxsize=65_536)
def document(text: str) -> Document:
    """Remembered by text: suggestions read the same candidates' texts request after request; read-only,
    since every caller shares it."""
    return Document.of(terms(text))


@dataclass
class TermStats:
    """Document frequencies over the stored profiles, kept up to date as they change."""

    documents: int = 0
    total_length: int = 0
    frequencies: Counter[str] = field(default_factory=Counter)

    def add(self, document: Mapping[str, int], sign: int = 1) -> None:
        self.documents += sign
        self.total_length += sign * sum(document.values())
        if sign > 0:
            self.frequencies.update(document.keys())  # counts an iterable in C: the hot path of ingest
        else:
            self.frequencies.subtract(document.keys())

    def against(self, query: Mapping[str, int]) -> QueryTerms:
        """`query` scored against many documents: what depends only on the query is computed once."""
        return QueryTerms(query, self)


class QueryTerms:
    """One query's idf and rarity order, read from the statistics once and reused for each document
    (a suggestion request scores dozens of candidates against the same profile)."""

    def __init__(self, query: Mapping[str, int], stats: TermStats):
        self._documents = stats.documents
        self._average = (stats.total_length / stats.documents or 1.0) if stats.documents > 0 else 1.0
        terms = list(query)
        seen_in = [stats.frequencies.get(term, 0) for term in terms]
        keys = np.fromiter(map(hash, terms), np.int64, len(terms))
        df = np.maximum(np.array(seen_in, dtype=np.float64), 1.0)
        order = keys.argsort()
        self._keys = keys[order]
        self._idf = np.log(1 + (stats.documents - df + 0.5) / (df + 0.5))[order]
        self._rarest_first = [term for _, term in sorted(zip(seen_in, terms, strict=True)) if not term.isdigit()]

    def bm25(self, documents: Sequence[Document]) -> np.ndarray:
        """BM25 of each document for this query, squashed into [0, 1)."""
        if self._documents <= 0 or not len(self._keys) or not documents:
            return np.zeros(len(documents))
        keys = np.concatenate([d.keys for d in documents])
        frequencies = np.concatenate([d.frequencies for d in documents])
        sizes = np.fromiter((len(d.keys) for d in documents), np.int64, len(documents))
        lengths = np.fromiter((d.length for d in documents), np.float64, len(documents))
        # Array methods, not np.repeat and the like: those reach the same code through a Python wrapper.
        norms = (K1 * (1 - B + B * lengths / self._average)).repeat(sizes)
        at = np.minimum(self._keys.searchsorted(keys), len(self._keys) - 1)
        idf = np.where(self._keys[at] == keys, self._idf[at], 0.0)
        owner = np.arange(len(documents)).repeat(sizes)
        raw = np.bincount(owner, weights=idf * frequencies * (K1 + 1) / (frequencies + norms), minlength=len(documents))
        return raw / (raw + SATURATION)

    def distinctive_shared(self, document: Document, count: int = 3) -> list[str]:
        """The rarest terms both texts use: what a person would check first."""
        shared = []
        for term in self._rarest_first:
            if term in document.counts:
                shared.append(term)
                if len(shared) == count:
                    break
        return shared
