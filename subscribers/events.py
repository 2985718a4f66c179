"""Partnership events as subscribers see them: redacted for one key, matched against a filter."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from matcher.policy import MEMBER_ROLES, redact_partnership

TYPE_PREFIX = "chain.partnership."
EVENT_TYPES = tuple(f"{TYPE_PREFIX}{kind}" for kind in ("recommended", "updated", "withdrawn", "decided"))


class Viewer(Protocol):
    """The key an event is shown to (api.auth.Caller is one)."""

    def may_see_member(self, member_id: str, data_policy: str) -> bool: ...


def redact_event(event: dict[str, Any], viewer: Viewer) -> dict[str, Any]:
    """The CloudEvent with its Partnership redacted as the API redacts it for the same key.

    Withdrawn events carry only {id, revision, reason} and pass unchanged."""
    data = event.get("data")
    if not isinstance(data, dict) or not any(isinstance(data.get(role), dict) for role in MEMBER_ROLES):
        return event
    return {**event, "data": redact_partnership(data, visible=viewer.may_see_member)}


def full_type(name: str) -> str:
    """`recommended` or `chain.partnership.recommended` -> the CloudEvent type."""
    return name if name.startswith(TYPE_PREFIX) else TYPE_PREFIX + name


def unknown_types(names: Iterable[str]) -> list[str]:
    return [name for name in names if full_type(name) not in EVENT_TYPES]


def event_sectors(event: dict[str, Any]) -> list[str] | None:
    """The sectors the event's Partnership is in; None when the event does not say (withdrawn)."""
    data = event.get("data")
    sectors = data.get("sectors") if isinstance(data, dict) else None
    return [s for s in sectors if isinstance(s, str)] if isinstance(sectors, list) else None


@dataclass(frozen=True)
class EventFilter:
    """Empty means all. An event whose sectors are unknown matches every sector filter: a withdrawal
    of something never seen is harmless, a withdrawal missed is not."""

    sectors: tuple[str, ...] = ()
    types: tuple[str, ...] = ()

    @classmethod
    def of(cls, *, sectors: Sequence[str] = (), types: Sequence[str] = ()) -> EventFilter:
        return cls(sectors=tuple(dict.fromkeys(sectors)), types=tuple(dict.fromkeys(full_type(t) for t in types)))

    def matches(self, event_type: str, sectors: Sequence[str] | None) -> bool:
        if self.types and event_type not in self.types:
            return False
        return not self.sectors or sectors is None or bool(set(self.sectors) & set(sectors))
