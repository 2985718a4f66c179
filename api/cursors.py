"""Opaque cursors: base64url JSON the client hands back unchanged; anything else is a 400."""

from __future__ import annotations

import base64
import binascii
import json
import math
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


def encode_keyset(*, kind: str, filters: dict[str, Any], last: tuple[float, str]) -> str:
    """A cursor past `last`, the (score, id) of a page's last item, valid only with the same filters."""
    return encode_cursor({"k": kind, "f": filters, "s": last[0], "i": last[1]})


def decode_keyset(cursor: str | None, *, kind: str, filters: dict[str, Any]) -> tuple[float, str] | None:
    """The (score, id) the next page starts after; a cursor made for other filters is a 400 too."""
    state = decode_cursor(cursor, kind=kind)
    if state is None:
        return None
    score, last_id = state.get("s"), state.get("i")
    if (state.get("f") != filters or isinstance(score, bool) or not isinstance(score, int | float)
            or not math.isfinite(score) or not isinstance(last_id, str)):
        raise ProblemException(400, "the cursor was made for other filters, or is not one this list gave out",
                               errors=[("bad cursor", "/query/cursor")])
    return float(score), last_id
