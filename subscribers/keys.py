"""The runtime API keys in every API process: the keys topic and the key-use topic read from the start
(both compacted: about one record per key), a snapshot in the data dir, and this process's key uses
told to the others.

Why a topic: the API processes of a deployment share only Kafka and the vector store, possibly on
several hosts, and each must refuse a revoked key within seconds; each reads the change as it reads
the partnership events, with no database of its own to poll. Why a snapshot too: the embedded broker
may hold nothing after a restart, and a process serves the keys it knew before it has read the topic
again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.keyring import KeyRecord, Keyring, used_event
from chainmatch.retry import until_done
from chainmatch.settings import Settings
from schemas import parse_datetime, validate
from schemas.cloudevents import Record, to_record
from subscribers import consumers

log = logging.getLogger(__name__)
SNAPSHOT_FILE = "keys.json"
TELL_EVERY_S = 5.0
KEY_TYPES = ("chain.apikey.changed", "chain.apikey.used")


def load_keyring(data_dir: Path) -> Keyring:
    """The keys of the last snapshot, not current until the keys topic is read."""
    path = data_dir / SNAPSHOT_FILE
    return Keyring.from_snapshot(json.loads(path.read_text()) if path.exists() else {})


def save_keyring(snapshot: dict[str, Any], data_dir: Path) -> None:
    """Whole or not at all: written beside, then renamed over."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SNAPSHOT_FILE
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(snapshot))
    os.replace(temporary, path)


class KeyFeed:
    def __init__(self, keyring: Keyring, settings: Settings, *,
                 publish: Callable[[Sequence[Record]], Awaitable[None]]):
        self._keyring = keyring
        self._settings = settings
        self._publish = publish

    async def absorb(self, events: Sequence[dict[str, Any]], offsets: consumers.Offsets) -> None:
        changed = False
        for event in events:
            if event["type"] not in KEY_TYPES or validate(event["type"], event.get("data")):
                log.warning("skipping event %s of type %s: not valid", event["id"], event["type"])
            elif event["type"] == "chain.apikey.changed":
                changed |= self._keyring.apply(KeyRecord.from_data(event["data"]))
            elif event["type"] == "chain.apikey.used":
                self._keyring.told(event["data"]["id"], parse_datetime(event["data"]["at"]).timestamp())
                changed = True
        if changed:
            await asyncio.to_thread(save_keyring, self._keyring.snapshot(), self._settings.data_dir)

    async def tell_uses(self) -> None:
        """Every TELL_EVERY_S, the latest use of each key used here since, as one event a key."""
        while True:
            await asyncio.sleep(TELL_EVERY_S)
            if untold := self._keyring.take_untold():
                now = datetime.now(UTC)
                records = [to_record(used_event(key_id, at), topic_prefix=self._settings.topic_prefix, now=now)
                           for key_id, at in untold.items()]
                await until_done(lambda: self._publish(records), "telling the other API processes of key uses")  # noqa: B023

    async def run(self, bootstrap: str) -> None:
        """Both readers and the teller, until cancelled."""
        async with asyncio.TaskGroup() as group:
            for name, caught_up in (("keys.v1", self._keyring.caught_up), ("keyuses.v1", None)):
                topic = self._settings.topic(name)
                group.create_task(until_done(lambda topic=topic, caught_up=caught_up: consumers.feed(
                    bootstrap=bootstrap, topic=topic, start_offsets=dict, append=self.absorb,
                    what=f"reading {topic} into the keyring", caught_up=caught_up), f"the {topic} reader"))
            group.create_task(until_done(self.tell_uses, "the key-use teller"))
