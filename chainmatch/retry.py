"""Retrying faults of the system (store, disk, broker) until they pass: what every Kafka loop does, so
that nothing it consumed is skipped or dead-lettered because something else was down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("chainmatch")
RETRY_DELAYS = (0.5, 1, 2, 5, 10)


async def until_done(work: Callable[[], Awaitable[None]], what: str) -> None:
    attempt = 0
    while True:
        try:
            await work()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
            log.exception("%s failed; retrying in %s s", what, delay)
            await asyncio.sleep(delay)
            attempt += 1
