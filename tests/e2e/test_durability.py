"""What a user gave `chainmatch up` survives a restart and a SIGKILL, though the embedded broker keeps
nothing: profiles, partnerships, decisions with their notes, feedback, subscriptions, de-duplication
marks and the SSE window all live in the data dir."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from builders import make_entity, make_event

from chainmatch.broker import free_port, port_in_use

STARTUP_S = 180
STOP_BOUND_S = 30  # a stop with the broker gone: the clients give up on it in a bounded time
KEY = "durable-staff"


class Up:
    """One `chainmatch up` on a data dir, with the hashing embedder and fresh ports each start."""

    def __init__(self, data_dir: Path):
        self.port, self.kafka_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINMATCH_")}
        env.update(CHAINMATCH_MODEL="hashing:64", CHAINMATCH_WEBHOOK_ALLOW_PRIVATE="true",
                   CHAINMATCH_API_KEYS=json.dumps({KEY: {"role": "staff", "name": "Ada"}}))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chainmatch.cli", "up", "--port", str(self.port), "--kafka-port",
             str(self.kafka_port), "--data-dir", str(data_dir)],
            stdout=subprocess.DEVNULL, stderr=open(data_dir / f"up-{time.time()}.log", "wb"), env=env)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}",
                                 headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
        until(self.healthy, STARTUP_S, "/healthz 200")

    def healthy(self) -> bool:
        assert self.process.poll() is None, "chainmatch up exited"
        try:
            return self.http.get("/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def publish(self, events: list[dict]) -> None:
        response = self.http.post("/v1/events", json=events)
        assert response.status_code == 202, response.text

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=60) == 0


def until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def sse(up: Up, last_event_id: int, *, wanted: int, timeout: float = 6) -> list[dict]:
    """The events the stream sends after `last_event_id`, until `wanted` came or it stayed quiet."""
    events: list[dict] = []
    current: dict = {}
    headers = {"Last-Event-ID": str(last_event_id)}
    try:
        with up.http.stream("GET", "/v1/partnerships/stream", headers=headers,
                            timeout=httpx.Timeout(5, read=timeout)) as response:
            for line in response.iter_lines():
                if not line:
                    if "data" in current:
                        events.append(current)
                    current = {}
                    if len(events) >= wanted:
                        break
                elif not line.startswith(":"):
                    field, _, value = line.partition(":")
                    current[field] = value.strip()
    except httpx.ReadTimeout:
        pass
    return events


def ecosystem(prefix: str) -> list[dict]:
    members = [("chip", "companies"), ("algorithm", "labs"), ("application", "companies"), ("chip", "companies")]
    return [make_event(f"chain.{'lab' if topic == 'labs' else 'company'}.upserted",
                       make_entity(id=f"{prefix}-{n}", roles=[role], sectors=["vehicles"],
                                   description=f"{prefix} member {n}: {role} work for connected vehicles."),
                       id=f"{prefix}-event-{n}", source="durability-test")
            for n, (role, topic) in enumerate(members)]


def bulk(prefix: str, n: int, *, sector: str) -> list[dict]:
    return [make_event("chain.company.upserted",
                       make_entity(id=f"{prefix}-{i}", roles=[("chip", "algorithm", "application")[i % 3]],
                                   sectors=[sector], description=f"{prefix} member {i} for {sector}."),
                       id=f"{prefix}-event-{i}", source="durability-test") for i in range(n)]


def publish_all(up: Up, events: list[dict]) -> None:
    for start in range(0, len(events), 500):
        up.publish(events[start : start + 500])


def test_everything_a_user_gave_survives_a_restart(tmp_path):
    events = ecosystem("keep")
    up = Up(tmp_path)
    up.publish(events)
    [partnership, *_] = until(lambda: up.http.get("/v1/partnerships").json()["items"], 30, "partnerships")
    pid = partnership["id"]
    assert up.http.post(f"/v1/partnerships/{pid}/decision",
                        json={"decision": "approved", "note": "introduce them in March"}).status_code == 202
    assert up.http.post("/v1/entities/keep-1/feedback",
                        json={"other_id": "keep-3", "signal": "not_interested"}).status_code == 202
    subscription = up.http.post("/v1/subscriptions", json={"url": f"http://127.0.0.1:{free_port()}/hook"}).json()
    until(lambda: up.http.get(f"/v1/partnerships/{pid}").json()["status"] == "approved", 30, "the decision")
    until(lambda: "keep-3" not in [s["entity"]["id"] for s in
                                   up.http.get("/v1/entities/keep-1/suggestions").json()["items"]], 30, "feedback")
    streamed = sse(up, 0, wanted=100)
    assert "chain.partnership.decided" in {event["event"] for event in streamed}
    before = {path: up.http.get(path).json() for path in (
        "/v1/entities/keep-0", f"/v1/partnerships/{pid}", "/v1/partnerships", "/v1/entities/keep-1/suggestions",
        f"/v1/subscriptions/{subscription['id']}")}
    up.stop()

    up = Up(tmp_path)  # a new embedded broker: empty topics
    for path, body in before.items():
        assert up.http.get(path).json() == body, path
    assert up.http.get(f"/v1/partnerships/{pid}").json()["decisions"][0]["note"] == "introduce them in March"
    assert sse(up, 0, wanted=len(streamed)) == streamed, "the SSE window outlived the restart"
    last = int(streamed[-1]["id"])
    assert sse(up, last, wanted=1, timeout=3) == [], "nothing new after the last id seen"

    processed = up.http.get("/v1/stats").json()["events_processed"]
    assert processed >= len(events) + 2, "the counts outlived the restart"
    up.publish(events)  # the same events again: the de-duplication marks outlived the restart too
    until(lambda: up.http.get("/v1/stats").json()["events_processed"] >= processed + len(events), 30,
          "the re-sent events")
    assert sse(up, last, wanted=1, timeout=3) == [], "re-sent events published nothing new"
    assert up.http.get(f"/v1/partnerships/{pid}").json() == before[f"/v1/partnerships/{pid}"]
    up.stop()


def chainmatch(*argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINMATCH_")}
    return subprocess.run([sys.executable, "-m", "chainmatch.cli", *argv], capture_output=True, text=True,
                          timeout=300, env={**env, "CHAINMATCH_MODEL": "hashing:64"})


def partnerships(up: Up) -> list[tuple]:
    return [(p["id"], p["status"], p["score"], [p[role]["id"] for role in ("chip", "algorithm", "application")])
            for p in up.http.get("/v1/partnerships").json()["items"]]


def test_dead_letters_counts_and_the_input_outlive_restarts_and_replay_rebuilds_from_them(tmp_path):
    from kafka import KafkaProducer

    events = ecosystem("dl")
    up = Up(tmp_path)
    up.publish(events)
    producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{up.kafka_port}", acks="all", enable_idempotence=False)
    producer.send("chain.companies.v1", key=b"dl-bad", value=b"{not json", headers=[("trace", b"t-1")])
    producer.flush()
    producer.close()
    wanted = {"events_processed": len(events) + 1, "deadlettered": 1}
    until(lambda: {k: v for k, v in up.http.get("/v1/stats").json().items() if k in wanted} == wanted, 30,
          "the events and the dead letter counted")
    up.stop()

    up = Up(tmp_path)  # a new embedded broker: its topics are empty, the data dir is not
    stats = up.http.get("/v1/stats").json()
    assert {k: stats[k] for k in wanted} == wanted and stats["entities"] == len(events)
    [kept] = up.http.get("/v1/deadletters").json()["items"]
    assert (kept["topic"], kept["key"], kept["error_class"]) == ("chain.companies.v1", "dl-bad", "NotACloudEvent")
    assert up.http.post(f"/v1/deadletters/{kept['id']}/redrive").status_code == 202
    # Sent back as it came, it fails again: a new dead letter, with the original header.
    [again] = until(lambda: up.http.get("/v1/deadletters").json()["items"], 30, "the redriven record back")
    assert again["id"] != kept["id"] and up.http.get("/v1/stats").json()["deadlettered"] == 2
    assert up.http.get(f"/v1/deadletters/{again['id']}").json()["headers"] == [["trace", "t-1"]]
    before = partnerships(up)
    up.stop()

    assert "would send" in chainmatch("redrive", "--dry-run", "--data-dir", str(tmp_path)).stdout
    refused = chainmatch("replay", "--data-dir", str(tmp_path))
    assert refused.returncode == 2 and "--yes" in refused.stderr
    rebuilt = chainmatch("replay", "--data-dir", str(tmp_path), "--yes")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"replayed {len(events)} record(s) from the journal" in rebuilt.stdout
    assert f"profiles: {len(events)} -> {len(events)} (0 new, 0 gone, 0 changed)" in rebuilt.stdout
    up = Up(tmp_path)
    assert partnerships(up) == before and before  # rebuilt now, so each `updated_at` is of the replay
    assert len(up.http.get("/v1/deadletters").json()["items"]) == 1
    up.stop()


def test_a_sigkilled_up_takes_its_broker_along_and_the_next_start_keeps_one_copy_of_each(tmp_path):
    events = bulk("bulk", 1500, sector="manufacturing")
    up = Up(tmp_path)
    publish_all(up, events)
    until(lambda: up.http.get("/v1/stats").json()["entities"] > 0, 60, "ingest to begin")
    up.process.send_signal(signal.SIGKILL)
    up.process.wait(timeout=10)
    until(lambda: not port_in_use(up.kafka_port), 5, "the broker port to be free")

    up = Up(tmp_path)  # reopens the store the killed process held
    assert 0 < up.http.get("/v1/stats").json()["entities"] <= len(events)
    publish_all(up, events)
    until(lambda: up.http.get("/v1/stats").json()["entities"] == len(events), 120, "every entity stored")
    listed, cursor = [], None
    while True:
        page = up.http.get("/v1/entities", params={"limit": 100, **({"cursor": cursor} if cursor else {})}).json()
        listed += [item["id"] for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert sorted(listed) == sorted(e["data"]["id"] for e in events), "exactly one copy of each entity"
    up.stop()


def test_a_stop_first_takes_what_was_sent_before_it_from_the_embedded_broker(tmp_path):
    events = bulk("late", 1000, sector="healthcare")
    up = Up(tmp_path)
    publish_all(up, events)  # each batch a 202: the broker has them all
    up.stop()  # at once: most are still on the broker, which forgets them at its stop

    up = Up(tmp_path)
    assert up.http.get("/v1/stats").json()["entities"] == len(events)
    up.stop()


def broker_pid(up: Up) -> int:
    """The embedded broker: the child of `up` that runs the Tansu binary."""
    children = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(up.process.pid)], capture_output=True,
                              text=True).stdout.splitlines()
    [pid] = [int(line.split()[0]) for line in children if "tansu" in line]
    return pid


def test_a_broker_that_dies_first_never_hangs_the_stop(tmp_path):
    up = Up(tmp_path)
    up.publish(ecosystem("orphan"))
    until(lambda: up.http.get("/v1/stats").json()["entities"] == 4, 30, "the profiles stored")
    os.kill(broker_pid(up), signal.SIGKILL)
    until(lambda: not port_in_use(up.kafka_port), 5, "the broker gone")
    started = time.monotonic()
    up.process.send_signal(signal.SIGTERM)
    up.process.wait(timeout=STOP_BOUND_S + 30)
    assert time.monotonic() - started < STOP_BOUND_S, "the stop outlived its bound"
    up = Up(tmp_path)  # and the data dir is whole
    assert up.http.get("/v1/stats").json()["entities"] == 4
    up.stop()
