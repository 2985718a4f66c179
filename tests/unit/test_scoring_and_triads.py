from __future__ import annotations

import numpy as np
import pytest
from builders import make_entity, make_project

from matcher.model import Profile
from matcher.scoring import WEIGHTS, pair_score
from matcher.triads import Candidate, partnership_id, search_triads


def profile(kind="company", **overrides) -> Profile:
    build = make_project if kind == "project" else make_entity
    return Profile.from_data(kind, build(**overrides))


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=float)
    return vector / np.linalg.norm(vector)


def test_score_is_the_weighted_sum_of_its_breakdown():
    project = profile("project", needs=["chip", "algorithm", "application", "dataset"], stage="research",
                      sectors=["healthcare"], region="HK")
    lab = profile("lab", roles=["algorithm"], sectors=["healthcare"], offers=["dataset"], region="US",
                  capabilities=["colonoscopy"])
    scored = pair_score(project, lab, 0.62)
    assert set(scored.breakdown) == set(WEIGHTS)
    assert scored.score == pytest.approx(sum(scored.breakdown.values()), abs=1e-5)
    assert scored.breakdown["semantic"] == pytest.approx(WEIGHTS["semantic"] * 0.62, abs=1e-6)
    assert "shares sector healthcare" in scored.reasons
    assert "offers the dataset the project needs" in scored.reasons
    assert "a lab suits a research-stage project" in scored.reasons


def test_distance_never_counts_against_a_match():
    me = profile(roles=["chip"], region="HK")
    near = profile(roles=["algorithm"], region="CN-GD-SZ")
    far = profile(roles=["algorithm"], region="US")
    unknown = profile(roles=["algorithm"], region=None)
    scores = [pair_score(me, other, 0.5).breakdown["region"] for other in (near, far, unknown)]
    assert scores[0] > 0 and scores[1] > 0 and scores[2] == 0
    assert min(scores) >= 0


def test_stage_fit_favours_labs_for_research_and_companies_for_commercialization():
    lab, company = profile("lab", roles=["algorithm"]), profile(roles=["algorithm"])
    research = profile("project", stage="research")
    market = profile("project", stage="commercialization")
    assert pair_score(research, lab, 0.5).score > pair_score(research, company, 0.5).score
    assert pair_score(market, company, 0.5).score > pair_score(market, lab, 0.5).score


def candidate(role: str, vector: np.ndarray, **overrides) -> Candidate:
    return Candidate(profile(roles=[role], id=overrides.pop("id"), **overrides), vector)


def test_a_chip_best_on_its_own_that_fits_neither_partner_loses():
    project = Candidate(profile("project", id="pj", sectors=["healthcare"]), unit(1, 0, 0, 0))
    # The lone chip sits closest to the project but far from the algorithm and the application.
    lone_chip = candidate("chip", unit(1, 0, 0, -1), id="lone-chip")
    fitting_chip = candidate("chip", unit(0.6, 0.8, 0, 0), id="fit-chip")
    algorithm = candidate("algorithm", unit(0.6, 0.8, 0.1, 0), id="algo")
    application = candidate("application", unit(0.6, 0.7, 0.2, 0), id="app")
    assert project.vector @ lone_chip.vector > project.vector @ fitting_chip.vector
    triads = search_triads({"chip": [lone_chip, fitting_chip], "algorithm": [algorithm],
                            "application": [application]}, anchor=project, limit=2)
    assert [t.chip.id for t in triads] == ["fit-chip", "lone-chip"]


def test_every_triad_has_one_member_per_role_and_a_shared_sector():
    rng = np.random.default_rng(3)
    pool = {role: [candidate(role, unit(*rng.normal(size=8)), id=f"{role}-{n}",
                             sectors=[["healthcare"], ["vehicles"], ["healthcare", "cloud"]][n % 3])
                   for n in range(6)] for role in ("chip", "algorithm", "application")}
    triads = search_triads(pool, limit=10)
    assert len(triads) == 10
    for triad in triads:
        assert [m.roles for m in triad.members()] == [("chip",), ("algorithm",), ("application",)]
        assert triad.sectors and all(set(triad.sectors) <= set(m.sectors) for m in triad.members())
        assert triad.score == pytest.approx(sum(triad.score_breakdown.values()), abs=1e-5)


def test_diversity_spreads_members_but_never_returns_fewer_than_are_valid():
    rng = np.random.default_rng(5)
    star = candidate("chip", unit(*np.ones(8)), id="star-chip")
    pool = {"chip": [star, *(candidate("chip", unit(*rng.normal(size=8)), id=f"chip-{n}") for n in range(3))],
            "algorithm": [candidate("algorithm", unit(*rng.normal(size=8)), id=f"alg-{n}") for n in range(2)],
            "application": [candidate("application", unit(*rng.normal(size=8)), id=f"app-{n}") for n in range(2)]}
    triads = search_triads(pool, limit=50)
    assert len(triads) == 16  # 4 chips x 2 algorithms x 2 applications, all valid
    top = search_triads(pool, limit=4)
    assert len({t.chip.id for t in top}) > 1


def test_partnership_ids_are_stable_and_depend_on_the_project():
    assert partnership_id(["a", "b", "c"]) == partnership_id(["c", "a", "b"])
    assert partnership_id(["a", "b", "c"], "pj") != partnership_id(["a", "b", "c"])
    assert partnership_id(["a", "b", "c"]).startswith("pt_")


def test_a_not_interested_pair_ranks_lower():
    pool = {role: [candidate(role, unit(1, n, 0), id=f"{role}-{n}") for n in range(2)]
            for role in ("chip", "algorithm", "application")}
    best = search_triads(pool, limit=1)[0]
    penalised = frozenset({(best.chip.id, best.algorithm.id)})
    after = search_triads(pool, limit=8, penalised_pairs=penalised)
    assert after[0].id != best.id
    assert next(t for t in after if t.id == best.id).score_breakdown["feedback"] < 0


def test_scores_of_many_candidates_at_once_are_each_ones_explained_score_and_sum_their_breakdown():
    from benchmarks.park import cases, rows
    from matcher.scoring import pair_scores

    # English and Chinese profiles, some without roles and sectors, as the park sends them.
    profiles = [c.profile for c in cases(rows(), language="bilingual", mask_seed=0)][::5]
    for me in profiles:
        similarities = [((i * 37) % 100) / 50 - 0.5 for i in range(len(profiles))]
        lexical = [((i * 11) % 10) / 10 for i in range(len(profiles))]
        scored = pair_scores(me, profiles, similarities, lexical)
        for index, (other, similarity, fit) in enumerate(zip(profiles, similarities, lexical, strict=True)):
            alone = pair_score(me, other, similarity, (fit, ["x"]))
            assert scored.explain(index, ["x"]) == alone
            assert (alone.score, list(alone.breakdown.values())) == (scored.scores[index], list(scored.weighted[index]))
            assert alone.score == round(sum(alone.breakdown.values()), 6)


def test_a_chinese_capability_fits_a_profile_written_in_the_other_script():
    from matcher.scoring import capability_reasons

    chip = Profile.from_data("company", make_entity(roles=["chip"], capabilities=["自動駕駛晶片"],
                                                    description="香港的晶片設計公司。"))
    carmaker = Profile.from_data("company", make_entity(roles=["application"], capabilities=None,
                                                        description="我们的量产车型搭载自动驾驶芯片和智能座舱。"))
    assert capability_reasons(carmaker, chip) == ["its capability 自動駕駛晶片 fits"]
