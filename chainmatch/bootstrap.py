"""The composition root: builds the adapters that the settings choose and wires the edges."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from api.keyring import Keyring
from chainmatch.settings import Settings
from matcher.adapters.label_files import load_label_models
from matcher.ports import Embedder, StateStore, StoreInfo, VectorStore
from matcher.service import Matcher
from schemas.cloudevents import Record

log = logging.getLogger("chainmatch")
STOP_STEP_S = 15.0  # the longest one step of a stop may take (settle, stop the workers, close the producer)
BROKER_GONE_STEP_S = 2.0  # the same once the broker is found gone
WORKER_STATE_FILE = "state.db"  # the workers' state store in the data dir
GRAPH_FROM = 10_000  # below this a full scan of the vectors takes under 2 ms
ALL_TOPICS = ("companies.v1", "labs.v1", "projects.v1", "curation.v1", "feedback.v1", "stored.v1",
              "keys.v1", "keyuses.v1", "partnerships.v1", "partnerships.public.v1", "deadletter.v1")


def progress(message: str) -> None:
    print(f"chainmatch: {message}", file=sys.stderr, flush=True)


def embedder_factory(settings: Settings) -> Callable[[], Embedder]:
    """What builds the embedder the settings name, in whichever process calls it: `hashing:<dimension>`
    (the deterministic test embedder), the default multilingual encoder, or a sentence-transformers
    model. Picklable, so a child process can call it."""
    if settings.model and settings.model.startswith("hashing:"):
        from matcher.adapters.hashing_embedder import HashingEmbedder

        return partial(HashingEmbedder, dimension=int(settings.model.removeprefix("hashing:")))
    from matcher.adapters.use_embedder import USE_MODEL_NAME, UseEmbedder

    if settings.model in (None, USE_MODEL_NAME):
        return partial(UseEmbedder, threads=settings.model_threads, progress=progress)
    from matcher.adapters.sentence_embedder import SentenceEmbedder

    return partial(SentenceEmbedder, settings.model, progress=progress)


def build_embedder(settings: Settings) -> Embedder:
    """The embedder the settings name; a real model runs in a child process
    (matcher.adapters.process_embedder says why): close it with `close_embedder`."""
    factory = embedder_factory(settings)
    if settings.model and settings.model.startswith("hashing:"):
        return factory()
    from matcher.adapters.process_embedder import ProcessEmbedder

    return ProcessEmbedder(factory)


def close_embedder(embedder: Embedder) -> None:
    close = getattr(embedder, "close", None)
    if close is not None:
        close()


def build_store(settings: Settings) -> VectorStore:
    if settings.qdrant_url:
        from matcher.adapters.qdrant_store import QdrantServerStore

        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return QdrantServerStore.from_url(settings.qdrant_url, api_key, settings.collection)
    return open_embedded_store(settings)


def open_worker_state(settings: Settings) -> StateStore:
    """The workers' state store: PostgreSQL at CHAINMATCH_STATE_URL (schema CHAINMATCH_STATE_SCHEMA),
    else the SQLite file in the data dir."""
    if settings.state_url:
        from matcher.adapters.postgres_state import PostgresState

        return PostgresState(settings.state_url.get_secret_value(), schema=settings.state_schema)
    from matcher.adapters.sqlite_state import SqliteState

    return SqliteState(settings.data_dir / WORKER_STATE_FILE)


def worker_state_place(settings: Settings) -> str:
    """Where the workers' state is, for messages."""
    if settings.state_url:
        return f"schema {settings.state_schema} of the state database"
    return str(settings.data_dir)


def holds_worker_state(settings: Settings) -> bool:
    """Whether the workers have written state where `open_worker_state` would open it (without opening
    it in SQLite's case, which would create the file)."""
    if not settings.state_url:
        return (settings.data_dir / WORKER_STATE_FILE).exists()
    state = open_worker_state(settings)
    try:
        return bool(state.tables())
    finally:
        state.close()


def topic_names(settings: Settings) -> list[str]:
    return [settings.topic(name) for name in ALL_TOPICS]


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """The partnership and key topics are event-sourced by id (each event carries the whole record),
    so the latest event per key is all a reader needs: compacted, they stay small."""
    compacted = ("partnerships.v1", "partnerships.public.v1", "keys.v1", "keyuses.v1")
    return {settings.topic(name): {"cleanup.policy": "compact"} for name in compacted}


class StoreInUse(RuntimeError):
    """The embedded store is open in another process."""


