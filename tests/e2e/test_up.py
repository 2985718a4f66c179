"""`chainmatch up` as a user runs it: a subprocess on free ports, fed over Kafka and HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from builders import make_entity, make_event
from kafka import KafkaConsumer, KafkaProducer

from chainmatch.broker import free_port, port_in_use

STARTUP_S = 180


def _descendants(pid: int) -> set[int]:
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    found = {int(p) for p in children.stdout.split()}
    for child in set(found):
        found |= _descendants(child)
    return found


def wait_for(predicate, *, timeout: float, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Running:
    def __init__(self, process: subprocess.Popen, port: int, kafka_port: int, key: str):
        self.process, self.port, self.kafka_port, self.key = process, port, kafka_port, key
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}",
                                 headers={"Authorization": f"Bearer {key}"}, timeout=10)


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[Running]:
    port, kafka_port = free_port(), free_port()
    data_dir = tmp_path_factory.mktemp("up")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINMATCH_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "chainmatch.cli", "up", "--port", str(port), "--kafka-port", str(kafka_port),
         "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=open(data_dir / "up.log", "wb"), env=env, text=True,
    )
    line = process.stdout.readline()
    assert line.startswith("staff key: "), line
    up = Running(process, port, kafka_port, line.removeprefix("staff key: ").strip())
    assert (data_dir / "staff.key").read_text().strip() == up.key

    try:
        wait_for(lambda: _healthy(port), timeout=STARTUP_S, what="/healthz 200")
        yield up
    finally:
        if process.poll() is None:
            process.kill()
        print(Path(data_dir / "up.log").read_text()[-3000:])


def test_entities_published_over_kafka_and_http_are_served_with_suggestions(running):
    producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{running.kafka_port}", acks="all")
    chip = make_entity(id="e2e-chip", roles=["chip"], sectors=["healthcare"],
                       description="Low-power AI accelerator chips for medical imaging devices.")
    lab = make_entity(id="e2e-lab", roles=["algorithm"], sectors=["healthcare"],
                      description="University lab building deep learning models for endoscopy.")
    # One structured-mode record, one binary-mode record (attributes in ce_ headers).
    producer.send("chain.companies.v1", key=b"e2e-chip",
                  value=json.dumps(make_event("chain.company.upserted", chip)).encode())
    producer.send("chain.labs.v1", key=b"e2e-lab", value=json.dumps(lab).encode(), headers=[
        ("ce_specversion", b"1.0"), ("ce_id", b"lab-1"), ("ce_source", b"e2e"),
        ("ce_type", b"chain.lab.upserted"), ("content-type", b"application/json")])
    producer.flush()
    producer.close()
    hospital = make_entity(id="e2e-hospital", roles=["application"], sectors=["healthcare"],
                           description="A hospital running AI colonoscopy screening pilots.")
    response = running.http.post("/v1/events", json=make_event("chain.company.upserted", hospital))
    assert response.status_code == 202, response.text

    for entity in (chip, lab, hospital):
        found = wait_for(lambda e=entity: running.http.get(f"/v1/entities/{e['id']}").status_code == 200,
                         timeout=10, what=f"{entity['id']} served")
        assert found
        assert running.http.get(f"/v1/entities/{entity['id']}").json()["name"] == entity["name"]

    items = running.http.get("/v1/entities/e2e-chip/suggestions?role=algorithm").json()["items"]
    assert [i["entity"]["id"] for i in items] == ["e2e-lab"]
    items = running.http.get("/v1/entities/e2e-chip/suggestions").json()["items"]
    assert {i["entity"]["id"] for i in items} == {"e2e-lab", "e2e-hospital"}
    assert running.http.get("/v1/stats").json()["entities"] == 3


def read_partnership_events(consumer: KafkaConsumer, predicate, *, timeout: float = 30) -> list[dict]:
    """Poll as an external platform would until `predicate` holds for what was read."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            seen += [json.loads(r.value) for r in records]
        if predicate(seen):
            return seen
    raise AssertionError(f"partnership events never matched; read {[e['type'] for e in seen]}")


def test_partnership_events_reach_a_kafka_consumer_group_and_follow_updates_and_deletes(running):
    # Short session timeout: a group join takes about half of it on the embedded broker.
    consumer = KafkaConsumer("chain.partnerships.v1", bootstrap_servers=f"127.0.0.1:{running.kafka_port}",
                             group_id="e2e-platform", auto_offset_reset="earliest", session_timeout_ms=6000,
                             heartbeat_interval_ms=1000)
    events = read_partnership_events(consumer, lambda seen: any(
        e["type"] == "chain.partnership.recommended" for e in seen))
    recommended = next(e for e in events if e["type"] == "chain.partnership.recommended")
    pid = recommended["data"]["id"]
    assert recommended["data"]["chip"]["id"] == "e2e-chip"

    response = running.http.post(f"/v1/partnerships/{pid}/decision", json={"decision": "approved", "note": "go"})
    assert response.status_code == 202
    read_partnership_events(consumer, lambda seen: any(
        e["type"] == "chain.partnership.decided" and e["data"]["status"] == "approved" for e in seen))
    assert running.http.get(f"/v1/partnerships/{pid}").json()["decisions"][0]["note"] == "go"

    deleted = make_event("chain.company.deleted", {"id": "e2e-hospital"})
    assert running.http.post("/v1/events", json=deleted).status_code == 202
    events = read_partnership_events(consumer, lambda seen: any(
        e["type"] == "chain.partnership.withdrawn" and e["data"]["id"] == pid for e in seen))
    withdrawn = next(e for e in events if e["type"] == "chain.partnership.withdrawn")
    assert withdrawn["data"]["reason"] == "application no longer exists"
    assert withdrawn["data"]["revision"] > recommended["data"]["revision"]
    consumer.close()


