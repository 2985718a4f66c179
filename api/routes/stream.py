"""GET /v1/partnerships/stream: partnership events as Server-Sent Events, resumable by Last-Event-ID.

Registered before the partnerships router, whose /v1/partnerships/{id} would otherwise take it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from api.deps import StaffOrPlatform, SubscribersDep
from api.problems import ProblemException, problem_responses
from subscribers.events import EventFilter, unknown_types

router = APIRouter(tags=["partnerships"])


def split(values: list[str] | None) -> list[str]:
    """`?sector=a,b` and `?sector=a&sector=b` alike."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def resume_point(header: str | None, query: int | None) -> int | None:
    if header is None or not header.strip():
        return query
    if not header.strip().isdigit():
        raise ProblemException(400, "Last-Event-ID must be an event id this stream sent (a whole number)",
                               errors=[("not a whole number", "/headers/last-event-id")])
    return int(header)


@router.get("/v1/partnerships/stream", response_class=StreamingResponse,
            responses={200: {"description": "Server-Sent Events: `id`, `event` (the CloudEvent type), `data` "
                                            "(the CloudEvent, redacted for the key)",
                             "content": {"text/event-stream": {}}},
                       **problem_responses(400, 401, 403, 422, 503)})
async def stream_partnerships(
    caller: StaffOrPlatform, subscribers: SubscribersDep,
    sector: Annotated[list[str] | None, Query(description="sectors, comma-separated or repeated")] = None,
    type: Annotated[list[str] | None, Query(description="event types, e.g. recommended or "
                                                        "chain.partnership.recommended")] = None,
    last_event_id: Annotated[int | None, Query(ge=0, description="as the Last-Event-ID header")] = None,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    types = split(type)
    if unknown := unknown_types(types):
        raise ProblemException(422, f"unknown event type {unknown[0]!r}",
                               errors=[(f"unknown event type {name!r}", "/query/type") for name in unknown])
    frames = subscribers.stream(viewer=caller, filter=EventFilter.of(sectors=split(sector), types=types),
                                last_event_id=resume_point(last_event_id_header, last_event_id))
    return StreamingResponse(frames, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
