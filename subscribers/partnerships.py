"""What an API process that runs apart from the workers (`chainmatch api`) knows of their results: the
partnerships, as a read model of the full partnership topic (matcher.book.PartnershipBook.absorb),
and the `not_interested` feedback that its suggestions must respect.

Both topics are read from offset 0 at every start, every partition, with no consumer group: each API
process keeps its own model. In production the partnership topic is compacted (`cleanup.policy=compact`,
set by chainmatch.broker.ensure_topics): the latest event of each partnership is all the model needs, so
a restart reads about one event per partnership, not the whole history. The model is also kept in the
API's own state file, so a restarted API serves the partnerships it knew before it has read them again.
In `chainmatch up` the API shares the workers' matcher and none of this runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from chainmatch.retry import until_done
from matcher.service import Matcher
from schemas import validate
from subscribers import consumers

log = logging.getLogger(__name__)
PARTNERSHIP_TYPES = tuple(f"chain.partnership.{kind}" for kind in ("recommended", "updated", "decided", "withdrawn"))
FEEDBACK_TYPE = "chain.entity.feedback.submitted"
STATE_FILE = "api-state.db"


def _valid(event: dict[str, Any], types: Sequence[str]) -> bool:
    """Only what the workers would have written: a bad record is skipped, never fatal."""
    if event["type"] not in types or validate(event["type"], event.get("data")):
        log.warning("skipping event %s of type %s: not a valid %s", event["id"], event["type"], " / ".join(types))
        return False
    return True


class PartnershipReadModel:
    def __init__(self, matcher: Matcher, *, partnership_topic: str, feedback_topic: str):
        self._matcher = matcher
        self._topics = {partnership_topic: "partnerships", feedback_topic: "feedback"}
        self._caught_up: set[str] = set()
        # The matcher persists the book and the feedback together: one batch at a time.
        self._turn = asyncio.Lock()

    @property
    def caught_up(self) -> bool:
        """Whether everything that was on both topics when the model started is in it."""
        return len(self._caught_up) == len(self._topics)

    async def absorb(self, events: Sequence[dict[str, Any]], offsets: consumers.Offsets) -> None:
        async with self._turn:
            for event in events:
                if _valid(event, PARTNERSHIP_TYPES):
                    self._matcher.absorb(event["type"], event["data"], at=event.get("time") or "")
            await asyncio.to_thread(self._matcher.persist)

    async def note_feedback(self, events: Sequence[dict[str, Any]], offsets: consumers.Offsets) -> None:
        feedback = [e for e in events if _valid(e, (FEEDBACK_TYPE,))]
        async with self._turn:
            await asyncio.to_thread(self._note_feedback, feedback)

    def _note_feedback(self, events: Sequence[dict[str, Any]]) -> None:
        for event in events:
            data = event["data"]
            self._matcher.not_interested(data["entity_id"], data["other_id"], now=event.get("time"))
        self._matcher.persist()

    async def run(self, bootstrap: str) -> None:
        """Both feeders, until cancelled."""
        async with asyncio.TaskGroup() as group:
            for topic, name in self._topics.items():
                append = self.absorb if name == "partnerships" else self.note_feedback
                group.create_task(until_done(lambda topic=topic, name=name, append=append: consumers.feed(
                    bootstrap=bootstrap, topic=topic, start_offsets=dict, append=append,
                    what=f"reading {name} into the API's read model",
                    caught_up=lambda: self._caught_up.add(name)), f"the {name} read model feeder"))
