from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from api.auth import Caller
from api.cursors import decode_cursor, encode_cursor
from api.deps import MatcherDep, MeteredStaffOrCompany, SettingsDep, StaffOrCompany, StaffSearching, TurnsDep
from api.models import (
    ENTITY_ID,
    EntitiesPublic,
    EntityPublic,
    EventAccepted,
    SuggestionsPublic,
    entity_public,
    entity_summary,
    suggestions_response,
)
from api.problems import ProblemException, problem_responses
from matcher import policy
from matcher.model import Profile
from matcher.service import Matcher
from schemas.cloudevents import new_event, to_record

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


@router.get("/v1/entities", response_model=EntitiesPublic,
            responses=problem_responses(400, 401, 403, 422, 429, 503))
def list_entities(
    caller: StaffSearching, matcher: MatcherDep,
    role: Role | None = None, sector: str | None = None, region: str | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=500)] = None,
    needs_review: bool = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> EntitiesPublic:
    """Entities and projects, filtered in the engine; `q` ranks them by meaning instead."""
    filter_ = {key: [value] for key, value in (("roles", role), ("sectors", sector), ("region", region)) if value}
    if needs_review:
        filter_["review"] = ["roles", "sectors"]
    if not caller.sees_everything:
        filter_["data_policy"] = policy.visible_policies(viewer_region=caller.region)
    state = decode_cursor(cursor, kind="entities" if q is None else f"search:{q}")
    if q is None:
        profiles, offset = matcher.list_entities(filter=filter_, limit=limit, offset=state and state["o"])
        next_cursor = encode_cursor({"k": "entities", "o": offset}) if offset is not None else None
    else:
        skip = state["s"] if state else 0
        profiles = [p for p, _ in matcher.search_entities(q, filter=filter_, limit=limit, skip=skip)]
        full = len(profiles) == limit
        next_cursor = encode_cursor({"k": f"search:{q}", "s": skip + limit}) if full else None
    return EntitiesPublic(items=[entity_summary(p) for p in profiles], next_cursor=next_cursor)


@router.get("/v1/entities/{entity_id}", response_model=EntityPublic,
            responses=problem_responses(401, 403, 404, 503))
async def get_entity(entity_id: str, caller: StaffOrCompany, matcher: MatcherDep) -> EntityPublic:
    return entity_public(own_profile(caller, matcher, entity_id))


@router.get("/v1/entities/{entity_id}/suggestions", response_model=SuggestionsPublic,
            responses=problem_responses(401, 403, 404, 422, 429, 503))
async def get_suggestions(
    entity_id: str, caller: MeteredStaffOrCompany, matcher: MatcherDep, turns: TurnsDep,
    role: Role | None = None,
    offers: Annotated[list[Resource] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    me = own_profile(caller, matcher, entity_id)
    suggestions = await turns.take(partial(matcher.suggest, me.id, roles=[role] if role else None, offers=offers,
                                           visible=None if caller.sees_everything else caller.may_see,
                                           limit=limit)) or []
    return suggestions_response(suggestions)


class FeedbackCreate(BaseModel):
    other_id: Annotated[str, Field(pattern=ENTITY_ID)]
    signal: Literal["not_interested"]


@router.post("/v1/entities/{entity_id}/feedback", status_code=202, response_model=EventAccepted,
             responses=problem_responses(401, 403, 404, 422, 503))
async def post_feedback(entity_id: str, body: FeedbackCreate, caller: StaffOrCompany, matcher: MatcherDep,
                        settings: SettingsDep, request: Request) -> EventAccepted:
    """Published on chain.feedback.v1; once the workers apply it, `other_id` is no longer suggested to
    `entity_id` and partnerships pairing them rank lower. An `other_id` that is not stored, or that the
    key may not see, is a 404."""
    me = own_profile(caller, matcher, entity_id)
    if body.other_id == me.id:
        raise ProblemException(422, "the request is not valid",
                               errors=[("an entity cannot refuse itself", "/other_id")])
    other = matcher.get(body.other_id)
    if other is None or not caller.may_see(other):
        raise ProblemException(404, f"no entity {body.other_id!r}")
    now = datetime.now(UTC)
    event = new_event("chain.entity.feedback.submitted",
                      {"entity_id": me.id, "other_id": other.id, "signal": body.signal,
                       "by": caller.name or caller.entity_id or caller.role},
                      id=str(uuid.uuid4()), source="chainmatch/api", time=now)
    await request.app.state.backend.publish([to_record(event, topic_prefix=settings.topic_prefix, now=now)])
    return EventAccepted(accepted=1, event_id=event.id)
