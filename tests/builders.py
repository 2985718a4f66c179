"""Builders for test data: make_entity(), make_project(), make_event(); override what matters."""

from __future__ import annotations

import itertools
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