def open_embedded_store(settings: Settings) -> VectorStore:
    """The Edge store under the data dir, opened at once so that a second process fails fast."""
    from matcher.adapters.edge_store import EdgeStore, StoreLocked

    try:
        return EdgeStore(settings.data_dir / "store")
    except StoreLocked as error:
        raise StoreInUse(
            f"{error}: the embedded vector store takes one process at a time. Stop that process, or, to run "
            "`chainmatch worker` and `chainmatch api` apart, point both at a Qdrant server with "
            "CHAINMATCH_QDRANT_URL.") from None


def index_embedded_store(store: VectorStore) -> None:
    """Qdrant Edge runs no background optimizer: without this, every search scans all the float vectors
    (about 5 ms at 30,000, against 0.3 ms with the HNSW graph), and suggestions have no int8 copies to
    shortlist by (a quarter faster at 3,000). Below GRAPH_FROM the searches that are not approximate
    (every one that feeds an event) keep scanning, so that their hits do not change with a restart. A
    Qdrant server indexes by itself."""
    optimize = getattr(store, "optimize", None)
    if optimize is None or store.info() is None:
        return
    if count := store.count():
        progress(f"indexing {count} vectors")
        optimize(graph=count >= GRAPH_FROM)


class Runtime:
    """The running system, started in the lifespan of the app that serves it: the API app
    (api.deps.Backend) in `chainmatch up` and `chainmatch api`, the health app (chainmatch.health) in
    `chainmatch worker`. The worker and the API processes share only Kafka, the vector store and the
    workers' state (open_worker_state).

    `run_workers`: the stream workers run here, over a matcher whose partnership book is theirs
    (open_worker_state). `serve_api`: the API's own edges run here, the subscribers and, when the
    workers run elsewhere, a read model of their partnerships (subscribers.partnerships). Startup runs
    in the background, so /healthz answers 503 until it is done.
    """

    def __init__(self, settings: Settings, *, run_workers: bool, serve_api: bool = True,
                 embedder: Embedder | None = None, store: VectorStore | None = None,
                 seed: Sequence[dict[str, Any]] = (), on_ready: Callable[[], None] = lambda: None):
        from streams.pipeline import PipelineState
        from subscribers.keys import load_keyring

        self.settings = settings
        self.run_workers = run_workers
        self.serve_api = serve_api
        self.state = PipelineState()
        self._embedder = embedder
        self._store = store
        # A store given by the caller is the caller's to close (tests share one between two runtimes).
        self._owns_store = store is None
        self._store_status = "starting"
        self._matcher: Matcher | None = None
        self._publisher: Any = None
        self._failure: str | None = None
        self._seed = seed
        self._on_ready = on_ready
        self._subscribers: Any = None
        self._read_model: Any = None
        self._keyring = load_keyring(settings.data_dir)
        # The workers' state store (open_worker_state): their counts and kept dead letters, read by the
        # API in both deployments.
        self._worker_state: Any = None
        self._broker_gone = False

    def keyring(self) -> Keyring:
        """The runtime API keys: from the data dir's snapshot at once, then kept current from their topic."""
        return self._keyring

    def matcher(self) -> Matcher | None:
        return self._matcher

    def subscribers(self) -> Any:
        """subscribers.hub.Subscribers once the broker answers; None before."""
        return self._subscribers

    def health(self) -> tuple[bool, dict[str, Any]]:
        components = {
            "broker": "ok" if self._publisher is not None else "starting",
            "model": "ok" if self._matcher is not None else "starting",
            "store": "ok" if self._matcher is not None else self._store_status,
            "workers": ("ok" if self.state.assigned else "starting") if self.run_workers else "not run here",
        }
        if self.serve_api:
            components["keys"] = "ok" if self._keyring.current else "reading their topic"
        if not self.run_workers:
            components["partnerships"] = (
                "ok" if self._read_model is not None and self._read_model.caught_up else "reading their topic")
        for agent, reason in self.state.crashed.items():
            components["workers"] = f"agent {agent} died: {reason}"
        if self._failure:
            components["failure"] = self._failure
        ready = all(v in ("ok", "not run here") for v in components.values())
        return ready, components

    def stats(self) -> dict[str, int]:
        """What the workers did, every process of them since the data dir began (the workers persist
        their counts with each batch); zero until the state store is open."""
        from streams.pipeline import persisted_totals

        if self._worker_state is None:
            return {"events_processed": 0, "deadlettered": 0}
        return persisted_totals(self._worker_state)

    def deadletters(self) -> Any:
        """streams.deadletter.KeptDeadLetters once the state store and the broker are open; None before."""
        from streams.deadletter import KeptDeadLetters

        if self._worker_state is None or self._publisher is None:
            return None
        return KeptDeadLetters(self._worker_state, self.publish)

    async def publish(self, records: Sequence[Record]) -> None:
        if self._publisher is None:
            from api.problems import ProblemException

            raise ProblemException(503, "the broker connection is still starting", headers={"Retry-After": "5"})
        await self._publisher.publish(records)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            task = asyncio.create_task(self._start(stack))
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._store is not None:
            self._store.flush()
            if self._owns_store:
                self._store.close()

    async def _start(self, stack: contextlib.AsyncExitStack) -> None:
        from streams.publisher import KafkaPublisher

        try:
            publisher = KafkaPublisher(self.settings.bootstrap)
            await publisher.start()
            stack.push_async_callback(self._stop_step, publisher.stop, "closing the producer")
            self._publisher = publisher
            if self.serve_api:
                self._start_keys(stack, publisher)
                await self._start_subscribers(stack)
            if self._embedder is None:
                self._embedder = await asyncio.to_thread(build_embedder, self.settings)
                stack.callback(close_embedder, self._embedder)
            if self._store is None:
                self._store = await asyncio.to_thread(build_store, self.settings)
            if self.run_workers:
                matcher = await self._start_workers(stack, publisher)
            else:
                matcher = await self._start_read_model(stack)
            self._matcher = matcher
            self._on_ready()
            progress("ready")
            if self._seed:
                await self._publish_seed(matcher)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - reported by /healthz and the log, never silent
            self._failure = f"{type(error).__name__}: {error}"
            log.exception("startup failed")
            progress(f"startup failed: {self._failure}")

    async def _start_workers(self, stack: contextlib.AsyncExitStack, publisher: Any) -> Matcher:
        """The faust app over a matcher that computes the partnerships and keeps them in the workers' state."""
        from faust.contrib.asgi import faust_app_running

        from streams.app import create_app as create_stream_app
        from streams.pipeline import BatchHandler, Retention

        # faust keeps its files in the data dir, which no state file creates when the state is in PostgreSQL.
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        state = await self._open_worker_state()
        stack.callback(state.close)
        self._worker_state = state
        matcher = Matcher(embedder=self._embedder, store=self._store, state=state, progress=progress,
                          label_models=load_label_models(self._embedder.name))
        await asyncio.to_thread(matcher.ensure_model)
        # Before the consumers start: optimizing blocks the shard, and a batch held up meanwhile would
        # look like idle input and settle early.
        await asyncio.to_thread(index_embedded_store, self._store)
        handler = BatchHandler(matcher=matcher, state=state, publish=publisher.publish,
                               prefix=self.settings.topic_prefix, counters=self.state,
                               hand_over=self.settings.worker_role == "ingest",
                               retention=Retention(max_age_s=self.settings.retention_days * 86400,
                                                   max_rows=self.settings.retention_rows))
        stream_app = create_stream_app(self.settings, handler, self.state)
        # Runs once the workers have stopped (the stack unwinds in reverse): what the last
        # batches changed is settled and published before the broker connection closes. Every step
        # that talks to the broker is bounded, so a broker that died first cannot hang the stop; what
        # a step leaves unsent stays in the state store and is sent at the next start.
        stack.push_async_callback(self._stop_step, handler.settle, "settling the last batches")
        running = faust_app_running(stream_app)
        await running.__aenter__()
        stack.push_async_callback(self._stop_step, partial(running.__aexit__, None, None, None),
                                  "stopping the stream workers")
        if self.settings.embedded_broker and self.settings.stop_drain_s:
            # Before the workers stop: what producers sent is taken from the broker, which forgets it.
            idle_s = max(1.0, 5 * self.settings.batch_timeout_s)
            stack.push_async_callback(self._stop_step, partial(_drained, self.state, idle_s),
                                      "taking what is left on the embedded broker", self.settings.stop_drain_s)
        stack.push_async_callback(self._check_broker)
        return matcher

    async def _open_worker_state(self) -> StateStore:
        """The workers' state, once it opens: a state database that is not up yet (or refuses) is tried
        again until it is, and /healthz says so meanwhile."""
        from chainmatch.retry import until_done

        opened: list[StateStore] = []

        async def attempt() -> None:
            self._store_status = f"opening the workers' state in {worker_state_place(self.settings)}"
            opened.append(await asyncio.to_thread(open_worker_state, self.settings))
            self._store_status = "starting"

        await until_done(attempt, "opening the workers' state")
        return opened[0]

    async def _check_broker(self) -> None:
        """The first step of a stop: is the broker still there to stop with?"""
        from chainmatch.broker import answers

        self._broker_gone = not await asyncio.to_thread(answers, self.settings.bootstrap)
        if self._broker_gone:
            progress(f"stop: the broker at {self.settings.bootstrap} is gone; stopping without it")

    async def _stop_step(self, step: Callable[[], Awaitable[Any]], what: str,
                         timeout_s: float = STOP_STEP_S) -> None:
        """One step of a stop, bounded (`timeout_s`; at most BROKER_GONE_STEP_S once the broker is gone),
        so that a broker that died first cannot hang it; a step that fails or times out is reported and
        the next runs. What a step leaves unsent stays in the state store for the next start."""
        bound = min(timeout_s, BROKER_GONE_STEP_S) if self._broker_gone else timeout_s
        task = asyncio.ensure_future(step())
        # Not wait_for: it waits for the cancelled step to finish, and the clients of a dead broker
        # (faust's consumer thread, aiokafka's fetcher) can take their time over that.
        done, _ = await asyncio.wait({task}, timeout=bound)
        if not done:
            task.cancel()
            progress(f"stop: {what} took over {bound:g} s; left behind")
        elif not task.cancelled() and (error := task.exception()) is not None:
            progress(f"stop: {what} failed: {type(error).__name__}: {error}")

    async def _start_read_model(self, stack: contextlib.AsyncExitStack) -> Matcher:
        """A matcher that reads the store the workers write and serves the partnerships they publish.

        It waits for the workers to create the collection for this model rather than create (or
        re-embed) it itself: that is the workers' to do, and two writers would race."""
        from matcher.adapters.sqlite_state import SqliteState
        from subscribers.partnerships import STATE_FILE, PartnershipReadModel

        wanted = StoreInfo(model=self._embedder.name, dimension=self._embedder.dimension)
        while (info := await asyncio.to_thread(self._store.info)) != wanted:
            self._store_status = (
                "waiting for the workers to create the collection" if info is None else
                f"holds vectors of {info.model} ({info.dimension}), not of {wanted.model}: waiting for the workers "
                "to re-embed it (restart the API once they have), or set the same CHAINMATCH_MODEL for both")
            await asyncio.sleep(1)
        state = SqliteState(self.settings.data_dir / STATE_FILE)
        stack.callback(state.close)
        self._worker_state = await self._open_worker_state()
        stack.callback(self._worker_state.close)
        matcher = Matcher(embedder=self._embedder, store=self._store, state=state, progress=progress,
                          label_models=load_label_models(self._embedder.name))
        await asyncio.to_thread(matcher.ensure_model)  # the collection is this model's: only rebuilds what derives
        await asyncio.to_thread(index_embedded_store, self._store)
        read_model = PartnershipReadModel(matcher, partnership_topic=self.settings.topic("partnerships.v1"),
                                          feedback_topic=self.settings.topic("feedback.v1"))
        task = asyncio.create_task(read_model.run(self.settings.bootstrap))
        stack.push_async_callback(_cancel, task)
        self._read_model = read_model
        return matcher

    def _start_keys(self, stack: contextlib.AsyncExitStack, publisher: Any) -> None:
        """The runtime keys kept current from their topics in the background (subscribers.keys)."""
        from subscribers.keys import KeyFeed

        feed = KeyFeed(self._keyring, self.settings, publish=publisher.publish)
        task = asyncio.create_task(feed.run(self.settings.bootstrap))
        stack.push_async_callback(_cancel, task)

    async def _start_subscribers(self, stack: contextlib.AsyncExitStack) -> None:
        """SSE and webhooks, fed by the partnership topic in the background."""
        from subscribers.hub import Subscribers

        hub = await asyncio.to_thread(Subscribers, self.settings, keyring=self._keyring)
        stack.callback(hub.close)
        task = asyncio.create_task(hub.run(self.settings.bootstrap))
        stack.push_async_callback(_cancel, task)
        self._subscribers = hub

    async def _publish_seed(self, matcher: Matcher, timeout_s: float = 600) -> None:
        """Publish the seed events like any producer would, then report until the matcher has them."""
        from schemas.cloudevents import parse_structured, to_record

        now = datetime.now(UTC)
        events = [parse_structured(event, key=None, now=now) for event in self._seed]
        await self.publish([to_record(e, topic_prefix=self.settings.topic_prefix, now=now) for e in events])
        ids = sorted({e.key for e in events})
        progress(f"seed: published {len(events)} events")
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            stored = len(await asyncio.to_thread(matcher.stored, ids))
            progress(f"seed: {stored}/{len(ids)} profiles stored")
            if stored == len(ids):
                return
            await asyncio.sleep(3)


async def _drained(state: Any, idle_s: float) -> None:
    """Returns once no batch has been handled for `idle_s` seconds (PipelineState), counted from now at
    the earliest."""
    since = time.monotonic()
    while state.in_flight or (quiet := time.monotonic() - max(state.last_batch_at, since)) < idle_s:
        await asyncio.sleep(0.1 if state.in_flight else idle_s - quiet)


async def _cancel(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
