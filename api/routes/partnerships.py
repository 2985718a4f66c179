from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import AnyRole, MatcherDep
from api.models import PartnershipPublic, PartnershipsPublic, partnership_public
from api.problems import ProblemException, problem_responses

router = APIRouter(tags=["partnerships"])


@router.get("/v1/partnerships", response_model=PartnershipsPublic,
            responses=problem_responses(401, 403, 422, 503))
def list_partnerships(
    caller: AnyRole, matcher: MatcherDep,
    sector: str | None = None, project_id: str | None = None, entity_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PartnershipsPublic:
    if caller.role == "company":
        entity_id = caller.entity_id
    triads = matcher.partnerships(sector=sector, project_id=project_id, entity_id=entity_id)
    return PartnershipsPublic(items=[partnership_public(t, caller) for t in triads[:limit]], next_cursor=None)


@router.get("/v1/partnerships/{partnership_id}", response_model=PartnershipPublic,
            responses=problem_responses(401, 403, 404, 503))
def get_partnership(partnership_id: str, caller: AnyRole, matcher: MatcherDep) -> PartnershipPublic:
    triad = matcher.partnership(partnership_id)
    if triad is None:
        raise ProblemException(404, f"no partnership {partnership_id!r}")
    if caller.role == "company" and caller.entity_id not in (*triad.member_ids(), triad.project_id):
        raise ProblemException(403, "a company key may read only partnerships it is a member of")
    return partnership_public(triad, caller)
