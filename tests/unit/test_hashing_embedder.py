"""The hashing embedder: the model-free stand-in used by unit tests and the pipeline benchmark."""

from __future__ import annotations

import math
import time

from matcher.adapters.hashing_embedder import HashingEmbedder


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_vectors_are_deterministic_across_instances(hashing_embedder):
    texts = ["Edge AI accelerator chips", "Hospital pilot site for imaging"]
    assert hashing_embedder.embed(texts) == HashingEmbedder(dimension=384).embed(texts)
    assert hashing_embedder.embed(texts[:1]) == hashing_embedder.embed(texts)[:1]


def test_vectors_have_the_dimension_and_unit_length(hashing_embedder):
    assert hashing_embedder.name == "hashing-384"
    vectors = hashing_embedder.embed(["Chips for cars.", "", "!!!", "a a a a", "x" * 5000])
    for vector in vectors:
        assert len(vector) == 384
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-9)
    assert hashing_embedder.embed([]) == []


def test_similar_texts_score_higher_than_unrelated_ones(hashing_embedder):
    chip, similar, unrelated = hashing_embedder.embed([
        "Low-power AI accelerator chips for edge inference in vehicles",
        "AI accelerator chips for low-power inference at the edge",
        "A children's hospital running a radiology pilot site",
    ])
    assert cosine(chip, similar) > 0.5
    assert cosine(chip, similar) > cosine(chip, unrelated) + 0.3


def test_case_and_punctuation_do_not_matter(hashing_embedder):
    a, b = hashing_embedder.embed(["Smart-city LiDAR sensing.", "smart city lidar sensing"])
    assert math.isclose(cosine(a, b), 1.0)


def test_other_dimensions_work():
    embedder = HashingEmbedder(dimension=16)
    assert embedder.name == "hashing-16"
    assert [len(v) for v in embedder.embed(["one text", "another text"])] == [16, 16]


def test_it_embeds_more_than_20k_short_texts_per_second():
    words = ("chip design neural network accelerator hospital imaging pilot site dataset vehicles lidar "
             "city cloud compute edge inference training model robot factory").split()
    texts = [f"company {i} builds {words[i % 21]} {words[i * 7 % 21]} systems for {words[i * 3 % 21]}"
             for i in range(20_000)]
    rates = []
    for _ in range(3):  # best of three, each with a cold cache: the machine may be busy with other work
        embedder = HashingEmbedder(dimension=384)
        started = time.perf_counter()
        embedder.embed(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
    assert max(rates) > 20_000, f"{max(rates):.0f} texts/s"
