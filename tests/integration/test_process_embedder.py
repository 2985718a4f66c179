"""The model in a child process: the same vectors as in-process, errors reported, and no child left."""

from __future__ import annotations

from functools import partial

import pytest

from matcher.adapters.hashing_embedder import HashingEmbedder
from matcher.adapters.process_embedder import ProcessEmbedder
from matcher.adapters.sentence_embedder import SentenceEmbedder

TEXTS = ["Designs NPU chips for edge inference.", "Runs a hospital screening pilot in Hong Kong."]


def test_the_child_embeds_as_the_model_does_in_process(sentence_embedder):
    embedder = ProcessEmbedder(partial(SentenceEmbedder, None))
    try:
        assert (embedder.name, embedder.dimension) == (sentence_embedder.name, sentence_embedder.dimension)
        for there, here in zip(embedder.embed(TEXTS), sentence_embedder.embed(TEXTS), strict=True):
            assert there == pytest.approx(here, abs=1e-6)
        assert embedder.embed([]) == []
    finally:
        embedder.close()
    assert not embedder._process.is_alive()


def test_a_failure_in_the_child_is_raised_here_and_the_child_goes_on():
    embedder = ProcessEmbedder(partial(HashingEmbedder, 16))
    try:
        with pytest.raises(RuntimeError, match="embedding process failed"):
            embedder.embed([None])  # not a text
        assert len(embedder.embed(["still serving"])[0]) == 16
    finally:
        embedder.close()


def test_a_model_that_cannot_load_is_a_clear_error():
    with pytest.raises(RuntimeError, match="ValueError"):
        ProcessEmbedder(partial(HashingEmbedder, 1))


def test_chunks_come_back_in_order_while_the_next_is_encoded_and_an_early_stop_keeps_the_pipe_in_step():
    embedder = ProcessEmbedder(partial(HashingEmbedder, 16))
    try:
        chunks = [[f"text {n}-{k}" for k in range(3)] for n in range(4)]
        expected = [HashingEmbedder(16).embed(chunk) for chunk in chunks]
        assert list(embedder.embed_chunks(chunks)) == expected
        stopped = embedder.embed_chunks(chunks)
        assert next(stopped) == expected[0]
        stopped.close()  # the caller gives up with the second chunk still in the child
        assert embedder.embed(["after"]) == HashingEmbedder(16).embed(["after"])
        assert list(embedder.embed_chunks([])) == []
    finally:
        embedder.close()
