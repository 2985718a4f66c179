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
_EMPTY = "\x00empty"  # hashed for texts without words, so every vector still has unit length
_BIGRAM_WEIGHT = 0.5  # word pairs sharpen the vector but should not outweigh shared vocabulary
_CACHE_LIMIT = 500_000


class HashingEmbedder:
    # The same attributes as SentenceEmbedder, so code that reads them works with either.
    max_seq_length: int | None = None

    def __init__(self, dimension: int = 384) -> None:
        if dimension < 2:
            raise ValueError("dimension must be at least 2")
        self.dimension = dimension
        self.name = f"hashing-{dimension}"
        # Words repeat a lot; caching their (index, sign) is what makes this fast.
        self._cache: dict[str, tuple[int, float]] = {}

    def _slot(self, feature: str) -> tuple[int, float]:
        h = int.from_bytes(blake2b(feature.encode(), digest_size=8).digest(), "little")
        weight = _BIGRAM_WEIGHT if " " in feature else 1.0
        slot = (h % self.dimension, weight if h >> 63 else -weight)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[feature] = slot
        return slot

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        # Plain Python on purpose: vectors are ~1/10 dense, and numpy's tolist() alone would cost
        # more than all of this.
        return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> list[float]:
        cache, slot = self._cache, self._slot
        words = _WORD.findall(text.lower()) or [_EMPTY]
        weights: dict[int, float] = {}
        for feature in words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]:
            col, weight = cache.get(feature) or slot(feature)
            weights[col] = weights.get(col, 0.0) + weight
        norm = math.hypot(*weights.values())
        if norm == 0.0:  # hash collisions cancelled everything out
            col, weight = slot(_EMPTY)
            weights, norm = {col: weight}, 1.0
        vector = [0.0] * self.dimension
        for col, weight in weights.items():
            vector[col] = weight / norm
        return vector
