"""`chainmatch replay`: rebuild a data dir's store and partnerships from everything its workers ever
accepted. The rebuild is made in a new dir beside the data dir, from a copy of what is not derived
(dead letters, counts, subscriptions, keys), and then takes the data dir's place; the old dir is kept
beside it, so a rebuild never loses what it replaces."""

from __future__ import annotations

import math
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from matcher.adapters.sqlite_state import SqliteState
from matcher.ports import StateStore, VectorStore

STATE_FILE = "state.db"
# Everything the pipeline rebuilds as the records pass through it again; the journal too, so records
# that fail now are dead letters, not journal entries.
DERIVED_TABLES = ("seen", "outbox", "settles", "pending", "partnerships", "feedback", "journal")
# Rebuilt, or of the old run only (the embedded store, the faust client's files, the broker's log).
NOT_COPIED = {"store", STATE_FILE, f"{STATE_FILE}-wal", f"{STATE_FILE}-shm", "faust", "tansu.log"}


def holds_state(data_dir: Path) -> bool:
    return (data_dir / "store").exists() or (data_dir / STATE_FILE).exists()


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def prepare(data_dir: Path, new_dir: Path) -> None:
    """`new_dir` with what of `data_dir` is not derived: a consistent copy of the state store (SQLite's
    backup, safe while another process writes it) without the derived tables, and the other files."""
    new_dir.mkdir(parents=True)
    for path in data_dir.iterdir():
        if path.name not in NOT_COPIED:
            (shutil.copytree if path.is_dir() else shutil.copy2)(path, new_dir / path.name)
    if (data_dir / STATE_FILE).exists():
        with sqlite3.connect(data_dir / STATE_FILE) as source, sqlite3.connect(new_dir / STATE_FILE) as copy:
            source.backup(copy)
        source.close()
        copy.close()
        state = SqliteState(new_dir / STATE_FILE)
        for table in DERIVED_TABLES:
            state.trim(table, keep=0, written_before=math.inf)
        state.close()


def swap(data_dir: Path, new_dir: Path, suffix: str) -> Path:
    """Put `new_dir` in the place of `data_dir`; returns where the old one is kept."""
    kept = data_dir.with_name(f"{data_dir.name}.before-replay-{suffix}")
    data_dir.rename(kept)
    new_dir.rename(data_dir)
    return kept


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
