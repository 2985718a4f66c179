"""not_interested feedback in the matcher: excluded from suggestions, penalised in triads, persisted."""

from __future__ import annotations

import pytest
from builders import make_entity, make_project

from matcher.adapters.hashing_embedder import HashingEmbedder
from matcher.adapters.memory_store import MemoryStore
from matcher.adapters.sqlite_state import SqliteState
from matcher.model import Profile, Upsert
from matcher.service import Matcher

SAME = "Edge AI inference chips for hospital imaging."


def company(entity_id: str, role: str, **overrides) -> Upsert:
    return Upsert(Profile.from_data("company", make_entity(id=entity_id, roles=[role], **overrides)))


def members(record: dict) -> tuple[str, str, str]:
    return record["chip"]["id"], record["algorithm"]["id"], record["application"]["id"]


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def matcher_over(store: MemoryStore, state=None) -> Matcher:
    matcher = Matcher(embedder=HashingEmbedder(dimension=64), store=store, state=state)
    matcher.ensure_model()
    return matcher


def seed(matcher: Matcher) -> None:
    # Two chips with the same text: their triads tie but for the id, so a penalty decides.
    matcher.apply([company("chip-1", "chip", name="Chip", description=SAME),
                   company("chip-2", "chip", name="Chip", description=SAME),
                   company("algo-1", "algorithm", name="Algo"), company("app-1", "application", name="App")])


def test_feedback_removes_the_other_from_suggestions_and_ranks_pairing_partnerships_lower(store):
    matcher = matcher_over(store)
    seed(matcher)
    [best, second] = matcher.partnerships(sector="healthcare")
    chip, other_chip = members(best)[0], members(second)[0]
    assert {chip, other_chip} == {"chip-1", "chip-2"} and best["score"] == second["score"]
    assert chip in [s.profile.id for s in matcher.suggest("algo-1")]

    assert matcher.not_interested("algo-1", chip)
    events = matcher.settle()

    assert chip not in [s.profile.id for s in matcher.suggest("algo-1")]
    assert "algo-1" in [s.profile.id for s in matcher.suggest(chip)]  # one way only
    [first, penalised] = matcher.partnerships(sector="healthcare")
    assert members(first)[0] == other_chip and penalised["id"] == best["id"]
    assert penalised["score_breakdown"]["feedback"] == -0.2
    assert penalised["score"] == pytest.approx(best["score"] - 0.2, abs=1e-6)
    assert {e.kind for e in events} == {"updated"} and {e.partnership_id for e in events} == {best["id"], second["id"]}
    assert matcher.not_interested("algo-1", chip) and matcher.settle() == []  # the same again changes nothing


def test_feedback_about_an_unknown_entity_is_refused(store):
    matcher = matcher_over(store)
    seed(matcher)
    assert matcher.not_interested("algo-1", "nobody") is False
    assert matcher.not_interested("nobody", "algo-1") is False


def test_a_project_s_feedback_ranks_its_own_partnerships_with_that_member_lower(store):
    matcher = matcher_over(store)
    seed(matcher)
    matcher.apply([Upsert(Profile.from_data("project", make_project(id="pj-1", description=SAME)))])
    [record, *_] = matcher.partnerships(project_id="pj-1")
    chip = record["chip"]["id"]
    matcher.not_interested("pj-1", chip)
    matcher.settle()
    [best, *_] = matcher.partnerships(project_id="pj-1")
    assert best["chip"]["id"] != chip
    assert matcher.partnership(record["id"])["score_breakdown"]["feedback"] == -0.2


def test_persisted_feedback_survives_a_new_matcher_and_unpersisted_feedback_does_not(store, tmp_path):
    state = SqliteState(tmp_path / "state.db")
    matcher = matcher_over(store, state)
    seed(matcher)
    matcher.persist()
    matcher.not_interested("algo-1", "chip-2")
    matcher.recover()  # a failed batch: its feedback was never persisted
    assert "chip-2" in [s.profile.id for s in matcher.suggest("algo-1")]

    matcher.not_interested("algo-1", "chip-1")
    matcher.settle()
    matcher.persist()
    state.close()

    state = SqliteState(tmp_path / "state.db")
    again = matcher_over(store, state)
    assert [doc["other_id"] for _, doc in state.items("feedback")] == ["chip-1"]
    assert "chip-1" not in [s.profile.id for s in again.suggest("algo-1")]
    [first, penalised] = again.partnerships(sector="healthcare")
    assert members(first)[0] == "chip-2" and penalised["score_breakdown"]["feedback"] == -0.2
    state.close()
