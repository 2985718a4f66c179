"""The park evaluation set (tests/data/park.jsonl): real companies, labs, hospitals and projects, and the
partnerships publicly reported between them, in English and as Greater China members write.

Each line: {"kind", "data" (the English profile, roles and sectors declared), "truth": {"roles",
"sectors"}, "partners": [ids], "split": "dev" | "holdout", "zh"?: {"script": "hant" | "hans" | "mixed",
"description", "capabilities"?, "name_zh"?}}. Partnerships are listed on one side or both.

A run draws a view of it:
- language: `english` (every profile in English) or `bilingual` (each profile with a `zh` version in
  it: Traditional for Hong Kong, Macau and Taiwan, Simplified for the Mainland, some a Chinese sentence
  then an English one);
- masking: a seeded third of the profiles arrive without roles and sectors (projects without sectors),
  so inference must supply them, as in the park.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matcher.model import ROLES, Profile

PARK = Path(__file__).resolve().parent.parent / "tests" / "data" / "park.jsonl"
LANGUAGES = ("english", "bilingual")
MASKED_SHARE = 1 / 3


@dataclass(frozen=True)
class Case:
    profile: Profile
    roles: frozenset[str]
    sectors: frozenset[str]
    partners: frozenset[str]
    split: str
    script: str  # "en", or the zh version's script when the profile is written in Chinese

    def lacks(self) -> list[str]:
        if self.profile.kind == "project":
            return [r for r in ROLES if r in self.profile.needs]
        return [r for r in ROLES if r not in self.roles]


def rows(path: Path = PARK) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def partner_sets(table: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Partnerships both ways round, among the ids present."""
    ids = {row["data"]["id"] for row in table}
    partners: dict[str, set[str]] = {i: set() for i in ids}
    for row in table:
        for other in row.get("partners", ()):
            if other in ids and other != row["data"]["id"]:
                partners[row["data"]["id"]].add(other)
                partners[other].add(row["data"]["id"])
    return partners


def chinese_version(row: Mapping[str, Any]) -> dict[str, Any]:
    """The profile as the member writes it: the zh description and capabilities, the same facts."""
    zh = row["zh"]
    data = {**row["data"], "description": zh["description"]}
    if zh.get("capabilities"):
        data["capabilities"] = zh["capabilities"]
    if zh.get("name_zh"):
        data["name_zh"] = zh["name_zh"]
    return data


def cases(table: Sequence[Mapping[str, Any]], *, language: str, mask_seed: int | None) -> list[Case]:
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}")
    partners = partner_sets(table)
    masked: set[str] = set()
    if mask_seed is not None:
        ids = sorted(row["data"]["id"] for row in table)
        masked = set(random.Random(mask_seed).sample(ids, round(len(ids) * MASKED_SHARE)))
    out = []
    for row in table:
        written_in_chinese = language == "bilingual" and "zh" in row
        data = chinese_version(row) if written_in_chinese else dict(row["data"])
        if data["id"] in masked:
            data.pop("roles", None)
            data.pop("sectors", None)
        out.append(Case(profile=Profile.from_data(row["kind"], data), roles=frozenset(row["truth"]["roles"]),
                        sectors=frozenset(row["truth"]["sectors"]), partners=frozenset(partners[data["id"]]),
                        split=row.get("split", "dev"), script=row["zh"]["script"] if written_in_chinese else "en"))
    return out


def pool(all_cases: Sequence[Case], split: str) -> list[Case]:
    """What a split is measured over: dev among the dev profiles alone (nothing of the holdout is seen
    while tuning); holdout queries among every profile (the crowded park)."""
    return [c for c in all_cases if c.split == "dev"] if split == "dev" else list(all_cases)
