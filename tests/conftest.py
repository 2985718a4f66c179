"""Fixtures shared by every test tier. Expensive ones are session-scoped and built on first use only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from chainmatch.broker import EmbeddedBroker
from chainmatch.broker import free_port as _free_port
from matcher.adapters.hashing_embedder import HashingEmbedder

if TYPE_CHECKING:  # importing the real embedder pulls in torch, which unit tests never need
    from matcher.adapters.sentence_embedder import SentenceEmbedder
    from matcher.adapters.use_embedder import UseEmbedder


@pytest.fixture
def free_port() -> int:
    return _free_port()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """One embedded Tansu broker for the session; its log is under the session's tmp dir."""
    embedded = EmbeddedBroker(log_dir=tmp_path_factory.mktemp("tansu"))
    embedded.start()
    yield embedded
    embedded.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """One PostgreSQL 16 server for the session, started from the pgserver wheel in a tmp dir of its
    own (about a second) and deleted with it; yields its URL. Tests that write give themselves a schema
    of their own. Not under pytest's tmp dir: run as root, pgserver runs the server as its own user, and
    every pytest that starts makes /tmp/pytest-of-<user> private to its owner again."""
    import tempfile

    import pgserver

    server = pgserver.get_server(tempfile.mkdtemp(prefix="chainmatch-postgres-"), cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(scope="session")
def default_embedder() -> UseEmbedder:
    """The real default model (multilingual USE v3, numpy), loaded once: about a second."""
    from matcher.adapters.use_embedder import UseEmbedder

    return UseEmbedder(threads=1)


@pytest.fixture(scope="session")
def sentence_embedder() -> SentenceEmbedder:
    """all-MiniLM-L6-v2 (English only) through sentence-transformers, loaded once: about 10 s, mostly
    importing torch."""
    from matcher.adapters.sentence_embedder import SentenceEmbedder

    return SentenceEmbedder(None)


@pytest.fixture(scope="session")
def hashing_embedder() -> HashingEmbedder:
    return HashingEmbedder(dimension=384)
