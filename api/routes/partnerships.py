from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.auth import Caller
from api.cursors import decode_keyset, encode_keyset
from api.deps import AnyRole, MatcherDep, SettingsDep, StaffOnly
from api.models import EventAccepted, PartnershipPublic, PartnershipsPublic, partnerships_public
from api.problems import ProblemException, problem_responses
from matcher.service import Matcher
from schemas.cloudevents import new_event, to_record

router = APIRouter(tags=["partnerships"])
STATUSES = ("proposed", "approved", "rejected", "withdrawn")


@router.get("/v1/partnerships", response_model=PartnershipsPublic,
            responses=problem_responses(400, 401, 403, 422, 503))
async def list_partnerships(
    caller: AnyRole, matcher: MatcherDep,
    sector: Annotated[str | None, Query(max_length=100)] = None,
    project_id: Annotated[str | None, Query(max_length=64)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str, Query(description="comma-separated: " + ", ".join(STATUSES))] = "proposed,approved",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> PartnershipsPublic:
    """Best first (score descending, then id). The cursor holds the last item's (score, id) and the
    filters: the next page is what ranks strictly after it, so no item shows twice and none that kept
    its place is skipped while scores change. Company keys list their own partnerships: those they
    are a member of or whose project they own."""
    statuses = _statuses(status)
    if caller.role == "company":
        if entity_id not in (None, caller.entity_id):
            raise ProblemException(403, "a company key may list only its own partnerships")
        entity_id = caller.entity_id
    filters = {"sector": sector, "project_id": project_id, "entity_id": entity_id, "status": statuses}
    after = decode_keyset(cursor, kind="partnerships", filters=filters)
    if not all(_may_name(caller, matcher, named) for named in (entity_id, project_id) if named):
        # Filtering by a profile the key may not see would tell which partnerships it is in.
        return PartnershipsPublic(items=[], next_cursor=None)
    entity_ids = {entity_id} | matcher.projects_owned_by(entity_id) if entity_id else None
    records = matcher.partnerships(sector=sector, project_id=project_id, entity_ids=entity_ids, statuses=statuses,
                                   after=after, limit=limit + 1)
    page = records[:limit]
    next_cursor = (encode_keyset(kind="partnerships", filters=filters, last=(page[-1]["score"], page[-1]["id"]))
                   if len(records) > limit else None)
    return PartnershipsPublic(items=partnerships_public(page, caller, matcher), next_cursor=next_cursor)


def _statuses(status: str) -> list[str]:
    wanted = [s.strip() for s in status.split(",")]
    unknown = [s for s in wanted if s not in STATUSES]
    if unknown:
        raise ProblemException(422, "the request is not valid", errors=[
            (f"{s!r} is not one of: {', '.join(STATUSES)}", "/query/status") for s in unknown])
    return sorted(set(wanted))


def _may_name(caller: Caller, matcher: Matcher, profile_id: str) -> bool:
    if caller.sees_everything or profile_id == caller.entity_id:
        return True
    profile = matcher.get(profile_id)
    return profile is not None and caller.may_see(profile)


@router.get("/v1/partnerships/{partnership_id}", response_model=PartnershipPublic,
            responses=problem_responses(401, 403, 404, 503))
async def get_partnership(partnership_id: str, caller: AnyRole, matcher: MatcherDep) -> PartnershipPublic:
    record = matcher.partnership(partnership_id)
    if record is None:
        raise ProblemException(404, f"no partnership {partnership_id!r}")
    members = (record["chip"]["id"], record["algorithm"]["id"], record["application"]["id"], record["project_id"])
    project = matcher.get(record["project_id"]) if record["project_id"] else None
    owns_project = project is not None and project.data.get("owner_id") == caller.entity_id
    if caller.role == "company" and caller.entity_id not in members and not owns_project:
        raise ProblemException(403, "a company key may read only partnerships it is a member of")
    [public] = partnerships_public([record], caller, matcher)
    return public


class DecisionCreate(BaseModel):
    decision: Literal["approved", "rejected"]
    note: str = Field(default="", max_length=2000)


@router.post("/v1/partnerships/{partnership_id}/decision", status_code=202, response_model=EventAccepted,
             responses=problem_responses(401, 403, 404, 422, 503))
async def decide(partnership_id: str, body: DecisionCreate, caller: StaffOnly, matcher: MatcherDep,
                 settings: SettingsDep, request: Request) -> EventAccepted:
    """Goes through chain.curation.v1 and comes back as chain.partnership.decided."""
    if matcher.partnership(partnership_id) is None:
        raise ProblemException(404, f"no partnership {partnership_id!r}")
    now = datetime.now(UTC)
    event = new_event("chain.partnership.decision.submitted",
                      {"partnership_id": partnership_id, "decision": body.decision, "note": body.note,
                       "by": caller.name or "staff"}, id=str(uuid.uuid4()), source="chainmatch/api", time=now)
    await request.app.state.backend.publish([to_record(event, topic_prefix=settings.topic_prefix, now=now)])
    return EventAccepted(accepted=1, event_id=event.id)
