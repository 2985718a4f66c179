"""`chainmatch replay`: rebuild a data dir's store and partnerships from everything its workers ever
accepted. The rebuild is made in a new dir beside the data dir (and, with the workers' state in
PostgreSQL, in a new schema beside theirs), from a copy of what is not derived (dead letters, counts,
subscriptions, keys), and then takes the data dir's (and schema's) place; the old ones are kept
beside them, so a rebuild never loses what it replaces."""

from __future__ import annotations

import contextlib
import math
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chainmatch.bootstrap import (
    WORKER_STATE_FILE,
    StoreInUse,
    build_embedder,
    build_store,
    close_embedder,
    holds_worker_state,
    open_worker_state,
    progress,
    worker_state_place,
)
from chainmatch.settings import Settings
from matcher.adapters.label_files import load_label_models
from matcher.adapters.sqlite_state import SqliteState
from matcher.ports import StateStore, VectorStore
from matcher.service import Matcher
from streams.incoming import Incoming
from streams.journal import TABLE as JOURNAL
from streams.journal import read_journal
from streams.pipeline import COUNTERS, BatchHandler, PipelineState, persisted_totals
from streams.replay import read_topics, replay

STATE_FILE = WORKER_STATE_FILE
# Everything the pipeline rebuilds as the records pass through it again; the journal too, so records
# that fail now are dead letters, not journal entries.
DERIVED_TABLES = ("seen", "outbox", "settles", "pending", "partnerships", "feedback", "journal")
# Rebuilt, or of the old run only (the embedded store, the faust client's files, the broker's log).
NOT_COPIED = {"store", STATE_FILE, f"{STATE_FILE}-wal", f"{STATE_FILE}-shm", "faust", "tansu.log"}


def holds_state(settings: Settings) -> bool:
    return (settings.data_dir / "store").exists() or holds_worker_state(settings)


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def prepare(settings: Settings, target: Settings) -> None:
    """`target` with what of `settings` is not derived: the files of the data dir and a copy of the
    workers' state without the derived tables (in PostgreSQL: into the target's schema, in one
    transaction; in SQLite: by SQLite's backup, safe while another process writes it)."""
    data_dir, new_dir = settings.data_dir, target.data_dir
    new_dir.mkdir(parents=True)
    for path in data_dir.iterdir():
        if path.name not in NOT_COPIED:
            (shutil.copytree if path.is_dir() else shutil.copy2)(path, new_dir / path.name)
    if settings.state_url:
        state = open_worker_state(target)
        state.copy_from(settings.state_schema, skip=DERIVED_TABLES)
        state.close()
    elif (data_dir / STATE_FILE).exists():
        with sqlite3.connect(data_dir / STATE_FILE) as source, sqlite3.connect(new_dir / STATE_FILE) as copy:
            source.backup(copy)
        source.close()
        copy.close()
        state = SqliteState(new_dir / STATE_FILE)
        for table in DERIVED_TABLES:
            state.trim(table, keep=0, written_before=math.inf)
        state.close()


def swap(settings: Settings, target: Settings, suffix: str) -> str:
    """Put `target`'s data dir (and schema) in the place of `settings`'; returns where the old ones are kept."""
    data_dir, new_dir = settings.data_dir, target.data_dir
    kept = data_dir.with_name(f"{data_dir.name}.before-replay-{suffix}")
    data_dir.rename(kept)
    new_dir.rename(data_dir)
    if not settings.state_url:
        return str(kept)
    from matcher.adapters.postgres_state import swap_schemas

    kept_schema = f"{settings.state_schema}_before_replay_{suffix.lower()}"
    swap_schemas(settings.state_url.get_secret_value(), schema=settings.state_schema,
                 replacement=target.state_schema, keep_as=kept_schema)
    return f"{kept} and schema {kept_schema}"


def discard(target: Settings) -> None:
    """Remove what a replay built beside the data dir (and schema)."""
    shutil.rmtree(target.data_dir)
    if target.state_url:
        from matcher.adapters.postgres_state import drop_schema

        drop_schema(target.state_url.get_secret_value(), target.state_schema)


@dataclass(frozen=True)
class Snapshot:
    """What a rebuild may change: the stored profiles and the partnership records."""

    entities: dict[str, dict[str, Any]]
    partnerships: dict[str, tuple[Any, ...]]


def snapshot(store: VectorStore, state: StateStore) -> Snapshot:
    entities: dict[str, dict[str, Any]] = {}
    if store.info() is not None:
        offset = None
        while True:
            points, offset = store.scroll(limit=500, offset=offset)
            entities.update((p.id, p.payload) for p in points)
            if offset is None:
                break
    partnerships = {key: (tuple(doc[role]["id"] for role in ("chip", "algorithm", "application")), doc["status"],
                          round(doc["score"], 2), len(doc.get("decisions", ())))
                    for key, doc in state.items("partnerships")}
    return Snapshot(entities=entities, partnerships=partnerships)


def _diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[int, int, int]:
    added = len(after.keys() - before.keys())
    removed = len(before.keys() - after.keys())
    changed = sum(1 for key in before.keys() & after.keys() if before[key] != after[key])
    return added, removed, changed


