"""The chain-gap view as a pure function of profiles and partnership records."""

from __future__ import annotations

from builders import make_entity, make_project

from matcher.chain import chain_gaps
from matcher.model import Profile


def entity(entity_id: str, roles: list[str], sectors: list[str], **overrides) -> Profile:
    return Profile.from_data("company", make_entity(id=entity_id, roles=roles, sectors=sectors, **overrides))


def project(project_id: str, sectors: list[str], **overrides) -> Profile:
    return Profile.from_data("project", make_project(id=project_id, sectors=sectors, **overrides))


def record(project_id: str | None, status: str = "proposed", sectors=("healthcare",), app_sectors=None) -> dict:
    """A partnership record as the book keeps it: members as summaries with their sectors."""
    members = {role: {"sectors": list(sectors)} for role in ("chip", "algorithm")}
    return {"project_id": project_id, "status": status, **members,
            "application": {"sectors": list(sectors if app_sectors is None else app_sectors)}}


PROFILES = [
    entity("chip-h", ["chip"], ["healthcare"], offers=["compute"]),
    entity("algo-h", ["algorithm"], ["healthcare", "vehicles"], region="CN-GD-SZ"),
    entity("chip-v", ["chip"], ["vehicles"]),                         # algo-h plays algorithm in vehicles
    entity("app-c", ["application"], ["cloud"], offers=["dataset"]),  # nobody else in cloud
    entity("chip-c", ["chip"], ["smart_city"]),
    entity("chip-c2", ["chip"], ["smart_city"]),                      # same role only: no complement
    entity("full", ["chip", "algorithm", "application"], ["cloud"]),  # completes its own chain
    entity("unsure", [], ["cloud"]),                                  # no role yet: out of the lists
    entity("nowhere", ["algorithm"], []),                             # no sector: no partner
    project("pj-ok", ["healthcare"]),
    project("pj-rejected", ["healthcare"]),
    project("pj-none", ["vehicles"], region="CN-GD-SZ"),
]
RECORDS = [record("pj-ok"), record("pj-rejected", "rejected"), record("pj-gone", "withdrawn"), record(None)]


def test_counts_are_per_sector_and_role_offer_and_project():
    gaps = chain_gaps(PROFILES, RECORDS)
    assert gaps.roles["healthcare"] == {"chip": 1, "algorithm": 1, "application": 0}
    assert gaps.roles["vehicles"] == {"chip": 1, "algorithm": 1, "application": 0}
    assert gaps.roles["cloud"] == {"chip": 1, "algorithm": 1, "application": 2}
    assert gaps.offers["healthcare"]["compute"] == 1 and gaps.offers["cloud"]["dataset"] == 1
    assert gaps.projects == {"healthcare": 2, "vehicles": 1}


def test_projects_without_a_proposed_or_approved_partnership_are_listed():
    gaps = chain_gaps(PROFILES, RECORDS)
    assert [p.id for p in gaps.projects_without_partnership] == ["pj-none", "pj-rejected"]


def test_a_project_served_only_by_a_member_from_another_sector_still_shows_its_gap():
    borrowed = [record("pj-none", sectors=("vehicles",), app_sectors=("smart_city",))]
    gaps = chain_gaps(PROFILES, RECORDS + borrowed, sector="vehicles")
    assert [p.id for p in gaps.projects_without_partnership] == ["pj-none"]
    within = [record("pj-none", sectors=("vehicles", "cloud"))]
    assert chain_gaps(PROFILES, RECORDS + within, sector="vehicles").projects_without_partnership == []


def test_entities_without_a_complementary_partner_in_their_sectors_are_listed():
    gaps = chain_gaps(PROFILES, RECORDS)
    # app-c: "full" plays chip and algorithm in cloud, so it has partners.
    assert [p.id for p in gaps.entities_without_partner] == ["chip-c", "chip-c2", "nowhere"]


def test_sector_narrows_what_is_counted_listed_and_where_partners_may_be():
    gaps = chain_gaps(PROFILES, RECORDS, sector="vehicles")
    assert set(gaps.roles) == {"vehicles"} and gaps.projects == {"vehicles": 1}
    assert [p.id for p in gaps.projects_without_partnership] == ["pj-none"]
    # algo-h's partner in vehicles is chip-v, so it is fine there; without chip-v it would not be.
    assert gaps.entities_without_partner == []
    alone = chain_gaps([p for p in PROFILES if p.id != "chip-v"], RECORDS, sector="vehicles")
    assert [p.id for p in alone.entities_without_partner] == ["algo-h"]
    everywhere = chain_gaps([p for p in PROFILES if p.id != "chip-v"], RECORDS)
    assert "algo-h" not in [p.id for p in everywhere.entities_without_partner]  # chip-h, in healthcare


def test_region_is_an_exact_code_and_partners_may_be_anywhere():
    gaps = chain_gaps(PROFILES, RECORDS, region="CN-GD-SZ")
    assert gaps.roles == {"healthcare": {"chip": 0, "algorithm": 1, "application": 0},
                          "vehicles": {"chip": 0, "algorithm": 1, "application": 0}}
    assert [p.id for p in gaps.projects_without_partnership] == ["pj-none"]
    assert gaps.entities_without_partner == []  # algo-h's partners are in HK
    assert chain_gaps(PROFILES, RECORDS, region="CN-GD").roles == {}
