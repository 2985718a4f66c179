"""A model-free Embedder for tests and benchmarks: signed feature hashing of words and word pairs.

Texts sharing words share dimensions, so cosine similarity tracks word overlap; nothing is learned.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from hashlib import blake2b

__all__ = ["HashingEmbedder"]

_WORD = re.compile(r"\w+")
_EMPTY = "\x00empty"  # stands in for texts without words, so every vector still has unit length
_BIGRAM_WEIGHT = 0.5  # word pairs sharpen the vector but should not outweigh shared vocabulary
_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # odd multiplier (Fibonacci hashing) to mix two word hashes into one
_CACHE_LIMIT = 500_000


class HashingEmbedder:
    # Mirrors SentenceEmbedder, so code reading the token window works with either (None: no limit).
    max_seq_length: int | None = None
    # It splits words on spaces, so a Chinese sentence is one opaque "word": it does not read Chinese.
    multilingual = False

    def __init__(self, dimension: int = 384) -> None:
        if dimension < 2:
            raise ValueError("dimension must be at least 2")
        self.dimension = dimension
        self.name = f"hashing-{dimension}"
        # Words repeat a lot, and blake2b costs ~1 us a call: caching word hashes is what makes this fast.
        self._cache: dict[str, int] = {}

    def _hash(self, word: str) -> int:
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        h = self._cache[word] = int.from_bytes(blake2b(word.encode(), digest_size=8).digest(), "little")
        return h

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        # Plain Python on purpose: a vector has a few dozen non-zeros, and numpy's tolist() alone
        # would cost more than all of this.
        return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> list[float]:
        cache, dim = self._cache, self.dimension
        hashes = [cache.get(w) or self._hash(w) for w in _WORD.findall(text.lower()) or [_EMPTY]]
        weights: dict[int, float] = {}
        for h in hashes:
            col = h % dim
            weights[col] = weights.get(col, 0.0) + (1.0 if h >> 63 else -1.0)
        # A pair's hash comes from its words' hashes, so no string is built or hashed for it.
        for first, second in zip(hashes, hashes[1:], strict=False):
            g = ((first ^ (second >> 1)) * _GOLDEN) & _MASK
            col = (g >> 20) % dim
            weights[col] = weights.get(col, 0.0) + (_BIGRAM_WEIGHT if g >> 63 else -_BIGRAM_WEIGHT)
        norm = math.hypot(*weights.values())
        if norm == 0.0:  # opposite signs on one slot cancelled everything out
            weights, norm = {0: 1.0}, 1.0
        vector = [0.0] * dim
        for col, weight in weights.items():
            vector[col] = weight / norm
        return vector
