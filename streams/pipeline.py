"""What the stream workers do, independent of faust: decode, de-duplicate, ingest, persist, publish;
and, at settle points, recompute the partnerships and publish what changed.

Order matters for the guarantees. A batch's profile changes, its de-duplication marks and the
outbox of what it sends (dead letters, decisions) are persisted in one transaction before anything
is published, and the batch is acknowledged only after the publishes. A crash anywhere re-delivers
the batch: marks make its applied events no-ops that re-send their outbox (same event ids, same
bytes), and the rest apply again.

Partnership events come from `settle`, which compares the partnerships with the book. It runs
when the input has been idle for a moment or has waited too long (streams.app), so the events
depend on the stored profiles, not on where batch boundaries fell: a worker killed mid-ingest and
restarted publishes the same events as one that ran through. A settle persists the book and its
records as `pending` in one transaction, publishes them, then clears `pending`; a crash in between
re-publishes them at the next start (`publish_pending`).
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from matcher import policy
from matcher.book import PartnershipEvent
from matcher.model import Change, Delete, Profile, Upsert
from matcher.ports import StateStore
from matcher.service import Matcher
from schemas import EVENT_TYPES
from schemas.cloudevents import CloudEvent, InvalidEvent, Record, new_event, to_record
from streams.codec import decode
from streams.deadletter import TABLE as DEADLETTERS
from streams.deadletter import deadletter_headers, deadletter_row
from streams.incoming import Incoming
from streams.journal import TABLE as JOURNAL
from streams.journal import journal_rows

Publish = Callable[[Sequence[Record]], Awaitable[None]]
SOURCE = "chainmatch/matcher"


COUNTERS = "counters"
# What the de-duplication of a replayed batch reads: trimmed by age and count (Retention).
RETAINED_TABLES = ("seen", "outbox", "settles")


@dataclass(frozen=True)
class Retention:
    """How long, and how many, de-duplication marks, outbox rows and settles are kept; checked at most
    every `every_s` seconds."""

    max_age_s: float
    max_rows: int
    every_s: float = 60.0


@dataclass
class PipelineState:
    """What the API reports about the workers: readiness, and this process's counts since its start,
    persisted with each batch under `writer` (one row per process start, so writers never race)."""

    events_processed: int = 0
    deadlettered: int = 0
    assigned: bool = False
    crashed: dict[str, str] = field(default_factory=dict)
    writer: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    # Batches being handled, and time.monotonic() when the last one ended: a stop waits for the input
    # to go quiet.
    in_flight: int = 0
    last_batch_at: float = field(default_factory=time.monotonic)


def persisted_totals(state: StateStore) -> dict[str, int]:
    """The counts of every worker process that ever wrote to this state store."""
    rows = [doc for _, doc in state.items(COUNTERS)]
    return {name: sum(row[name] for row in rows) for name in ("events_processed", "deadlettered")}


class UnknownPartnership(Exception):
    """A decision about a partnership that was never proposed: a fault of the record."""


class UnknownEntity(Exception):
    """Feedback that names an entity the store does not hold: a fault of the record."""


def to_change(event: CloudEvent) -> Change:
    event_type = EVENT_TYPES[event.type]
    if event_type.action == "deleted":
        return Delete(event.data["id"])
    return Upsert(Profile.from_data(event_type.kind, event.data))


def mark(event: CloudEvent) -> str:
    return f"{event.source}\x1f{event.id}"


def partnership_records(events: Sequence[PartnershipEvent], prefix: str) -> dict[str, Record]:
    """Each event on the full topic, and redacted as for a platform key with no region on the public
    one, keyed for the outbox by topic and event id."""
    records = {}
    public_topic = f"{prefix}partnerships.public.v1"
    for event in events:
        time = datetime.fromisoformat(event.at)
        full = new_event(f"chain.partnership.{event.kind}", event.data, id=event.event_id, source=SOURCE,
                         subject=event.partnership_id, time=time)
        public_data = policy.redact_partnership(event.data, visible=lambda _id, data_policy: policy.may_see(
            viewer_region=None, data_policy=data_policy))
        public = new_event(full.type, public_data, id=event.event_id, source=SOURCE,
                           subject=event.partnership_id, time=time)
        topic, key, value, headers = to_record(full, topic_prefix=prefix, now=time)
        records[f"{topic}|{event.event_id}"] = (topic, key, value, headers)
        records[f"{public_topic}|{event.event_id}"] = (
            public_topic, key, to_record(public, topic_prefix=prefix, now=time)[2], headers)
    return records


def _outbox_row(record: Record) -> dict[str, Any]:
    """Key, value and headers in base64: a dead letter's may be any bytes."""
    topic, key, value, headers = record
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return {"topic": topic, "key64": b64(key or b""), "value": b64(value),
            "headers64": [[name, b64(header)] for name, header in headers]}