def test_chinese_profiles_over_kafka_and_http_are_read_matched_and_named(running):
    """Simplified over Kafka (binary mode), Traditional and mixed over HTTP, none declaring roles or
    sectors: the default model reads them, and a Traditional query finds the Simplified profile."""
    sz_chip = make_entity(id="zh-sz-chip", name="SZ Drive Silicon", name_zh="深驰芯", region="CN-GD-SZ",
                          roles=None, sectors=None,
                          description="我们是深圳的芯片设计公司，为智能汽车设计车规级AI芯片和自动驾驶计算平台，"
                                      "已在多款量产车型上搭载。")
    producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{running.kafka_port}", acks="all")
    producer.send("chain.companies.v1", key=b"zh-sz-chip", value=json.dumps(sz_chip).encode(), headers=[
        ("ce_specversion", b"1.0"), ("ce_id", b"zh-1"), ("ce_source", b"e2e"),
        ("ce_type", b"chain.company.upserted"), ("content-type", b"application/json")])
    producer.flush()
    producer.close()
    hk_fleet = make_entity(id="zh-hk-fleet", name="HK Harbour Buses", name_zh="海港巴士", region="HK",
                           roles=None, sectors=None,
                           description="本公司在香港營運巴士車隊，正試行自動駕駛巴士和車載人工智能輔助駕駛系統，"
                                       "需要晶片和自動駕駛軟件夥伴。")
    mixed_av = make_entity(id="zh-mixed-av", name="Pearl Autonomy", name_zh="珠江智駕", region="HK",
                           roles=None, sectors=None,
                           description="我們研發自動駕駛感知和規劃算法軟件，授權給車廠和巴士營運商。"
                                       "Our perception models are trained on data from Hong Kong roads.")
    for entity in (hk_fleet, mixed_av):
        response = running.http.post("/v1/events", json=make_event("chain.company.upserted", entity))
        assert response.status_code == 202, response.text
    for entity_id, role in (("zh-sz-chip", "chip"), ("zh-hk-fleet", "application"), ("zh-mixed-av", "algorithm")):
        stored = wait_for(lambda e=entity_id: running.http.get(f"/v1/entities/{e}").json()
                          if running.http.get(f"/v1/entities/{e}").status_code == 200 else None,
                          timeout=10, what=f"{entity_id} served")
        assert stored["roles"] == [role] and "vehicles" in stored["sectors"], stored["inferred"]
        assert not stored["needs_review"]
    items = running.http.get("/v1/entities/zh-sz-chip/suggestions").json()["items"]
    assert {"zh-hk-fleet", "zh-mixed-av"} <= {i["entity"]["id"] for i in items}
    fleet = next(i for i in items if i["entity"]["id"] == "zh-hk-fleet")
    assert fleet["entity"]["name_zh"] == "海港巴士"
    # 晶片 (Traditional, Taiwan and Hong Kong usage) and 芯片 (Simplified) are one word once folded.
    assert any("芯片" in reason for reason in fleet["reasons"]), fleet["reasons"]
    found = running.http.get("/v1/entities", params={"q": "自動駕駛晶片", "limit": 3}).json()["items"]
    assert "zh-sz-chip" in [i["id"] for i in found]


def test_sigterm_stops_everything_and_frees_the_ports(running):
    children = _descendants(running.process.pid)
    assert children, "the broker runs as a child of `chainmatch up`"
    running.process.send_signal(signal.SIGTERM)
    assert running.process.wait(timeout=30) == 0
    for pid in children:
        wait_for(lambda p=pid: not Path(f"/proc/{p}").exists(), timeout=15, what=f"process {pid} to exit")
    wait_for(lambda: not port_in_use(running.port) and not port_in_use(running.kafka_port), timeout=10,
             what="ports to be free")


def test_ctrl_c_in_a_terminal_stops_everything(tmp_path):
    """A terminal's Ctrl-C sends SIGINT to its whole foreground process group: `up`, and the broker too
    unless the broker has a session of its own. Its clients' shutdown needs the broker, so `up` stops
    the broker itself, last."""
    port, kafka_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINMATCH_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "chainmatch.cli", "up", "--demo", "--port", str(port), "--kafka-port", str(kafka_port),
         "--data-dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "up.log", "wb"), env=env, start_new_session=True)
    try:
        wait_for(lambda: _healthy(port), timeout=STARTUP_S, what="/healthz 200")
        children = _descendants(process.pid)
        os.killpg(process.pid, signal.SIGINT)
        time.sleep(0.5)
        os.killpg(process.pid, signal.SIGINT)  # an impatient second Ctrl-C
        assert process.wait(timeout=60) == 0
        for pid in children:
            wait_for(lambda p=pid: not Path(f"/proc/{p}").exists(), timeout=15, what=f"process {pid} to exit")
        wait_for(lambda: not port_in_use(port) and not port_in_use(kafka_port), timeout=10, what="ports to be free")
        log = (tmp_path / "up.log").read_text()
        assert "NodeNotReadyError" not in log, "the broker stopped before its clients"
        assert "Traceback" not in log, "a process died of the interrupt instead of being stopped"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        print((tmp_path / "up.log").read_text()[-3000:])


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
