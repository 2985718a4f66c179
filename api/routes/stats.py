from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import BackendDep, MatcherDep, StaffOnly
from api.problems import problem_responses

router = APIRouter(tags=["stats"])


class StatsPublic(BaseModel):
    entities: int
    partnerships: int
    events_processed: int
    deadlettered: int


@router.get("/v1/stats", response_model=StatsPublic, responses=problem_responses(401, 403, 503))
async def stats(caller: StaffOnly, matcher: MatcherDep, backend: BackendDep) -> StatsPublic:
    return StatsPublic(entities=matcher.count(), partnerships=len(matcher.partnerships()), **backend.stats())
