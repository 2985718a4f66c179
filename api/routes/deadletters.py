"""Dead letters (staff): listed and inspected from the workers' state store, where they are kept until
redriven, and sent back to their topics (CONTRACT section 5)."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.cursors import decode_cursor, encode_cursor
from api.deps import DeadLettersDep, StaffOnly
from api.problems import ProblemException, problem_responses

router = APIRouter(tags=["deadletters"])
KIND = "deadletters"


class DeadLetterPublic(BaseModel):
    id: str
    topic: str = Field(description="where the record came from, and where a redrive sends it")
    partition: int
    offset: int = Field(description="its offset then; the embedded broker numbers anew after a restart")
    key: str | None
    error_class: str
    error_message: str
    received_at: str


class DeadLettersPublic(BaseModel):
    items: list[DeadLetterPublic]
    next_cursor: str | None


class DeadLetterDetail(DeadLetterPublic):
    value: str = Field(description="the original bytes as UTF-8 text, undecodable bytes replaced")
    value_base64: str = Field(description="the original bytes, exactly")
    headers: list[tuple[str, str]] = Field(description="the original headers, as UTF-8 text")


class Redriven(BaseModel):
    redriven: int


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", errors="replace")


def _public(deadletter: dict[str, Any]) -> DeadLetterPublic:
    return DeadLetterPublic(**{**{name: deadletter[name] for name in DeadLetterPublic.model_fields},
                               "key": _text(deadletter["key"])})


@router.get("/v1/deadletters", response_model=DeadLettersPublic, responses=problem_responses(400, 401, 403, 503))
async def list_deadletters(caller: StaffOnly, kept: DeadLettersDep, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                           cursor: str | None = None) -> DeadLettersPublic:
    state = decode_cursor(cursor, kind=KIND)
    after = state.get("i") if state is not None else None
    if state is not None and not isinstance(after, str):
        raise ProblemException(400, "the cursor is not one this list gave out",
                               errors=[("bad cursor", "/query/cursor")])
    found = kept.page(after=after, limit=limit + 1)
    page = found[:limit]
    next_cursor = encode_cursor({"k": KIND, "i": page[-1]["id"]}) if len(found) > limit else None
    return DeadLettersPublic(items=[_public(deadletter) for deadletter in page], next_cursor=next_cursor)


@router.get("/v1/deadletters/{deadletter_id}", response_model=DeadLetterDetail,
            responses=problem_responses(401, 403, 404, 503))
async def get_deadletter(deadletter_id: str, caller: StaffOnly, kept: DeadLettersDep) -> DeadLetterDetail:
    deadletter = kept.get(deadletter_id)
    if deadletter is None:
        raise ProblemException(404, f"no dead letter {deadletter_id!r} (redriven ones are no longer kept)")
    value = deadletter["value"] or b""
    return DeadLetterDetail(**_public(deadletter).model_dump(), value=_text(value) or "",
                            value_base64=base64.b64encode(value).decode(),
                            headers=[(name, _text(header) or "") for name, header in deadletter["headers"]])


@router.post("/v1/deadletters/{deadletter_id}/redrive", status_code=202, response_model=Redriven,
             responses=problem_responses(401, 403, 404, 503))
async def redrive_deadletter(deadletter_id: str, caller: StaffOnly, kept: DeadLettersDep) -> Redriven:
    """Sends the original record back to its topic (same key, bytes and headers) and forgets the dead letter."""
    if not await kept.redrive([deadletter_id]):
        raise ProblemException(404, f"no dead letter {deadletter_id!r} (redriven ones are no longer kept)")
    return Redriven(redriven=1)
