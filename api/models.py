"""Response shapes, named by what they are."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from api.auth import Caller
from matcher.book import public_data
from matcher.model import Profile, Suggestion
from matcher.policy import redact_partnership


class EntitySummary(BaseModel):
    id: str
    name: str
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


def entity_summary(profile: Profile) -> EntitySummary:
    return EntitySummary(id=profile.id, name=profile.name, roles=list(profile.roles),
                         sectors=list(profile.sectors), region=profile.region, kind=profile.kind)


def entity_public(profile: Profile) -> EntityPublic:
    return EntityPublic(**{**profile.data, "kind": profile.kind, "roles": list(profile.roles),
                           "sectors": list(profile.sectors), "data_policy": profile.data_policy,
                           "inferred": {group: dict(values) for group, values in profile.inferred.items()},
                           "needs_review": profile.needs_review})


def suggestion_public(suggestion: Suggestion) -> SuggestionPublic:
    return SuggestionPublic(entity=entity_summary(suggestion.profile), score=suggestion.score,
                            reasons=list(suggestion.reasons), score_breakdown=dict(suggestion.score_breakdown))


def partnership_public(record: dict[str, Any], caller: Caller) -> PartnershipPublic:
    """Members the caller may not see are redacted; triad reasons never name a member."""
    policies = {role: record[role]["data_policy"] for role in ("chip", "algorithm", "application")}
    return PartnershipPublic(**redact_partnership(public_data(record), policies, visible=caller.may_see_member))
