"""schemathesis against the app's own OpenAPI, in process: no 5xx, and every response as documented."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from builders import make_entity, make_project
from fakes import FakeBackend
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from api.app import create_app
from chainmatch.settings import ApiKey, Settings
from matcher.model import Profile, Upsert
from schemas import schema_names
from subscribers.hub import Subscribers

KEYS = {
    "staff-key": ApiKey(role="staff", name="Ada"),
    "company-key": ApiKey(role="company", entity_id="chip-1"),
}
STREAMS = r"^/v1/partnerships/stream$"  # an endless SSE response: nothing to validate example by example
# How a schema-violating request may be refused: schemathesis's own list, and 413 for a body over the
# limit (an oversized batch breaks the schema's maxItems and the body limit at once; the limit answers).
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]


# The subscriptions' store lives in a data dir; one for the whole module, removed at exit.
DATA_DIR = tempfile.TemporaryDirectory(prefix="fuzz-")


def public_resolver(host: str, port: int) -> list[str]:
    """Every webhook host resolves to a public address, so valid subscriptions are created."""
    return ["93.184.216.34"]


def seeded_app():
    settings = Settings(api_keys=KEYS, data_dir=Path(DATA_DIR.name))
    backend = FakeBackend(subscribers=Subscribers(settings, resolver=public_resolver))
    backend.matcher().apply([
        Upsert(Profile.from_data("company", make_entity(id="chip-1", roles=["chip"], region="HK"))),
        Upsert(Profile.from_data("company", make_entity(id="algo-1", roles=["algorithm"], data_policy="gba_only"))),
        Upsert(Profile.from_data("lab", make_entity(id="app-1", roles=["application"], region="US"))),
        Upsert(Profile.from_data("project", make_project(id="proj-1", owner_id="chip-1"))),
    ])
    return create_app(settings=settings, backend=backend)


def known_ids(app) -> dict:
    """Half the path ids drawn from what is stored, so found resources' bodies are checked, not only 404s."""
    matcher = app.state.backend.matcher()
    entities = [profile.id for profile in matcher.list_entities(filter={}, limit=100, offset=None)[0]]
    partnerships = [record["id"] for record in matcher.partnerships()]
    return {
        "dictionaries": {"entities": {"values": entities}, "partnerships": {"values": partnerships},
                         "schemas": {"values": schema_names()}},
        "parameters": {"path.entity_id": {"dictionary": "entities", "probability": 0.5},
                       "path.partnership_id": {"dictionary": "partnerships", "probability": 0.5},
                       "path.name": {"dictionary": "schemas", "probability": 0.5}},
    }


def fuzz_test(key: str):
    """One test per operation, with `key` given through the OpenAPI's bearer scheme, so schemathesis knows
    when it leaves the key out on purpose (and then expects the 401).

    Loaded at collection, since parametrize makes one test per operation; schemathesis.pytest.from_fixture
    would load lazily, but it reads pytest's private Function._nodeid, which pytest 9 no longer has."""
    app = seeded_app()
    config = SchemathesisConfig.from_dict({"auth": {"openapi": {"HTTPBearer": {"bearer": key}}},
                                           "checks": {"negative_data_rejection": {"expected-statuses": REJECTED}},
                                           **known_ids(app)})
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config).exclude(path_regex=STREAMS)

    @schema.parametrize()
    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def test(case):
        # Every check but positive_data_acceptance: rules no schema states (opaque cursors, a company's own
        # entity, ids that must agree inside an event) rightly refuse some schema-valid requests, with problems.
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    return test


test_as_staff = fuzz_test("staff-key")
test_as_a_company = fuzz_test("company-key")
