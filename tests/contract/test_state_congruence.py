"""One suite over every StateStore adapter (the `state` fixture: memory, SQLite and PostgreSQL on a real
server), and what only the SQL ones do."""

from __future__ import annotations

import pytest

from matcher.adapters.sqlite_state import SqliteState


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


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_sql_stores_refuse_table_names_that_are_not_plain_words(kind, state_factory):
    state = state_factory(kind)
    with pytest.raises(ValueError):
        state.put("x; DROP TABLE y", {"k": {}})
    with pytest.raises(ValueError):
        state.get_many("Marks", ["k"])


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


def test_postgres_state_survives_reopening_and_is_shared_by_every_process_that_opens_it(state_factory):
    first, second = state_factory("postgres"), state_factory("postgres")  # the same schema, two connections
    first.put("marks", {f"k{n}": {"n": n} for n in range(1200)})
    assert len(second.get_many("marks", [f"k{n}" for n in range(1200)])) == 1200
    second.write({"marks": {"k0": {"n": -1}}, "deadletters": {"d": {"why": "好"}}})
    first.close()
    again = state_factory("postgres")
    assert again.get_many("marks", ["k0"]) == {"k0": {"n": -1}} and again.count("deadletters") == 1


def test_postgres_write_is_all_or_nothing(state_factory):
    state = state_factory("postgres")
    state.put("a", {"k": {"n": 1}})
    with pytest.raises(TypeError):  # the second table's document is not JSON: the first table keeps its old row
        state.write({"a": {"k": {"n": 2}}, "b": {"k": {"n": {1, 2}}}})
    assert state.items("a") == [("k", {"n": 1})] and state.items("b") == []


def test_postgres_pages_in_the_order_python_compares_keys(state_factory):
    state = state_factory("postgres")
    keys = ["b", "B", "a", "ä", "Z", "a-1", "a_1", "好", "10", "9"]
    state.put("log", {key: {} for key in keys})
    assert [key for key, _ in state.page("log", limit=100)] == sorted(keys)


def test_postgres_reconnects_after_the_server_drops_the_connection(state_factory, postgres):
    import psycopg

    state = state_factory("postgres")
    state.put("marks", {"k": {"n": 1}})
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE pid <> pg_backend_pid() AND datname = current_database()")
    with pytest.raises(psycopg.OperationalError):
        state.get_many("marks", ["k"])
    assert state.get_many("marks", ["k"]) == {"k": {"n": 1}}



def test_postgres_lists_the_tables_any_process_made(state_factory):
    first, second = state_factory("postgres"), state_factory("postgres")
    assert first.tables() == []
    second.put("seen", {"k": {}})
    second.count("journal")
    assert first.tables() == ["journal", "seen"]
