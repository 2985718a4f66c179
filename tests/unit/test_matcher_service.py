from __future__ import annotations

import pytest
from builders import make_entity, make_project

from matcher.adapters.hashing_embedder import HashingEmbedder
from matcher.adapters.memory_store import MemoryStore
from matcher.model import Delete, Profile, Upsert
from matcher.ports import StoreInfo
from matcher.service import Matcher


def company(**overrides) -> Profile:
    return Profile.from_data("company", make_entity(**overrides))


@pytest.fixture
def matcher() -> Matcher:
    m = Matcher(embedder=HashingEmbedder(dimension=64), store=MemoryStore())
    m.ensure_model()
    return m


def test_profile_text_puts_structured_fields_before_the_description():
    profile = company(roles=["chip"], sectors=["vehicles"], capabilities=["NPU"], description="x " * 500)
    assert profile.text().startswith("Roles: chip. Sectors: vehicles. Capabilities: NPU.")


def test_partner_roles_are_what_an_entity_lacks_or_what_a_project_needs():
    assert company(roles=["chip"]).partner_roles() == ("algorithm", "application")
    project = Profile.from_data("project", make_project(needs=["chip", "dataset"]))
    assert project.partner_roles() == ("chip",)
    assert Profile.from_data("project", make_project()).partner_roles() == ("chip", "algorithm", "application")


def test_apply_stores_and_the_later_change_of_an_entity_wins(matcher):
    first = company(id="co-a", name="First")
    second = company(id="co-a", name="Second")
    matcher.apply([Upsert(first), Upsert(second), Upsert(company(id="co-b"))])
    assert matcher.get("co-a").name == "Second"
    assert matcher.count() == 2
    matcher.apply([Upsert(company(id="co-b")), Delete("co-b")])
    assert matcher.get("co-b") is None


def test_suggestions_hold_only_complementary_roles_and_never_the_entity_itself(matcher):
    chip = company(id="chip-1", roles=["chip"], description="edge AI inference chip for hospitals")
    others = [
        company(id="chip-2", roles=["chip"], description="edge AI inference chip for hospitals"),
        company(id="algo-1", roles=["algorithm"], description="medical imaging AI models for hospitals"),
        company(id="app-1", roles=["application"], description="a hospital deploying AI"),
    ]
    matcher.apply([Upsert(chip), *(Upsert(o) for o in others)])
    suggestions = matcher.suggest("chip-1")
    assert {s.profile.id for s in suggestions} == {"algo-1", "app-1"}
    assert [s.profile.id for s in matcher.suggest("chip-1", roles=["algorithm"])] == ["algo-1"]
    assert all(abs(sum(s.score_breakdown.values()) - s.score) < 1e-5 for s in suggestions)
    assert matcher.suggest("missing") is None


def test_suggestions_leave_out_what_the_caller_may_not_see(matcher):
    matcher.apply([Upsert(company(id="chip-1")), Upsert(company(id="algo-1", roles=["algorithm"]))])
    assert matcher.suggest("chip-1", visible=lambda p: p.id != "algo-1") == []


def test_another_model_re_embeds_the_stored_profiles():
    store = MemoryStore()
    first = Matcher(embedder=HashingEmbedder(dimension=32), store=store)
    first.ensure_model()
    first.apply([Upsert(company(id="co-1")), Upsert(company(id="co-2"))])
    second = Matcher(embedder=HashingEmbedder(dimension=48), store=store)
    assert second.ensure_model() == 2
    assert store.info() == StoreInfo(model="hashing-48", dimension=48)
    assert len(store.retrieve(["co-1"], with_vectors=True)[0].vector) == 48
    assert second.get("co-2") is not None
    assert second.ensure_model() == 0


