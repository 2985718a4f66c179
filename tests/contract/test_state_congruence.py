"""One suite over both StateStore adapters."""

from __future__ import annotations

import pytest

from matcher.adapters.memory_state import MemoryState
from matcher.adapters.sqlite_state import SqliteState


@pytest.fixture(params=["memory", "sqlite"])
def state(request, tmp_path):
    store = MemoryState() if request.param == "memory" else SqliteState(tmp_path / "state.db")
    yield store
    store.close()


def test_put_get_delete_and_items(state):
    state.put("decisions", {"a": {"n": 1}, "b": {"n": 2, "note": "好"}})
    state.put("decisions", {"a": {"n": 3}})
    assert state.get_many("decisions", ["a", "b", "missing"]) == {"a": {"n": 3}, "b": {"n": 2, "note": "好"}}
    state.delete("decisions", ["b", "missing"])
    assert state.items("decisions") == [("a", {"n": 3})]
    assert state.items("other") == []


def test_documents_come_back_as_copies(state):
    doc = {"list": [1]}
    state.put("t", {"k": doc})
    doc["list"].append(2)
    got = state.get_many("t", ["k"])["k"]
    got["list"].append(3)
    assert state.get_many("t", ["k"])["k"] == {"list": [1]}


def test_sqlite_refuses_table_names_that_are_not_plain_words(tmp_path):
    state = SqliteState(tmp_path / "state.db")
    with pytest.raises(ValueError):
        state.put("x; DROP TABLE y", {"k": {}})
    state.close()


def test_sqlite_state_survives_reopening(tmp_path):
    first = SqliteState(tmp_path / "state.db")
    first.put("marks", {f"k{n}": {"n": n} for n in range(1200)})
    first.close()
    again = SqliteState(tmp_path / "state.db")
    assert len(again.get_many("marks", [f"k{n}" for n in range(1200)])) == 1200
    again.close()


def test_page_walks_the_rows_in_key_order(state):
    state.put("log", {f"k{n:02d}": {"n": n} for n in (5, 1, 9, 3)})
    assert state.page("log", limit=3) == [("k01", {"n": 1}), ("k03", {"n": 3}), ("k05", {"n": 5})]
    assert state.page("log", after="k05") == [("k09", {"n": 9})]
    assert state.page("log", after="k09") == [] and state.page("none") == []
    assert state.count("log") == 4 and state.count("none") == 0


def test_trim_deletes_by_age_then_all_but_the_newest(state, monkeypatch):
    clock = iter(range(1000, 2000))
    monkeypatch.setattr("time.time", lambda: float(next(clock)))
    for n in range(6):
        state.put("marks", {f"m{n}": {"n": n}})  # written at 1000 + n
    state.put("marks", {"m0": {"n": 0, "again": True}})  # rewritten: now the newest
    assert state.trim("marks", keep=10, written_before=1003) == 2  # m1 and m2 are too old
    assert state.trim("marks", keep=2, written_before=0) == 2  # of m3, m4, m5, m0 the two newest stay
    assert sorted(key for key, _ in state.items("marks")) == ["m0", "m5"]
    assert state.trim("empty", keep=0, written_before=0) == 0


def test_sqlite_rows_written_before_rows_kept_their_time_count_as_written_when_opened(tmp_path):
    import sqlite3

    old = sqlite3.connect(tmp_path / "state.db")
    old.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, doc TEXT NOT NULL)")
    old.execute("INSERT INTO seen VALUES ('a', '{}')")
    old.commit()
    old.close()
    state = SqliteState(tmp_path / "state.db")
    assert state.trim("seen", keep=10, written_before=1.0) == 0
    assert state.items("seen") == [("a", {})]
    state.close()
