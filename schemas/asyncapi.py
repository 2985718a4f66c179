"""An AsyncAPI 3.0.0 document of chainmatch's topics, generated from the event schemas beside this module.

Kafka consumers generate code from it the way HTTP clients do from the OpenAPI. The operations are from
the park's point of view: it receives profiles, projects and decisions, and sends partnerships and dead
letters. Each message's payload is the structured CloudEvent whose `data` is that event type's schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from schemas import EVENT_TYPES, SCHEMA_BASE, schema, schema_id, schema_names
from schemas.cloudevents import DATA_CONTENT_TYPE, OPTIONAL_ATTRIBUTES, OUTPUT_CONTENT_TYPE, REQUIRED_ATTRIBUTES

__all__ = ["TOPICS", "Topic", "asyncapi_document"]

KAFKA_BINDING = "0.5.0"
SCHEMAS = "#/components/schemas/"
DEADLETTER = "deadletter"

DESCRIPTION = """The Kafka topics of chainmatch (CONTRACT section 2). Every value is a CloudEvents 1.0 event.

Producers may send structured mode (this document's payloads) or binary mode (attributes in `ce_*` \
headers, `content-type: application/json`, the value is `data`). The Kafka key, `subject` and `data.id` \
(`data.partnership_id` for a decision) must agree. De-duplication is by (`source`, `id`).

Consumers: use short session timeouts (`session.timeout.ms` of about 6000, `heartbeat.interval.ms` of \
about 2000). A group join waits about half the session timeout on the embedded broker, so the usual \
45 s default makes every start and rebalance stall for some 20 s."""


@dataclass(frozen=True)
class Topic:
    """One topic of CONTRACT section 2, without the prefix; `carries` names the topic whose types it has."""

    name: str
    action: str
    description: str
    carries: str | None = None

    @property
    def channel_id(self) -> str:
        return self.name.replace(".", "_")

    @property
    def event_types(self) -> list[str]:
        carried = self.carries or self.name
        return [t.type for t in EVENT_TYPES.values() if t.topic == carried]


TOPICS = (
    Topic("companies.v1", "receive", "Companies' profiles, keyed by entity id."),
    Topic("labs.v1", "receive", "Labs' profiles, keyed by entity id."),
    Topic("projects.v1", "receive", "Projects, keyed by project id."),
    Topic("curation.v1", "receive", "Staff decisions on partnerships, keyed by partnership id."),
    Topic("feedback.v1", "receive", "Members' feedback on suggestions (`not_interested`), keyed by entity id."),
    Topic("stored.v1", "send", "Internal: what each batch of an ingest worker stored, for the one partnerships "
          "worker of a deployment with several ingest replicas."),
    Topic("keys.v1", "send", "Internal: API keys made at run time, as each stands at its revision (the SHA-256 of "
          "the secret, never the secret), keyed by key id; compacted. Every API process reads it from the start."),
    Topic("keyuses.v1", "send", "Internal: when each API key was last used, keyed by key id; compacted."),
    Topic("partnerships.v1", "send", "Partnerships with their full data, for systems inside the park, keyed by "
          "partnership id. `revision` grows with each event of a partnership; a re-sent event is the same event."),
    Topic("partnerships.public.v1", "send", "The same events as partnerships.v1, redacted as for a platform key "
          "with no region: a member whose data_policy is not `open` is `{\"redacted\": true, \"roles\": [...]}`.",
          carries="partnerships.v1"),
    Topic("deadletter.v1", "send", "Records the matcher could not process: the original key, value and headers "
          "unchanged, plus `error.*` and `source.*` headers. `chainmatch redrive` sends them back."),
)


def asyncapi_document(*, topic_prefix: str, kafka_host: str, version: str = "1") -> dict[str, Any]:
    """The whole document; every `$ref` in it points inside it."""
    inbound = {t for topic in TOPICS if topic.action == "receive" for t in topic.event_types}
    messages = {t: _message(t, inbound=t in inbound) for t in EVENT_TYPES}
    messages[DEADLETTER] = _deadletter_message()
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "chainmatch events", "version": version, "description": DESCRIPTION},
        "defaultContentType": "application/cloudevents+json",
        "servers": {"kafka": {"host": kafka_host, "protocol": "kafka",
                              "description": "The park's Kafka cluster (or the broker `chainmatch up` embeds)."}},
        "channels": {topic.channel_id: _channel(topic, topic_prefix) for topic in TOPICS},
        "operations": {f"{topic.action}_{topic.channel_id}": _operation(topic) for topic in TOPICS},
        "components": {"schemas": {name: _local(schema(name), name) for name in schema_names()},
                       "messages": messages},
    }


def _message_ids(topic: Topic) -> list[str]:
    return topic.event_types or [DEADLETTER]


def _channel(topic: Topic, prefix: str) -> dict[str, Any]:
    address = prefix + topic.name
    return {
        "address": address,
        "description": topic.description,
        "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in _message_ids(topic)},
        "bindings": {"kafka": {"topic": address, "bindingVersion": KAFKA_BINDING}},
    }


def _operation(topic: Topic) -> dict[str, Any]:
    verb = "receives from" if topic.action == "receive" else "sends to"
    return {
        "action": topic.action,
        "channel": {"$ref": f"#/channels/{topic.channel_id}"},
        "summary": f"The park {verb} {topic.name}.",
        "messages": [{"$ref": f"#/channels/{topic.channel_id}/messages/{m}"} for m in _message_ids(topic)],
    }


def _message(event_type: str, *, inbound: bool) -> dict[str, Any]:
    body = schema(event_type)
    key = "partnership_id" if EVENT_TYPES[event_type].kind is None else "entity_id"
    content_type = "`application/cloudevents+json` or absent" if inbound else f"`{OUTPUT_CONTENT_TYPE}`"
    return {
        "name": event_type,
        "title": body.get("title", event_type),
        "summary": body.get("description", ""),
        "contentType": "application/cloudevents+json",
        "headers": {"type": "object", "properties": {"content-type": {
            "type": "string", "description": f"{content_type}; binary mode sends `ce_*` headers instead."}}},
        "payload": _envelope(event_type, inbound=inbound),
        # Inlined, not a $ref: the binding's `key` is "a Reference or a Schema", and a bare $ref is both.
        "bindings": {"kafka": {"key": schema("defs")["$defs"][key], "bindingVersion": KAFKA_BINDING}},
    }


def _envelope(event_type: str, *, inbound: bool) -> dict[str, Any]:
    """The structured CloudEvent. Outbound events set every attribute; inbound ones need only the core."""
    required = [*REQUIRED_ATTRIBUTES, "data"] if inbound else [*REQUIRED_ATTRIBUTES, *OPTIONAL_ATTRIBUTES, "data"]
    text = {"type": "string", "minLength": 1}
    return {
        "type": "object",
        "required": required,
        "properties": {
            "specversion": {"const": "1.0"},
            "id": text,
            "source": {**text, "format": "uri-reference"},
            "type": {"const": event_type},
            "subject": {**text, "description": "the Kafka key"},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": text if inbound else {"const": DATA_CONTENT_TYPE},
            "dataschema": {"type": "string", "format": "uri", **({} if inbound else {"const": schema_id(event_type)})},
            "data": {"$ref": SCHEMAS + event_type},
        },
        "additionalProperties": True,
    }


def _deadletter_message() -> dict[str, Any]:
    header = {"type": "string"}
    return {
        "name": DEADLETTER,
        "title": "A dead-lettered record",
        "summary": "The original value, byte for byte; why it failed is in the headers.",
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "required": ["error.class", "error.message", "source.topic", "source.partition", "source.offset"],
            "properties": {name: header for name in
                           ("error.class", "error.message", "source.topic", "source.partition", "source.offset")},
        },
        "payload": {"description": "the original bytes, unchanged"},
        "bindings": {"kafka": {"key": {"type": "string", "description": "the original key"},
                               "bindingVersion": KAFKA_BINDING}},
    }


def _local(node: Any, name: str) -> Any:
    """One schema file as a component: refs rewritten to point inside the document, `$id` dropped (it would
    rebase them), and a `$ref` with siblings wrapped in `allOf`, since AsyncAPI schemas follow draft 07 where
    such siblings are ignored."""
    if isinstance(node, list):
        return [_local(item, name) for item in node]
    if not isinstance(node, dict):
        return node
    local = {key: _local(value, name) for key, value in node.items() if key not in ("$id", "$schema")}
    if "$ref" in local:
        target, _, fragment = urljoin(schema_id(name), local["$ref"]).partition("#")
        local["$ref"] = SCHEMAS + target.removeprefix(SCHEMA_BASE) + fragment
        if len(local) > 1:
            local = {"allOf": [{"$ref": local.pop("$ref")}], **local}
    return local
