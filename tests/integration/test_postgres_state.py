"""The split deployment's state in PostgreSQL (CHAINMATCH_STATE_URL): every process that opens the
workers' state opens the same database, and none of them writes a state file in its data dir."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import uuid

import pytest
from builders import make_entity, make_event

from chainmatch.bootstrap import WORKER_STATE_FILE, Runtime, holds_worker_state, open_worker_state, topic_names
from chainmatch.broker import ensure_topics
from chainmatch.cli import cmd_redrive
from chainmatch.settings import Settings
from matcher.adapters.hashing_embedder import HashingEmbedder
from matcher.adapters.memory_store import MemoryStore
from matcher.adapters.postgres_state import PostgresState
from matcher.adapters.sqlite_state import SqliteState
from matcher.service import Matcher
from streams.journal import read_journal
from streams.pipeline import BatchHandler, Incoming, PipelineState, persisted_totals

_SCHEMAS = itertools.count()


@pytest.fixture
def settings_on(postgres, tmp_path):
    """settings_on(name) -> the settings of one process (its own data dir) over this test's schema."""
    schema = f"deploy_{next(_SCHEMAS)}"

    def make(name: str) -> Settings:
        return Settings(_env_file=None, data_dir=tmp_path / name, state_url=postgres, state_schema=schema,
                        model="hashing:64")

    return make


def handler_over(settings: Settings, store: MemoryStore) -> tuple[BatchHandler, PostgresState]:
    async def publish(records):
        return None

    state = open_worker_state(settings)
    matcher = Matcher(embedder=HashingEmbedder(dimension=64), store=store, state=state)
    matcher.ensure_model()
    handler = BatchHandler(matcher=matcher, state=state, publish=publish, prefix="chain.", counters=PipelineState(),
                           hand_over=True)
    return handler, state


def company(partition: int, offset: int, entity_id: str) -> Incoming:
    event = make_event("chain.company.upserted", make_entity(id=entity_id))
    return Incoming("chain.companies.v1", partition, offset, entity_id.encode(), json.dumps(event).encode(), [])


def test_without_a_state_url_the_workers_state_is_the_sqlite_file_in_the_data_dir(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert not holds_worker_state(settings)
    state = open_worker_state(settings)
    assert isinstance(state, SqliteState) and (tmp_path / WORKER_STATE_FILE).exists()
    state.close()
    assert holds_worker_state(settings)


async def test_two_ingest_workers_the_api_and_redrive_share_one_postgres_state(settings_on, capsys):
    store = MemoryStore()  # stands in for the Qdrant server they share
    (first, first_state), (second, second_state) = (handler_over(settings_on(f"worker-{n}"), store) for n in (1, 2))
    bad = Incoming("chain.companies.v1", 3, 9, b"co-x", b"\xffnot json", [("trace", b"\x00\xfe")])
    co1 = company(0, 0, "co-1")
    await first.handle([co1, bad])
    await second.handle([company(1, 0, "co-2"), company(1, 1, "co-1")])
    await second.handle([co1])  # the first one's record again, after a rebalance: a duplicate

    api = settings_on("api")
    api_view = open_worker_state(api)
    assert isinstance(api_view, PostgresState) and holds_worker_state(api)
    journal = sorted((r.partition, r.offset) for batch in read_journal(api_view) for r in batch)
    assert journal == [(0, 0), (1, 0), (1, 1)]
    assert persisted_totals(api_view) == {"events_processed": 5, "deadlettered": 1}
    [(_, kept)] = api_view.items("deadletters")
    assert kept["record"]["offset"] == 9
    for state in (first_state, second_state, api_view):
        state.close()

    assert await asyncio.to_thread(cmd_redrive, api, argparse.Namespace(dry_run=True)) == 0  # its own loop
    assert "would send" in capsys.readouterr().out
    assert not any(settings_on(name).data_dir.joinpath(WORKER_STATE_FILE).exists()
                   for name in ("worker-1", "worker-2", "api"))


def test_a_state_url_must_be_postgresql():
    with pytest.raises(ValueError, match="PostgreSQL"):
        Settings(_env_file=None, state_url="sqlite:///data/state.db")


async def test_a_worker_waits_for_the_state_database_and_says_so_meanwhile(broker, postgres, tmp_path):
    import psycopg

    database = f"late_{uuid.uuid4().hex[:8]}"  # not there yet, as when the database starts after the worker
    settings = Settings(_env_file=None, kafka_bootstrap=broker.bootstrap, topic_prefix=f"{database}.",
                        data_dir=tmp_path, model="hashing:64", topic_partitions=2,
                        state_url=postgres.replace("/postgres?", f"/{database}?"))
    ensure_topics(broker.bootstrap, topic_names(settings), 2)
    worker = Runtime(settings, run_workers=True, serve_api=False, embedder=HashingEmbedder(dimension=64),
                     store=MemoryStore())

    async def until(check, timeout_s: float = 60):
        for _ in range(int(timeout_s / 0.2)):
            if result := check():
                return result
            await asyncio.sleep(0.2)
        pytest.fail(f"timed out: {worker.health()}")

    async with worker.lifespan(None):
        await until(lambda: "opening the workers' state" in worker.health()[1]["store"])
        await asyncio.sleep(1)  # a try or two later: still waiting, not failed
        ready, components = worker.health()
        assert not ready and "failure" not in components and "opening" in components["store"]
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {database}")
        await until(lambda: worker.health()[0])
