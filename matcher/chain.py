"""The chain-gap view: how complete the park's AI chain is, and where its missing links are.

Pure: it reads profiles and partnership records and returns counts and lists, nothing else.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from matcher.model import RESOURCES, ROLES, Profile

VALID_STATUSES = ("proposed", "approved")


@dataclass(frozen=True)
class ChainGaps:
    """`roles[sector][role]` counts the entities playing `role` in `sector`; `offers[sector][resource]`
    those offering `resource`; `projects[sector]` the projects. Lists are sorted by id."""

    roles: dict[str, dict[str, int]]
    offers: dict[str, dict[str, int]]
    projects: dict[str, int]
    projects_without_partnership: list[Profile]
    entities_without_partner: list[Profile]


def chain_gaps(profiles: Iterable[Profile], records: Iterable[Mapping[str, Any]], *,
               sector: str | None = None, region: str | None = None) -> ChainGaps:
    """The view over `profiles` (the ones the viewer may see, and only those) and partnership records.

    In scope are the profiles with `sector` among their sectors and whose region is exactly `region`
    (no grouping: `HK` does not take in `CN-GD-SZ`); only these are counted and listed. Counts go
    into each sector of a profile (only `sector` when given), so a profile in two sectors counts in both.

    - A project is *without a valid partnership* when no proposed or approved record has it as project
      with all three members in one of its sectors (a member borrowed from another sector does not
      close the gap).
    - A company or lab is *without a complementary partner* when it plays at least one role but not all
      three, and no other visible company or lab, in any region, shares one of its sectors (only
      `sector` when given) and plays a role it lacks. One without sectors has no such partner. Profiles
      without a role (waiting for staff review) are left out: they have no place in the chain yet.
    """
    everyone = list(profiles)
    entities = [p for p in everyone if p.kind != "project"]
    players: dict[tuple[str, str], set[str]] = defaultdict(set)  # (sector, role) -> who plays it there
    for entity in entities:
        for s in entity.sectors:
            for role in entity.roles:
                players[s, role].add(entity.id)

    def in_scope(profile: Profile) -> bool:
        return (sector is None or sector in profile.sectors) and (region is None or profile.region == region)

    def sectors_of(profile: Profile) -> tuple[str, ...]:
        return (sector,) if sector is not None else profile.sectors

    def has_partner(entity: Profile) -> bool:
        return any(players[s, role] - {entity.id} for s in sectors_of(entity) for role in entity.partner_roles())

    roles: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(ROLES, 0))
    offers: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(RESOURCES, 0))
    projects: dict[str, int] = defaultdict(int)
    # Only partnerships within the project's sectors: one that borrows a member from another sector
    # serves the project, but the sector still lacks that role, and staff should see it.
    within: dict[str, list[set[str]]] = defaultdict(list)
    for r in records:
        if r["status"] in VALID_STATUSES and r.get("project_id"):
            within[r["project_id"]].append(set.intersection(*(set(r[role].get("sectors") or ()) for role in ROLES)))
    partnered = {p.id for p in everyone if p.kind == "project" and any(
        not p.sectors or shared & set(p.sectors) for shared in within.get(p.id, ()))}
    lonely_projects, lonely_entities = [], []
    for profile in filter(in_scope, everyone):
        for s in sectors_of(profile):
            if profile.kind == "project":
                projects[s] += 1
                continue
            for role in profile.roles:
                roles[s][role] += 1
            for resource in profile.offers:
                offers[s][resource] += 1
        if profile.kind == "project":
            if profile.id not in partnered:
                lonely_projects.append(profile)
        elif profile.roles and len(set(profile.roles)) < len(ROLES) and not has_partner(profile):
            lonely_entities.append(profile)
    by_id = lambda p: p.id  # noqa: E731
    return ChainGaps(roles=dict(roles), offers=dict(offers), projects=dict(projects),
                     projects_without_partnership=sorted(lonely_projects, key=by_id),
                     entities_without_partner=sorted(lonely_entities, key=by_id))
