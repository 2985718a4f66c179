"""The FastAPI app, built by a factory; the lifespan given by the composition root owns the workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from api import problems
from api.body_limit import BodyLimit
from api.deps import Backend
from api.keyring import configured_keys
from api.rate_limits import RateLimiter
from api.routes import (
    chain,
    deadletters,
    entities,
    events,
    health,
    keys,
    open_platform,
    partnerships,
    stats,
    stream,
    subscriptions,
)
from api.turns import Turns
from chainmatch.settings import Settings


def create_app(*, settings: Settings, backend: Backend, lifespan: Callable[[FastAPI], Any] | None = None) -> FastAPI:
    app = FastAPI(title="chainmatch", version="1", lifespan=lifespan,
                  description="Partner matching for the AI industry chain of the HSITP.")
    app.state.settings = settings
    app.state.backend = backend
    app.state.turns = Turns()
    app.state.configured_keys = configured_keys(settings.api_keys)
    app.state.rate_limiter = RateLimiter(per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst)
    problems.install(app)
    app.add_middleware(BodyLimit)
    # stream before partnerships: /v1/partnerships/{id} would take /v1/partnerships/stream
    for module in (health, events, entities, stream, partnerships, chain, stats, deadletters, subscriptions, keys,
                   open_platform):
        app.include_router(module.router)
    return app
