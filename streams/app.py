"""The faust app: topics as raw bytes, one thin agent per input, the work in streams.pipeline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

import faust

from chainmatch.retry import until_done
from chainmatch.settings import Settings
from streams.pipeline import BatchHandler, Incoming, PipelineState

RAW = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
ENTITY_TOPICS = ("companies.v1", "labs.v1", "projects.v1")
SETTLE_POLL_S = 0.05


def _headers(message) -> list[tuple[str, bytes]]:
    """faust gives headers as a list of pairs or as a mapping, depending on the transport."""
    headers = message.headers or ()
    return list(headers.items()) if isinstance(headers, dict) else list(headers)


def incoming(event) -> Incoming:
    message = event.message
    return Incoming(topic=message.topic, partition=message.partition, offset=message.offset,
                    key=message.key, value=message.value, headers=_headers(message))


@dataclass
class SettleClock:
    """When to settle: once the input has been idle for `idle_s`, or `max_wait_s` after the first
    unsettled batch while batches keep coming. Idle points, not batch boundaries, decide, so a
    restarted worker publishes the same partnership events as one that ran through. A batch being
    handled is input too: a batch that takes longer than `idle_s` is not an idle moment."""

    idle_s: float
    max_wait_s: float
    last_batch: float = 0.0
    first_unsettled: float | None = None
    handling: int = 0

    def batch_started(self) -> None:
        self.handling += 1

    def batch_done(self, now: float) -> None:
        self.handling = max(self.handling - 1, 0)
        self.last_batch = now
        if self.first_unsettled is None:
            self.first_unsettled = now

    def due(self, now: float, *, unsettled: bool) -> bool:
        if not unsettled:
            return False
        waited = now - (self.first_unsettled if self.first_unsettled is not None else now)
        idle = not self.handling and now - self.last_batch >= self.idle_s
        return idle or waited >= self.max_wait_s

    def settled(self) -> None:
        self.first_unsettled = None


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

    @app.on_partitions_assigned.connect
    async def _assigned(sender, assigned, **kwargs) -> None:
        state.assigned = True

    clock = SettleClock(idle_s=settings.settle_idle_s, max_wait_s=settings.settle_max_wait_s)

    def recorded(name: str, work: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except BaseException as error:  # recorded so /healthz turns 503 and names the agent
                state.crashed[name] = f"{type(error).__name__}: {error}"
                raise

        return run

    def agent_for(topic, name: str) -> None:
        async def run(stream) -> None:
            async def consume() -> None:
                async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout_s):
                    batch = [incoming(e) for e in events]
                    state.in_flight += 1
                    clock.batch_started()
                    try:
                        await until_done(partial(handler.handle, batch), f"agent {name}: batch of {len(batch)}")
                    finally:
                        state.in_flight -= 1
                        state.last_batch_at = time.monotonic()
                    clock.batch_done(asyncio.get_running_loop().time())

            await recorded(name, consume)()

        run.__name__ = name
        app.agent(topic, name=name)(run)

    async def settle_when_due() -> None:
        await until_done(handler.publish_pending, "publishing pending partnership events")
        while True:
            await asyncio.sleep(SETTLE_POLL_S)
            if clock.due(asyncio.get_running_loop().time(), unsettled=handler.unsettled):
                clock.settled()
                await until_done(handler.settle, "settling partnerships")

    # Ingest scales out by partitions; partnerships are global, so one process owns them: with several
    # ingest replicas, each hands what it stored to the one partnerships worker (chain.stored.v1).
    role = settings.worker_role
    if role in ("all", "ingest"):
        agent_for(app.topic(*(settings.topic(name) for name in ENTITY_TOPICS), **RAW), "entities")
    if role in ("all", "partnerships"):
        agent_for(app.topic(settings.topic("curation.v1"), **RAW), "curation")
        agent_for(app.topic(settings.topic("feedback.v1"), **RAW), "feedback")
        app.task(recorded("settle", settle_when_due))
    if role == "partnerships":
        agent_for(app.topic(settings.topic("stored.v1"), **RAW), "stored")
    return app
