"""RFC 9457 problem details for every error, the framework's own 404, 405 and 422 included."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large", 415: "Unsupported Media Type",
    422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
}
_COMPONENTS = "#/components/schemas/"


class ProblemError(BaseModel):
    detail: str
    pointer: str


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = None


class ProblemException(Exception):
    def __init__(self, status: int, detail: str, *, errors: Sequence[tuple[str, str]] = (),
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers


def problem_response(status: int, detail: str, *, errors: Sequence[tuple[str, str]] = (),
                     headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": TITLES.get(status, "Error"),
                            "status": status, "detail": detail}
    if errors:
        body["errors"] = [{"detail": d, "pointer": p} for d, p in errors]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for an operation's problem responses: application/problem+json only."""
    return {
        status: {"description": TITLES.get(status, "Error"),
                 "content": {PROBLEM_JSON: {"schema": {"$ref": _COMPONENTS + "Problem"}}}}
        for status in statuses
    }


def _pointer(location: Sequence[Any]) -> str:
    """FastAPI's ('body', 'data', 0) -> '/data/0'; query and path members keep their source."""
    parts = [str(part).replace("~", "~0").replace("/", "~1") for part in location]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return "/" + "/".join(parts) if parts else ""


def _validation_problem(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    syntax = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if syntax is not None:
        # FastAPI reports unparsable JSON as a validation error at a character offset, which is no pointer.
        reason = (syntax.get("ctx") or {}).get("error", "invalid")
        return problem_response(400, f"the body is not valid JSON: {reason} at character {syntax['loc'][-1]}")
    return problem_response(422, "the request is not valid",
                            errors=[(e.get("msg", "invalid"), _pointer(e.get("loc", ()))) for e in errors])


def install(app: FastAPI) -> None:
    @app.exception_handler(ProblemException)
    async def _problem(request: Request, exc: ProblemException) -> JSONResponse:
        return problem_response(exc.status, exc.detail, errors=exc.errors, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # the matched route knows only its own methods, not its path's
            headers = {**(headers or {}), "Allow": _allowed_methods(request)}
        return problem_response(exc.status_code, str(exc.detail), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_problem(exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs the traceback and re-raises after this answer; the client learns nothing internal.
        return problem_response(500, "an unexpected error occurred; it has been logged")

    _document(app)


def _allowed_methods(request: Request) -> str:
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and route.methods and regex.match(request.url.path):
            methods |= route.methods
    return ", ".join(sorted(methods))


def _document(app: FastAPI) -> None:
    """Adds to the OpenAPI what the app-wide handlers answer on every operation, so no route repeats it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        document = build()
        if fresh:
            _add_problems(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _add_problems(document: dict[str, Any]) -> None:
    _, schemas = models_json_schema([(Problem, "serialization")], ref_template=_COMPONENTS + "{model}")
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.update(schemas["$defs"])
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation["responses"]
            if "422" in responses:  # FastAPI's own entry says application/json; the handler above answers this
                responses["422"] = problem_responses(422)[422]
            if "requestBody" in operation:
                for status in (400, 413, 422):
                    responses.setdefault(str(status), problem_responses(status)[status])
            responses.setdefault("500", problem_responses(500)[500])
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 shapes, if nothing else uses them
        if f'"{_COMPONENTS}{name}"' not in json.dumps(document):
            components.pop(name, None)
