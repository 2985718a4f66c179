"""`chainmatch up | worker | api | produce`: the settings are read here, once, and passed down."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import secrets
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chainmatch.bootstrap import Runtime, StoreInUse, open_embedded_store, progress, topic_configs, topic_names
from chainmatch.settings import ApiKey, Settings


def _with_staff_key(settings: Settings) -> Settings:
    """With no keys configured, use (creating once) a staff key kept in the data dir."""
    if settings.api_keys:
        return settings
    path = settings.data_dir / "staff.key"
    if path.exists():
        key = path.read_text().strip()
    else:
        key = "cm_" + secrets.token_urlsafe(24)
        path.touch(mode=0o600)
        path.write_text(key + "\n")
    print(f"staff key: {key}", flush=True)
    return settings.model_copy(update={"api_keys": {key: ApiKey(role="staff", name="staff")}})


def _serve(settings: Settings, *, run_workers: bool, serve_api: bool = True, seed: Sequence[dict] = ()) -> int:
    """Serve the API app (`serve_api`) or the worker's health app, with the runtime in its lifespan."""
    import uvicorn

    from chainmatch.broker import ensure_topics

    try:
        # Opened before anything else, so a second process on the same embedded store stops at once.
        store = None if settings.qdrant_url else open_embedded_store(settings)
    except StoreInUse as error:
        progress(str(error))
        return 2
    try:
        ensure_topics(settings.bootstrap, topic_names(settings), settings.topic_partitions,
                      configs=topic_configs(settings))
        runtime = Runtime(settings, run_workers=run_workers, serve_api=serve_api, store=store, seed=seed,
                          on_ready=_spare_startup_from_collections)
        if serve_api:
            from api.app import create_app

            app: Any = create_app(settings=settings, backend=runtime, lifespan=runtime.lifespan)
            progress(f"API on http://{settings.host}:{settings.port}  (docs at /docs)")
        else:
            from chainmatch.health import create_health_app

            app = create_health_app(runtime, lifespan=runtime.lifespan)
            progress(f"workers; health on http://{settings.host}:{settings.port}/healthz")
        # uvicorn re-raises the stop signal once it has shut down; with the default handler that would
        # kill this process before it stops the broker, so the re-raised signal lands on a no-op instead.
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop_signal, lambda *_: None)
        uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning")).run()
    finally:
        if store is not None:
            store.close()
    return 0


def _spare_startup_from_collections() -> None:
    """What startup built (the workers, the store, the derived statistics) lives as long as the process.
    Frozen, full collections stop walking it (they took 95-130 ms each here while starting), and young
    collections run a tenth as often under request load."""
    gc.freeze()
    gc.set_threshold(7_000, 10, 10)


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    from chainmatch.broker import EmbeddedBroker

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings = _with_staff_key(settings)
    broker = None
    if settings.embedded_broker:
        broker = EmbeddedBroker(log_dir=settings.data_dir)
        broker.start(settings.kafka_port)
        progress(f"embedded Kafka broker (Tansu) on {broker.bootstrap}; it keeps nothing across a restart")
    seed = []
    if args.demo:
        from chainmatch.demo import demo_events

        seed = demo_events()
    try:
        code = _serve(settings, run_workers=True, seed=seed)
    finally:
        if broker is not None:
            broker.stop()
    progress("stopped")
    return code


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """The stream workers alone; their port serves only /healthz, for the orchestrator's probe."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return _serve(settings, run_workers=True, serve_api=False)


def cmd_api(settings: Settings, args: argparse.Namespace) -> int:
    """The API alone: the partnerships come from the workers' topic, the profiles from the shared store."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return _serve(_with_staff_key(settings), run_workers=False)


