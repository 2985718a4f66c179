"""An Embedder that runs another one in a child process.

In one process with the event loop, the model's thread shares the interpreter lock with everything the
loop wakes for (consumer fetches, heartbeats, timers, API requests); measured here, a loop busy with
small timers slows encoding by 15-20 %. In a child of its own the model never waits on that lock, and
the serving process never imports torch.

The child ends when the pipe to its parent closes, so it goes away with a parent that was SIGKILLed too.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing.connection import Connection
from typing import Any

from matcher.ports import Embedder, Vector

__all__ = ["ProcessEmbedder"]


class ProcessEmbedder:
    def __init__(self, factory: Callable[[], Embedder]):
        """`factory` builds the real embedder in the child: a picklable callable (a module-level
        function or a functools.partial of one), since the child is spawned, not forked."""
        context = multiprocessing.get_context("spawn")  # forking a process with threads is unsafe
        self._connection, child_end = context.Pipe()
        self._process = context.Process(target=_serve, args=(child_end, factory), daemon=True,
                                        name="chainmatch-embedder")
        self._process.start()
        child_end.close()
        self._lock = threading.Lock()
        self.name, self.dimension, self.multilingual = self._receive()

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        with self._lock:  # one request in flight: the pipe carries one answer at a time
            self._connection.send(list(texts))
            return self._receive()

    def embed_chunks(self, chunks: Iterable[Sequence[str]]) -> Iterator[list[Vector]]:
        """Vectors chunk by chunk, the child encoding the next chunk while the caller works on this one:
        what the caller does with a chunk (store it, infer its labels) overlaps the model's work."""
        with self._lock:
            waiting = False
            try:
                for chunk in chunks:
                    if waiting:
                        ready = self._receive()
                        self._connection.send(list(chunk))
                        yield ready
                    else:
                        self._connection.send(list(chunk))
                        waiting = True
                if waiting:
                    waiting = False
                    yield self._receive()
            finally:
                if waiting:  # the caller stopped early: take the answer, so the pipe stays in step
                    self._receive()

    def close(self) -> None:
        with self._lock:
            self._connection.close()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()

    def _receive(self) -> Any:
        try:
            kind, value = self._connection.recv()
        except EOFError:
            raise RuntimeError(f"the embedding process exited (code {self._process.exitcode})") from None
        if kind == "error":
            raise RuntimeError(f"the embedding process failed: {value}")
        return value


def _serve(connection: Connection, factory: Callable[[], Embedder]) -> None:
    # A terminal's Ctrl-C reaches this process too; the parent ends it by closing the pipe, once the
    # batches it is finishing no longer need the model.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        embedder = factory()
    except Exception as error:  # noqa: BLE001 - reported to the parent, which raises it
        connection.send(("error", f"{type(error).__name__}: {error}"))
        return
    connection.send(("ok", (embedder.name, embedder.dimension, getattr(embedder, "multilingual", False))))
    while True:
        try:
            texts = connection.recv()
        except (EOFError, OSError):  # the parent closed the pipe or is gone
            return
        try:
            answer = ("ok", embedder.embed(texts))
        except Exception as error:  # noqa: BLE001 - one bad request must not end the process
            answer = ("error", f"{type(error).__name__}: {error}")
        try:
            connection.send(answer)
        except (BrokenPipeError, OSError):
            return
