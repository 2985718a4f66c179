"""The partnership book: every partnership ever proposed, its revision, status and decisions, and the
events that tell subscribers what changed (CONTRACT section 2).

Pure: it takes the current ranked triads and returns events as plain data. Records are replaced, never
changed in place, so they are shared without copies. Hysteresis: a triad is
recommended once it ranks in the top VISIBLE of its list and withdrawn only when it falls out of the
top RETAINED, so a small score change does not make it flap.
"""

from __future__ import annotations

import bisect
import itertools
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from matcher.lexical import terms
from matcher.model import Profile
from matcher.triads import Triad

VISIBLE = 10
RETAINED = 15
SCORE_STEP = 0.01
MATERIAL_TEXT_OVERLAP = 0.7
ACTIVE = ("proposed", "approved")
MEMBERS = ("chip", "algorithm", "application")
EVENT_NAMESPACE = uuid.UUID("3f6c1c2e-5d0b-4c8e-9a57-0c3a1f1d8b42")


@dataclass(frozen=True)
class PartnershipEvent:
    """`kind` is recommended, updated, withdrawn or decided; `data` is what the CloudEvent carries."""

    kind: str
    partnership_id: str
    revision: int
    data: dict[str, Any]
    at: str = ""

    @property
    def event_id(self) -> str:
        """A function of (partnership id, revision): an event sent again is the same event."""
        return str(uuid.uuid5(EVENT_NAMESPACE, f"{self.partnership_id}:{self.revision}"))


def member_record(profile: Profile) -> dict[str, Any]:
    """What the book keeps of a member: its summary, its policy (for redaction) and what makes a
    change material (roles, sectors, the words of its text)."""
    return {"id": profile.id, "name": profile.name, "name_zh": profile.data.get("name_zh"),
            "roles": list(profile.roles), "sectors": list(profile.sectors), "region": profile.region,
            "kind": profile.kind, "data_policy": profile.data_policy, "words": sorted(terms(profile.text()))}


def public_data(record: Mapping[str, Any]) -> dict[str, Any]:
    """The Partnership as events and the API show it (CONTRACT section 4), before any redaction.

    Members keep their `data_policy`, so a subscriber edge reading the full topic can redact each
    event for its audience without asking the store; the API's EntitySummary leaves it out."""
    data = {key: value for key, value in record.items() if key not in ("rank", "rejected_members")}
    for role in MEMBERS:
        data[role] = shown(record[role])
    return data


def shown(member: Mapping[str, Any]) -> dict[str, Any]:
    """A member as the edges get it: its summary and policy, without the words it is matched by."""
    return {k: v for k, v in member.items() if k != "words"}


