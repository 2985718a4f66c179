"""The JSON Schemas of every event's `data` (CONTRACT section 3) and the one validator built from them.

The `*.json` files beside this module are the single source of truth: the producer, the matcher and the
API all validate with `validate`, and the API serves each file at its `$id`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "EVENT_TYPES",
    "SCHEMA_BASE",
    "EventType",
    "Problem",
    "parse_datetime",
    "pointer",
    "schema",
    "schema_id",
    "schema_names",
    "validate",
]

SCHEMA_BASE = "https://chainmatch.hsitp.example/v1/schemas/"


@dataclass(frozen=True)
class EventType:
    """One CloudEvent type: the topic it travels on (without the prefix) and which data field is its key."""

    type: str
    topic: str
    key_field: str
    kind: str | None
    action: str


def _event_type(type_: str, topic: str, key_field: str = "id", kind: str | None = None) -> EventType:
    return EventType(type=type_, topic=topic, key_field=key_field, kind=kind, action=type_.rsplit(".", 1)[1])


EVENT_TYPES: dict[str, EventType] = {
    event_type.type: event_type
    for event_type in (
        *(
            _event_type(f"chain.{kind}.{action}", topic, kind=kind)
            for kind, topic in (("company", "companies.v1"), ("lab", "labs.v1"), ("project", "projects.v1"))
            for action in ("upserted", "deleted")
        ),
        _event_type("chain.partnership.decision.submitted", "curation.v1", key_field="partnership_id"),
        _event_type("chain.entity.feedback.submitted", "feedback.v1", key_field="entity_id"),
        _event_type("chain.profiles.stored", "stored.v1"),
        _event_type("chain.apikey.changed", "keys.v1"),
        _event_type("chain.apikey.used", "keyuses.v1"),
        *(
            _event_type(f"chain.partnership.{action}", "partnerships.v1")
            for action in ("recommended", "updated", "decided", "withdrawn")
        ),
    )
}


@dataclass(frozen=True)
class Problem:
    """One reason data is invalid; `pointer` is an RFC 6901 JSON Pointer into the validated document."""

    detail: str
    pointer: str


def schema_id(event_type: str) -> str:
    """The `$id` of the type's schema, which is also the event's `dataschema` and where the API serves it."""
    return SCHEMA_BASE + event_type


def schema_names() -> list[str]:
    return sorted(_schemas())


def schema(name: str) -> dict[str, Any]:
    """A copy of one schema, by event type or `defs` (a trailing `.json` is accepted); KeyError if unknown."""
    return json.loads(json.dumps(_schemas()[name.removesuffix(".json")]))


def validate(event_type: str, data: Any) -> list[Problem]:
    """Every problem of `data` against the type's schema, ordered by pointer; empty when valid.

    Valid data, the common case, is checked by the compiled Rust validator (~50x faster); only invalid
    data goes through the Python one, for its pointers and plain messages."""
    if _fast_validator(event_type).is_valid(data):
        return []
    errors = _validator(event_type).iter_errors(data)
    problems = {problem for error in errors for problem in _problems(error)}
    return sorted(problems, key=lambda problem: (problem.pointer, problem.detail))


def pointer(path: Iterable[str | int]) -> str:
    """RFC 6901: each member escaped (`~` as `~0`, `/` as `~1`), "" for the whole document."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def parse_datetime(text: str) -> datetime:
    """An RFC 3339 date-time (offset required) as an aware datetime; ValueError otherwise."""
    if not _RFC3339.fullmatch(text):
        raise ValueError(f"not an RFC 3339 date-time: {text!r}")
    return datetime.fromisoformat(text.upper())


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    files = resources.files(__name__).iterdir()
    return {
        file.name.removesuffix(".json"): json.loads(file.read_text(encoding="utf-8"))
        for file in files
        if file.name.endswith(".json")
    }


@cache
def _registry() -> Registry:
    # Every $ref resolves among our own files; the registry has no retriever, so nothing is fetched.
    return Registry().with_resources(
        (body["$id"], Resource.from_contents(body, default_specification=DRAFT202012))
        for body in _schemas().values()
    )


def _strict_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterable[ValidationError]:
    # ECMA-262 `$` matches only at the very end; Python's `$` also matches before a final "\n",
    # which would let "acme\n" through as an id.
    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    # Only an unescaped `$` outside a character class is an anchor.
    translated, escaped, in_class = [], False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "[]":
            in_class = char == "["
        elif char == "$" and not in_class:
            char = r"\Z"
        translated.append(char)
    return re.compile("".join(translated))


# RFC 3986 absolute URI, loosely: a scheme, then no whitespace or control characters.
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\x7f]+")


def _is_uri(instance: object) -> bool:
    return not isinstance(instance, str) or _URI.fullmatch(instance) is not None


def _is_datetime(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    try:
        parse_datetime(instance)
    except ValueError:
        return False
    return True


@cache
def _format_checker() -> FormatChecker:
    # Our own stdlib checks only: jsonschema's defaults change with whichever optional packages are installed.
    checker = FormatChecker(formats=())
    checker.checks("uri")(_is_uri)
    checker.checks("date-time")(_is_datetime)
    return checker


_Validator = validators.extend(Draft202012Validator, {"pattern": _strict_pattern})


@cache
def _validator(event_type: str) -> Any:
    body = _schemas()[event_type]
    return _Validator(body, registry=_registry(), format_checker=_format_checker())


@cache
def _fast_validator(event_type: str) -> Any:
    registry = jsonschema_rs.Registry([(body["$id"], body) for body in _schemas().values()])
    return jsonschema_rs.Draft202012Validator(
        _schemas()[event_type], registry=registry, validate_formats=True,
        formats={"uri": _is_uri, "date-time": _is_datetime})


def _problems(error: ValidationError) -> list[Problem]:
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return [Problem(f"{name!r} is required", pointer([*path, name])) for name in missing]
    return [Problem(_detail(error), pointer(path))]


def _detail(error: ValidationError) -> str:
    """A short message that names the rule, never echoing a long offending value back."""
    value = error.validator_value
    match error.validator:
        case "type":
            return f"must be of type {' or '.join(value) if isinstance(value, list) else value}"
        case "pattern":
            return f"must match the pattern {value}"
        case "minLength":
            return "must not be empty" if value == 1 else f"must be at least {value} characters long"
        case "maxLength":
            return f"must be at most {value} characters long"
        case "enum":
            return "must be one of: " + ", ".join(json.dumps(item) for item in value)
        case "const":
            return f"must be {json.dumps(value)}"
        case "format":
            return f"must be a valid {value}"
        case "minimum":
            return f"must be at least {value}"
        case "additionalProperties":
            return "has a member that is not allowed here"
        case "anyOf" | "oneOf":
            return "matches none of the allowed shapes"
    return error.message if len(error.message) <= 200 else error.message[:199] + "…"