def cmd_produce(settings: Settings, args: argparse.Namespace) -> int:
    from schemas.cloudevents import InvalidEvent, parse_structured, to_record
    from streams.publisher import KafkaPublisher

    now = datetime.now(UTC)
    records, bad = [], 0
    for number, line in enumerate(Path(args.file).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = parse_structured(json.loads(line), key=None, now=now)
        except (ValueError, RecursionError) as error:
            print(f"line {number}: not JSON: {error}", file=sys.stderr)
            bad += 1
            continue
        except InvalidEvent as error:
            details = "; ".join(f"{e.pointer or '/'}: {e.detail}" for e in error.errors) or error.message
            print(f"line {number}: {error.error_class}: {details}", file=sys.stderr)
            bad += 1
            continue
        records.append(to_record(event, topic_prefix=settings.topic_prefix, now=now))
    if bad:
        print(f"{bad} bad line(s): nothing was sent", file=sys.stderr)
        return 1

    async def send() -> None:
        publisher = KafkaPublisher(settings.bootstrap)
        await publisher.start()
        try:
            await publisher.publish(records)
        finally:
            await publisher.stop()

    asyncio.run(send())
    print(f"sent {len(records)} event(s)")
    return 0


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from chainmatch.rebuild import run_replay

    return run_replay(settings, confirmed=args.yes, from_topics=args.from_topics)


def cmd_redrive(settings: Settings, args: argparse.Namespace) -> int:
    """Send every dead letter kept in the workers' state back to its topic, then forget it."""
    from chainmatch.bootstrap import holds_worker_state, open_worker_state, worker_state_place
    from streams.deadletter import KeptDeadLetters
    from streams.publisher import KafkaPublisher

    if not holds_worker_state(settings):
        print(f"no dead letters: {worker_state_place(settings)} holds no workers' state")
        return 0
    state = open_worker_state(settings)

    async def send() -> int:
        publisher = None if args.dry_run else KafkaPublisher(settings.bootstrap)
        if publisher is not None:
            await publisher.start()
        kept = KeptDeadLetters(state, publisher.publish if publisher is not None else _refuse)
        sent, after = 0, None
        try:
            while page := kept.page(after=after, limit=100):
                after = page[-1]["id"]
                for deadletter in page:
                    print(f"{'would send' if args.dry_run else 'sending'} {deadletter['id']} to {deadletter['topic']} "
                          f"key={deadletter['key']!r} ({deadletter['error_class']}: {deadletter['error_message']})")
                if publisher is not None:
                    sent += await kept.redrive([deadletter["id"] for deadletter in page])
        finally:
            if publisher is not None:
                await publisher.stop()
        return sent

    try:
        sent = asyncio.run(send())
    finally:
        state.close()
    print("dry run: nothing sent" if args.dry_run else f"sent {sent} record(s) back to their topics")
    return 0


async def _refuse(records) -> None:
    raise AssertionError("a dry run sends nothing")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="chainmatch", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    for name, helptext in (("up", "broker, workers, store and API in one process tree"),
                           ("worker", "the stream workers alone"), ("api", "the API alone")):
        command = commands.add_parser(name, help=helptext)
        command.add_argument("--host")
        command.add_argument("--port", type=int)
        command.add_argument("--data-dir", type=Path)
        if name == "worker":
            command.add_argument("--role", dest="worker_role", choices=("all", "ingest", "partnerships"),
                                 help="all (default); or ingest for each of several replicas beside one partnerships")
        if name == "up":
            command.add_argument("--kafka-port", type=int)
            command.add_argument("--demo", action="store_true", help="load the bundled demo ecosystem")
    produce = commands.add_parser("produce", help="validate and send the CloudEvents of a JSON Lines file")
    produce.add_argument("file", type=Path)
    produce.add_argument("--kafka-port", type=int)
    replay = commands.add_parser(
        "replay", help="rebuild the store and the partnerships from everything accepted (the data dir's journal), "
                       "or from the topics from offset 0")
    replay.add_argument("--data-dir", type=Path)
    replay.add_argument("--kafka-port", type=int)
    replay.add_argument("--yes", action="store_true",
                        help="rebuild a data dir that holds state (beside it, then swapped in; the old one is kept)")
    replay.add_argument("--from-topics", action="store_true", help="read the topics even when there is a journal")
    redrive = commands.add_parser("redrive", help="send the dead letters kept in the data dir back to their topics")
    redrive.add_argument("--dry-run", action="store_true", help="show what would be sent, send nothing")
    redrive.add_argument("--data-dir", type=Path)
    redrive.add_argument("--kafka-port", type=int)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    overrides = {field: getattr(args, field) for field in ("host", "port", "data_dir", "kafka_port", "worker_role")
                 if getattr(args, field, None) is not None}
    settings = Settings(**overrides)
    handler = {"up": cmd_up, "worker": cmd_worker, "api": cmd_api, "produce": cmd_produce, "replay": cmd_replay,
               "redrive": cmd_redrive}[args.command]
    return handler(settings, args)


if __name__ == "__main__":
    sys.exit(main())
