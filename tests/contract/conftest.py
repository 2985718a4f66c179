"""Fixtures of the contract suites: every test runs once per VectorStore adapter (`store`) or once per
StateStore adapter (`state`)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from matcher.adapters.edge_store import EdgeStore
from matcher.adapters.memory_state import MemoryState
from matcher.adapters.memory_store import MemoryStore
from matcher.adapters.postgres_state import PostgresState
from matcher.adapters.qdrant_store import QdrantServerStore
from matcher.adapters.sqlite_state import SqliteState
from matcher.ports import StateStore, StoreInfo, VectorStore

STORE_KINDS = ("memory", "edge", "qdrant")
STATE_KINDS = ("memory", "sqlite", "postgres")
_SCHEMAS = itertools.count()

StoreFactory = Callable[[str], VectorStore]
StateFactory = Callable[[str], StateStore]


@pytest.fixture
def state_factory(request, tmp_path) -> Iterator[StateFactory]:
    """make(kind) -> a state store; every one of a kind opens the same data (one SQLite file, one
    PostgreSQL schema of this test's own on the session's server, which starts on first use). All are
    closed after the test."""
    opened: list[StateStore] = []
    schema = f"test_{next(_SCHEMAS)}"

    def make(kind: str) -> StateStore:
        if kind == "memory":
            state: StateStore = MemoryState()
        elif kind == "sqlite":
            state = SqliteState(tmp_path / "state.db")
        elif kind == "postgres":
            state = PostgresState(request.getfixturevalue("postgres"), schema=schema)
        else:
            raise ValueError(kind)
        opened.append(state)
        return state

    yield make
    for state in opened:
        state.close()


@pytest.fixture(params=STATE_KINDS)
def state(request, state_factory) -> StateStore:
    return state_factory(request.param)


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
