"""The domain: profiles of companies, labs and projects, and the chain roles they play."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from matcher import chinese, mentions
from matcher.lexical import Document, document

ROLES = ("chip", "algorithm", "application")
RESOURCES = ("compute", "dataset", "testbed", "pilot_site")
KINDS = ("company", "lab", "project")
T = TypeVar("T")


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
    # Confidence of each inferred role and sector, when the profile did not declare them.
    inferred: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: {"roles": {}, "sectors": {}})
    needs_review: bool = False

    @classmethod
    def from_data(cls, kind: str, data: Mapping[str, Any]) -> Profile:
        return cls._build(kind, data, roles=tuple(data.get("roles") or ()), sectors=tuple(data.get("sectors") or ()))

    @classmethod
    def _build(cls, kind: str, data: Mapping[str, Any], *, roles: tuple[str, ...], sectors: tuple[str, ...],
               **inference: Any) -> Profile:
        """One constructor call: reads build a profile per search hit, so no intermediate copy."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        needs = tuple(data.get("needs") or ROLES) if kind == "project" else ()
        return cls(
            id=data["id"],
            kind=kind,
            name=data["name"],
            description=data["description"],
            roles=roles,
            sectors=sectors,
            capabilities=tuple(data.get("capabilities") or ()),
            offers=tuple(data.get("offers") or ()),
            needs=needs,
            region=data.get("region"),
            data_policy=data.get("data_policy") or "open",
            data=dict(data),
            **inference,
        )

    @property
    def declares_roles(self) -> bool:
        return bool(self.data.get("roles"))

    @property
    def declares_sectors(self) -> bool:
        return bool(self.data.get("sectors"))

    @property
    def stage(self) -> str | None:
        return self.data.get("stage") if self.kind == "project" else self.data.get("maturity")

    def with_inference(self, *, roles: Sequence[str], sectors: Sequence[str],
                       inferred: Mapping[str, Mapping[str, float]], needs_review: bool) -> Profile:
        return replace(self, roles=tuple(roles), sectors=tuple(sectors), inferred=inferred,
                       needs_review=needs_review)

    def partner_roles(self) -> tuple[str, ...]:
        """The roles that complete this profile's chain: the ones it lacks, or a project's needs."""
        if self.kind == "project":
            return tuple(r for r in ROLES if r in self.needs)
        return tuple(r for r in ROLES if r not in self.roles)

    def text(self) -> str:
        """What the model reads: declared structured fields first, so truncation only cuts description.

        Inferred labels stay out, so the vector (and every later inference) depends only on what was sent.
        Kept once made: ingest reads it three times (embedding, term counts, inference), and it depends
        only on `data`, which a Profile never changes.
        """
        return self._kept("_text", self._compose_text)

    def document(self) -> Document:
        """Its text's term counts, kept once made like the text: a suggestion reads some 80 candidates'."""
        return self._kept("_document", lambda: document(self.text()))

    def folded_description(self) -> str:
        """The description folded (matcher.chinese), where mentions of other profiles are looked for."""
        return self._kept("_folded", lambda: chinese.fold(self.description))

    def name_forms(self) -> tuple[str, ...]:
        """The forms of its name that count as a mention of it (matcher.mentions)."""
        return self._kept("_name_forms", lambda: mentions.name_forms(self.name, self.data.get("name_zh")))

    def mentions(self, other: Profile) -> bool:
        """Whether this profile's description names `other`."""
        return other.id != self.id and mentions.names(other.name_forms(), self.folded_description())

    def _kept(self, name: str, make: Callable[[], T]) -> T:
        """`make()`, made once and kept on this frozen profile under `name`."""
        cached = self.__dict__.get(name)
        if cached is None:
            cached = make()
            object.__setattr__(self, name, cached)
        return cached

    def _compose_text(self) -> str:
        parts = [
            f"{label}: {', '.join(values)}."
            for label, values in (
                ("Roles", self.data.get("roles") or ()),
                ("Sectors", self.data.get("sectors") or ()),
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
            "inferred": {group: dict(values) for group, values in self.inferred.items()},
            "needs_review": self.needs_review,
            "declared": [group for group, declared in (("roles", self.declares_roles),
                                                       ("sectors", self.declares_sectors)) if declared],
            # What staff should confirm, as keywords so the engine can filter on it.
            "review": [group for group in ("roles", "sectors")
                       if self.inferred.get(group) and not (self.roles if group == "roles" else self.sectors)],
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Profile:
        """The profile as stored: roles and sectors as declared or inferred."""
        return cls._build(payload["kind"], payload["profile"], roles=tuple(payload["roles"]),
                          sectors=tuple(payload["sectors"]),
                          inferred=payload.get("inferred") or {"roles": {}, "sectors": {}},
                          needs_review=bool(payload.get("needs_review")))


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
