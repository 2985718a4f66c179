"""The domain: profiles of companies, labs and projects, and the chain roles they play."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ROLES = ("chip", "algorithm", "application")
RESOURCES = ("compute", "dataset", "testbed", "pilot_site")
KINDS = ("company", "lab", "project")


@dataclass(frozen=True)
class Profile:
    """A company, lab or project as published; `data` keeps every field, known or not."""

    id: str
    kind: str
    name: str
    description: str
    roles: tuple[str, ...]
    sectors: tuple[str, ...]
    capabilities: tuple[str, ...]
    offers: tuple[str, ...]
    needs: tuple[str, ...]
    region: str | None
    data_policy: str
    data: Mapping[str, Any]

    @classmethod
    def from_data(cls, kind: str, data: Mapping[str, Any]) -> Profile:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        needs = tuple(data.get("needs") or ROLES) if kind == "project" else ()
        return cls(
            id=data["id"],
            kind=kind,
            name=data["name"],
            description=data["description"],
            roles=tuple(data.get("roles") or ()),
            sectors=tuple(data.get("sectors") or ()),
            capabilities=tuple(data.get("capabilities") or ()),
            offers=tuple(data.get("offers") or ()),
            needs=needs,
            region=data.get("region"),
            data_policy=data.get("data_policy") or "open",
            data=dict(data),
        )

    def partner_roles(self) -> tuple[str, ...]:
        """The roles that complete this profile's chain: the ones it lacks, or a project's needs."""
        if self.kind == "project":
            return tuple(r for r in ROLES if r in self.needs)
        return tuple(r for r in ROLES if r not in self.roles)

    def text(self) -> str:
        """What the model reads: structured fields first, so truncation only ever cuts description."""
        parts = [
            f"{label}: {', '.join(values)}."
            for label, values in (
                ("Roles", self.roles),
                ("Sectors", self.sectors),
                ("Capabilities", self.capabilities),
                ("Offers", self.offers),
                ("Needs", self.needs),
            )
            if values
        ]
        parts.append(f"{self.name}. {self.description}")
        return " ".join(parts)

    def payload(self) -> dict[str, Any]:
        """What the vector store keeps: the indexed fields plus the whole profile."""
        return {
            "kind": self.kind,
            "roles": list(self.roles),
            "sectors": list(self.sectors),
            "offers": list(self.offers),
            "region": self.region,
            "data_policy": self.data_policy,
            "profile": dict(self.data),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Profile:
        return cls.from_data(payload["kind"], payload["profile"])


@dataclass(frozen=True)
class Upsert:
    profile: Profile


@dataclass(frozen=True)
class Delete:
    id: str


Change = Upsert | Delete


@dataclass(frozen=True)
class Suggestion:
    profile: Profile
    score: float
    reasons: tuple[str, ...]
    score_breakdown: Mapping[str, float]
