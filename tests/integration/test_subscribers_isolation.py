"""A receiver that takes 30 s to answer does not slow the API: deliveries run off the request path."""

from __future__ import annotations

import statistics
import time

import httpx
from builders import make_entity, make_partnership_event
from fakes import FakeBackend
from subscriber_harness import Api, Receiver, receiving

from chainmatch.settings import ApiKey, Settings
from matcher.model import Profile, Upsert
from subscribers.hub import Subscribers

KEYS = {"staff-key": ApiKey(role="staff"), "platform": ApiKey(role="platform")}


def latencies(api: Api, count: int = 120) -> list[float]:
    timings = []
    with httpx.Client(base_url=api.url, headers={"Authorization": "Bearer platform"}) as client:
        for _ in range(count):
            started = time.perf_counter()
            assert client.get("/v1/partnerships").json()["items"]
            timings.append(time.perf_counter() - started)
    return sorted(timings)


def p99(timings: list[float]) -> float:
    return statistics.quantiles(timings, n=100)[98]


def test_a_30_second_receiver_does_not_slow_get_partnerships(tmp_path):
    hub = Subscribers(Settings(api_keys=KEYS, data_dir=tmp_path, webhook_allow_private=True), poll_s=0.05)
    backend = FakeBackend(subscribers=hub)
    backend.matcher().apply([Upsert(Profile.from_data("company", make_entity(id=f"{role}-{n}", roles=[role])))
                             for n in range(3) for role in ("chip", "algorithm", "application")])
    slow = Receiver(then=(204, {}, 30.0))
    with receiving(slow) as url:
        with Api(hub, backend=backend) as api:
            for _ in range(20):
                httpx.post(f"{api.url}/v1/subscriptions", headers={"Authorization": "Bearer platform"},
                           json={"url": url}).raise_for_status()
            latencies(api, 20)  # warm up
            calm = latencies(api)
            api.receive([make_partnership_event() for _ in range(5)])
            assert len(slow.wait_for(20)) == 20  # every subscription has an attempt hanging on the receiver
            busy = latencies(api)
            assert len(slow.received) == 20  # one attempt in flight per subscription
        hub.close()
    assert p99(busy) <= 3 * p99(calm) + 0.05, (p99(calm), p99(busy))
    assert statistics.median(busy) <= 3 * statistics.median(calm) + 0.02
