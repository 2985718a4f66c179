from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import BackendDep

router = APIRouter(tags=["health"])


@router.get("/healthz", responses={503: {"description": "not ready, or a stream worker has died"}})
async def healthz(backend: BackendDep) -> JSONResponse:
    ready, components = backend.health()
    return JSONResponse({"status": "ok" if ready else "unavailable", **components},
                        status_code=200 if ready else 503)
