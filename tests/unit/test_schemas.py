"""The JSON Schemas of CONTRACT section 3 and the validator built from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

import schemas
from schemas import EVENT_TYPES, Problem, parse_datetime, pointer, schema, schema_id, schema_names, validate

SCHEMA_DIR = Path(schemas.__file__).parent


def make_entity(**overrides):
    return {"id": "acme-chips", "name": "Acme Chips", "description": "Edge AI accelerators.", **overrides}


def make_project(**overrides):
    project = {"id": "proj.ward-triage", "name": "Ward triage", "description": "Triage at the bedside."}
    return {**project, **overrides}


def make_member(**overrides):
    summary = {"id": "acme-chips", "name": "Acme Chips", "roles": ["chip"], "sectors": ["healthcare"],
               "region": "HK", "kind": "company"}
    return {**summary, **overrides}


def make_partnership(**overrides):
    partnership = {
        "id": "pt_0123abcd",
        "chip": make_member(),
        "algorithm": {"redacted": True, "roles": ["algorithm"]},
        "application": make_member(id="ward-ai", name="Ward AI", roles=["application"], region=None,
                                   kind="lab"),
        "project_id": None,
        "sectors": ["healthcare"],
        "score": 0.82,
        "reasons": ["Both work on hospital imaging."],
        "score_breakdown": {"semantic": 0.7, "sector": 0.12},
        "status": "approved",
        "decisions": [{"decision": "approved", "note": "", "by": "staff", "at": "2025-01-31T09:30:00Z"}],
        "updated_at": "2025-01-31T09:30:00.123+08:00",
        "revision": 3,
    }
    return {**partnership, **overrides}


def pointers(problems: list[Problem]) -> list[str]:
    return [problem.pointer for problem in problems]


# The files and the table of event types.


def test_every_event_type_has_a_schema_file_named_after_it():
    assert sorted(EVENT_TYPES) == sorted(path.stem for path in SCHEMA_DIR.glob("chain.*.json"))
    assert schema_names() == sorted([*EVENT_TYPES, "defs"])


@pytest.mark.parametrize("name", schema_names())
def test_every_schema_is_draft_2020_12_with_an_id_where_the_api_serves_it(name):
    body = json.loads((SCHEMA_DIR / f"{name}.json").read_text())
    Draft202012Validator.check_schema(body)
    assert body["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert body["$id"] == f"https://chainmatch.hsitp.example/v1/schemas/{name}" == schema_id(name)


def test_event_types_name_topic_key_kind_and_action():
    assert EVENT_TYPES["chain.company.upserted"] == schemas.EventType(
        type="chain.company.upserted", topic="companies.v1", key_field="id", kind="company", action="upserted"
    )
    assert EVENT_TYPES["chain.lab.deleted"].topic == "labs.v1"
    assert EVENT_TYPES["chain.project.deleted"].action == "deleted"
    assert EVENT_TYPES["chain.project.upserted"].kind == "project"
    decision = EVENT_TYPES["chain.partnership.decision.submitted"]
    assert (decision.topic, decision.key_field, decision.kind) == ("curation.v1", "partnership_id", None)
    assert {EVENT_TYPES[f"chain.partnership.{action}"].topic
            for action in ("recommended", "updated", "decided", "withdrawn")} == {"partnerships.v1"}


def test_schema_returns_a_copy_and_accepts_a_json_suffix():
    body = schema("chain.company.upserted.json")
    body["title"] = "changed"
    assert schema("chain.company.upserted")["title"] != "changed"
    with pytest.raises(KeyError):
        schema("chain.unknown")


# Entities: company and lab.


@pytest.mark.parametrize("event_type", ["chain.company.upserted", "chain.lab.upserted"])
def test_a_full_entity_is_valid(event_type):
    entity = make_entity(name_zh="艾克芯片", roles=["chip", "algorithm"], sectors=["healthcare", "space"],
                         capabilities=["npu"], offers=["compute", "pilot_site"], maturity="testing",
                         institution="HKU", region="CN-GD-SZ", data_policy="gba_only",
                         website="https://acme.example/about?lang=en")
    assert validate(event_type, entity) == []


def test_unknown_fields_are_accepted():
    assert validate("chain.company.upserted", make_entity(founded=2019, tags={"any": ["thing"]})) == []


@pytest.mark.parametrize("region", ["HK", "MO", "CN-HK", "CN-GD-SZ", "CN-BJ", "SG", "US", "CN-GD"])
def test_region_codes_are_accepted(region):
    assert validate("chain.lab.upserted", make_entity(region=region)) == []


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"id": "Acme"}, "/id"),
        ({"id": "-acme"}, "/id"),
        ({"id": "a" * 65}, "/id"),
        ({"id": "acme\n"}, "/id"),
        ({"name": ""}, "/name"),
        ({"name": "n" * 201}, "/name"),
        ({"description": ""}, "/description"),
        ({"description": "d" * 5001}, "/description"),
        ({"region": "hk"}, "/region"),
        ({"region": "CN-GD-SZ-X-Y"}, "/region"),
        ({"region": "HK\n"}, "/region"),
        ({"data_policy": "eu_only"}, "/data_policy"),
        ({"website": "acme dot example"}, "/website"),
        ({"maturity": "idea"}, "/maturity"),
        ({"offers": ["compute", "money"]}, "/offers/1"),
        ({"roles": ["chip", "cpu"]}, "/roles/1"),
        ({"sectors": "healthcare"}, "/sectors"),
    ],
)
def test_an_entity_breaking_a_field_rule_is_pointed_at(overrides, where):
    assert pointers(validate("chain.company.upserted", make_entity(**overrides))) == [where]


def test_each_missing_required_field_gets_its_own_pointer():
    problems = validate("chain.company.upserted", {"region": "HK"})
    assert pointers(problems) == ["/description", "/id", "/name"]
    assert problems[0].detail == "'description' is required"


def test_data_that_is_not_an_object_points_at_the_root():
    assert validate("chain.company.upserted", ["acme"]) == [Problem("must be of type object", "")]


def test_a_long_offending_value_is_not_echoed_back():
    (problem,) = validate("chain.company.upserted", make_entity(description="d" * 5001))
    assert problem.detail == "must be at most 5000 characters long"


# Projects.


def test_a_full_project_is_valid():
    project = make_project(needs=["algorithm", "pilot_site"], owner_id="hk-general", stage="research",
                           sectors=["healthcare"], region="HK", data_policy="hk_only")
    assert validate("chain.project.upserted", project) == []


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"needs": ["chip", "money"]}, "/needs/1"),
        ({"owner_id": "Not An Id"}, "/owner_id"),
        ({"stage": "done"}, "/stage"),
    ],
)
def test_a_project_breaking_a_field_rule_is_pointed_at(overrides, where):
    assert pointers(validate("chain.project.upserted", make_project(**overrides))) == [where]


# Deletes and decisions.


@pytest.mark.parametrize("kind", ["company", "lab", "project"])
def test_a_delete_needs_only_a_valid_id(kind):
    assert validate(f"chain.{kind}.deleted", {"id": "acme-chips"}) == []
    assert pointers(validate(f"chain.{kind}.deleted", {"id": "ACME"})) == ["/id"]
    assert pointers(validate(f"chain.{kind}.deleted", {})) == ["/id"]


def test_a_decision_may_have_an_empty_note():
    decision = {"partnership_id": "pt_9f00", "decision": "rejected", "note": "", "by": "Ada"}
    assert validate("chain.partnership.decision.submitted", decision) == []


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"decision": "maybe"}, "/decision"),
        ({"note": "n" * 2001}, "/note"),
        ({"partnership_id": "9f00"}, "/partnership_id"),
        ({"by": None}, "/by"),
    ],
)
def test_a_bad_decision_is_pointed_at(overrides, where):
    decision = {"partnership_id": "pt_9f00", "decision": "approved", "note": "ok", "by": "Ada", **overrides}
    assert pointers(validate("chain.partnership.decision.submitted", decision)) == [where]


# Partnerships.


@pytest.mark.parametrize("action", ["recommended", "updated", "decided"])
def test_a_partnership_with_a_revision_is_valid(action):
    assert validate(f"chain.partnership.{action}", make_partnership()) == []
    assert validate(f"chain.partnership.{action}", make_partnership(project_id="proj.ward-triage")) == []


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"id": "pt_XYZ"}, "/id"),
        ({"revision": "3"}, "/revision"),
        ({"status": "maybe"}, "/status"),
        ({"updated_at": "2025-01-31 09:30"}, "/updated_at"),
        ({"algorithm": {"redacted": True, "roles": ["algorithm"], "name": "leaked"}}, "/algorithm"),
        ({"chip": make_member(kind="person")}, "/chip"),
        ({"decisions": [{"decision": "approved", "note": "", "by": "x", "at": "yesterday"}]},
         "/decisions/0/at"),
    ],
)
def test_a_bad_partnership_is_pointed_at(overrides, where):
    assert pointers(validate("chain.partnership.updated", make_partnership(**overrides))) == [where]


def test_a_partnership_event_needs_its_revision():
    partnership = make_partnership()
    del partnership["revision"]
    assert pointers(validate("chain.partnership.recommended", partnership)) == ["/revision"]


def test_a_withdrawal_has_id_revision_and_reason():
    withdrawal = {"id": "pt_01", "revision": 4, "reason": "lab deleted"}
    assert validate("chain.partnership.withdrawn", withdrawal) == []
    assert pointers(validate("chain.partnership.withdrawn", {"id": "pt_01"})) == ["/reason", "/revision"]


def test_pointers_escape_tilde_and_slash():
    problems = validate("chain.partnership.updated", make_partnership(score_breakdown={"a/b~c": "high"}))
    assert pointers(problems) == ["/score_breakdown/a~1b~0c"]
    assert pointer(["data", "x/y", 0]) == "/data/x~1y/0"
    assert pointer([]) == ""


def test_problems_come_in_a_stable_order():
    bad = make_entity(id="Bad", region="hk", roles=["x"], name="")
    reordered = dict(reversed(bad.items()))
    assert validate("chain.company.upserted", bad) == validate("chain.company.upserted", reordered)
    assert pointers(validate("chain.company.upserted", bad)) == ["/id", "/name", "/region", "/roles/0"]


# Date-times.


@pytest.mark.parametrize(
    "text", ["2025-01-31T09:30:00Z", "2025-01-31t09:30:00.5z", "2025-01-31T09:30:00.123456789+08:00"]
)
def test_rfc3339_date_times_parse_to_aware_datetimes(text):
    assert parse_datetime(text).tzinfo is not None


@pytest.mark.parametrize(
    "text", ["2025-01-31T09:30:00", "2025-01-31", "2025-13-01T00:00:00Z", "2025-01-31T09:30:00Z\n", "now"]
)
def test_anything_else_is_not_a_date_time(text):
    with pytest.raises(ValueError):
        parse_datetime(text)
