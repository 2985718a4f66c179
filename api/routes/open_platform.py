"""The open platform: the event schemas at their `dataschema` URIs and an AsyncAPI document of the topics.

No key is needed: these describe the interface, not anyone's data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import SettingsDep
from api.problems import ProblemException, problem_responses
from schemas import schema, schema_names
from schemas.asyncapi import asyncapi_document

router = APIRouter(tags=["open platform"])
SCHEMA_JSON = "application/schema+json"


class SchemaResponse(JSONResponse):
    media_type = SCHEMA_JSON


@router.get(
    "/v1/schemas/{name}", response_class=SchemaResponse,
    responses={200: {"description": "A JSON Schema (draft 2020-12); its `$id` is this URL",
                     "content": {SCHEMA_JSON: {"schema": {"type": "object"}}}},
               **problem_responses(404)},
)
def get_schema(name: str) -> SchemaResponse:
    """Every `dataschema` of an event resolves here, and so does each `$ref` inside the schemas."""
    try:
        return SchemaResponse(schema(name))
    except KeyError:
        raise ProblemException(404, f"no schema {name!r}; there are: {', '.join(schema_names())}") from None


@router.get("/v1/asyncapi.json", responses={200: {"description": "An AsyncAPI 3.0.0 document of the topics",
                                                  "content": {"application/json": {"schema": {"type": "object"}}}}})
def get_asyncapi(settings: SettingsDep) -> dict[str, Any]:
    kafka_host = (settings.kafka_bootstrap or f"{settings.host}:{settings.kafka_port}").split(",")[0].strip()
    return asyncapi_document(topic_prefix=settings.topic_prefix, kafka_host=kafka_host)
