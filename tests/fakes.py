"""Fakes of the running system for API tests: the real matcher over the in-memory store."""

from __future__ import annotations

from api.keyring import Keyring
from matcher.adapters.hashing_embedder import HashingEmbedder
from matcher.adapters.memory_state import MemoryState
from matcher.adapters.memory_store import MemoryStore
from matcher.service import Matcher
from streams.deadletter import KeptDeadLetters


class FakeBackend:
    """The real matcher over the in-memory store; publishes are recorded instead of sent."""

    def __init__(self, subscribers=None, keyring: Keyring | None = None):
        self._subscribers = subscribers
        self._matcher = Matcher(embedder=HashingEmbedder(dimension=64), store=MemoryStore())
        self._matcher.ensure_model()
        self.published = []
        self.worker_state = MemoryState()
        self._keyring = keyring if keyring is not None else Keyring()

    def keyring(self):
        """The runtime API keys: a real api.keyring.Keyring, empty unless the test gives one."""
        return self._keyring

    def matcher(self):
        return self._matcher

    def subscribers(self):
        """A real subscribers.hub.Subscribers over a tmp data dir, when the test gives one."""
        return self._subscribers

    def health(self):
        return True, {"broker": "ok"}

    def stats(self):
        return {"events_processed": 3, "deadlettered": 1}

    def deadletters(self):
        return KeptDeadLetters(self.worker_state, self.publish)

    async def publish(self, records):
        self.published.extend(records)
