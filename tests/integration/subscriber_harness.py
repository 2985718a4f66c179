"""Real servers for subscriber tests: the API under uvicorn in a thread, a webhook receiver in another,
and an SSE reader over a socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import uvicorn
from fakes import FakeBackend

from api.app import create_app
from chainmatch.broker import free_port
from subscribers.hub import Subscribers


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Answers each POST with the next scripted (status, headers, delay_s), then with `then`."""

    script: list[tuple[int, dict[str, str], float]] = field(default_factory=list)
    then: tuple[int, dict[str, str], float] = (204, {}, 0.0)
    received: list[Received] = field(default_factory=list)

    def answer(self) -> tuple[int, dict[str, str], float]:
        return self.script.pop(0) if self.script else self.then

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.received)


@contextlib.contextmanager
def receiving(receiver: Receiver) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the name http.server calls
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()))
            status, headers, delay = receiver.answer()
            time.sleep(delay)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


class Api:
    """The app with a FakeBackend over a real Subscribers hub, served by uvicorn on a free port; its
    lifespan runs the hub (`bootstrap` given: feeder and dispatcher too, else only the delivery loop)."""

    def __init__(self, hub: Subscribers, *, bootstrap: str | None = None, backend: FakeBackend | None = None):
        self.hub = hub
        self.loop: asyncio.AbstractEventLoop | None = None

        @contextlib.asynccontextmanager
        async def lifespan(app):
            self.loop = asyncio.get_running_loop()
            task = asyncio.create_task(hub.run(bootstrap) if bootstrap else hub.deliverer.run())
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        app = create_app(settings=hub.settings, backend=backend or FakeBackend(subscribers=hub), lifespan=lifespan)
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, port=self.port, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Api:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, "uvicorn did not start"
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def receive(self, events: list[dict]) -> None:
        """Partnership events in, on the server's loop, as the consumers would give them."""
        asyncio.run_coroutine_threadsafe(self.hub.receive(events), self.loop).result(10)


@dataclass
class SseEvent:
    id: int | None
    event: str
    data: dict


class SseReader:
    """A real HTTP client reading the stream over a socket, frame by frame."""

    def __init__(self, api: Api, key: str, *, last_event_id: int | None = None, params: dict | None = None):
        headers = {"Authorization": f"Bearer {key}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self._client = httpx.Client(base_url=api.url, timeout=10)
        self._response = self._client.send(self._client.build_request(
            "GET", "/v1/partnerships/stream", headers=headers, params=params), stream=True)
        assert self._response.status_code == 200, self._response.read()
        assert self._response.headers["content-type"].startswith("text/event-stream")
        self._lines = self._response.iter_lines()
        self.comments: list[str] = []
        self.retry: int | None = None

    def next(self) -> SseEvent:
        fields: dict[str, str] = {}
        for line in self._lines:
            if line == "":
                if "event" in fields:
                    return SseEvent(int(fields["id"]) if "id" in fields else None, fields["event"],
                                    json.loads(fields["data"]))
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            name, _, value = line.partition(": ")
            if name == "retry":
                self.retry = int(value)
            else:
                fields[name] = value
        raise EOFError("the stream ended")

    def next_line(self) -> str:
        return next(line for line in self._lines if line)

    def take(self, count: int) -> list[SseEvent]:
        return [self.next() for _ in range(count)]

    def started(self) -> SseReader:
        """After the retry line: from here on the server has fixed where this stream starts."""
        for line in self._lines:
            if line.startswith("retry: "):
                self.retry = int(line.removeprefix("retry: "))
                return self
        raise EOFError("no retry line")

    def close(self) -> None:
        self._response.close()
        self._client.close()


def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
