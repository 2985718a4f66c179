from __future__ import annotations

from builders import make_entity

from matcher.model import Profile
from matcher.profile_cache import ProfileCache


def company(entity_id: str, name: str = "Co") -> Profile:
    return Profile.from_data("company", make_entity(id=entity_id, name=name))


class Store:
    """What the cache reads through, counting the ids it is asked for."""

    def __init__(self, *profiles: Profile) -> None:
        self.profiles = {p.id: p for p in profiles}
        self.asked: list[str] = []
        self.during_read = lambda: None

    def read(self, ids):
        self.asked += ids
        found = [self.profiles[i] for i in ids if i in self.profiles]
        self.during_read()
        return found


def test_reads_are_kept_in_the_order_asked_and_unknown_ids_are_left_out():
    store = Store(company("a"), company("b"))
    cache = ProfileCache(store.read, capacity=10)
    assert [p.id for p in cache.many(["b", "x", "a", "b"])] == ["b", "a"]
    assert [p.id for p in cache.many(["a", "b"])] == ["a", "b"]
    assert store.asked == ["b", "x", "a"]


def test_a_forgotten_profile_is_read_again_and_its_new_version_returned():
    store = Store(company("a", "Old"))
    cache = ProfileCache(store.read, capacity=10)
    cache.many(["a"])
    store.profiles["a"] = company("a", "New")
    assert cache.many(["a"])[0].name == "Old"  # the writer has not told the cache yet
    cache.forget(["a"])
    assert cache.many(["a"])[0].name == "New"


def test_a_read_that_overlapped_a_write_is_returned_but_not_kept():
    store = Store(company("a", "Old"))
    cache = ProfileCache(store.read, capacity=10)

    def write_meanwhile():
        store.profiles["a"] = company("a", "New")
        cache.forget(["a"])

    store.during_read = write_meanwhile
    assert cache.many(["a"])[0].name == "Old"
    store.during_read = lambda: None
    assert cache.many(["a"])[0].name == "New"


def test_a_held_profile_forgotten_during_a_read_is_still_returned():
    store = Store(company("a"), company("b"))
    cache = ProfileCache(store.read, capacity=10)
    cache.many(["a"])
    store.during_read = lambda: cache.forget(["a"])
    assert [p.id for p in cache.many(["a", "b"])] == ["a", "b"]


def test_capacity_bounds_what_is_kept_and_zero_keeps_nothing():
    store = Store(*(company(f"c{i}") for i in range(5)))
    bounded = ProfileCache(store.read, capacity=3)
    bounded.many([f"c{i}" for i in range(5)])
    store.asked.clear()
    bounded.many([f"c{i}" for i in range(5)])
    assert len(store.asked) == 2  # three of five were kept

    uncached = ProfileCache(store.read, capacity=0)
    uncached.many(["c0"])
    uncached.many(["c0"])
    assert store.asked[-2:] == ["c0", "c0"]


def test_keep_fills_up_to_capacity_without_evicting_and_keeps_nothing_at_zero():
    store = Store(*(company(f"c{i}") for i in range(5)))
    cache = ProfileCache(store.read, capacity=3)
    cache.keep(store.profiles.values())
    assert [p.id for p in cache.many(["c0", "c1", "c2"])] == ["c0", "c1", "c2"] and store.asked == []
    cache.many(["c4"])
    assert store.asked == ["c4"]

    uncached = ProfileCache(store.read, capacity=0)
    uncached.keep(store.profiles.values())
    uncached.many(["c0"])
    assert store.asked == ["c4", "c0"]


def test_kept_answers_from_the_cache_alone():
    store = Store(company("a"), company("b"))
    cache = ProfileCache(store.read, capacity=10)
    assert cache.kept("a") is None and store.asked == []
    cache.many(["a"])
    assert cache.kept("a").id == "a" and cache.kept("b") is None and store.asked == ["a"]
    cache.forget(["a"])
    assert cache.kept("a") is None

    uncached = ProfileCache(store.read, capacity=0)
    uncached.many(["a"])
    assert uncached.kept("a") is None
