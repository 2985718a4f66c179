"""The open platform: each schema at its `dataschema` URI, and an AsyncAPI 3 document generated from them."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from builders import make_entity, make_event
from fakes import FakeBackend
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

import schemas
from api.app import create_app
from chainmatch.settings import Settings
from schemas import EVENT_TYPES, schema_id, schema_names
from schemas.asyncapi import TOPICS, asyncapi_document

# The contract's topics and two that extend it: chain.feedback.v1 (feedback is a message like decisions)
# and chain.stored.v1 (ingest replicas to the partnerships worker).
CONTRACT_TOPICS = {"companies.v1", "labs.v1", "projects.v1", "curation.v1", "feedback.v1", "stored.v1",
                   "keys.v1", "keyuses.v1", "partnerships.v1", "partnerships.public.v1", "deadletter.v1"}


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(settings=Settings(topic_prefix="park7.", kafka_bootstrap="kafka-1:9093,kafka-2:9093"),
                                 backend=FakeBackend()))


def test_every_schema_is_served_at_its_id_without_a_key(client):
    for name in schema_names():
        body = schemas.schema(name)
        response = client.get(urlsplit(body["$id"]).path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/schema+json"
        assert response.json() == body


def test_an_unknown_schema_is_a_404_problem(client):
    response = client.get("/v1/schemas/chain.nothing.happened")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_a_validator_that_fetches_refs_from_the_api_checks_events_like_our_own(client):
    """Whoever follows `dataschema` and each `$ref` over HTTP gets the same verdicts as schemas.validate."""
    def retrieve(uri: str) -> Resource:
        return Resource.from_contents(client.get(urlsplit(uri).path).json(), default_specification=DRAFT202012)

    registry = Registry(retrieve=retrieve)
    samples = [make_entity(id="acme"), make_entity(id="Not An Id"), make_entity(name=""), {"id": "acme"}]
    for event_type in ("chain.company.upserted", "chain.lab.upserted", "chain.company.deleted"):
        validator = Draft202012Validator({"$ref": schema_id(event_type)}, registry=registry)
        for data in samples:
            assert validator.is_valid(data) == (schemas.validate(event_type, data) == []), (event_type, data)


def _resolve(document: dict, ref: str):
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_the_asyncapi_document_is_served_from_the_settings(client):
    response = client.get("/v1/asyncapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document == asyncapi_document(topic_prefix="park7.", kafka_host="kafka-1:9093")
    assert {channel["address"] for channel in document["channels"].values()} == {
        f"park7.{topic}" for topic in CONTRACT_TOPICS}


def test_the_asyncapi_document_is_structurally_asyncapi_3():
    document = json.loads(json.dumps(asyncapi_document(topic_prefix="chain.", kafka_host="localhost:9092")))
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] and document["info"]["version"]
    assert "session" in document["info"]["description"] and "timeout" in document["info"]["description"]
    assert document["servers"]["kafka"] == {**document["servers"]["kafka"], "host": "localhost:9092",
                                            "protocol": "kafka"}
    for ref in _refs(document):
        _resolve(document, ref)
    channels = document["channels"]
    assert {topic.name for topic in TOPICS} == CONTRACT_TOPICS
    for channel_id, channel in channels.items():
        assert channel["bindings"]["kafka"]["topic"] == channel["address"]
        assert channel["messages"], channel_id
    for operation_id, operation in document["operations"].items():
        assert operation["action"] in ("send", "receive")
        channel_ref = operation["channel"]["$ref"]
        # AsyncAPI 3: an operation's messages are the messages of its own channel.
        assert all(m["$ref"].startswith(channel_ref + "/messages/") for m in operation["messages"]), operation_id
    actions = {channels[op["channel"]["$ref"].rsplit("/", 1)[1]]["address"]: op["action"]
               for op in document["operations"].values()}
    assert actions == {"chain.companies.v1": "receive", "chain.labs.v1": "receive", "chain.projects.v1": "receive",
                       "chain.curation.v1": "receive", "chain.feedback.v1": "receive", "chain.stored.v1": "send",
                       "chain.keys.v1": "send", "chain.keyuses.v1": "send",
                       "chain.partnerships.v1": "send",
                       "chain.partnerships.public.v1": "send", "chain.deadletter.v1": "send"}


def test_every_event_type_has_a_message_on_its_topic_whose_payload_data_is_its_schema():
    document = asyncapi_document(topic_prefix="chain.", kafka_host="localhost:9092")
    by_address = {channel["address"]: channel for channel in document["channels"].values()}
    for event_type, spec in EVENT_TYPES.items():
        message = _resolve(document, by_address["chain." + spec.topic]["messages"][event_type]["$ref"])
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        payload = message["payload"]
        assert payload["properties"]["type"] == {"const": event_type}
        assert payload["properties"]["data"] == {"$ref": f"#/components/schemas/{event_type}"}
    public = by_address["chain.partnerships.public.v1"]["messages"]
    assert public == by_address["chain.partnerships.v1"]["messages"]


def _asyncapi_validator(document: dict, event_type: str) -> Draft202012Validator:
    """The message's payload schema, its refs resolved inside the document only."""
    registry = Registry().with_resource("urn:asyncapi", Resource.from_contents(
        document, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"urn:asyncapi#/components/messages/{event_type}/payload"},
                                registry=registry)


PARTNERSHIP = {
    "id": "pt_0123abcd", "revision": 3, "project_id": None, "sectors": ["healthcare"], "score": 0.8,
    "chip": {"id": "acme", "name": "Acme", "roles": ["chip"], "sectors": ["healthcare"], "region": "HK",
             "kind": "company"},
    "algorithm": {"redacted": True, "roles": ["algorithm"]},
    "application": {"id": "ward", "name": "Ward AI", "roles": ["application"], "sectors": [], "region": None,
                    "kind": "lab"},
    "reasons": ["fits"], "score_breakdown": {"fit": 0.8}, "status": "proposed", "decisions": [],
    "updated_at": "2026-01-01T00:00:00Z",
}


@pytest.mark.parametrize(("event_type", "data"), [
    ("chain.company.upserted", make_entity(id="acme")),
    ("chain.company.upserted", make_entity(id="Bad Id")),
    ("chain.lab.upserted", make_entity(id="lab-1", roles=["cpu"])),
    ("chain.project.deleted", {"id": "proj-1"}),
    ("chain.project.deleted", {}),
    ("chain.partnership.decision.submitted",
     {"partnership_id": "pt_ab", "decision": "approved", "note": "", "by": "Ada"}),
    ("chain.partnership.decision.submitted", {"partnership_id": "pt_ab", "decision": "maybe"}),
    ("chain.partnership.recommended", PARTNERSHIP),
    ("chain.partnership.recommended", {k: v for k, v in PARTNERSHIP.items() if k != "revision"}),
    ("chain.partnership.withdrawn", {"id": "pt_ab", "revision": 2, "reason": "a member left"}),
])
def test_a_payload_is_valid_in_the_asyncapi_document_exactly_when_the_event_is_valid(event_type, data):
    document = json.loads(json.dumps(asyncapi_document(topic_prefix="chain.", kafka_host="localhost:9092")))
    event = make_event(event_type, data, subject=data.get("id", data.get("partnership_id", "x")),
                       dataschema=schema_id(event_type))
    assert _asyncapi_validator(document, event_type).is_valid(event) == (schemas.validate(event_type, data) == [])
