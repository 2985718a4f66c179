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
