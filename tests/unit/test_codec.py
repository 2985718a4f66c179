"""The Kafka protocol binding: record value, key and headers in, CloudEvent out, and back (streams.codec)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from schemas.cloudevents import InvalidEvent, format_time, new_event
from streams.codec import MAX_EVENT_BYTES, decode, encode

NOW = datetime(2025, 1, 31, 9, 30, tzinfo=UTC)
COMPANY = {"id": "acme-chips", "name": "Acme Chips", "description": "Edge AI accelerators."}
DATA_BY_TYPE = {
    "chain.company.upserted": COMPANY,
    "chain.lab.upserted": {**COMPANY, "id": "hku-vision", "institution": "HKU"},
    "chain.project.upserted": {**COMPANY, "id": "proj.triage", "needs": ["algorithm", "pilot_site"]},
    "chain.company.deleted": {"id": "acme-chips"},
    "chain.lab.deleted": {"id": "hku-vision"},
    "chain.project.deleted": {"id": "proj.triage"},
    "chain.partnership.decision.submitted": {"partnership_id": "pt_9f00", "decision": "rejected", "note": "",
                                             "by": "Ada"},
}
STRUCTURED = [("content-type", b"application/cloudevents+json")]


def make_event(event_type="chain.company.upserted", **overrides):
    data = DATA_BY_TYPE[event_type]
    event = {"specversion": "1.0", "id": "evt-1", "source": "/crm", "type": event_type,
             "time": "2025-01-31T09:29:00Z", "data": data, **overrides}
    return {name: value for name, value in event.items() if value is not None}


def as_bytes(obj) -> bytes:
    return json.dumps(obj).encode()


def binary_headers(event_type="chain.company.upserted", content_type=b"application/json", **overrides):
    """Binary-mode headers with deliberately mixed-case names; an override of None drops the header."""
    headers = {"CE_specversion": b"1.0", "ce_ID": b"evt-1", "Ce_Source": b"/crm",
               "ce_type": event_type.encode(), "ce_time": b"2025-01-31T09:29:00Z",
               "Content-Type": content_type, **overrides}
    return [(name, value) for name, value in headers.items() if value is not None]


def rejection(**record) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        decode(**{"key": None, "headers": [], "now": NOW, **record})
    return caught.value


def pointers(error: InvalidEvent) -> list[str]:
    return [problem.pointer for problem in error.errors]


# Structured mode.


@pytest.mark.parametrize("event_type", sorted(DATA_BY_TYPE))
@pytest.mark.parametrize("headers", [STRUCTURED, [("Content-Type", b"application/cloudevents+json")], []])
def test_structured_mode_with_or_without_content_type(event_type, headers):
    data = DATA_BY_TYPE[event_type]
    key = data.get("id", data.get("partnership_id")).encode()
    event = decode(value=as_bytes(make_event(event_type)), key=key, headers=headers, now=NOW)
    assert (event.type, event.data, event.key) == (event_type, data, key.decode())


def test_a_structured_content_type_wins_over_stray_ce_headers():
    headers = [*STRUCTURED, ("ce_traceparent", b"00-abc-01")]
    assert decode(value=as_bytes(make_event()), key=None, headers=headers, now=NOW).id == "evt-1"


def test_extension_attributes_and_unknown_data_fields_are_accepted():
    obj = make_event(traceparent="00-abc-01", data={**COMPANY, "founded": 2019})
    event = decode(value=as_bytes(obj), key=b"acme-chips", headers=[], now=NOW)
    assert event.data["founded"] == 2019


# Binary mode.


@pytest.mark.parametrize("event_type", sorted(DATA_BY_TYPE))
def test_binary_mode_with_mixed_case_header_names(event_type):
    data = DATA_BY_TYPE[event_type]
    event = decode(value=as_bytes(data), key=None, headers=binary_headers(event_type), now=NOW)
    assert (event.id, event.source, event.type, event.data) == ("evt-1", "/crm", event_type, data)
    assert event.datacontenttype == "application/json"
    assert event.time == datetime(2025, 1, 31, 9, 29, tzinfo=UTC)


def test_binary_mode_without_content_type_reads_json():
    headers = binary_headers(content_type=None)
    event = decode(value=as_bytes(COMPANY), key=b"acme-chips", headers=headers, now=NOW)
    assert (event.data, event.datacontenttype) == (COMPANY, None)


def test_binary_mode_ignores_extension_and_foreign_headers():
    headers = [*binary_headers(), ("ce_traceparent", b"00-abc-01"), ("x-request-id", b"\xff\xfe")]
    assert decode(value=as_bytes(COMPANY), key=None, headers=headers, now=NOW).data == COMPANY


def test_headers_may_come_as_a_mapping_and_with_empty_values():
    headers = dict(binary_headers(ce_subject=b"acme-chips"))
    headers["x-empty"] = None
    assert decode(value=as_bytes(COMPANY), key=None, headers=headers, now=NOW).subject == "acme-chips"


@pytest.mark.parametrize("name", ["CE_specversion", "ce_ID", "Ce_Source", "ce_type"])
def test_binary_mode_requires_each_attribute(name):
    error = rejection(value=as_bytes(COMPANY), headers=binary_headers(**{name: None}))
    attribute = name.lower().removeprefix("ce_")
    assert (error.error_class, pointers(error)) == ("MissingAttribute", [f"/{attribute}"])


def test_binary_mode_requires_data():
    error = rejection(value=None, headers=binary_headers())
    assert (error.error_class, pointers(error)) == ("MissingAttribute", ["/data"])


def test_binary_mode_rejects_specversion_0_3():
    error = rejection(value=as_bytes(COMPANY), headers=binary_headers(CE_specversion=b"0.3"))
    assert (error.error_class, pointers(error)) == ("UnsupportedSpecVersion", ["/specversion"])


def test_binary_mode_rejects_data_that_is_not_json():
    error = rejection(value=b"name=acme", headers=binary_headers())
    assert (error.error_class, pointers(error)) == ("NotACloudEvent", ["/data"])
    error = rejection(value=b"name=acme", headers=binary_headers(content_type=b"text/plain"))
    assert (error.error_class, pointers(error)) == ("UnsupportedContentType", ["/datacontenttype"])


def test_binary_mode_rejects_a_header_that_is_not_utf8():
    error = rejection(value=as_bytes(COMPANY), headers=binary_headers(Ce_Source=b"\xff"))
    assert (error.error_class, pointers(error)) == ("NotACloudEvent", ["/source"])


# Rejections shared by both modes.


@pytest.mark.parametrize("value", [b"not json", b"\xff\xfe{}", b'["an", "array"]', b"", b'{"id": NaN}'])
def test_a_value_that_is_not_a_json_object_is_not_a_cloud_event(value):
    error = rejection(value=value, headers=STRUCTURED)
    assert (error.error_class, pointers(error)) == ("NotACloudEvent", [""])


def test_a_tombstone_is_not_a_cloud_event():
    assert rejection(value=None, key=b"acme-chips").error_class == "NotACloudEvent"


@pytest.mark.parametrize("name", ["specversion", "id", "source", "type", "data"])
def test_structured_mode_requires_each_attribute(name):
    error = rejection(value=as_bytes(make_event(**{name: None})))
    assert (error.error_class, pointers(error)) == ("MissingAttribute", [f"/{name}"])


def test_specversion_0_3_is_unsupported():
    error = rejection(value=as_bytes(make_event(specversion="0.3")))
    assert (error.error_class, pointers(error)) == ("UnsupportedSpecVersion", ["/specversion"])


def test_an_unknown_type_is_rejected():
    error = rejection(value=as_bytes(make_event(type="chain.company.merged")))
    assert (error.error_class, pointers(error)) == ("UnknownType", ["/type"])


@pytest.mark.parametrize(("data", "where"), [({**COMPANY, "id": "ACME CHIPS"}, "/data/id"),
                                             ({**COMPANY, "region": "hk"}, "/data/region")])
def test_a_schema_violation_points_into_data(data, where):
    error = rejection(value=as_bytes(make_event(data=data)))
    assert (error.error_class, pointers(error)) == ("SchemaViolation", [where])


def test_the_key_must_match_the_data_id():
    error = rejection(value=as_bytes(make_event()), key=b"other-co")
    assert (error.error_class, pointers(error)) == ("IdMismatch", ["/data/id"])
    assert rejection(value=as_bytes(make_event()), key=b"\xffacme").error_class == "IdMismatch"


def test_an_empty_key_counts_as_no_key():
    assert decode(value=as_bytes(make_event()), key=b"", headers=[], now=NOW).key == "acme-chips"


def test_the_subject_must_match_the_data_id():
    headers = binary_headers(ce_subject=b"other-co")
    error = rejection(value=as_bytes(COMPANY), key=b"acme-chips", headers=headers)
    assert (error.error_class, pointers(error)) == ("IdMismatch", ["/subject"])


def test_time_six_minutes_ahead_is_rejected_and_four_minutes_accepted():
    ahead = make_event(time=format_time(NOW + timedelta(minutes=6)))
    error = rejection(value=as_bytes(ahead))
    assert (error.error_class, pointers(error)) == ("FutureTime", ["/time"])
    soon = make_event(time=format_time(NOW + timedelta(minutes=4)))
    assert decode(value=as_bytes(soon), key=None, headers=[], now=NOW).time == NOW + timedelta(minutes=4)


def padded_to(size: int) -> bytes:
    """A valid structured event whose value, headers included, weighs exactly `size` bytes."""
    base = as_bytes(make_event(data={**COMPANY, "pad": ""}))
    headers_size = sum(len(name) + len(value) for name, value in STRUCTURED)
    return as_bytes(make_event(data={**COMPANY, "pad": "x" * (size - len(base) - headers_size)}))


def test_a_record_over_one_mebibyte_is_too_large():
    assert decode(value=padded_to(MAX_EVENT_BYTES), key=None, headers=STRUCTURED, now=NOW).id == "evt-1"
    error = rejection(value=padded_to(MAX_EVENT_BYTES + 1), headers=STRUCTURED)
    assert (error.error_class, pointers(error)) == ("TooLarge", [""])


def test_the_key_counts_towards_the_size():
    value = padded_to(MAX_EVENT_BYTES)
    assert rejection(value=value, key=b"acme-chips", headers=STRUCTURED).error_class == "TooLarge"


# Encoding.


def test_encode_writes_structured_mode_with_every_attribute():
    event = new_event("chain.company.upserted", COMPANY, id="evt-9", source="/api", time=NOW)
    value, headers = encode(event)
    assert headers == [("content-type", b"application/cloudevents+json; charset=UTF-8")]
    assert json.loads(value) == {
        "specversion": "1.0", "id": "evt-9", "source": "/api", "type": "chain.company.upserted",
        "subject": "acme-chips", "time": "2025-01-31T09:30:00Z", "datacontenttype": "application/json",
        "dataschema": "https://chainmatch.hsitp.example/v1/schemas/chain.company.upserted", "data": COMPANY,
    }


@pytest.mark.parametrize("event_type", sorted(DATA_BY_TYPE))
def test_encode_round_trips_through_decode(event_type):
    event = new_event(event_type, DATA_BY_TYPE[event_type], id="evt-9", source="/api", time=NOW)
    value, headers = encode(event)
    assert decode(value=value, key=event.key.encode(), headers=headers, now=NOW) == event


def test_encode_is_deterministic_and_keeps_unicode():
    event = new_event("chain.lab.upserted", {**COMPANY, "name_zh": "艾克芯片"}, id="e", source="/s", time=NOW)
    assert encode(event) == encode(event)
    assert "艾克芯片".encode() in encode(event)[0]


def test_encode_refuses_a_score_that_is_not_a_number():
    data = {**COMPANY, "score": float("nan")}
    event = new_event("chain.company.upserted", data, id="e", source="/s", time=NOW)
    with pytest.raises(ValueError):
        encode(event)
