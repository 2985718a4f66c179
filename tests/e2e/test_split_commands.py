"""`chainmatch worker` and `chainmatch api` as an orchestrator runs them: subprocesses on the session's
broker, probed on `GET /healthz`, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from test_up import wait_for

from chainmatch.broker import free_port

ROOT = Path(__file__).resolve().parents[2]


def start(command: str, *, data_dir: Path, port: int, bootstrap: str, prefix: str) -> subprocess.Popen:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CHAINMATCH_")},
           "CHAINMATCH_KAFKA_BOOTSTRAP": bootstrap, "CHAINMATCH_TOPIC_PREFIX": prefix,
           "CHAINMATCH_MODEL": "hashing:64", "CHAINMATCH_API_KEYS": '{"staff-key": {"role": "staff"}}',
           "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "chainmatch.cli", command, "--port", str(port), "--data-dir",
                             str(data_dir)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(data_dir / f"{command}.log", "wb"))


def health(port: int) -> tuple[int, dict] | None:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    except httpx.TransportError:
        return None
    return response.status_code, response.json()


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


def test_the_worker_serves_only_health_and_an_api_alone_serves_the_store_it_left(broker, tmp_path):
    prefix, port = f"cmd{uuid.uuid4().hex[:8]}.", free_port()
    worker = start("worker", data_dir=tmp_path, port=port, bootstrap=broker.bootstrap, prefix=prefix)
    try:
        status, body = wait_for(lambda: (h := health(port)) and h[0] == 200 and h, timeout=120,
                                what="the worker's /healthz 200")
        assert body["workers"] == "ok" and body["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/v1/partnerships").status_code == 404
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").status_code == 404
    finally:
        assert stop(worker) == 0, (tmp_path / "worker.log").read_text()[-3000:]

    # The only process on the embedded store now: the API opens what the worker created.
    api = start("api", data_dir=tmp_path, port=port, bootstrap=broker.bootstrap, prefix=prefix)
    try:
        status, body = wait_for(lambda: (h := health(port)) and h[0] == 200 and h, timeout=120,
                                what="the API's /healthz 200")
        assert (body["workers"], body["partnerships"]) == ("not run here", "ok")
        listed = httpx.get(f"http://127.0.0.1:{port}/v1/partnerships", headers={"Authorization": "Bearer staff-key"})
        assert listed.status_code == 200 and listed.json()["items"] == []
    finally:
        assert stop(api) == 0, (tmp_path / "api.log").read_text()[-3000:]
