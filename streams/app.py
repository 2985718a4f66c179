"""The faust app: topics as raw bytes, one thin agent per input, decoding left to the codec."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import faust

from chainmatch.settings import Settings
from matcher.model import Change, Delete, Profile, Upsert
from matcher.service import Matcher
from schemas import EVENT_TYPES
from schemas.cloudevents import CloudEvent, InvalidEvent
from streams.codec import decode
from streams.deadletter import deadletter_headers

log = logging.getLogger(__name__)
RAW = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
ENTITY_TOPICS = ("companies.v1", "labs.v1", "projects.v1")


@dataclass
class PipelineState:
    """What the API reports about the workers: readiness and counts since start."""

    events_processed: int = 0
    deadlettered: int = 0
    assigned: bool = False
    crashed: dict[str, str] = field(default_factory=dict)


def _headers(message) -> list[tuple[str, bytes]]:
    """faust gives headers as a list of pairs or as a mapping, depending on the transport."""
    headers = message.headers or ()
    return list(headers.items()) if isinstance(headers, dict) else list(headers)


def to_change(event: CloudEvent) -> Change:
    event_type = EVENT_TYPES[event.type]
    if event_type.action == "deleted":
        return Delete(event.data["id"])
    return Upsert(Profile.from_data(event_type.kind, event.data))


def create_app(settings: Settings, matcher: Matcher, state: PipelineState) -> faust.App:
    app = faust.App(
        "chainmatch",
        broker=f"kafka://{settings.bootstrap}",
        datadir=str(settings.data_dir / "faust"),
        web_enabled=False,
        store="memory://",
        producer_acks=-1,
        broker_session_timeout=settings.consumer_session_timeout_s,
        broker_heartbeat_interval=max(settings.consumer_session_timeout_s / 6, 0.5),
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=False,
        topic_disable_leader=True,
    )
    entity_topics = app.topic(*(settings.topic(name) for name in ENTITY_TOPICS), **RAW)
    deadletter = app.topic(settings.topic("deadletter.v1"), **RAW)

    @app.on_partitions_assigned.connect
    async def _assigned(sender, assigned, **kwargs) -> None:
        state.assigned = True

    async def send_to_deadletter(message, error: InvalidEvent) -> None:
        headers = deadletter_headers(
            original=_headers(message),
            error_class=error.error_class,
            error_message=error.message,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
        )
        await deadletter.send(key=message.key, value=message.value, headers=headers)
        state.deadlettered += 1

    @app.agent(entity_topics, name="entities")
    async def entities(stream) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout_s):
            changes: list[Change] = []
            now = datetime.now(UTC)
            for event in events:
                message = event.message
                try:
                    cloud_event = decode(value=message.value, key=message.key, headers=_headers(message), now=now)
                    changes.append(to_change(cloud_event))
                except InvalidEvent as error:
                    await send_to_deadletter(message, error)
            # Embedding is seconds of CPU: off the loop, so heartbeats and the API keep running.
            await asyncio.to_thread(matcher.apply, changes)
            state.events_processed += len(events)

    return app
