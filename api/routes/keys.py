"""API keys at run time (CONTRACT section 5), staff only: make, list, rotate and revoke.

A change is published on the keys topic (api.keyring) and applied here at once; every other API
process applies it as it reads the topic, within a second or so. The configured keys
(CHAINMATCH_API_KEYS) are listed too, and cannot be changed here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from api.deps import BackendDep, SettingsDep, StaffOnly
from api.keyring import FoundKey, KeyRecord, changed_event, new_key_id, new_secret, secret_hash
from api.models import ENTITY_ID
from api.problems import ProblemException, problem_responses
from chainmatch.settings import REGION_PATTERN
from schemas.cloudevents import format_time, to_record

router = APIRouter(tags=["keys"])


class KeyCreate(BaseModel):
    role: Literal["staff", "platform", "company"]
    name: str = Field(min_length=1, max_length=200)
    entity_id: str | None = Field(default=None, pattern=ENTITY_ID)
    region: str | None = Field(default=None, pattern=REGION_PATTERN)
    expires_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _company_needs_its_entity(self) -> KeyCreate:
        if self.role == "company" and self.entity_id is None:
            raise ValueError("a company key needs an entity_id")
        return self


class KeyPublic(BaseModel):
    id: str
    role: str
    name: str | None
    entity_id: str | None
    region: str | None
    created_at: str | None = Field(description="null for a key configured in CHAINMATCH_API_KEYS")
    expires_at: str | None
    last_used_at: str | None
    source: Literal["environment", "api"] = Field(
        description="`environment`: CHAINMATCH_API_KEYS, changed only there; `api`: made with POST /v1/keys")


class KeyCreated(KeyPublic):
    key: str = Field(description="The secret: shown only in this answer, kept only as its SHA-256")


class KeysPublic(BaseModel):
    items: list[KeyPublic]


def _when(epoch: float | None) -> str | None:
    return format_time(datetime.fromtimestamp(epoch, UTC)) if epoch is not None else None


def _public(request: Request, record: KeyRecord) -> KeyPublic:
    return KeyPublic(id=record.id, role=record.role, name=record.name, entity_id=record.entity_id,
                     region=record.region, created_at=record.created_at, expires_at=record.expires_at,
                     last_used_at=_when(request.app.state.backend.keyring().last_used(record.id)), source="api")


def _configured_public(request: Request, found: FoundKey) -> KeyPublic:
    spec = found.spec
    return KeyPublic(id=found.id, role=spec.role, name=spec.name, entity_id=spec.entity_id, region=spec.region,
                     created_at=None, expires_at=None, source="environment",
                     last_used_at=_when(request.app.state.backend.keyring().last_used(found.id)))


async def _record(backend: BackendDep, settings: SettingsDep, record: KeyRecord) -> None:
    """Published first, so that no process ever holds a change the topic does not."""
    now = datetime.now(UTC)
    await backend.publish([to_record(changed_event(record), topic_prefix=settings.topic_prefix, now=now)])
    backend.keyring().apply(record)


def _runtime_key(request: Request, key_id: str) -> KeyRecord:
    """A live runtime key; 409 for a configured one, 404 for one unknown or revoked."""
    if any(found.id == key_id for found in request.app.state.configured_keys.values()):
        raise ProblemException(409, f"{key_id} is configured in CHAINMATCH_API_KEYS: change it there")
    record = request.app.state.backend.keyring().get(key_id)
    if record is None or record.revoked_at is not None:
        raise ProblemException(404, f"no key {key_id}")
    return record


def _created(request: Request, record: KeyRecord, secret: str) -> KeyCreated:
    return KeyCreated(**_public(request, record).model_dump(), key=secret)


@router.post("/v1/keys", status_code=201, response_model=KeyCreated,
             responses=problem_responses(401, 403, 422, 503))
async def create_key(body: KeyCreate, request: Request, caller: StaffOnly, backend: BackendDep,
                     settings: SettingsDep) -> KeyCreated:
    now = datetime.now(UTC)
    if body.expires_at is not None and body.expires_at <= now:
        raise ProblemException(422, "expires_at is in the past", errors=[("expires_at is in the past", "/expires_at")])
    secret = new_secret()
    record = KeyRecord(id=new_key_id(), hash=secret_hash(secret), role=body.role, name=body.name,
                       entity_id=body.entity_id, region=body.region, created_at=format_time(now),
                       expires_at=format_time(body.expires_at) if body.expires_at is not None else None)
    await _record(backend, settings, record)
    return _created(request, record, secret)


@router.get("/v1/keys", response_model=KeysPublic, responses=problem_responses(401, 403))
async def list_keys(request: Request, caller: StaffOnly, backend: BackendDep) -> KeysPublic:
    configured = [_configured_public(request, found) for found in request.app.state.configured_keys.values()]
    runtime = [_public(request, r) for r in backend.keyring().records() if r.revoked_at is None]
    return KeysPublic(items=configured + runtime)


@router.post("/v1/keys/{key_id}/rotate", response_model=KeyCreated,
             responses=problem_responses(401, 403, 404, 409, 503))
async def rotate_key(key_id: str, request: Request, caller: StaffOnly, backend: BackendDep,
                     settings: SettingsDep) -> KeyCreated:
    """A new secret for the same key: role, name, expiry and subscriptions stay; the old secret is
    refused by every process within seconds."""
    secret = new_secret()
    record = _runtime_key(request, key_id).rotated(secret_hash(secret))
    await _record(backend, settings, record)
    return _created(request, record, secret)


@router.delete("/v1/keys/{key_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404, 409, 503))
async def revoke_key(key_id: str, request: Request, caller: StaffOnly, backend: BackendDep,
                     settings: SettingsDep) -> Response:
    """The key is refused (401) by every process within seconds, and its webhook deliveries stop."""
    record = _runtime_key(request, key_id).revoked(format_time(datetime.now(UTC)))
    await _record(backend, settings, record)
    return Response(status_code=204)