def test_partnerships_hold_one_member_per_role_in_a_shared_sector(matcher):
    events = matcher.apply([
        Upsert(company(id="chip-1", roles=["chip"], sectors=["vehicles"])),
        Upsert(company(id="algo-1", roles=["algorithm"], sectors=["vehicles"])),
        Upsert(company(id="app-1", roles=["application"], sectors=["vehicles"])),
        Upsert(company(id="app-2", roles=["application"], sectors=["healthcare"])),
    ])
    [record] = matcher.partnerships(sector="vehicles")
    assert [record[r]["id"] for r in ("chip", "algorithm", "application")] == ["chip-1", "algo-1", "app-1"]
    assert record["id"].startswith("pt_") and record["status"] == "proposed"
    assert [(e.kind, e.partnership_id, e.revision) for e in events] == [("recommended", record["id"], 1)]
    [withdrawn] = matcher.apply([Delete("algo-1")])
    assert (withdrawn.kind, withdrawn.revision) == ("withdrawn", 2)
    assert withdrawn.data == {"id": record["id"], "revision": 2, "reason": "algorithm no longer exists"}
    assert matcher.partnerships(sector="vehicles") == []


def test_not_interested_excludes_the_other_from_suggestions(matcher):
    matcher.apply([Upsert(company(id="chip-1")), Upsert(company(id="algo-1", roles=["algorithm"])),
                   Upsert(company(id="algo-2", roles=["algorithm"]))])
    assert matcher.not_interested("chip-1", "algo-1")
    assert [s.profile.id for s in matcher.suggest("chip-1", roles=["algorithm"])] == ["algo-2"]
    assert "chip-1" in [s.profile.id for s in matcher.suggest("algo-1")]


def test_declared_roles_always_win_and_missing_ones_are_inferred_or_left_for_review(matcher):
    declared = company(id="co-declared", roles=["application"], sectors=["cloud"],
                       description="We design NPU accelerator chips and SoC silicon for inference.")
    silent = company(id="co-silent", roles=None, sectors=None,
                     description="We design NPU accelerator chips and SoC silicon for inference.")
    matcher.apply([Upsert(declared), Upsert(silent)])
    stored = matcher.get("co-declared")
    assert (stored.roles, stored.sectors, stored.inferred["roles"]) == (("application",), ("cloud",), {})
    inferred = matcher.get("co-silent")
    assert set(inferred.inferred["roles"]) == {"chip", "algorithm", "application"}
    assert inferred.roles == () or inferred.roles[0] == max(inferred.inferred["roles"],
                                                             key=inferred.inferred["roles"].get)
    assert inferred.needs_review == (not inferred.roles or not inferred.sectors)


def test_a_project_gets_partnerships_once_its_missing_role_arrives_later(matcher):
    project = Profile.from_data("project", make_project(id="pj-1", sectors=["vehicles"]))
    matcher.apply([Upsert(project), Upsert(company(id="chip-1", roles=["chip"], sectors=["vehicles"])),
                   Upsert(company(id="algo-1", roles=["algorithm"], sectors=["vehicles"]))])
    assert matcher.partnerships(project_id="pj-1") == []
    matcher.apply([Upsert(company(id="app-1", roles=["application"], sectors=["vehicles"]))])
    [record] = matcher.partnerships(project_id="pj-1")
    assert [record[r]["id"] for r in ("chip", "algorithm", "application")] == ["chip-1", "algo-1", "app-1"]
    assert record["project_id"] == "pj-1"


def test_reads_after_the_matchers_own_writes_see_them_over_a_store_it_alone_writes(tmp_path):
    from matcher.adapters.edge_store import EdgeStore

    with EdgeStore(tmp_path / "store") as store:
        matcher = Matcher(embedder=HashingEmbedder(dimension=64), store=store)
        matcher.ensure_model()
        matcher.apply([Upsert(company(id="co-a", name="First", roles=["chip"])),
                       Upsert(company(id="co-b", roles=["algorithm"]))])
        assert matcher.get("co-a").name == "First" and [s.profile.id for s in matcher.suggest("co-b")] == ["co-a"]
        matcher.apply([Upsert(company(id="co-a", name="Second", roles=["chip"]))])
        assert matcher.get("co-a").name == "Second"
        assert matcher.suggest("co-b")[0].profile.name == "Second"
        matcher.apply([Delete("co-a")])
        assert matcher.get("co-a") is None and matcher.suggest("co-b") == []


