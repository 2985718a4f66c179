"""POST /v1/events: validate every event, then publish them all, or none."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.auth import Caller
from api.deps import MatcherDep, MeteredStaffOrCompany, SettingsDep
from api.problems import ProblemException, problem_responses
from matcher.service import Matcher
from schemas import EVENT_TYPES
from schemas.cloudevents import CloudEvent, InvalidEvent, parse_structured, to_record

router = APIRouter(tags=["events"])
MAX_EVENTS = 500
CONTENT_TYPES = ("application/json", "application/cloudevents+json", "application/cloudevents-batch+json")
INPUT_TOPICS = ("companies.v1", "labs.v1", "projects.v1", "curation.v1")


class Accepted(BaseModel):
    accepted: int


async def read_json_body(request: Request) -> Any:
    """The parsed body; its size is bounded by api.body_limit before it gets here."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in CONTENT_TYPES:
        raise ProblemException(415, f"send one of {', '.join(CONTENT_TYPES)}")
    try:
        return json.loads(await request.body())
    except (ValueError, RecursionError) as error:
        # Deeply nested JSON makes Python's parser raise RecursionError, not ValueError.
        raise ProblemException(400, f"the body is not valid JSON: {type(error).__name__}") from None


def _check_ownership(caller: Caller, events: list[CloudEvent], matcher: Matcher, *, batch: bool) -> None:
    """A company key changes only what it is: its own entity under its own kind, and its own projects.
    An entity's kind is the stored one, or for an id not stored yet the first one the batch gives it; an
    event that would change it, or that touches anything else, refuses the whole batch."""
    if caller.role == "staff":
        return
    known: dict[str, tuple[str, str | None]] = {}  # id -> (kind, owner of a project)
    for index, event in enumerate(events):
        where = f"event /{index}" if batch else "the event"
        kind = EVENT_TYPES[event.type].kind
        if event.key not in known:
            stored = matcher.get(event.key)
            known[event.key] = ((stored.kind, stored.data.get("owner_id")) if stored is not None
                                else (kind, caller.entity_id))
        known_kind, owner = known[event.key]
        if known_kind != kind:
            raise ProblemException(403, f"{where}: {event.key} is a {known_kind}; a company key may "
                                        f"not make it a {kind}")
        if kind == "project":
            owned = event.data.get("owner_id", caller.entity_id) == caller.entity_id == owner
        else:
            owned = event.key == caller.entity_id
        if not owned:
            raise ProblemException(403, f"{where}: a company key may publish only its own entity and "
                                        "its own projects")


@router.post(
    "/v1/events", status_code=202, response_model=Accepted,
    responses=problem_responses(400, 401, 403, 413, 415, 422, 429, 503),
    openapi_extra={"requestBody": {"required": True, "content": {
        t: {"schema": {"oneOf": [{"type": "object"}, {"type": "array", "maxItems": MAX_EVENTS,
                                                       "items": {"type": "object"}}]}}
        for t in CONTENT_TYPES}}},
)
async def post_events(request: Request, caller: MeteredStaffOrCompany, matcher: MatcherDep,
                      settings: SettingsDep) -> Accepted:
    body = await read_json_body(request)
    batch = isinstance(body, list)
    items = body if batch else [body]
    if not items or len(items) > MAX_EVENTS:
        raise ProblemException(422, f"send between 1 and {MAX_EVENTS} events",
                               errors=[("wrong number of events", "")])
    now = datetime.now(UTC)
    events: list[CloudEvent] = []
    errors: list[tuple[str, str]] = []
    for index, item in enumerate(items):
        prefix = f"/{index}" if batch else ""
        try:
            event = parse_structured(item, key=None, now=now)
        except InvalidEvent as error:
            errors += [(e.detail, prefix + e.pointer) for e in error.errors] or [(error.message, prefix)]
            continue
        if EVENT_TYPES[event.type].topic not in INPUT_TOPICS:
            errors.append((f"{event.type} is written by the matcher, not published", prefix + "/type"))
            continue
        events.append(event)
    if errors:
        raise ProblemException(422, "no event was published: some are invalid", errors=errors)
    if caller.role != "staff" and any(EVENT_TYPES[e.type].topic == "curation.v1" for e in events):
        raise ProblemException(403, "only staff submit decisions")
    _check_ownership(caller, events, matcher, batch=batch)
    await request.app.state.backend.publish(
        [to_record(e, topic_prefix=settings.topic_prefix, now=now) for e in events]
    )
    return Accepted(accepted=len(events))
