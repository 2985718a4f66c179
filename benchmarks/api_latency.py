"""`make bench`: latency of suggestions and of partnership listing over HTTP, from this process to a
`chainmatch up` subprocess serving 3,000 and then 30,000 stored profiles.

The data dir is seeded in-process first (Edge shard and SQLite state, through Matcher.apply in batches
of 1,000) with the hashing embedder, so seeding takes seconds: request latency does not involve the
model, whose vectors only change which neighbours come back. The served process reads the same data dir
and an embedded broker (nothing is published meanwhile); this process is the client, 8 requests in flight.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx

from benchmarks.profiles import SECTORS, synthetic_profiles
from chainmatch.broker import EmbeddedBroker, free_port
from matcher.adapters.edge_store import EdgeStore
from matcher.adapters.hashing_embedder import HashingEmbedder
from matcher.adapters.sqlite_state import SqliteState
from matcher.model import Upsert
from matcher.service import Matcher

SIZES = (3_000, 30_000)
REQUESTS = 600
CONCURRENCY = 8
WARM_UP = 80
SEED_BATCH = 1_000
PAGE = 10
MODEL = "hashing:384"
# A staff key sees everything; a platform key in Hong Kong has every listed partnership redacted for it.
KEYS = {"bench-staff": {"role": "staff", "name": "bench"}, "bench-platform": {"role": "platform", "region": "HK"}}
TARGETS_MS = {"suggestions": 50.0, "partnerships": 100.0}


@dataclass(frozen=True)
class Call:
    path: str
    params: dict[str, str | int]
    key: str


def seed(folder: Path, count: int) -> list[str]:
    """Store `count` synthetic profiles and their partnerships in `folder`; returns their ids."""
    profiles = synthetic_profiles(count, seed=count)
    store, state = EdgeStore(folder / "store"), SqliteState(folder / "state.db")
    try:
        matcher = Matcher(embedder=HashingEmbedder(dimension=int(MODEL.removeprefix("hashing:"))), store=store,
                          state=state)
        matcher.ensure_model()
        for start in range(0, count, SEED_BATCH):
            matcher.apply([Upsert(p) for p in profiles[start : start + SEED_BATCH]])
        matcher.persist()
    finally:
        store.close()
        state.close()
    return [p.id for p in profiles]


@contextmanager
def serving(folder: Path, bootstrap: str) -> Iterator[str]:
    """`chainmatch up` over `folder` (the workers' partnership book is the one seeded there; a lone
    `chainmatch api` would serve partnerships from the topic, empty here); yields its base URL once
    /healthz answers 200."""
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CHAINMATCH_")},
           "CHAINMATCH_DATA_DIR": str(folder), "CHAINMATCH_MODEL": MODEL, "CHAINMATCH_KAFKA_BOOTSTRAP": bootstrap,
           "CHAINMATCH_API_KEYS": json.dumps(KEYS),
           "CHAINMATCH_RATE_LIMIT_PER_MINUTE": "0"}  # the benchmark measures the server, not its limits
    with open(folder / "api.log", "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "chainmatch.cli", "up", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while not _healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the API did not become healthy; see {folder / 'api.log'}:\n"
                                 + (folder / "api.log").read_text()[-2000:])
            time.sleep(0.5)
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def suggestion_calls(ids: Sequence[str], rng: random.Random, count: int) -> list[Call]:
    """Random stored entities; one in four asks for a single role."""
    return [Call(f"/v1/entities/{rng.choice(ids)}/suggestions",
                 {"role": rng.choice(("chip", "algorithm", "application"))} if rng.random() < 0.25 else {},
                 "bench-staff") for _ in range(count)]


def partnership_pages(client: httpx.Client) -> list[Call]:
    """Every page of the listing, unfiltered and per sector, for each key: first pages and the
    cursor pages after them, walked once to learn the cursors."""
    pages, listed = [], 0
    for key in KEYS:
        for sector in (None, *SECTORS):
            params: dict[str, str | int] = {"limit": PAGE, **({"sector": sector} if sector else {})}
            while True:
                pages.append(Call("/v1/partnerships", params, key))
                body = _get(client, pages[-1]).json()
                listed += len(body["items"])
                if body["next_cursor"] is None:
                    break
                params = {**params, "cursor": body["next_cursor"]}
    if not listed:
        raise SystemExit("the API lists no partnerships: nothing to measure")
    return pages


def _get(client: httpx.Client, call: Call) -> httpx.Response:
    response = client.get(call.path, params=call.params, headers={"Authorization": f"Bearer {call.key}"})
    if response.status_code != 200:
        raise SystemExit(f"{call.path} {call.params}: {response.status_code} {response.text[:300]}")
    return response


async def measure(url: str, calls: Sequence[Call], concurrency: int, *, warm_up: Sequence[Call] = ()
                  ) -> tuple[list[float], float]:
    """Seconds per request of `calls`, in completion order, and the wall time of their run. `warm_up` goes
    first through the same connections at the same concurrency, untimed: the first requests of a run
    open the connections, arrive together and meet caches the idle server let go cold (up to a third
    slower than the median, they made up most of the slowest in a run).

    The client is aiohttp, not httpx: httpx's AsyncClient at 8 in flight added stalls of up to a second
    of its own (encode/httpx#3215); against the same server, listing p99 was 156-160 ms through it and
    16-20 ms through aiohttp."""
    latencies: list[float] = []

    async def worker(session: aiohttp.ClientSession, queue: Iterator[Call], timed: bool) -> None:
        for call in queue:
            started = time.perf_counter()
            async with session.get(call.path, params=call.params,
                                   headers={"Authorization": f"Bearer {call.key}"}) as response:
                body = await response.read()
            if timed:
                latencies.append(time.perf_counter() - started)
            if response.status != 200:
                raise SystemExit(f"{call.path} {call.params}: {response.status} {body[:300]!r}")

    async def run(session: aiohttp.ClientSession, batch: Sequence[Call], timed: bool) -> None:
        queue = iter(batch)
        await asyncio.gather(*(worker(session, queue, timed) for _ in range(concurrency)))

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        await run(session, warm_up, timed=False)
        started = time.perf_counter()
        await run(session, calls, timed=True)
        return latencies, time.perf_counter() - started


def percentiles(latencies: Sequence[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


def bench_size(count: int, bootstrap: str) -> list[tuple[str, int, float, float, float]]:
    rng = random.Random(count)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        started = time.monotonic()
        ids = seed(folder, count)
        print(f"seeded {count} profiles in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        with serving(folder, bootstrap) as url:
            with httpx.Client(base_url=url, timeout=30) as client:
                pages = partnership_pages(client)
            rows = []
            for endpoint, calls, warm_up in (
                ("suggestions", suggestion_calls(ids, rng, REQUESTS), suggestion_calls(ids, rng, WARM_UP)),
                ("partnerships", rng.choices(pages, k=REQUESTS), rng.choices(pages, k=WARM_UP)),
            ):
                latencies, elapsed = asyncio.run(measure(url, calls, CONCURRENCY, warm_up=warm_up))
                rows.append((endpoint, count, *percentiles(latencies), len(calls) / elapsed))
    return rows


def main() -> None:
    broker = EmbeddedBroker().start()
    try:
        rows = [row for count in SIZES for row in bench_size(count, broker.bootstrap)]
    finally:
        broker.stop()
    print(f"\nAPI latency over HTTP: {REQUESTS} requests per row, {CONCURRENCY} in flight, from a separate client "
          f"process; embedder {MODEL} (the hashing embedder, not the model)")
    print(f"{'endpoint':40} {'stored':>7} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}  target")
    for endpoint, count, p50, p99, rate in rows:
        label = ("GET /v1/entities/{id}/suggestions" if endpoint == "suggestions" else "GET /v1/partnerships")
        target = f"p99 < {TARGETS_MS[endpoint]:.0f} ms: {'met' if p99 < TARGETS_MS[endpoint] else 'MISSED'}" \
            if count == SIZES[0] else ""
        print(f"{label:40} {count:7,} {p50:8.1f} {p99:8.1f} {rate:8.1f}  {target}")


if __name__ == "__main__":
    main()
