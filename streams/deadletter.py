"""Dead letters: the original record, unchanged, plus why and where it came from (CONTRACT section 2)."""

from __future__ import annotations

from collections.abc import Sequence

Headers = list[tuple[str, bytes]]


def deadletter_headers(
    *,
    original: Sequence[tuple[str, bytes]],
    error_class: str,
    error_message: str,
    topic: str,
    partition: int,
    offset: int,
) -> Headers:
    """The original headers, then the error and source headers (a replaced header keeps one copy)."""
    added = {
        "error.class": error_class,
        "error.message": error_message[:2000],
        "source.topic": topic,
        "source.partition": str(partition),
        "source.offset": str(offset),
    }
    kept = [(name, value) for name, value in original if name not in added]
    return kept + [(name, value.encode()) for name, value in added.items()]
