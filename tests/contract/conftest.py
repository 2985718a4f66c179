"""Fixtures of the store contract suite: every test runs once per VectorStore adapter."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from matcher.adapters.edge_store import EdgeStore
from matcher.adapters.memory_store import MemoryStore
from matcher.adapters.qdrant_store import QdrantServerStore
from matcher.ports import StoreInfo, VectorStore

STORE_KINDS = ("memory", "edge", "qdrant")

StoreFactory = Callable[[str], VectorStore]


@pytest.fixture
def store_info() -> StoreInfo:
    return StoreInfo(model="contract-test-model", dimension=8)


@pytest.fixture
def store_factory(tmp_path) -> Iterator[StoreFactory]:
    """make(kind) -> a new store with no collection yet; all are closed after the test."""
    from qdrant_client import QdrantClient

    opened: list[VectorStore] = []

    def make(kind: str) -> VectorStore:
        if kind == "memory":
            store: VectorStore = MemoryStore()
        elif kind == "edge":
            store = EdgeStore(tmp_path / f"edge-{len(opened)}")
        elif kind == "qdrant":
            store = QdrantServerStore(QdrantClient(":memory:"), "profiles")
        else:
            raise ValueError(kind)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture(params=STORE_KINDS)
def store_kind(request) -> str:
    return request.param


@pytest.fixture
def empty_store(store_kind, store_factory) -> VectorStore:
    return store_factory(store_kind)


@pytest.fixture
def store(empty_store, store_info) -> VectorStore:
    empty_store.recreate(store_info)
    return empty_store


@pytest.fixture
def all_stores(store_factory, store_info) -> dict[str, VectorStore]:
    """One created store of every kind, for comparing their answers to the same calls."""
    stores = {kind: store_factory(kind) for kind in STORE_KINDS}
    for store in stores.values():
        store.recreate(store_info)
    return stores
