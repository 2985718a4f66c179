"""Partnership events as a Server-Sent Events stream for one key: resumable from the retained window."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from subscribers.events import EventFilter, Viewer, redact_event
from subscribers.window import EventWindow

RETRY_MS = 3000
KEEPALIVE_S = 15.0


def frame(*, event: str, data: str, id: int | None = None) -> str:
    """One SSE message; `data` is one line of JSON."""
    head = f"id: {id}\n" if id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


async def stream(window: EventWindow, *, viewer: Viewer, filter: EventFilter, last_event_id: int | None,
                 keepalive_s: float = KEEPALIVE_S) -> AsyncIterator[str]:
    """Frames for one client: what it missed since `last_event_id` (after `reset` when part of it is
    gone from the window), then live events, with a comment every `keepalive_s` when idle. Without
    `last_event_id` it starts with the next event. Ends when the client goes (the task is cancelled)."""
    first, last = await asyncio.to_thread(window.bounds)  # before the first frame: once it shows, the cursor is set
    yield f"retry: {RETRY_MS}\n\n"
    if last_event_id is None:
        cursor = last
    elif last_event_id < first - 1 or last_event_id > last:
        yield frame(event="reset", data=json.dumps({"reason": "the events after this id are no longer retained",
                                                    "last_event_id": last_event_id, "first_retained": first}))
        cursor = first - 1
    else:
        cursor = last_event_id
    while True:
        changed = window.changed
        events = await asyncio.to_thread(window.after, cursor)
        for item in events:
            cursor = item.seq
            if filter.matches(item.type, item.sectors):
                body = json.dumps(redact_event(item.event, viewer), ensure_ascii=False, separators=(",", ":"))
                yield frame(id=item.seq, event=item.type, data=body)
        if events:
            continue
        try:
            await asyncio.wait_for(changed.wait(), keepalive_s)
        except TimeoutError:
            yield ": keep-alive\n\n"