def summary(before: Snapshot, after: Snapshot) -> list[str]:
    """One line per kind of thing: how many there were, are, and what changed."""
    lines = []
    for name, old, new in (("profiles", before.entities, after.entities),
                           ("partnerships", before.partnerships, after.partnerships)):
        added, removed, changed = _diff(old, new)
        lines.append(f"{name}: {len(old)} -> {len(new)} ({added} new, {removed} gone, {changed} changed)")
    return lines


@dataclass(frozen=True)
class Source:
    name: str
    batches: Iterator[list[Incoming]]
    total: int | None


def _source(settings: Settings, old_state: StateStore | None, *, from_topics: bool) -> Source | None:
    """The journal when there is one (and not `from_topics`), else the topics if a broker answers."""
    from chainmatch.broker import answers

    journaled = old_state.count(JOURNAL) if old_state is not None and not from_topics else 0
    if journaled:
        return Source(f"the journal in {worker_state_place(settings)} ({journaled} records)", read_journal(old_state),
                      journaled)
    if not answers(settings.bootstrap):
        return None
    groups = [[settings.topic(t) for t in ("companies.v1", "labs.v1", "projects.v1")],
              [settings.topic("curation.v1")], [settings.topic("feedback.v1")]]
    return Source(f"the topics at {settings.bootstrap}, from offset 0", read_topics(settings.bootstrap, groups), None)


@dataclass(frozen=True)
class Outcome:
    fed: int
    applied: int
    deadlettered: int
    after: Snapshot
    totals: dict[str, int]


def _replay_into(settings: Settings, source: Source) -> Outcome:
    """Feed the source through the pipeline into the data dir of `settings`; publishes nothing (the
    subscribers have it all)."""
    async def discard(records) -> None:
        return None

    counters = PipelineState()
    with contextlib.ExitStack() as stack:
        store = build_store(settings)
        stack.callback(store.close)
        state = open_worker_state(settings)
        stack.callback(state.close)
        embedder = build_embedder(settings)
        stack.callback(close_embedder, embedder)
        matcher = Matcher(embedder=embedder, store=store, state=state, progress=progress,
                          label_models=load_label_models(embedder.name))
        matcher.ensure_model()
        handler = BatchHandler(matcher=matcher, state=state, publish=discard, prefix=settings.topic_prefix,
                               counters=counters)
        curation = settings.topic("curation.v1")
        fed = replay(source.batches, handler=handler, settle_before=lambda record: record.topic == curation,
                     total=source.total)
        store.flush()
        state.delete(COUNTERS, [counters.writer])  # a replay is not new input: the counts stay as they were
        return Outcome(fed=fed, applied=state.count(JOURNAL), deadlettered=counters.deadlettered,
                       after=snapshot(store, state), totals=persisted_totals(state))


def run_replay(settings: Settings, *, confirmed: bool, from_topics: bool) -> int:
    """`chainmatch replay`: an empty data dir is built in place; one that holds state only with
    `confirmed`, beside it, then swapped in."""
    data_dir = settings.data_dir
    in_place = not holds_state(settings)
    if not in_place and not confirmed:
        progress(f"{data_dir} holds a store and partnerships: replay rebuilds them in a new dir beside it and "
                 f"swaps it in, keeping the old one as {data_dir.name}.before-replay-<time>. Add --yes to go ahead.")
        return 2
    before, old_state = Snapshot({}, {}), None
    with contextlib.ExitStack() as stack:
        if not in_place:
            try:  # first: an embedded store in use by a running `up` stops the replay here, untouched
                old_store = build_store(settings)
            except StoreInUse as error:
                progress(str(error))
                return 2
            stack.callback(old_store.close)
            old_state = open_worker_state(settings)
            stack.callback(old_state.close)
            before = snapshot(old_store, old_state)
        source = _source(settings, old_state, from_topics=from_topics)
        if source is None:
            progress(f"nothing to replay from: no journal in {worker_state_place(settings)} and no broker answers at "
                     f"{settings.bootstrap}; {data_dir} is left as it was")
            return 1
        progress(f"replaying {source.name}")
        suffix = stamp()
        target = settings if in_place else settings.model_copy(update={
            "data_dir": data_dir.with_name(f"{data_dir.name}.replay-{suffix}"),
            "state_schema": f"{settings.state_schema}_replay_{suffix.lower()}"})
        if in_place:
            data_dir.mkdir(parents=True, exist_ok=True)
        else:
            prepare(settings, target)
        outcome = _replay_into(target, source)
    if not in_place and before.entities and not outcome.fed:
        progress(f"nothing to replay in {source.name}: {data_dir} is left as it was")
        discard(target)
        return 1
    print(f"replayed {outcome.fed} record(s) from {source.name}: {outcome.applied} applied, "
          f"{outcome.deadlettered} dead-lettered, {outcome.fed - outcome.applied - outcome.deadlettered} "
          "duplicate(s) skipped")
    for line in summary(before, outcome.after):
        print(line)
    print(f"counts kept: {outcome.totals['events_processed']} processed, {outcome.totals['deadlettered']} "
          "dead-lettered")
    if not in_place:
        print(f"rebuilt {data_dir}; the old one is kept as {swap(settings, target, suffix)} (delete it when satisfied)")
    return 0
