"""Webhook subscriptions and their deliveries, durable in the subscribers' SQLite file."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from api.keyring import secret_hash
from subscribers.backoff import FAILURES_TO_DISABLE
from subscribers.database import Database
from subscribers.events import EventFilter
from subscribers.signing import new_secret

LEASE_S = 60.0  # longer than an attempt's timeout: a claimed delivery is not claimed again meanwhile


def key_owner(key: str) -> str:
    """What a subscription keeps of the configured key that made it: its hash, never the key (a runtime
    key's subscriptions keep its id, api.keyring.FoundKey)."""
    return secret_hash(key)


@dataclass(frozen=True)
class Subscription:
    id: str
    owner: str
    url: str
    filter: EventFilter
    secret: str
    status: str
    disabled_reason: str | None
    failures_in_row: int
    created_at: str


@dataclass(frozen=True)
class Delivery:
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    body: bytes
    status: str
    attempts: int
    next_at: float
    last_status: int | None
    last_error: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Outcome:
    """One attempt's result. `retry_in` None with a failure means the schedule is spent."""

    delivered: bool
    status_code: int | None = None
    error: str | None = None
    gone: bool = False
    retry_in: float | None = None


def _subscription(row: sqlite3.Row) -> Subscription:
    return Subscription(id=row["id"], owner=row["owner"], url=row["url"],
                        filter=EventFilter(sectors=tuple(json.loads(row["sectors"])),
                                           types=tuple(json.loads(row["types"]))),
                        secret=row["secret"], status=row["status"], disabled_reason=row["disabled_reason"],
                        failures_in_row=row["failures_in_row"], created_at=row["created_at"])


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(**{name: row[name] for name in Delivery.__dataclass_fields__})


def _now_text() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class Registry:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time):
        self._db = db
        self._clock = clock

    def create(self, *, owner: str, url: str, filter: EventFilter) -> Subscription:
        row = (f"sub_{uuid.uuid4().hex}", owner, url, json.dumps(filter.sectors), json.dumps(filter.types),
               new_secret(), "active", None, 0, _now_text())
        with self._db.transaction() as db:
            db.execute("INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        return self.get(row[0])

    def get(self, subscription_id: str) -> Subscription | None:
        rows = self._db.rows("SELECT * FROM subscriptions WHERE id = ?", (subscription_id,))
        return _subscription(rows[0]) if rows else None

    def subscriptions(self, *, owner: str | None = None, active_only: bool = False) -> list[Subscription]:
        where, params = ["1"], []
        if owner is not None:
            where.append("owner = ?")
            params.append(owner)
        if active_only:
            where.append("status = 'active'")
        rows = self._db.rows(f"SELECT * FROM subscriptions WHERE {' AND '.join(where)} ORDER BY created_at, id",
                             tuple(params))
        return [_subscription(row) for row in rows]

    def delete(self, subscription_id: str) -> None:
        with self._db.transaction() as db:
            db.execute("DELETE FROM deliveries WHERE subscription_id = ?", (subscription_id,))
            db.execute("DELETE FROM subscriptions WHERE id = ?", (subscription_id,))

    def disable_orphans(self, live_owners: Collection[str]) -> int:
        """Disable the subscriptions whose key is no longer configured: their deliveries stop."""
        marks = ",".join("?" * len(live_owners))
        with self._db.transaction() as db:
            return db.execute(f"UPDATE subscriptions SET status = 'disabled', disabled_reason = ? "
                              f"WHERE status = 'active' AND owner NOT IN ({marks})",
                              ("the API key that created it was removed", *live_owners)).rowcount

    def enqueue(self, rows: Sequence[tuple[str, str, str, bytes]]) -> int:
        """(subscription id, event id, event type, body) each; an event already queued for a
        subscription is not queued again."""
        now, stamp = self._clock(), _now_text()
        with self._db.transaction() as db:
            return sum(db.execute(
                "INSERT OR IGNORE INTO deliveries (id, subscription_id, event_id, event_type, body, status, next_at, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                (f"dlv_{uuid.uuid4().hex}", sub, event_id, event_type, body, now, stamp, stamp)).rowcount
                for sub, event_id, event_type, body in rows)

    def claim_due(self, *, live_owners: Collection[str], busy: Collection[str],
                  limit: int) -> list[tuple[Delivery, Subscription]]:
        """The earliest due delivery of each active subscription not `busy`, at most `limit`, leased to
        this caller."""
        now = self._clock()
        with self._db.transaction() as db:
            rows = db.execute(
                "SELECT d.* FROM subscriptions s JOIN deliveries d ON d.id = ("
                "  SELECT id FROM deliveries WHERE subscription_id = s.id AND status = 'pending'"
                "  AND next_at <= ? AND lease_until <= ? ORDER BY next_at, rowid LIMIT 1) "
                "WHERE s.status = 'active'", (now, now)).fetchall()
            subs = {s.id: s for s in map(_subscription, db.execute("SELECT * FROM subscriptions "
                                                                   "WHERE status = 'active'").fetchall())}
            claimed = [(_delivery(row), subs[row["subscription_id"]]) for row in rows
                       if row["subscription_id"] not in busy and subs[row["subscription_id"]].owner in live_owners
                       ][:limit]
            db.executemany("UPDATE deliveries SET lease_until = ? WHERE id = ?",
                           [(now + LEASE_S, delivery.id) for delivery, _ in claimed])
        return claimed

    def finish(self, delivery: Delivery, outcome: Outcome) -> None:
        """Record an attempt; a 410 or the tenth failure in a row disables the subscription."""
        now = self._clock()
        if outcome.delivered:
            status, next_at = "delivered", now
        elif outcome.retry_in is not None and not outcome.gone:
            status, next_at = "pending", now + outcome.retry_in
        else:
            status, next_at = "failed", now
        with self._db.transaction() as db:
            db.execute("UPDATE deliveries SET status = ?, attempts = attempts + 1, next_at = ?, lease_until = 0, "
                       "last_status = ?, last_error = ?, updated_at = ? WHERE id = ?",
                       (status, next_at, outcome.status_code, outcome.error, _now_text(), delivery.id))
            if outcome.delivered:
                db.execute("UPDATE subscriptions SET failures_in_row = 0 WHERE id = ?", (delivery.subscription_id,))
                return
            db.execute("UPDATE subscriptions SET failures_in_row = failures_in_row + 1 WHERE id = ?",
                       (delivery.subscription_id,))
            reason = "the receiver answered 410 Gone" if outcome.gone else (
                f"{FAILURES_TO_DISABLE} failed attempts in a row")
            db.execute("UPDATE subscriptions SET status = 'disabled', disabled_reason = ? "
                       "WHERE id = ? AND status = 'active' AND (? OR failures_in_row >= ?)",
                       (reason, delivery.subscription_id, outcome.gone, FAILURES_TO_DISABLE))

    def deliveries(self, subscription_id: str, *, limit: int = 100) -> list[Delivery]:
        rows = self._db.rows("SELECT * FROM deliveries WHERE subscription_id = ? ORDER BY rowid DESC LIMIT ?",
                             (subscription_id, limit))
        return [_delivery(row) for row in rows]

    def redeliver(self, subscription_id: str, delivery_id: str) -> Delivery | None:
        """Queue a delivery again at once, whatever became of it (the receiver dedupes by webhook-id)."""
        with self._db.transaction() as db:
            db.execute("UPDATE deliveries SET status = 'pending', next_at = ?, updated_at = ? "
                       "WHERE id = ? AND subscription_id = ?", (self._clock(), _now_text(), delivery_id,
                                                                subscription_id))
            row = db.execute("SELECT * FROM deliveries WHERE id = ? AND subscription_id = ?",
                             (delivery_id, subscription_id)).fetchone()
        return _delivery(row) if row else None
