"""API keys: the configured ones (CHAINMATCH_API_KEYS) and the ones staff make at run time (CONTRACT
section 5), looked up by the SHA-256 of the presented secret.

A runtime key is a `KeyRecord`; every change to it (issued, rotated, revoked) is a new revision of the
whole record, which travels as a `chain.apikey.changed` event on a compacted topic that every API
process reads (subscribers.keys). A `Keyring` keeps the highest revision of each id, and a revoked
key never comes back, whatever order the records arrive in. Only the hash is kept anywhere; the
secret is shown once, by the route that makes it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from chainmatch.settings import ApiKey
from schemas import parse_datetime
from schemas.cloudevents import CloudEvent, format_time, new_event

SECRET_PREFIX = "cmk_"
SOURCE = "chainmatch/api"


def secret_hash(secret: str) -> str:
    """What is kept of a secret: its SHA-256, hex. A runtime secret carries 256 random bits, so the
    hash needs no salt or stretching to resist guessing."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    return f"key_{secrets.token_hex(8)}"


@dataclass(frozen=True)
class KeyRecord:
    id: str
    hash: str
    role: str
    name: str | None
    entity_id: str | None
    region: str | None
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None
    revision: int = 1

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> KeyRecord:
        return cls(**{field: data.get(field) for field in cls.__dataclass_fields__})

    def data(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def spec(self) -> ApiKey:
        return ApiKey(role=self.role, name=self.name, entity_id=self.entity_id, region=self.region)

    def live(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < parse_datetime(self.expires_at))

    def rotated(self, secret_hash: str) -> KeyRecord:
        return replace(self, hash=secret_hash, revision=self.revision + 1)

    def revoked(self, at: str) -> KeyRecord:
        return replace(self, revoked_at=at, revision=self.revision + 1)


def _order(record: KeyRecord) -> tuple[int, bool, str]:
    """Which of two records of one key wins: the higher revision; between two made at once in two
    processes, a revocation, else the higher hash, so that every process keeps the same one."""
    return record.revision, record.revoked_at is not None, record.hash


@dataclass(frozen=True)
class FoundKey:
    """The key behind a request: `id` as GET /v1/keys lists it, `owner` what subscriptions and rate
    limits are kept by (a configured key's hash, as subscriptions always were; a runtime key's id, so
    a rotation keeps them)."""

    id: str
    owner: str
    spec: ApiKey


def configured_keys(keys: Mapping[str, ApiKey]) -> dict[str, FoundKey]:
    """The configured keys by hash. Their ids (`env_1`, ...) follow the order of CHAINMATCH_API_KEYS; a
    hash of a configured key is never shown, as such a key may be short enough to guess from it."""
    return {secret_hash(key): FoundKey(id=f"env_{n}", owner=secret_hash(key), spec=spec)
            for n, (key, spec) in enumerate(keys.items(), start=1)}


class Keyring:
    """The runtime keys this process knows and when each key was last used."""

    def __init__(self, records: Iterable[KeyRecord] = (), last_used: Mapping[str, float] | None = None, *,
                 current: bool = True):
        """`current` False: records from a snapshot, which may miss a revocation made since; `find`
        answers only once `caught_up` says the keys topic has been read."""
        self.current = current
        self._records: dict[str, KeyRecord] = {}
        self._by_hash: dict[str, str] = {}
        self._last_used: dict[str, float] = dict(last_used or {})
        self._untold: dict[str, float] = {}
        for record in records:
            self.apply(record)

    def apply(self, record: KeyRecord) -> bool:
        """Keep `record` if it wins over what is known of its id (`_order`) and the key is not revoked;
        whether it was kept."""
        known = self._records.get(record.id)
        if known is not None and (known.revoked_at is not None or _order(known) >= _order(record)):
            return False
        if known is not None:
            self._by_hash.pop(known.hash, None)
        self._records[record.id] = record
        if record.revoked_at is None:
            self._by_hash[record.hash] = record.id
        return True

    def caught_up(self) -> None:
        """Everything that was on the keys topic when this process started is applied."""
        self.current = True

    def get(self, key_id: str) -> KeyRecord | None:
        return self._records.get(key_id)

    def records(self) -> list[KeyRecord]:
        return sorted(self._records.values(), key=lambda r: (r.created_at, r.id))

    def find(self, hashed: str, now: datetime) -> FoundKey | None:
        """The live runtime key with this hash."""
        key_id = self._by_hash.get(hashed)
        record = self._records.get(key_id) if key_id is not None else None
        if record is None or not record.live(now):
            return None
        return FoundKey(id=record.id, owner=record.id, spec=record.spec)

    def owners(self, now: datetime) -> dict[str, ApiKey]:
        """owner -> spec of every live runtime key."""
        return {r.id: r.spec for r in self._records.values() if r.live(now)}

    def last_used(self, key_id: str) -> float | None:
        """Epoch seconds of the latest use seen here or told by another process."""
        return self._last_used.get(key_id)

    def used(self, key_id: str, at: float) -> None:
        """A use seen here: a dict write, cheap enough for every request."""
        if at > self._last_used.get(key_id, 0.0):
            self._last_used[key_id] = at
            self._untold[key_id] = at

    def told(self, key_id: str, at: float) -> None:
        """A use another process saw."""
        if at > self._last_used.get(key_id, 0.0):
            self._last_used[key_id] = at

    def take_untold(self) -> dict[str, float]:
        """The uses seen here since the last call, for the other processes."""
        untold, self._untold = self._untold, {}
        return untold

    def snapshot(self) -> dict[str, Any]:
        return {"records": [r.data() for r in self.records()], "last_used": dict(self._last_used)}

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Any]) -> Keyring:
        return cls((KeyRecord.from_data(d) for d in snapshot.get("records", ())), snapshot.get("last_used"),
                   current=False)


def changed_event(record: KeyRecord) -> CloudEvent:
    """The record at its revision, for every API process: the same revision is the same event."""
    return new_event("chain.apikey.changed", record.data(), id=f"{record.id}:{record.revision}", source=SOURCE)


def used_event(key_id: str, at: float) -> CloudEvent:
    return new_event("chain.apikey.used", {"id": key_id, "at": format_time(datetime.fromtimestamp(at, UTC))},
                     id=f"{key_id}:{at}", source=SOURCE)
