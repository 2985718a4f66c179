"""Response shapes, named by what they are."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Response
from pydantic import BaseModel, ConfigDict
from pydantic_core import to_json

from api.auth import Caller
from matcher.book import public_data
from matcher.chain import ChainGaps
from matcher.model import Profile, Suggestion
from matcher.policy import redact_partnership
from matcher.service import Matcher

ENTITY_ID = r"^[a-z0-9][a-z0-9._:-]{0,63}$"  # schemas/defs.json#/$defs/entity_id, for request bodies


class EntitySummary(BaseModel):
    id: str
    name: str
    name_zh: str | None = None
    roles: list[str]
    sectors: list[str]
    region: str | None
    kind: str


class EntitiesPublic(BaseModel):
    items: list[EntitySummary]
    next_cursor: str | None


class RedactedMember(BaseModel):
    redacted: bool = True
    roles: list[str]


class EntityPublic(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    kind: str
    name: str
    description: str
    roles: list[str]
    sectors: list[str]
    data_policy: str
    inferred: dict[str, dict[str, float]]
    needs_review: bool


class SuggestionPublic(BaseModel):
    entity: EntitySummary
    score: float
    reasons: list[str]
    score_breakdown: dict[str, float]


class SuggestionsPublic(BaseModel):
    items: list[SuggestionPublic]


class PartnershipPublic(BaseModel):
    id: str
    chip: EntitySummary | RedactedMember
    algorithm: EntitySummary | RedactedMember
    application: EntitySummary | RedactedMember
    project_id: str | None
    sectors: list[str]
    score: float
    reasons: list[str]
    score_breakdown: dict[str, float]
    status: str
    decisions: list[dict[str, Any]]
    updated_at: str | None


class PartnershipsPublic(BaseModel):
    items: list[PartnershipPublic]
    next_cursor: str | None


class ChainPublic(BaseModel):
    """The chain-gap view (matcher.chain.chain_gaps): counts per sector, then the missing links."""

    roles: dict[str, dict[str, int]]
    offers: dict[str, dict[str, int]]
    projects: dict[str, int]
    projects_without_partnership: list[EntitySummary]
    entities_without_partner: list[EntitySummary]


class EventAccepted(BaseModel):
    """A write taken as an event: published, and applied by the workers shortly after."""

    accepted: int
    event_id: str


def entity_summary(profile: Profile) -> EntitySummary:
    return EntitySummary.model_validate(_summary_data(profile))


def _summary_data(profile: Profile) -> dict[str, Any]:
    return {"id": profile.id, "name": profile.name, "name_zh": profile.data.get("name_zh"), "roles": profile.roles,
            "sectors": profile.sectors, "region": profile.region, "kind": profile.kind}


def entity_public(profile: Profile) -> EntityPublic:
    return EntityPublic(**{**profile.data, "kind": profile.kind, "roles": list(profile.roles),
                           "sectors": list(profile.sectors), "data_policy": profile.data_policy,
                           "inferred": {group: dict(values) for group, values in profile.inferred.items()},
                           "needs_review": profile.needs_review})


def suggestions_response(suggestions: Sequence[Suggestion]) -> Response:
    """A SuggestionsPublic body serialized straight from plain data: building and validating twenty models
    cost more than the rest of the response. The route still declares SuggestionsPublic, for the OpenAPI
    and for the tests that hold every body to it."""
    return Response(to_json({"items": [
        {"entity": _summary_data(s.profile), "score": s.score, "reasons": s.reasons,
         "score_breakdown": s.score_breakdown}
        for s in suggestions]}), media_type="application/json")


def partnership_public(record: dict[str, Any], caller: Caller, *, owned_projects: frozenset[str] = frozenset()
                       ) -> PartnershipPublic:
    """Members the caller may not see are redacted, and the project id unless the caller may see the
    project or owns it (`owned_projects`); triad reasons never name a member."""
    own = {caller.entity_id, *owned_projects} - {None}
    visible = lambda profile_id, data_policy: (  # noqa: E731
        profile_id in own or caller.may_see_policy(data_policy))
    return PartnershipPublic(**redact_partnership(public_data(record), visible=visible))


def partnerships_public(records: Sequence[dict[str, Any]], caller: Caller, matcher: Matcher) -> list[PartnershipPublic]:
    """Each record redacted for the caller; for a company key, the projects it owns are read in one call."""
    owned: frozenset[str] = frozenset()
    if caller.entity_id is not None:
        wanted = sorted({r["project_id"] for r in records if r.get("project_id")})
        owned = frozenset(p.id for p in matcher.profiles(wanted) if p.data.get("owner_id") == caller.entity_id)
    return [partnership_public(r, caller, owned_projects=owned) for r in records]


def chain_public(gaps: ChainGaps) -> ChainPublic:
    return ChainPublic(roles=gaps.roles, offers=gaps.offers, projects=gaps.projects,
                       projects_without_partnership=[entity_summary(p) for p in gaps.projects_without_partnership],
                       entities_without_partner=[entity_summary(p) for p in gaps.entities_without_partner])
