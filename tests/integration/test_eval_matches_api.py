"""The figures `make eval` prints are what the API serves: same matcher, read over HTTP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keyring import Keyring
from benchmarks.evaluate import figures, loaded_matcher, matcher_rankers
from benchmarks.park import Case, cases, pool, rows
from chainmatch.settings import ApiKey, Settings
from matcher.service import Matcher


class StoreBackend:
    def __init__(self, matcher: Matcher):
        self._matcher = matcher

    def matcher(self):
        return self._matcher

    def health(self):
        return True, {}

    def stats(self):
        return {"events_processed": 0, "deadlettered": 0}

    def keyring(self):
        return Keyring()

    def deadletters(self):
        return None

    async def publish(self, records):
        raise AssertionError("nothing is published here")


@pytest.fixture(scope="module")
def dev_matcher(default_embedder, tmp_path_factory):
    """The dev split, bilingual, a third without roles and sectors, as `make eval` loads it."""
    everyone = pool(cases(rows(), language="bilingual", mask_seed=0), "dev")
    matcher, store = loaded_matcher(everyone, default_embedder, tmp_path_factory.mktemp("eval"))
    yield matcher, everyone
    store.close()


def test_the_api_serves_the_evaluated_figures(dev_matcher):
    matcher, everyone = dev_matcher
    client = TestClient(create_app(settings=Settings(api_keys={"k": ApiKey(role="staff")}, rate_limit_per_minute=0),
                                   backend=StoreBackend(matcher)))
    headers = {"Authorization": "Bearer k"}

    def rank(case: Case, role: str | None) -> list[str]:
        params = {"limit": 5, **({"role": role} if role else {})}
        response = client.get(f"/v1/entities/{case.profile.id}/suggestions", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [item["entity"]["id"] for item in response.json()["items"]]

    def triads(case: Case) -> list[tuple[str, str, str]]:
        items = client.get("/v1/partnerships", params={"project_id": case.profile.id}, headers=headers).json()
        return [(p["chip"]["id"], p["algorithm"]["id"], p["application"]["id"]) for p in items["items"]]

    queries = everyone[::4]  # a quarter of dev, every kind and language among them, to keep it quick
    served = figures(everyone, queries, rank, triads)
    assert served == figures(everyone, queries, *matcher_rankers(matcher))
    assert served["role accuracy"] >= 0.9 and served["projects served"] == 1.0