def _from_outbox(row: dict[str, Any]) -> Record:
    if "key64" not in row:  # written before keys and headers were kept in base64
        return (row["topic"], row["key"].encode() or None, base64.b64decode(row["value"]),
                [(name, header.encode()) for name, header in row["headers"]])
    return (row["topic"], base64.b64decode(row["key64"]) or None, base64.b64decode(row["value"]),
            [(name, base64.b64decode(header)) for name, header in row["headers64"]])


class BatchHandler:
    def __init__(self, *, matcher: Matcher, state: StateStore, publish: Publish, prefix: str,
                 counters: PipelineState, hand_over: bool = False, retention: Retention | None = None):
        """`hand_over`: an ingest replica among several; what each batch touched goes to the one
        partnerships worker as a `chain.profiles.stored` event instead of being settled here.
        `retention`: trim what de-duplication keeps (None: keep everything, as a replay does)."""
        self._matcher = matcher
        self._retention = retention
        self._trimmed_at: float | None = None
        self._hand_over = hand_over
        self._state = state
        self._publish = publish
        self._prefix = prefix
        self._counters = counters
        # The matcher is one mutable model: the batches of every agent and the settles take turns.
        self._turn = asyncio.Lock()
        # Marks of the events ingested since the last settle, as persisted by their batch.
        self._unsettled_marks: dict[str, dict[str, Any]] = {}

    @property
    def unsettled(self) -> bool:
        return self._matcher.unsettled

    async def handle(self, batch: Sequence[Incoming]) -> None:
        """Decode, dead-letter what is faulty, and ingest the rest; raises only on faults of the system,
        after forgetting what the failed attempt changed in memory."""
        async with self._turn:
            await self._recovering(self._handle(batch))

    async def settle(self) -> None:
        """Recompute the partnerships touched since the last settle and publish what changed; an
        ingest replica that hands its changes over has nothing to settle."""
        if self._hand_over:
            return
        async with self._turn:
            await self._recovering(self._settle())

    async def publish_pending(self) -> None:
        """Publish what a settle persisted but may not have sent before the process stopped."""
        async with self._turn:
            await self._send_pending()

    async def _recovering(self, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:
            self._unsettled_marks.clear()
            await asyncio.to_thread(self._matcher.recover)
            raise
        await asyncio.to_thread(self._trim_if_due)

    def _trim_if_due(self) -> None:
        """Drop the marks, outbox rows and settles past the retention; never while a settle's records
        wait to be sent (their outbox rows are in `pending`)."""
        now = time.monotonic()
        retention = self._retention
        if retention is None or (self._trimmed_at is not None and now - self._trimmed_at < retention.every_s):
            return
        self._trimmed_at = now
        if self._state.count("pending"):
            return
        for table in RETAINED_TABLES:
            self._state.trim(table, keep=retention.max_rows, written_before=time.time() - retention.max_age_s)

    async def _handle(self, batch: Sequence[Incoming]) -> None:
        now = datetime.now(UTC)
        decoded: list[tuple[Incoming, CloudEvent]] = []
        dead: dict[str, Record] = {}
        failed: list[tuple[Incoming, str, str]] = []
        for record in batch:
            try:
                event = decode(value=record.value, key=record.key, headers=record.headers, now=now)
                expected = EVENT_TYPES[event.type].topic
                if record.topic != f"{self._prefix}{expected}":
                    raise InvalidEvent("WrongTopic", f"{event.type} belongs on {self._prefix}{expected}")
                decoded.append((record, event))
            except InvalidEvent as error:
                failed.append((record, error.error_class, error.message))
        seen = self._state.get_many("seen", [mark(e) for _, e in decoded]) if decoded else {}
        replay = self._outbox_of(seen.values())
        fresh = [(r, e) for r, e in decoded if mark(e) not in seen]
        events, unknown = await asyncio.to_thread(self._apply, fresh)
        failed.extend((r, type(err).__name__, str(err)) for r, err in unknown)
        dead = dict(self._deadletter(*failure) for failure in failed)
        records = {**partnership_records(events, self._prefix), **dead}
        if self._hand_over:
            records.update(self._stored_notice(self._matcher.take_changes()))
        marks = {mark(e): {"outbox": sorted(records)} for _, e in fresh}
        outbox = {key: _outbox_row(record) for key, record in records.items()}
        processed, deadlettered = self._counters.events_processed + len(batch), self._counters.deadlettered + len(dead)
        await asyncio.to_thread(self._matcher.persist, {
            "seen": marks, "outbox": outbox, **self._kept(fresh, failed),
            COUNTERS: {self._counters.writer: {"events_processed": processed, "deadlettered": deadlettered}}})
        self._unsettled_marks.update(marks)
        await self._publish([*records.values(), *self._outbox_records(replay)])
        self._counters.events_processed, self._counters.deadlettered = processed, deadlettered

    def _kept(self, fresh: Sequence[tuple[Incoming, CloudEvent]],
              failed: Sequence[tuple[Incoming, str, str]]) -> dict[str, dict[str, dict[str, Any]]]:
        """The journal rows of the records accepted (fresh, not refused, not an internal hand-over
        notice) and the kept dead letters of the failed ones."""
        refused = {id(record) for record, _, _ in failed}
        accepted = [r for r, e in fresh if id(r) not in refused and e.type != "chain.profiles.stored"]
        return {JOURNAL: journal_rows(accepted, writer=self._counters.writer),
                DEADLETTERS: dict(deadletter_row(r, error_class=c, error_message=m) for r, c, m in failed)}

    async def _settle(self) -> None:
        events = await asyncio.to_thread(self._matcher.settle)
        records = partnership_records(events, self._prefix)
        tables: dict[str, dict[str, dict[str, Any]]] = {
            "outbox": {key: _outbox_row(record) for key, record in records.items()},
            "pending": {key: {} for key in records}}
        if records:
            # The events ingested since the last settle re-send these too when they are delivered again.
            settle_id = str(uuid.uuid4())
            tables["settles"] = {settle_id: {"outbox": sorted(records)}}
            tables["seen"] = {key: {**row, "settle": settle_id} for key, row in self._unsettled_marks.items()}
        await asyncio.to_thread(self._matcher.persist, tables)
        self._unsettled_marks.clear()
        await self._send_pending()

    def _outbox_of(self, marks: Iterable[dict[str, Any]]) -> list[str]:
        """The outbox keys of what these events sent: their batch's records and their settle's."""
        marks = list(marks)
        settles = self._state.get_many("settles", sorted({m["settle"] for m in marks if "settle" in m}))
        keys: set[str] = set()
        for m in marks:
            keys.update(m["outbox"])
            if m.get("settle") in settles:
                keys.update(settles[m["settle"]]["outbox"])
        return sorted(keys)

    async def _send_pending(self) -> None:
        """Everything settled and not yet sent, this settle's and any a failed attempt left behind."""
        keys = sorted(key for key, _ in self._state.items("pending"))
        if keys:
            await self._publish(self._outbox_records(keys))
            self._state.delete("pending", keys)

    def _outbox_records(self, keys: Sequence[str]) -> list[Record]:
        rows = self._state.get_many("outbox", keys) if keys else {}
        return [_from_outbox(rows[key]) for key in keys if key in rows]

    def _apply(self, fresh: Sequence[tuple[Incoming, CloudEvent]]) -> tuple[list[PartnershipEvent], list]:
        """Profile changes as one matcher batch, then decisions and feedback in order."""
        changes = [to_change(e) for _, e in fresh if EVENT_TYPES[e.type].kind is not None]
        if changes:
            self._matcher.ingest(changes)
        events, rejected = [], []
        for record, event in fresh:
            data = event.data
            if event.type == "chain.partnership.decision.submitted":
                decided = self._matcher.decide(data["partnership_id"], decision=data["decision"],
                                               note=data["note"], by=data["by"])
                if decided is None:
                    rejected.append((record, UnknownPartnership(f"no partnership {data['partnership_id']}")))
                else:
                    events.append(decided)
            elif event.type == "chain.profiles.stored":
                self._matcher.touch(sectors=data["sectors"], projects=data["projects"], deleted=data["deleted"])
            elif event.type == "chain.entity.feedback.submitted":
                if not self._matcher.not_interested(data["entity_id"], data["other_id"]):
                    rejected.append((record, UnknownEntity(f"no entity {data['entity_id']} or {data['other_id']}")))
        return events, rejected

    def _stored_notice(self, changes: dict[str, list[str]]) -> dict[str, Record]:
        if not any(changes.values()):
            return {}
        batch = str(uuid.uuid4())
        notice = new_event("chain.profiles.stored", {"id": batch, **changes}, id=batch, source=SOURCE)
        record = to_record(notice, topic_prefix=self._prefix, now=notice.time)
        return {f"{record[0]}|{notice.id}": record}

    def _deadletter(self, record: Incoming, error_class: str, message: str) -> tuple[str, Record]:
        """The dead letter, keyed for the outbox by where the record came from."""
        headers = deadletter_headers(original=record.headers, error_class=error_class, error_message=message,
                                     topic=record.topic, partition=record.partition, offset=record.offset)
        key = f"deadletter|{record.topic}|{record.partition}|{record.offset}"
        return key, (f"{self._prefix}deadletter.v1", record.key, record.value or b"", headers)