def shown_differently(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether a member changed in what any edge shows or redacts by (its summary, its `data_policy`),
    or the project in its policy: a member change, so an `updated` event, whatever the rank and score.
    The edges that only read the partnership topic (`chainmatch api`, SSE, webhooks, the public topic)
    know a member's policy from nothing else, so a change kept quiet would leave them redacting by the
    old one."""
    if before.get("project_data_policy") != after.get("project_data_policy"):
        return True
    return any(shown(before[role]) != shown(after[role]) for role in MEMBERS)


def materially_changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Roles or sectors changed, or under MATERIAL_TEXT_OVERLAP of the words are shared any more."""
    if set(before["roles"]) != set(after["roles"]) or set(before["sectors"]) != set(after["sectors"]):
        return True
    old, new = set(before["words"]), set(after["words"])
    return len(old & new) / max(len(old | new), 1) < MATERIAL_TEXT_OVERLAP


class PartnershipBook:
    def __init__(self, records: Iterable[dict[str, Any]] = ()):
        self._records: dict[str, dict[str, Any]] = {r["id"]: r for r in records}
        self._dirty: set[str] = set()
        # Bumped on every change; the best-first order is rebuilt only when it moved on.
        self._version = 0
        self._order: tuple[int, list[tuple[float, str]], list[dict[str, Any]]] = (-1, [], [])

    def get(self, partnership_id: str) -> dict[str, Any] | None:
        return self._records.get(partnership_id)

    def records(self, statuses: Iterable[str] = ACTIVE) -> list[dict[str, Any]]:
        wanted = set(statuses)
        return [r for r in self._records.values() if r["status"] in wanted]

    def best_first(self, *, after: tuple[float, str] | None = None) -> Iterator[dict[str, Any]]:
        """Every record, by score descending then id; with `after` (score, id), only those strictly
        after that key, so a page boundary holds while records move.

        The sorted order is kept until the book changes, so a request only bisects and walks it."""
        version, keys, ordered = self._order
        if version != self._version:
            version = self._version
            # list() copies the values at once under the GIL, so a concurrent write cannot break the sort.
            ordered = sorted(list(self._records.values()), key=lambda r: (-r["score"], r["id"]))
            keys = [(-r["score"], r["id"]) for r in ordered]
            self._order = (version, keys, ordered)
        start = 0 if after is None else bisect.bisect_right(keys, (-after[0], after[1]))
        return itertools.islice(ordered, start, None)

    def take_dirty(self) -> dict[str, dict[str, Any]]:
        """The records changed since the last call, for the caller to persist."""
        dirty = {pid: self._records[pid] for pid in self._dirty}
        self._dirty.clear()
        return dirty

    def reconcile(self, ranked: Mapping[str, tuple[Triad, int]], *, exists: Callable[[str], bool],
                  now: str) -> list[PartnershipEvent]:
        """Compare the current triads (id -> (triad, best rank in its lists)) with the book."""
        events = []
        for pid, (triad, rank) in sorted(ranked.items()):
            record = self._records.get(pid)
            members = {"chip": member_record(triad.chip), "algorithm": member_record(triad.algorithm),
                       "application": member_record(triad.application)}
            fresh = record is None or record["status"] == "withdrawn"
            if fresh and rank >= VISIBLE:
                continue
            if record is not None and record["status"] == "rejected":
                if not any(materially_changed(record["rejected_members"][r], members[r]) for r in members):
                    continue
                fresh = True
            update = {**members, "project_id": triad.project_id, "project_data_policy": triad.project_data_policy,
                      "sectors": list(triad.sectors),
                      "score": triad.score, "reasons": list(triad.reasons),
                      "score_breakdown": dict(triad.score_breakdown), "rank": rank}
            if fresh:
                events.append(self._bump(pid, "recommended", now, {
                    "decisions": [] if record is None else record["decisions"], **update, "status": "proposed"}))
            elif record["rank"] != rank or abs(record["score"] - triad.score) >= SCORE_STEP \
                    or shown_differently(record, update):
                events.append(self._bump(pid, "updated", now, update))
            elif any(record[r] != members[r] for r in members):
                # Only the words a member is matched by changed: keep the record current, quietly.
                self._records[pid] = {**record, **members}
                self._dirty.add(pid)
                self._version += 1
        for pid, record in sorted(self._records.items()):
            if record["status"] not in ACTIVE or pid in ranked:
                continue
            gone = [r for r in MEMBERS if not exists(record[r]["id"])]
            if record["project_id"] and not exists(record["project_id"]):
                gone.append("project")
            if gone:
                events.append(self._withdraw(pid, now, f"{' and '.join(gone)} no longer exists"))
            elif record["status"] == "proposed":
                events.append(self._withdraw(pid, now, f"fell out of the top {RETAINED}"))
        return events

    def absorb(self, event_type: str, data: Mapping[str, Any], *, at: str = "") -> bool:
        """Keep the book as a reader of the full partnership topic that computes no triads itself (the
        API process of a split deployment): an event's data is the whole record at its revision, a
        withdrawal sets the status. The highest revision of each id wins, so a repeated or older
        event changes nothing, and neither does a withdrawal of a partnership the book never held
        (a compacted topic may keep only that). `at`: the event's time, for a withdrawal's
        `updated_at`. Returns whether the book changed."""
        kind = event_type.rsplit(".", 1)[-1]
        pid, revision = data.get("id"), data.get("revision")
        if kind not in ("recommended", "updated", "decided", "withdrawn") or not isinstance(pid, str) \
                or not isinstance(revision, int) or isinstance(revision, bool):
            return False
        record = self._records.get(pid)
        if record is not None and record["revision"] >= revision:
            return False
        if kind == "withdrawn":
            if record is None:
                return False
            record = {**record, "status": "withdrawn", "revision": revision,
                      "updated_at": at or record.get("updated_at")}
        else:
            record = dict(data)
        self._records[pid] = record
        self._dirty.add(pid)
        self._version += 1
        return True

    def decide(self, partnership_id: str, *, decision: str, note: str, by: str,
               at: str) -> PartnershipEvent | None:
        """Apply a staff decision; None when there is no such partnership."""
        record = self._records.get(partnership_id)
        if record is None:
            return None
        change: dict[str, Any] = {
            "status": decision, "decisions": [*record["decisions"],
                                              {"decision": decision, "note": note, "by": by, "at": at}]}
        if decision == "rejected":
            change["rejected_members"] = {r: record[r] for r in MEMBERS}
        return self._bump(partnership_id, "decided", at, change)

    def _bump(self, pid: str, kind: str, now: str, change: Mapping[str, Any]) -> PartnershipEvent:
        record = self._records.get(pid, {"id": pid, "revision": 0, "decisions": [], "status": "proposed"})
        record = {**record, **change, "revision": record["revision"] + 1, "updated_at": now}
        self._records[pid] = record
        self._dirty.add(pid)
        self._version += 1
        return PartnershipEvent(kind, pid, record["revision"], {**public_data(record), "revision": record["revision"]},
                                now)

    def _withdraw(self, pid: str, now: str, reason: str) -> PartnershipEvent:
        event = self._bump(pid, "withdrawn", now, {"status": "withdrawn"})
        return PartnershipEvent("withdrawn", pid, event.revision, {"id": pid, "revision": event.revision,
                                                                   "reason": reason}, now)
