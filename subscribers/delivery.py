"""The delivery loop: due webhook deliveries are POSTed concurrently, off the request path.

At most one attempt per subscription is in flight and at most `concurrency` in all, so a slow
receiver holds only its own slot; each attempt is bounded by `timeout_s` from start to status line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime

import httpx

from subscribers import signing
from subscribers.backoff import parse_retry_after, retry_delay
from subscribers.registry import Delivery, Outcome, Registry, Subscription
from subscribers.ssrf import Resolver, UnsafeUrl, resolve_public, system_resolver

log = logging.getLogger(__name__)


class Deliverer:
    def __init__(self, registry: Registry, *, live_owners: Callable[[], Collection[str]], schedule: Sequence[float],
                 allow_private: bool, concurrency: int = 32, poll_s: float = 0.5, timeout_s: float = 15.0,
                 resolver: Resolver = system_resolver, clock: Callable[[], float] = time.time,
                 transport: httpx.AsyncBaseTransport | None = None):
        self._registry = registry
        self._live_owners = live_owners  # asked at each claim: a revoked key's deliveries stop
        self._schedule = tuple(schedule)
        self._allow_private = allow_private
        self._concurrency = concurrency
        self._poll_s = poll_s
        self._timeout_s = timeout_s
        self._resolver = resolver
        self._clock = clock
        self._transport = transport
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New or re-queued deliveries: look at once instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        busy: dict[str, asyncio.Task] = {}
        async with httpx.AsyncClient(follow_redirects=False, transport=self._transport,
                                     timeout=httpx.Timeout(self._timeout_s)) as client:
            try:
                while True:
                    self._wake.clear()
                    room = self._concurrency - len(busy)
                    claimed = await asyncio.to_thread(self._registry.claim_due, live_owners=self._live_owners(),
                                                      busy=set(busy), limit=room) if room > 0 else []
                    for delivery, subscription in claimed:
                        task = asyncio.create_task(self._deliver(client, delivery, subscription))
                        busy[subscription.id] = task
                        task.add_done_callback(lambda _, sid=subscription.id: (busy.pop(sid, None), self.wake()))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._poll_s)
            finally:
                for task in busy.values():
                    task.cancel()
                await asyncio.gather(*busy.values(), return_exceptions=True)

    async def _deliver(self, client: httpx.AsyncClient, delivery: Delivery, subscription: Subscription) -> None:
        try:
            outcome = await self.attempt(client, delivery, subscription)
            await asyncio.to_thread(self._registry.finish, delivery, outcome)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the lease expires and the delivery is tried again
            log.exception("webhook delivery %s failed unexpectedly", delivery.id)

    async def attempt(self, client: httpx.AsyncClient, delivery: Delivery, subscription: Subscription) -> Outcome:
        """One signed POST to the subscription's URL, connecting only to an address that passed the guard."""
        try:
            addresses = await resolve_public(subscription.url, allow_private=self._allow_private,
                                             resolver=self._resolver)
        except UnsafeUrl as refused:
            return self._failed(delivery, error=str(refused))
        url = httpx.URL(subscription.url)
        headers = signing.headers(secret=subscription.secret, msg_id=delivery.event_id,
                                  timestamp=int(self._clock()), body=delivery.body)
        headers["host"] = url.netloc.decode("ascii")
        extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
        try:
            async with asyncio.timeout(self._timeout_s):
                async with client.stream("POST", url.copy_with(host=addresses[0]), content=delivery.body,
                                         headers=headers, extensions=extensions) as response:
                    status, retry_after = response.status_code, response.headers.get("retry-after")
        except TimeoutError:
            return self._failed(delivery, error=f"no answer within {self._timeout_s:g} s")
        except httpx.HTTPError as error:
            return self._failed(delivery, error=f"{type(error).__name__}: {error}")
        if 200 <= status < 300:
            return Outcome(delivered=True, status_code=status)
        if status == 410:
            return Outcome(delivered=False, status_code=status, error="410 Gone", gone=True)
        wait = parse_retry_after(retry_after, now=datetime.fromtimestamp(self._clock(), UTC))
        return self._failed(delivery, status_code=status, error=f"answered {status}", retry_after=wait)

    def _failed(self, delivery: Delivery, *, error: str, status_code: int | None = None,
                retry_after: float | None = None) -> Outcome:
        retry_in = retry_delay(attempts=delivery.attempts + 1, schedule=self._schedule, retry_after=retry_after)
        return Outcome(delivered=False, status_code=status_code, error=error, retry_in=retry_in)
