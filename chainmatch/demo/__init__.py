"""The bundled demo ecosystem that `chainmatch up --demo` publishes: one structured CloudEvent per line."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["DEMO_FILE", "demo_events"]

DEMO_FILE: Path = Path(__file__).with_name("ecosystem.jsonl")


def demo_events() -> list[dict]:
    """The demo events in file order (entities before the projects that name them as owners)."""
    with DEMO_FILE.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]
