"""Opaque cursors: base64url JSON the client hands back unchanged; anything else is a 400."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from api.problems import ProblemException


def encode_cursor(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, kind: str) -> dict[str, Any] | None:
    """The state inside `cursor`, which must have been made for a list of this `kind`."""
    if cursor is None:
        return None
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        state = None
    if not isinstance(state, dict) or state.get("k") != kind:
        raise ProblemException(400, "the cursor is not one this list gave out",
                               errors=[("bad cursor", "/query/cursor")])
    return state
