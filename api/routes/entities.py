from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.auth import Caller
from api.deps import MatcherDep, StaffOrCompany
from api.models import EntityPublic, SuggestionsPublic, entity_public, suggestion_public
from api.problems import ProblemException, problem_responses
from matcher.model import Profile
from matcher.service import Matcher

router = APIRouter(tags=["entities"])
Role = Literal["chip", "algorithm", "application"]
Resource = Literal["compute", "dataset", "testbed", "pilot_site"]


def own_profile(caller: Caller, matcher: Matcher, entity_id: str) -> Profile:
    """The profile, if this key may act for it: staff for any visible one, a company for its own."""
    profile = matcher.get(entity_id)
    owns = profile is not None and caller.entity_id in (profile.id, profile.data.get("owner_id"))
    if caller.role == "company" and not owns:
        raise ProblemException(403, "a company key may read only its own entity and projects")
    if profile is None or not (owns or caller.may_see(profile)):
        raise ProblemException(404, f"no entity {entity_id!r}")
    return profile


@router.get("/v1/entities/{entity_id}", response_model=EntityPublic,
            responses=problem_responses(401, 403, 404, 503))
def get_entity(entity_id: str, caller: StaffOrCompany, matcher: MatcherDep) -> EntityPublic:
    return entity_public(own_profile(caller, matcher, entity_id))


@router.get("/v1/entities/{entity_id}/suggestions", response_model=SuggestionsPublic,
            responses=problem_responses(401, 403, 404, 422, 503))
def get_suggestions(
    entity_id: str, caller: StaffOrCompany, matcher: MatcherDep,
    role: Role | None = None,
    offers: Annotated[list[Resource] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SuggestionsPublic:
    me = own_profile(caller, matcher, entity_id)
    suggestions = matcher.suggest(me.id, roles=[role] if role else None, offers=offers,
                                  visible=caller.may_see, limit=limit) or []
    return SuggestionsPublic(items=[suggestion_public(s) for s in suggestions])
