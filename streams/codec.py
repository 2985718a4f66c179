"""The Kafka protocol binding of CloudEvents (CONTRACT section 2): record value, key, headers <-> CloudEvent.

In: structured mode (the JSON event as the value, with or without `content-type:
application/cloudevents+json`) or binary mode (attributes in `ce_*` headers, `data` as the value), header
names matched case-insensitively. Out: always structured mode. The event rules live in
`schemas.cloudevents`, shared with the API.
"""

# Hand-written rather than cloudevents.core.bindings.kafka.from_kafka (SDK 2.2.0): the SDK invents a
# missing id, specversion and time, reads non-JSON binary data as a string, picks binary mode on any ce_
# header even under a structured content-type, and raises bare ValueError/JSONDecodeError, so it cannot
# report MissingAttribute, NotACloudEvent or pointers.

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from schemas import Problem
from schemas.cloudevents import (
    OUTPUT_CONTENT_TYPE,
    CloudEvent,
    InvalidEvent,
    encode_structured,
    from_attributes,
    is_json_media_type,
    parse_structured,
)

__all__ = ["CONTENT_TYPE_HEADER", "MAX_EVENT_BYTES", "decode", "encode"]

MAX_EVENT_BYTES = 1024 * 1024
CONTENT_TYPE_HEADER = "content-type"
_CE_PREFIX = "ce_"
_STRUCTURED_MEDIA_TYPE = "application/cloudevents"

Headers = Sequence[tuple[str, bytes | None]] | Mapping[str, bytes | None]


def decode(*, value: bytes | None, key: bytes | None, headers: Headers, now: datetime) -> CloudEvent:
    """The event a record carries, in either content mode; raises InvalidEvent."""
    items = _header_items(headers)
    size = record_size(value=value, key=key, headers=items)
    if size > MAX_EVENT_BYTES:
        raise _invalid("TooLarge", f"the record is {size} bytes; at most {MAX_EVENT_BYTES} are accepted", "")
    named = header_map(items)
    record_key = key_text(key)
    if is_binary_mode(named):
        attributes = binary_attributes(named)
        data = binary_data(value, attributes.get("datacontenttype"))
        return from_attributes(attributes, data, key=record_key, now=now)
    if value is None:
        raise _invalid("NotACloudEvent", "the record has no value", "")
    return parse_structured(parse_json(value, pointer=""), key=record_key, now=now)


def encode(event: CloudEvent) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Structured mode: (value, headers). The Kafka key is `event.key`."""
    return encode_structured(event), [(CONTENT_TYPE_HEADER, OUTPUT_CONTENT_TYPE.encode("ascii"))]


def record_size(*, value: bytes | None, key: bytes | None, headers: Iterable[tuple[str, bytes]]) -> int:
    """What the record weighs on the wire, near enough: value, key and every header."""
    header_bytes = sum(len(name.encode("utf-8")) + len(header) for name, header in headers)
    return len(value or b"") + len(key or b"") + header_bytes


def header_map(headers: Iterable[tuple[str, bytes]]) -> dict[str, bytes]:
    """Headers by lowercase name; when a name repeats, the last one wins."""
    return {name.lower(): header for name, header in headers}


def is_binary_mode(named: Mapping[str, bytes]) -> bool:
    # The CloudEvents Kafka binding: a structured content-type decides first, then any ce_ header.
    content_type = named.get(CONTENT_TYPE_HEADER, b"").decode("latin-1").strip().lower()
    if content_type.startswith(_STRUCTURED_MEDIA_TYPE):
        return False
    return any(name.startswith(_CE_PREFIX) for name in named)


def binary_attributes(named: Mapping[str, bytes]) -> dict[str, str]:
    """Context attributes from `ce_*` headers, `datacontenttype` from `content-type`."""
    attributes: dict[str, str] = {}
    for name, header in named.items():
        if name.startswith(_CE_PREFIX):
            attribute = name.removeprefix(_CE_PREFIX)
        elif name == CONTENT_TYPE_HEADER:
            attribute = "datacontenttype"
        else:
            continue
        try:
            attributes[attribute] = header.decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid("NotACloudEvent", f"the header {name!r} is not UTF-8", f"/{attribute}") from None
    return attributes


def binary_data(value: bytes | None, content_type: str | None) -> Any:
    """`data` from the value: parsed JSON, None when empty, the raw bytes under a non-JSON content-type
    (which `from_attributes` then refuses with UnsupportedContentType)."""
    if not value:
        return None
    if content_type is not None and not is_json_media_type(content_type):
        return value
    return parse_json(value, pointer="/data")


def parse_json(value: bytes, *, pointer: str) -> Any:
    """Strict JSON from UTF-8 bytes (no NaN or Infinity); NotACloudEvent otherwise."""
    try:
        return json.loads(value.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise _invalid("NotACloudEvent", "the value is not UTF-8", pointer) from None
    except (ValueError, RecursionError) as error:
        raise _invalid("NotACloudEvent", f"the value is not JSON: {error}", pointer) from None


def key_text(key: bytes | None) -> str | None:
    # An undecodable key cannot equal any id, so it fails later as IdMismatch rather than here.
    return key.decode("utf-8", errors="replace") if key else None


def _header_items(headers: Headers) -> list[tuple[str, bytes]]:
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return [
        (name.decode("utf-8", errors="replace") if isinstance(name, bytes) else name, header or b"")
        for name, header in pairs
    ]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _invalid(error_class: str, detail: str, pointer: str) -> InvalidEvent:
    return InvalidEvent.from_problems(error_class, [Problem(detail, pointer)])
