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
    records = matcher.partnerships(sector=sector, project_id=project_id, entity_id=entity_id)
    return PartnershipsPublic(items=[partnership_public(r, caller) for r in records[:limit]], next_cursor=None)


@router.get("/v1/partnerships/{partnership_id}", response_model=PartnershipPublic,
            responses=problem_responses(401, 403, 404, 503))
def get_partnership(partnership_id: str, caller: AnyRole, matcher: MatcherDep) -> PartnershipPublic:
    record = matcher.partnership(partnership_id)
    if record is None:
        raise ProblemException(404, f"no partnership {partnership_id!r}")
    members = (record["chip"]["id"], record["algorithm"]["id"], record["application"]["id"], record["project_id"])
    if caller.role == "company" and caller.entity_id not in members:
        raise ProblemException(403, "a company key may read only partnerships it is a member of")
    return partnership_public(record, caller)
