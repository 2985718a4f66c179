"""When to try a webhook delivery again: the retry schedule, jitter and the receiver's Retry-After."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

JITTER = 0.1  # up to 10 % later than scheduled, so receivers that failed together are not hit together
MAX_RETRY_AFTER_S = 24 * 3600.0
FAILURES_TO_DISABLE = 10


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER_S)


def retry_delay(*, attempts: int, schedule: Sequence[float], retry_after: float | None,
                rng: random.Random | None = None) -> float | None:
    """Seconds until the next attempt after `attempts` failed ones; None when the schedule is spent.

    The schedule gives the base delay before each retry; the receiver's Retry-After can only make
    it longer."""
    if attempts > len(schedule):
        return None
    base = schedule[attempts - 1]
    delay = base + (rng or random).uniform(0, base * JITTER)
    return max(delay, retry_after) if retry_after is not None else delay
