from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.deps import AnyRole, MatcherDep, SettingsDep, StaffOnly
from api.models import PartnershipPublic, PartnershipsPublic, partnership_public
from api.problems import ProblemException, problem_responses
from schemas.cloudevents import new_event, to_record

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


class DecisionCreate(BaseModel):
    decision: Literal["approved", "rejected"]
    note: str = Field(default="", max_length=2000)


class DecisionAccepted(BaseModel):
    accepted: int
    event_id: str


@router.post("/v1/partnerships/{partnership_id}/decision", status_code=202, response_model=DecisionAccepted,
             responses=problem_responses(401, 403, 404, 422, 503))
async def decide(partnership_id: str, body: DecisionCreate, caller: StaffOnly, matcher: MatcherDep,
                 settings: SettingsDep, request: Request) -> DecisionAccepted:
    """Goes through chain.curation.v1 and comes back as chain.partnership.decided."""
    if matcher.partnership(partnership_id) is None:
        raise ProblemException(404, f"no partnership {partnership_id!r}")
    now = datetime.now(UTC)
    event = new_event("chain.partnership.decision.submitted",
                      {"partnership_id": partnership_id, "decision": body.decision, "note": body.note,
                       "by": caller.name or "staff"}, id=str(uuid.uuid4()), source="chainmatch/api", time=now)
    await request.app.state.backend.publish([to_record(event, topic_prefix=settings.topic_prefix, now=now)])
    return DecisionAccepted(accepted=1, event_id=event.id)
