from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import MatcherDep, StaffOrPlatform
from api.models import ChainPublic, chain_public
from api.problems import problem_responses
from matcher import policy

router = APIRouter(tags=["chain"])
REGION = r"^[A-Z]{2}(-[A-Z0-9]{1,3}){0,2}$"


@router.get("/v1/chain", response_model=ChainPublic, responses=problem_responses(401, 403, 422, 503))
def get_chain(
    caller: StaffOrPlatform, matcher: MatcherDep,
    sector: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    region: Annotated[str | None, Query(pattern=REGION, description="an exact region code, e.g. HK")] = None,
) -> ChainPublic:
    """The chain-gap view (matcher.chain.chain_gaps): counts of entities by sector and role, of resource
    offers and of projects, then the projects without a valid partnership and the entities without a
    complementary partner. `region` matches one code exactly. A key that may not see every profile
    has the view computed over the profiles it may see: the others are neither counted nor listed,
    nor do they count as anyone's partner."""
    policies = None if caller.sees_everything else policy.visible_policies(viewer_region=caller.region)
    return chain_public(matcher.chain(sector=sector, region=region, data_policies=policies))
