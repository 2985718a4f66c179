"""The worker's own HTTP face: `GET /healthz` and nothing else, for an orchestrator's probe.

`chainmatch worker` serves this instead of the API (which runs apart, in `chainmatch api`); the
answer has the API's shape: 200 `{"status": "ok", <component>: ...}` when ready, 503 otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class Healthy(Protocol):
    def health(self) -> tuple[bool, dict[str, Any]]: ...


def create_health_app(runtime: Healthy, *, lifespan: Callable[[Any], Any] | None = None) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        ready, components = runtime.health()
        return JSONResponse({"status": "ok" if ready else "unavailable", **components},
                            status_code=200 if ready else 503)

    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"])], lifespan=lifespan)
