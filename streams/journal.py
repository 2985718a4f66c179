"""The journal: every input record the workers accepted, kept in their state store in the same
transaction as its de-duplication mark. The embedded broker forgets its topics at every stop; the
journal does not, so `chainmatch replay` rebuilds from it (streams.replay)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from matcher.ports import StateStore
from streams.incoming import Incoming, record_doc, record_from_doc

TABLE = "journal"


def journal_rows(records: Sequence[Incoming], *, writer: str) -> dict[str, dict[str, Any]]:
    """Rows keyed in the order they were accepted: the time, then the writing process, then the
    place in its batch (one entity's records go through one partition, so one writer at a time)."""
    at = time.time_ns()
    return {f"{at:020d}-{writer}-{n:05d}": record_doc(record) for n, record in enumerate(records)}


def read_journal(state: StateStore, *, batch: int = 256) -> Iterator[list[Incoming]]:
    """Every journaled record, oldest first, in batches."""
    after = None
    while rows := state.page(TABLE, after=after, limit=batch):
        after = rows[-1][0]
        yield [record_from_doc(doc) for _, doc in rows]
