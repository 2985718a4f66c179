"""Each dependency named once, as an Annotated alias; role checks live here, not in routes.

All of them are `async def`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per
dependency per request for work that takes microseconds."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Caller
from api.keyring import FoundKey, Keyring, secret_hash
from api.problems import ProblemException
from api.turns import Turns
from chainmatch.settings import Settings
from matcher.service import Matcher
from schemas.cloudevents import Record
from subscribers.hub import Subscribers


class DeadLetters(Protocol):
    """The dead letters the workers keep, each a flat document: `id`, `topic`, `partition`, `offset`,
    `key`, `value`, `headers` (the original record, bytes as bytes), `error_class`, `error_message`,
    `received_at`."""

    def page(self, *, after: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """In id order, starting after the id `after`."""

    def get(self, deadletter_id: str) -> dict[str, Any] | None: ...

    async def redrive(self, ids: Sequence[str]) -> int:
        """Send these back to their topics as they first came and forget them; how many were sent."""


class Backend(Protocol):
    """What the API needs from the running system; the composition root provides it."""

    def matcher(self) -> Matcher | None:
        """None until the model and store are ready."""

    def health(self) -> tuple[bool, dict[str, Any]]: ...

    def stats(self) -> dict[str, int]: ...

    async def publish(self, records: Sequence[Record]) -> None: ...

    def subscribers(self) -> Subscribers | None:
        """The SSE window and webhook subscriptions; None until started."""

    def keyring(self) -> Keyring:
        """The runtime API keys this process knows."""

    def deadletters(self) -> DeadLetters | None:
        """The dead letters kept in the workers' state store; None until it is open."""


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_backend(request: Request) -> Backend:
    return request.app.state.backend


async def get_turns(request: Request) -> Turns:
    return request.app.state.turns


SettingsDep = Annotated[Settings, Depends(get_settings)]
TurnsDep = Annotated[Turns, Depends(get_turns)]
BackendDep = Annotated[Backend, Depends(get_backend)]


async def get_matcher(request: Request) -> Matcher:
    # The backend straight from the app, not through BackendDep: each dependency FastAPI solves shows in
    # a request's profile, and every request but the health probe asks for the matcher (so for the
    # settings, below).
    matcher = request.app.state.backend.matcher()
    if matcher is None:
        raise ProblemException(503, "the matcher is still starting", headers={"Retry-After": "5"})
    return matcher


MatcherDep = Annotated[Matcher, Depends(get_matcher)]


async def get_subscribers(backend: BackendDep) -> Subscribers:
    subscribers = backend.subscribers()
    if subscribers is None:
        raise ProblemException(503, "the subscribers' store is still starting", headers={"Retry-After": "5"})
    return subscribers


SubscribersDep = Annotated[Subscribers, Depends(get_subscribers)]


async def get_deadletters(backend: BackendDep) -> DeadLetters:
    deadletters = backend.deadletters()
    if deadletters is None:
        raise ProblemException(503, "the workers' state store is still opening", headers={"Retry-After": "5"})
    return deadletters


DeadLettersDep = Annotated[DeadLetters, Depends(get_deadletters)]


_KEYS = "An API key: staff, platform or company (CONTRACT section 4)"

# Declares the scheme in the OpenAPI (the docs' Authorize button); our own checks answer the 401.
bearer = HTTPBearer(auto_error=False, description=_KEYS)


async def presented_key(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    return credentials.credentials.strip() if credentials is not None else ""


class KeyHolder(HTTPBearer):
    """The caller behind the request's key, if its role is one of `roles`: 401 without a known key, 403
    with another role; when `metered` says the request is an expensive one, 429 past the key's rate
    limit. One dependency that is also the OpenAPI's bearer scheme, since each dependency FastAPI solves
    costs every request some 20 us."""

    def __init__(self, *roles: str, metered: Callable[[Request], bool] | None = None) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer", description=_KEYS)
        self.roles = roles
        self.metered = metered

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        caller = _caller(request, await presented_key(await super().__call__(request)))
        if caller.role not in self.roles:
            raise ProblemException(403, f"this operation is for {', '.join(self.roles)} keys")
        if self.metered is not None and self.metered(request):
            if wait := request.app.state.rate_limiter.take(caller.owner):
                raise ProblemException(429, f"this key's limit on expensive requests is spent; retry in {wait} s",
                                       headers={"Retry-After": str(wait)})
        return caller


def _found(request: Request, presented: str) -> FoundKey | None:
    if not presented:
        return None
    hashed = secret_hash(presented)
    found = request.app.state.configured_keys.get(hashed)
    if found is not None:
        return found
    keyring = request.app.state.backend.keyring()
    if not keyring.current:
        raise ProblemException(503, "the API keys made at run time are still being read", headers={"Retry-After": "2"})
    return keyring.find(hashed, datetime.now(UTC))


def _caller(request: Request, presented: str) -> Caller:
    found = _found(request, presented)
    if found is None:
        raise ProblemException(401, "a valid API key is required: Authorization: Bearer <key>",
                               headers={"WWW-Authenticate": "Bearer"})
    request.app.state.backend.keyring().used(found.id, time.time())
    spec = found.spec
    region = spec.region
    if region is None and spec.role == "company":
        matcher = request.app.state.backend.matcher()
        own = matcher.get(spec.entity_id) if matcher is not None else None
        region = own.region if own is not None else None
    return Caller(role=spec.role, name=spec.name, entity_id=spec.entity_id, region=region, owner=found.owner)


def _always(request: Request) -> bool:
    return True


def _semantic_search(request: Request) -> bool:
    """A listing with `q` is a semantic search, so metered; a plain listing is not."""
    return bool(request.query_params.get("q"))


def require(*roles: str, metered: Callable[[Request], bool] | None = None):
    return Annotated[Caller, Depends(KeyHolder(*roles, metered=metered))]


StaffOnly = require("staff")
StaffOrCompany = require("staff", "company")
StaffOrPlatform = require("staff", "platform")
AnyRole = require("staff", "platform", "company")
MeteredStaffOrCompany = require("staff", "company", metered=_always)
StaffSearching = require("staff", metered=_semantic_search)
