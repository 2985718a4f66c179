"""Decoded profiles kept between reads of a store that only this process writes.

A suggestion reads some 80 candidate profiles; fetching and decoding their payloads was over a third of
its time. Reads fill the cache and the matcher forgets what it writes or deletes, so the cache holds only
while the matcher is the store's one writer (`VectorStore.exclusive`); over a shared Qdrant server,
where other processes write, the capacity is 0 and every read goes to the store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

from matcher.model import Profile


class ProfileCache:
    def __init__(self, read: Callable[[Sequence[str]], list[Profile]], *, capacity: int) -> None:
        self._read = read
        self._capacity = capacity
        self._profiles: dict[str, Profile] = {}
        # Batches write in a worker thread while the API reads in the event loop: a read that overlapped
        # a write may hold the version before it, so it is kept only if no forget came in between.
        self._lock = threading.Lock()
        self._forgets = 0

    def kept(self, entity_id: str) -> Profile | None:
        """The profile if it is held here, without reading the store."""
        return self._profiles.get(entity_id)

    def many(self, ids: Sequence[str]) -> list[Profile]:
        """The stored profiles among `ids`, in the order asked, reading the missing ones in one call."""
        held = self._profiles
        forgets = self._forgets
        wanted = list(dict.fromkeys(ids))
        kept = list(map(held.get, wanted))
        if all(kept):  # all held, the usual case once the cache has filled (a Profile is always true)
            return kept  # type: ignore[return-value]
        missing = [i for i, profile in zip(wanted, kept, strict=True) if profile is None]
        read = {p.id: p for p in self._read(missing)} if missing else {}
        if read and self._capacity > 0:
            with self._lock:
                if forgets == self._forgets:
                    for profile in read.values():
                        if len(held) >= self._capacity:
                            del held[next(iter(held))]  # the oldest read: a bound, not a recency order
                        held[profile.id] = profile
        return [profile if profile is not None else read[i] for i, profile in zip(wanted, kept, strict=True)
                if profile is not None or i in read]

    def keep(self, profiles: Iterable[Profile]) -> None:
        """Profiles just read by the caller (the startup scan), kept while there is room."""
        with self._lock:
            self._forgets += 1  # a read that overlapped this one may hold an older version
            for profile in profiles:
                if len(self._profiles) >= self._capacity:
                    return
                self._profiles[profile.id] = profile

    def forget(self, ids: Iterable[str]) -> None:
        """Call after the store has changed them."""
        with self._lock:
            for entity_id in ids:
                self._profiles.pop(entity_id, None)
            self._forgets += 1

    def clear(self) -> None:
        with self._lock:
            self._profiles.clear()
            self._forgets += 1
