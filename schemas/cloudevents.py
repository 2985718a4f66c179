"""CloudEvents 1.0 as chainmatch takes and gives them (CONTRACT section 2), with no transport in sight.

Shared by the stream workers (through `streams.codec`) and the API, which must not import `streams`.
Each rule is a pure function returning the problems it finds; `from_attributes` applies them in order
and raises `InvalidEvent` with the first rule that fails, so `error_class` names one cause.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import EVENT_TYPES, Problem, parse_datetime, schema_id, validate

__all__ = [
    "DATA_CONTENT_TYPE",
    "MAX_FUTURE",
    "OUTPUT_CONTENT_TYPE",
    "SPECVERSION",
    "CloudEvent",
    "InvalidEvent",
    "format_time",
    "from_attributes",
    "is_json_media_type",
    "new_event",
    "parse_structured",
    "to_structured",
    "with_defaults",
]

SPECVERSION = "1.0"
DATA_CONTENT_TYPE = "application/json"
OUTPUT_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
MAX_FUTURE = timedelta(minutes=5)
REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type")
OPTIONAL_ATTRIBUTES = ("subject", "time", "datacontenttype", "dataschema")
_JSON_MEDIA_TYPE = re.compile(r"(application|text)/([a-z0-9.+-]+\+)?json\s*(;.*)?", re.IGNORECASE)


class InvalidEvent(Exception):
    """A record that is not an acceptable event; `error_class` is the dead-letter header `error.class`."""

    def __init__(self, error_class: str, message: str, errors: Sequence[Problem] = ()):
        super().__init__(message)
        self.error_class = error_class
        self.message = message
        self.errors = list(errors)

    @classmethod
    def from_problems(cls, error_class: str, problems: Sequence[Problem]) -> InvalidEvent:
        shown = "; ".join(_located(problem) for problem in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        return cls(error_class, shown + more, problems)


@dataclass(frozen=True)
class CloudEvent:
    """An accepted event: the context attributes chainmatch knows, and `data` valid against its schema."""

    id: str
    source: str
    type: str
    data: Any
    subject: str | None = None
    time: datetime | None = None
    specversion: str = SPECVERSION
    datacontenttype: str | None = None
    dataschema: str | None = None

    @property
    def key(self) -> str:
        """The Kafka key: the entity or partnership id in `data`."""
        return self.data[EVENT_TYPES[self.type].key_field]


# The rules, in the order they apply.


def missing_attributes(attributes: Mapping[str, Any], data: Any) -> list[Problem]:
    problems = [
        Problem(f"the attribute {name!r} is required", f"/{name}")
        for name in REQUIRED_ATTRIBUTES
        if attributes.get(name) is None
    ]
    if data is None:
        detail = "data is required" + (" as JSON; data_base64 is not accepted" if "data_base64" in attributes
                                       else "")
        problems.append(Problem(detail, "/data"))
    return problems


def unsupported_specversion(attributes: Mapping[str, Any]) -> list[Problem]:
    if attributes["specversion"] != SPECVERSION:
        return [Problem(f"specversion must be {SPECVERSION!r}", "/specversion")]
    return []


def invalid_attributes(attributes: Mapping[str, Any]) -> list[Problem]:
    """Attributes must be non-empty strings, and `time` an RFC 3339 date-time with an offset."""
    problems = [
        Problem("must be a non-empty string", f"/{name}")
        for name in (*REQUIRED_ATTRIBUTES, *OPTIONAL_ATTRIBUTES)
        if name != "time" and name in attributes and not _non_empty_string(attributes[name])
    ]
    if "time" in attributes:
        try:
            _time_of(attributes["time"])
        except ValueError as error:
            problems.append(Problem(str(error), "/time"))
    return problems


def is_json_media_type(content_type: str) -> bool:
    """application/json, text/json or any +json type, with or without parameters."""
    return _JSON_MEDIA_TYPE.fullmatch(content_type.strip()) is not None


def unsupported_content_type(attributes: Mapping[str, Any]) -> list[Problem]:
    content_type = attributes.get("datacontenttype")
    if content_type is not None and not is_json_media_type(content_type):
        return [Problem(f"data must be JSON ({DATA_CONTENT_TYPE}), not {content_type!r}", "/datacontenttype")]
    return []


def unknown_type(attributes: Mapping[str, Any]) -> list[Problem]:
    if attributes["type"] not in EVENT_TYPES:
        return [Problem(f"unknown event type {attributes['type']!r}", "/type")]
    return []


def schema_violations(event_type: str, data: Any) -> list[Problem]:
    return [Problem(problem.detail, "/data" + problem.pointer) for problem in validate(event_type, data)]


def id_mismatches(event_type: str, data: Mapping[str, Any], *, subject: str | None,
                  key: str | None) -> list[Problem]:
    """The Kafka key and `subject`, when present, must both be the id in `data`."""
    field = EVENT_TYPES[event_type].key_field
    data_id = data[field]
    problems = []
    if key is not None and key != data_id:
        detail = f"data.{field} {data_id!r} differs from the record key {key!r}"
        problems.append(Problem(detail, f"/data/{field}"))
    if subject is not None and subject != data_id:
        problems.append(Problem(f"subject {subject!r} differs from data.{field} {data_id!r}", "/subject"))
    return problems


def future_time(time: datetime | None, *, now: datetime) -> list[Problem]:
    if time is not None and time > _aware(now) + MAX_FUTURE:
        return [Problem(f"time is more than {MAX_FUTURE} after now ({format_time(now)})", "/time")]
    return []


def from_attributes(
    attributes: Mapping[str, Any], data: Any, *, key: str | None, now: datetime
) -> CloudEvent:
    """The event these context attributes and data make, or InvalidEvent; extension attributes are ignored."""
    _raise_if("MissingAttribute", missing_attributes(attributes, data))
    _raise_if("UnsupportedSpecVersion", unsupported_specversion(attributes))
    _raise_if("InvalidAttribute", invalid_attributes(attributes))
    _raise_if("UnsupportedContentType", unsupported_content_type(attributes))
    _raise_if("UnknownType", unknown_type(attributes))
    _raise_if("SchemaViolation", schema_violations(attributes["type"], data))
    time = _time_of(attributes.get("time"))
    subject = attributes.get("subject")
    _raise_if("IdMismatch", id_mismatches(attributes["type"], data, subject=subject, key=key))
    _raise_if("FutureTime", future_time(time, now=now))
    return CloudEvent(
        id=attributes["id"],
        source=attributes["source"],
        type=attributes["type"],
        data=data,
        subject=subject,
        time=time,
        specversion=attributes["specversion"],
        datacontenttype=attributes.get("datacontenttype"),
        dataschema=attributes.get("dataschema"),
    )


def parse_structured(obj: Any, *, key: str | None, now: datetime) -> CloudEvent:
    """A structured-mode event: one JSON object holding the attributes and `data`."""
    if not isinstance(obj, Mapping):
        raise InvalidEvent.from_problems("NotACloudEvent", [Problem("an event must be a JSON object", "")])
    return from_attributes(obj, obj.get("data"), key=key, now=now)


def new_event(event_type: str, data: Any, *, id: str, source: str, subject: str | None = None,
              time: datetime | None = None) -> CloudEvent:
    """An event to send, with every attribute set (subject defaults to the data's key); not validated."""
    event = CloudEvent(id=id, source=source, type=event_type, data=data, subject=subject, time=time)
    return with_defaults(event, now=datetime.now(UTC) if time is None else time)


def with_defaults(event: CloudEvent, *, now: datetime) -> CloudEvent:
    """The event with every optional attribute set, so it can go out as CONTRACT section 2 requires."""
    return CloudEvent(
        id=event.id,
        source=event.source,
        type=event.type,
        data=event.data,
        subject=event.subject if event.subject is not None else event.key,
        time=event.time if event.time is not None else _aware(now),
        specversion=event.specversion,
        datacontenttype=event.datacontenttype or DATA_CONTENT_TYPE,
        dataschema=event.dataschema or schema_id(event.type),
    )


def to_structured(event: CloudEvent) -> dict[str, Any]:
    """The JSON object of structured mode, every attribute set; only a missing `time` stays out
    (`with_defaults` gives an event its time)."""
    out = {
        "specversion": event.specversion,
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "subject": event.subject if event.subject is not None else event.key,
        "time": format_time(event.time) if event.time is not None else None,
        "datacontenttype": event.datacontenttype or DATA_CONTENT_TYPE,
        "dataschema": event.dataschema or schema_id(event.type),
        "data": event.data,
    }
    return {name: value for name, value in out.items() if value is not None}


def encode_structured(event: CloudEvent) -> bytes:
    """The structured-mode value: compact UTF-8 JSON; NaN is refused (it is not JSON)."""
    return json.dumps(to_structured(event), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


# A Kafka record to publish: (topic, key, value, headers); a dead letter may have no key.
Record = tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]


def to_record(event: CloudEvent, *, topic_prefix: str, now: datetime) -> Record:
    """(topic, key, value, headers) for publishing an accepted event with every attribute set."""
    event = with_defaults(event, now=now)
    return (
        topic_prefix + EVENT_TYPES[event.type].topic,
        event.key.encode(),
        encode_structured(event),
        [("content-type", OUTPUT_CONTENT_TYPE.encode("ascii"))],
    )


def format_time(time: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, e.g. 2025-01-31T09:30:00.123456Z."""
    return _aware(time).astimezone(UTC).isoformat().replace("+00:00", "Z")


def _raise_if(error_class: str, problems: list[Problem]) -> None:
    if problems:
        raise InvalidEvent.from_problems(error_class, problems)


def _located(problem: Problem) -> str:
    return f"{problem.pointer}: {problem.detail}" if problem.pointer else problem.detail


def _non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _time_of(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("time must carry a UTC offset")
        return value
    if not isinstance(value, str):
        raise ValueError("time must be an RFC 3339 date-time string")
    return parse_datetime(value)


def _aware(moment: datetime) -> datetime:
    # A naive `now` is taken as UTC rather than failing every comparison with an aware time.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
