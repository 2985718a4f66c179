"""Synthetic but plausible profiles for benchmarks: deterministic, 40-80 words each."""

from __future__ import annotations

import random

from matcher.model import ROLES, Profile

SECTORS = ("healthcare", "life_sciences", "manufacturing", "vehicles", "smart_city", "cloud")
WORK = {
    "chip": ["designs NPU accelerators", "tapes out low-power inference SoCs", "builds RISC-V AI cores"],
    "algorithm": ["trains vision transformers", "builds detection models", "develops speech recognition"],
    "application": ["runs hospital screening pilots", "operates a factory inspection line",
                    "deploys driver assistance fleets"],
}
FILLER = ("with partners across the Greater Bay Area, certified quality processes, a team of engineers "
          "from local universities, and pilots that move from research through testing to "
          "commercialization, open to joint projects and shared datasets").split()


def synthetic_profiles(count: int, *, seed: int = 7, prefix: str = "bench") -> list[Profile]:
    rng = random.Random(seed)
    profiles = []
    for number in range(count):
        role = ROLES[number % 3]
        sector = rng.choice(SECTORS)
        words = rng.sample(FILLER, k=rng.randint(25, len(FILLER)))
        description = f"We {rng.choice(WORK[role])} for {sector.replace('_', ' ')} " + " ".join(words) + "."
        profiles.append(Profile.from_data("company", {
            "id": f"{prefix}-{number}", "name": f"{prefix.title()} {number}", "description": description,
            "roles": [role], "sectors": [sector], "region": rng.choice(["HK", "CN-GD-SZ", "SG", "US"]),
        }))
    return profiles
