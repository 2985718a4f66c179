"""The outbound edge for platforms: the SSE window, webhook subscriptions and their delivery, fed by
the full partnership topic and redacted per key as the API redacts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from api.auth import Caller
from api.keyring import Keyring
from chainmatch.retry import until_done
from chainmatch.settings import ApiKey, Settings
from subscribers import consumers, sse
from subscribers.database import Database
from subscribers.delivery import Deliverer
from subscribers.events import EventFilter, Viewer, redact_event
from subscribers.registry import Registry, key_owner
from subscribers.ssrf import Resolver, resolve_public, system_resolver
from subscribers.window import RETAIN, EventWindow

SUBSCRIBING_ROLES = ("staff", "platform")


def _viewer(spec: ApiKey) -> Caller:
    return Caller(role=spec.role, name=spec.name, entity_id=spec.entity_id, region=spec.region)


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


class Subscribers:
    def __init__(self, settings: Settings, *, retain: int = RETAIN, keepalive_s: float = sse.KEEPALIVE_S,
                 poll_s: float = 0.5, resolver: Resolver = system_resolver,
                 transport: httpx.AsyncBaseTransport | None = None, keyring: Keyring | None = None):
        self.settings = settings
        self.keepalive_s = keepalive_s
        self._resolver = resolver
        self._db = Database(settings.data_dir / "subscribers.db")
        self.window = EventWindow(self._db, retain=retain)
        self.registry = Registry(self._db)
        self._keyring = keyring if keyring is not None else Keyring()
        # Configured keys that may own subscriptions, by the hash a subscription keeps.
        self._configured = {key_owner(key): _viewer(spec) for key, spec in settings.api_keys.items()
                            if spec.role in SUBSCRIBING_ROLES}
        self.registry.disable_orphans(self.viewers())
        self.deliverer = Deliverer(self.registry, live_owners=self.viewers, schedule=settings.webhook_retry_schedule,
                                   allow_private=settings.webhook_allow_private, poll_s=poll_s, resolver=resolver,
                                   transport=transport)

    def viewers(self) -> dict[str, Caller]:
        """owner -> key of every key that may own subscriptions now: deliveries go only to these, so
        those of a revoked or expired runtime key stop within a delivery poll of the news."""
        runtime = {owner: _viewer(spec) for owner, spec in self._keyring.owners(datetime.now(UTC)).items()
                   if spec.role in SUBSCRIBING_ROLES}
        return {**self._configured, **runtime}

    @property
    def webhook_group(self) -> str:
        """Shared by every API process of one deployment, so each event is planned once."""
        return f"chainmatch-webhooks-{self.settings.topic_prefix.rstrip('.')}"

    async def check_url(self, url: str) -> None:
        """UnsafeUrl unless `url` may receive webhooks now."""
        await resolve_public(url, allow_private=self.settings.webhook_allow_private, resolver=self._resolver)

    async def receive(self, events: Sequence[dict[str, Any]]) -> None:
        """Partnership events in, as the two consumers take them: into the window, then planned."""
        await self.append(events, {})
        await self.plan(events)

    async def append(self, events: Sequence[dict[str, Any]], offsets: consumers.Offsets) -> None:
        if await asyncio.to_thread(self.window.append, events, offsets):
            self.window.notify()

    async def plan(self, events: Sequence[dict[str, Any]]) -> None:
        if await asyncio.to_thread(self._plan, events):
            self.deliverer.wake()

    def _plan(self, events: Sequence[dict[str, Any]]) -> int:
        """One delivery per event and matching subscription, its body redacted for the owning key."""
        sectors = self.window.sectors_for(events)
        viewers = self.viewers()
        subscriptions = [s for s in self.registry.subscriptions(active_only=True) if s.owner in viewers]
        return self.registry.enqueue([
            (s.id, event["id"], event["type"], encode(redact_event(event, viewers[s.owner])))
            for event, event_sectors in zip(events, sectors, strict=True)
            for s in subscriptions if s.filter.matches(event["type"], event_sectors)])

    def stream(self, *, viewer: Viewer, filter: EventFilter, last_event_id: int | None) -> AsyncIterator[str]:
        return sse.stream(self.window, viewer=viewer, filter=filter, last_event_id=last_event_id,
                          keepalive_s=self.keepalive_s)

    async def run(self, bootstrap: str) -> None:
        """The window feeder, the webhook dispatcher and the delivery loop, until cancelled."""
        topic = self.settings.topic("partnerships.v1")
        async with asyncio.TaskGroup() as group:
            group.create_task(until_done(lambda: consumers.feed(
                bootstrap=bootstrap, topic=topic, start_offsets=self.window.offsets, append=self.append),
                "the SSE window feeder"))
            group.create_task(until_done(lambda: consumers.dispatch(
                bootstrap=bootstrap, topic=topic, group=self.webhook_group,
                session_timeout_s=self.settings.consumer_session_timeout_s, plan=self.plan),
                "the webhook dispatcher"))
            group.create_task(until_done(self.deliverer.run, "the webhook delivery loop"))

    def close(self) -> None:
        self._db.close()
