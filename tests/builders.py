"""Builders for test data: make_entity(), make_project(), make_event(); override what matters."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

_ids = itertools.count(1)


def make_entity(**overrides: Any) -> dict[str, Any]:
    number = next(_ids)
    data = {
        "id": f"co-{number}",
        "name": f"Company {number}",
        "description": "Designs low-power AI inference chips for edge devices.",
        "roles": ["chip"],
        "sectors": ["healthcare"],
        "region": "HK",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def make_project(**overrides: Any) -> dict[str, Any]:
    number = next(_ids)
    data = {
        "id": f"pj-{number}",
        "name": f"Project {number}",
        "description": "A colonoscopy polyp detection pilot in a Hong Kong hospital.",
        "sectors": ["healthcare"],
        "region": "HK",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def make_event(event_type: str, data: dict[str, Any], **attributes: Any) -> dict[str, Any]:
    event = {
        "specversion": "1.0",
        "id": f"evt-{next(_ids)}",
        "source": "tests",
        "type": event_type,
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }
    event.update(attributes)
    return event


def make_partnership_event(kind: str = "recommended", *, partnership_id: str | None = None, revision: int = 1,
                           sectors: tuple[str, ...] = ("healthcare",),
                           policies: dict[str, str] | None = None) -> dict[str, Any]:
    """A CloudEvent of chain.partnerships.v1 as the matcher writes it; members carry their data_policy.
    A withdrawal carries only {id, revision, reason}."""
    partnership_id = partnership_id or f"pt_{next(_ids):024x}"
    policies = {"chip": "open", "algorithm": "open", "application": "open", **(policies or {})}
    if kind == "withdrawn":
        data: dict[str, Any] = {"id": partnership_id, "revision": revision, "reason": "a member was deleted"}
    else:
        data = {"id": partnership_id, "revision": revision, "decisions": [], "status": "proposed",
                "project_id": None, "sectors": list(sectors), "score": 0.9,
                "reasons": [f"all three work in {sectors[0]}"], "score_breakdown": {"sector": 0.4},
                "updated_at": datetime.now(UTC).isoformat()}
        for role, data_policy in policies.items():
            data[role] = {"id": f"{role}-{partnership_id}", "name": f"The {role} of {partnership_id}",
                          "roles": [role], "sectors": list(sectors), "region": "HK", "kind": "company",
                          "data_policy": data_policy}
    return {"specversion": "1.0", "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{partnership_id}:{revision}")),
            "source": "chainmatch/matcher", "type": f"chain.partnership.{kind}", "subject": partnership_id,
            "time": datetime.now(UTC).isoformat(), "datacontenttype": "application/json", "data": data}
