"""The CloudEvents rules of CONTRACT section 2, with no transport: schemas.cloudevents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from schemas import Problem
from schemas.cloudevents import (
    OUTPUT_CONTENT_TYPE,
    CloudEvent,
    InvalidEvent,
    format_time,
    future_time,
    id_mismatches,
    invalid_attributes,
    is_json_media_type,
    missing_attributes,
    new_event,
    parse_structured,
    to_structured,
    unknown_type,
    unsupported_content_type,
    unsupported_specversion,
    with_defaults,
)

NOW = datetime(2025, 1, 31, 9, 30, tzinfo=UTC)
COMPANY = {"id": "acme-chips", "name": "Acme Chips", "description": "Edge AI accelerators."}
DECISION = {"partnership_id": "pt_9f00", "decision": "approved", "note": "", "by": "Ada"}


def make_event(**overrides):
    """A structured-mode event object; an override of None removes the attribute."""
    event = {"specversion": "1.0", "id": "evt-1", "source": "/crm/acme", "type": "chain.company.upserted",
             "subject": "acme-chips", "time": "2025-01-31T09:29:00Z", "data": dict(COMPANY), **overrides}
    return {name: value for name, value in event.items() if value is not None}


def rejection(obj, *, key=None, now=NOW) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        parse_structured(obj, key=key, now=now)
    return caught.value


def pointers(error: InvalidEvent) -> list[str]:
    return [problem.pointer for problem in error.errors]


# Accepted events.


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("chain.company.upserted", COMPANY),
        ("chain.lab.upserted", {**COMPANY, "institution": "HKU"}),
        ("chain.project.upserted", {**COMPANY, "needs": ["chip", "dataset"], "owner_id": "hk-general"}),
        ("chain.company.deleted", {"id": "acme-chips"}),
        ("chain.lab.deleted", {"id": "acme-chips"}),
        ("chain.project.deleted", {"id": "acme-chips"}),
    ],
)
def test_a_valid_entity_event_is_accepted_and_keyed_by_its_id(event_type, data):
    event = parse_structured(make_event(type=event_type, data=data), key="acme-chips", now=NOW)
    assert (event.type, event.data, event.key) == (event_type, data, "acme-chips")
    assert event.time == datetime(2025, 1, 31, 9, 29, tzinfo=UTC)


def test_a_decision_is_keyed_by_its_partnership_id():
    obj = make_event(type="chain.partnership.decision.submitted", subject="pt_9f00", data=DECISION)
    assert parse_structured(obj, key="pt_9f00", now=NOW).key == "pt_9f00"


def test_optional_attributes_may_be_absent_and_a_missing_key_is_fine():
    event = parse_structured(make_event(subject=None, time=None), key=None, now=NOW)
    assert (event.subject, event.time, event.datacontenttype, event.dataschema) == (None, None, None, None)


def test_extension_attributes_are_allowed_and_ignored():
    obj = make_event(traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", partitionkey="x")
    assert parse_structured(obj, key=None, now=NOW) == parse_structured(make_event(), key=None, now=NOW)


def test_unknown_data_fields_are_kept():
    data = {**COMPANY, "founded": 2019}
    assert parse_structured(make_event(data=data), key=None, now=NOW).data == data


def test_a_json_datacontenttype_with_parameters_is_accepted():
    obj = make_event(datacontenttype="application/json; charset=utf-8", dataschema="https://x.example/s")
    assert parse_structured(obj, key=None, now=NOW).datacontenttype == "application/json; charset=utf-8"


# Rejected events: one error class each, with pointers into the event.


@pytest.mark.parametrize("name", ["specversion", "id", "source", "type", "data"])
def test_each_required_attribute_is_required(name):
    error = rejection(make_event(**{name: None}))
    assert (error.error_class, pointers(error)) == ("MissingAttribute", [f"/{name}"])


def test_all_missing_attributes_are_reported_together():
    error = rejection({"type": "chain.company.upserted"})
    assert pointers(error) == ["/specversion", "/id", "/source", "/data"]
    assert "/specversion" in error.message and str(error) == error.message


@pytest.mark.parametrize("version", ["0.3", "1", 1.0])
def test_only_specversion_1_0_is_supported(version):
    error = rejection(make_event(specversion=version))
    assert (error.error_class, pointers(error)) == ("UnsupportedSpecVersion", ["/specversion"])


def test_an_unknown_type_is_rejected():
    error = rejection(make_event(type="chain.company.renamed"))
    assert (error.error_class, pointers(error)) == ("UnknownType", ["/type"])


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({**COMPANY, "id": "Acme Chips"}, ["/data/id"]),
        ({**COMPANY, "region": "Hong Kong"}, ["/data/region"]),
        ({"id": "acme-chips"}, ["/data/description", "/data/name"]),
        ("acme-chips", ["/data"]),
    ],
)
def test_data_breaking_its_schema_is_a_schema_violation(data, where):
    error = rejection(make_event(data=data, subject=None))
    assert (error.error_class, pointers(error)) == ("SchemaViolation", where)


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"id": 7}, "/id"),
        ({"source": ""}, "/source"),
        ({"subject": ""}, "/subject"),
        ({"time": "yesterday"}, "/time"),
        ({"time": "2025-01-31T09:29:00"}, "/time"),
        ({"dataschema": 3}, "/dataschema"),
    ],
)
def test_a_malformed_attribute_is_invalid(overrides, where):
    error = rejection(make_event(**overrides))
    assert (error.error_class, pointers(error)) == ("InvalidAttribute", [where])


def test_data_that_is_not_json_is_unsupported():
    error = rejection(make_event(datacontenttype="text/plain"))
    assert (error.error_class, pointers(error)) == ("UnsupportedContentType", ["/datacontenttype"])


def test_the_record_key_must_be_the_data_id():
    error = rejection(make_event(subject=None), key="other-co")
    assert (error.error_class, pointers(error)) == ("IdMismatch", ["/data/id"])


def test_the_subject_must_be_the_data_id():
    error = rejection(make_event(subject="other-co"), key="acme-chips")
    assert (error.error_class, pointers(error)) == ("IdMismatch", ["/subject"])


def test_a_decision_key_must_be_its_partnership_id():
    obj = make_event(type="chain.partnership.decision.submitted", subject=None, data=DECISION)
    error = rejection(obj, key="pt_0000")
    assert (error.error_class, pointers(error)) == ("IdMismatch", ["/data/partnership_id"])


@pytest.mark.parametrize(("ahead", "accepted"), [(timedelta(minutes=4), True), (timedelta(minutes=5), True),
                                                  (timedelta(minutes=5, seconds=1), False),
                                                  (timedelta(minutes=6), False)])
def test_time_more_than_five_minutes_ahead_is_rejected(ahead, accepted):
    obj = make_event(time=format_time(NOW + ahead))
    if accepted:
        assert parse_structured(obj, key=None, now=NOW).time == NOW + ahead
    else:
        error = rejection(obj)
        assert (error.error_class, pointers(error)) == ("FutureTime", ["/time"])


def test_a_time_with_an_offset_is_compared_as_an_instant():
    hong_kong = timezone(timedelta(hours=8))
    obj = make_event(time=(NOW + timedelta(minutes=4)).astimezone(hong_kong).isoformat())
    assert parse_structured(obj, key=None, now=NOW).time == NOW + timedelta(minutes=4)


@pytest.mark.parametrize("obj", [["not", "an", "object"], "event", None, 3])
def test_a_structured_event_must_be_an_object(obj):
    error = rejection(obj)
    assert (error.error_class, pointers(error)) == ("NotACloudEvent", [""])


def test_the_first_failing_rule_names_the_error():
    error = rejection(make_event(specversion="0.3", type="chain.unknown", data={"id": "X"}))
    assert error.error_class == "UnsupportedSpecVersion"


# The rules on their own.


def test_missing_attributes_mentions_data_base64():
    attributes = {"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data_base64": "e30="}
    (problem,) = missing_attributes(attributes, None)
    assert problem.pointer == "/data" and "data_base64" in problem.detail


def test_rules_return_no_problems_for_a_good_event():
    attributes = make_event()
    assert missing_attributes(attributes, attributes["data"]) == []
    assert unsupported_specversion(attributes) == []
    assert invalid_attributes(attributes) == []
    assert unsupported_content_type(attributes) == []
    assert unknown_type(attributes) == []
    assert id_mismatches("chain.company.upserted", COMPANY, subject="acme-chips", key="acme-chips") == []
    assert future_time(None, now=NOW) == []


def test_future_time_accepts_a_naive_now_as_utc():
    assert future_time(NOW + timedelta(minutes=6), now=NOW.replace(tzinfo=None)) == [
        Problem(f"time is more than 0:05:00 after now ({format_time(NOW)})", "/time")
    ]


@pytest.mark.parametrize(("content_type", "json"), [("application/json", True), ("Application/JSON", True),
                                                    ("application/cloudevents+json; charset=UTF-8", True),
                                                    ("text/json", True), ("text/plain", False),
                                                    ("application/octet-stream", False)])
def test_json_media_types(content_type, json):
    assert is_json_media_type(content_type) is json


# Events going out.


def test_new_event_sets_every_attribute():
    event = new_event("chain.company.upserted", COMPANY, id="evt-2", source="/api")
    assert event.subject == "acme-chips"
    assert event.datacontenttype == "application/json"
    assert event.dataschema == "https://chainmatch.hsitp.example/v1/schemas/chain.company.upserted"
    assert event.time is not None and event.time.tzinfo is not None
    assert event.specversion == "1.0"


def test_to_structured_writes_every_attribute():
    event = new_event("chain.partnership.decision.submitted", DECISION, id="evt-3", source="/api", time=NOW)
    assert to_structured(event) == {
        "specversion": "1.0",
        "id": "evt-3",
        "source": "/api",
        "type": "chain.partnership.decision.submitted",
        "subject": "pt_9f00",
        "time": "2025-01-31T09:30:00Z",
        "datacontenttype": "application/json",
        "dataschema": "https://chainmatch.hsitp.example/v1/schemas/chain.partnership.decision.submitted",
        "data": DECISION,
    }
    assert OUTPUT_CONTENT_TYPE == "application/cloudevents+json; charset=UTF-8"


def test_an_accepted_event_gets_its_missing_attributes_on_the_way_out():
    accepted = parse_structured(make_event(subject=None, time=None), key=None, now=NOW)
    out = to_structured(with_defaults(accepted, now=NOW))
    assert (out["subject"], out["time"], out["dataschema"]) == (
        "acme-chips", "2025-01-31T09:30:00Z", "https://chainmatch.hsitp.example/v1/schemas/chain.company.upserted"
    )


def test_structured_form_round_trips():
    data = {**COMPANY, "stage": "testing"}
    event = new_event("chain.project.upserted", data, id="e", source="/s", time=NOW)
    assert parse_structured(to_structured(event), key=event.key, now=NOW) == event


def test_format_time_is_rfc3339_in_utc():
    hong_kong = timezone(timedelta(hours=8))
    in_hong_kong = datetime(2025, 1, 31, 17, 30, 0, 250000, tzinfo=hong_kong)
    assert format_time(in_hong_kong) == "2025-01-31T09:30:00.250000Z"


def test_cloud_event_key_follows_the_type():
    event = CloudEvent(id="1", source="s", type="chain.partnership.withdrawn",
                       data={"id": "pt_01", "revision": 2, "reason": "gone"})
    assert event.key == "pt_01"