def test_candidates_are_the_nearest_per_role_and_per_role_within_the_sectors_whether_or_not_the_second_runs():
    import random

    from benchmarks.profiles import synthetic_profiles

    store = MemoryStore()
    matcher = Matcher(embedder=HashingEmbedder(dimension=64), store=store)
    matcher.ensure_model()
    profiles = synthetic_profiles(400, seed=3)
    matcher.apply([Upsert(p) for p in profiles])
    skipped = 0
    for me in random.Random(1).sample(profiles, 60):
        me = matcher.get(me.id)
        [point] = store.retrieve([me.id], with_vectors=True)
        for role in me.partner_roles():
            for depth in (3, 11, 41):
                role_only = {"roles": [role]}
                expected = {h.id: h.score for f in (role_only, {**role_only, "sectors": list(me.sectors)})
                            for h in store.search(point.vector, filter=f, limit=depth)}
                assert matcher._nearest(me, point.vector, role_only, depth) == pytest.approx(expected)
                nearest = store.search(point.vector, filter=role_only, limit=depth)
                skipped += all(set(matcher.get(h.id).sectors) & set(me.sectors) for h in nearest)
    assert skipped  # the in-sector search was left out for some, and they still got the same candidates


def test_a_matcher_starting_over_a_stored_collection_serves_reads_from_what_it_scanned():
    store = MemoryStore()
    first = Matcher(embedder=HashingEmbedder(dimension=64), store=store)
    first.ensure_model()
    first.apply([Upsert(company(id="co-a")), Upsert(company(id="co-b", roles=["algorithm"]))])

    again = Matcher(embedder=HashingEmbedder(dimension=64), store=store)
    again.ensure_model()
    reads = []
    original = store.retrieve
    store.retrieve = lambda ids, **kwargs: reads.append(list(ids)) or original(ids, **kwargs)
    assert again.get("co-a").id == "co-a" and again.profiles(["co-b", "co-a"])[0].id == "co-b"
    assert reads == []


def test_every_project_is_served_when_its_roles_exist_anywhere(matcher):
    """An owner playing two roles fills both; a role nobody plays in the project's sector comes from a
    related sector, and the reasons say where from without naming the member."""
    matcher.apply([
        Upsert(company(id="chip-h", roles=["chip"], sectors=["healthcare"], description="Edge AI chips.")),
        Upsert(company(id="group", roles=["algorithm", "application"], sectors=["healthcare"],
                       description="A hospital group that builds its own imaging models.")),
        Upsert(Profile.from_data("project", make_project(id="pj-own", sectors=["healthcare"], owner_id="group",
                                                         needs=["compute", "dataset"]))),
        Upsert(company(id="algo-h", roles=["algorithm"], sectors=["healthcare"], description="Imaging AI.")),
        Upsert(company(id="pharma", roles=["application"], sectors=["life_sciences"], description="Drugs.")),
        Upsert(Profile.from_data("project", make_project(id="pj-drug", sectors=["life_sciences"]))),
    ])
    [own] = {r["id"]: r for r in matcher.partnerships(project_id="pj-own")}.values()
    assert (own["chip"]["id"], own["algorithm"]["id"], own["application"]["id"]) == ("chip-h", "group", "group")
    drug = matcher.partnerships(project_id="pj-drug")[0]
    assert drug["chip"]["id"] == "chip-h" and drug["application"]["id"] == "pharma"
    assert "the chip partner comes from healthcare, a related sector: none works in life sciences" in drug["reasons"]
    assert not any("chip-h" in reason or "Company" in reason for reason in drug["reasons"])
