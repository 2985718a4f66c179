"""The faust app: topics as raw bytes, one thin agent per input, the work in streams.pipeline."""

from __future__ import annotations

import asyncio
import logging

import faust

from chainmatch.settings import Settings
from streams.pipeline import BatchHandler, Incoming, PipelineState

log = logging.getLogger(__name__)
RAW = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
ENTITY_TOPICS = ("companies.v1", "labs.v1", "projects.v1")
RETRY_DELAYS = (0.5, 1, 2, 5, 10)


def _headers(message) -> list[tuple[str, bytes]]:
    """faust gives headers as a list of pairs or as a mapping, depending on the transport."""
    headers = message.headers or ()
    return list(headers.items()) if isinstance(headers, dict) else list(headers)


def incoming(event) -> Incoming:
    message = event.message
    return Incoming(topic=message.topic, partition=message.partition, offset=message.offset,
                    key=message.key, value=message.value, headers=_headers(message))


async def handle_until_done(handler: BatchHandler, batch: list[Incoming], agent: str) -> None:
    """Faults of the system (store, disk, broker) are retried here, never dead-lettered, and the
    batch is not acknowledged until it went through: faust acks what an agent raised on."""
    attempt = 0
    while True:
        try:
            await handler.handle(batch)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
            log.exception("agent %s: batch of %d failed; retrying in %s s", agent, len(batch), delay)
            await asyncio.sleep(delay)
            attempt += 1


def create_app(settings: Settings, handler: BatchHandler, state: PipelineState) -> faust.App:
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
    curation_topic = app.topic(settings.topic("curation.v1"), **RAW)
    feedback_topic = app.topic(settings.topic("feedback.v1"), **RAW)

    @app.on_partitions_assigned.connect
    async def _assigned(sender, assigned, **kwargs) -> None:
        state.assigned = True

    def agent_for(topic, name: str) -> None:
        async def run(stream) -> None:
            try:
                async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout_s):
                    await handle_until_done(handler, [incoming(e) for e in events], name)
            except asyncio.CancelledError:
                raise
            except BaseException as error:  # recorded so /healthz turns 503 and names the agent
                state.crashed[name] = f"{type(error).__name__}: {error}"
                raise

        run.__name__ = name
        app.agent(topic, name=name)(run)

    agent_for(entity_topics, "entities")
    agent_for(curation_topic, "curation")
    agent_for(feedback_topic, "feedback")
    return app
