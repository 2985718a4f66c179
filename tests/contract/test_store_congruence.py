"""One contract for every VectorStore: memory fake, Qdrant Edge, qdrant-client (local mode).

Each test runs per store (the `store` fixture is parametrized); the congruence tests at the end
give all three the same data and require the same answers, as qdrant-client's congruence tests do.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from uuid import UUID

import numpy as np
import pytest

from matcher.adapters import edge_point_ids
from matcher.adapters.edge_store import EdgeStore, StoreLocked
from matcher.adapters.ids import point_id
from matcher.adapters.memory_store import MemoryStore
from matcher.ports import NoCollection, Point, StoreInfo

pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant")

DIM = 8
ROOT = Path(__file__).resolve().parents[2]


def unit(vector) -> list[float]:
    array = np.asarray(vector, dtype=np.float64)
    return (array / np.linalg.norm(array)).tolist()


def random_vectors(n: int, seed: int = 0) -> list[list[float]]:
    return [unit(v) for v in np.random.default_rng(seed).standard_normal((n, DIM))]


def profile(i: int) -> dict:
    """Deterministic payloads mixing list-valued and scalar fields."""
    return {
        "kind": "entity",
        "roles": [["chip"], ["algorithm"], ["application"], ["chip", "algorithm"]][i % 4],
        "sectors": [f"s{i % 5}", f"s{(i + 2) % 5}"],
        "region": ["eu", "us", "apac"][i % 3],
        "name": f"Entity {i}",
        "nested": {"tags": [i, str(i)]},
    }


def make_points(n: int, seed: int = 0) -> list[Point]:
    return [Point(f"ent-{i:04d}", v, profile(i)) for i, v in enumerate(random_vectors(n, seed))]


def scroll_all(store, **kwargs) -> list[Point]:
    collected, offset, pages = [], None, 0
    while True:
        page, offset = store.scroll(offset=offset, **kwargs)
        collected += page
        pages += 1
        assert pages < 1000, "scroll never ended"
        if offset is None:
            return collected


# --- one store at a time ---------------------------------------------------------------------


def test_info_is_none_until_recreate_and_data_calls_refuse(empty_store, store_info):
    assert empty_store.info() is None
    with pytest.raises(NoCollection):
        empty_store.upsert(make_points(1))
    with pytest.raises(NoCollection):
        empty_store.search(random_vectors(1)[0])
    empty_store.recreate(store_info)
    assert empty_store.info() == store_info
    assert empty_store.count() == 0


def test_recreate_drops_everything_and_records_the_new_info(store):
    store.upsert(make_points(5))
    other = StoreInfo(model="other-model", dimension=4)
    store.recreate(other)
    assert store.info() == other
    assert store.count() == 0
    store.upsert([Point("x", [1.0, 0.0, 0.0, 0.0])])
    assert [p.id for p in store.retrieve(["x"])] == ["x"]


def test_upsert_then_count(store):
    store.upsert(make_points(12))
    assert store.count() == 12


def test_upsert_same_id_twice_is_idempotent_and_latest_wins(store):
    points = make_points(3)
    store.upsert(points)
    store.upsert(points)
    assert store.count() == 3
    store.upsert([Point("ent-0001", points[1].vector, {"name": "renamed", "roles": ["chip"]})])
    assert store.count() == 3
    assert store.retrieve(["ent-0001"])[0].payload == {"name": "renamed", "roles": ["chip"]}


def test_delete_removes_only_the_given_ids_and_ignores_unknown_ones(store):
    store.upsert(make_points(5))
    store.delete(["ent-0001", "ent-0003", "never-stored"])
    store.delete([])
    assert store.count() == 3
    assert [p.id for p in store.retrieve(["ent-0000", "ent-0001", "ent-0002"])] == ["ent-0000", "ent-0002"]


def test_retrieve_keeps_the_order_asked_and_leaves_missing_ids_out(store):
    points = make_points(6)
    store.upsert(points)
    got = store.retrieve(["ent-0004", "missing", "ent-0000", "ent-0002"])
    assert [p.id for p in got] == ["ent-0004", "ent-0000", "ent-0002"]
    assert got[0].payload == points[4].payload
    assert all(p.vector == [] for p in got)
    assert store.retrieve([]) == []


def test_retrieve_with_vectors_returns_the_unit_vector(store):
    store.upsert([Point("a", [3.0, 4.0, 0, 0, 0, 0, 0, 0], {"kind": "entity"})])
    (got,) = store.retrieve(["a"], with_vectors=True)
    assert got.vector == pytest.approx([0.6, 0.8, 0, 0, 0, 0, 0, 0], abs=1e-6)


def test_retrieve_without_payloads_returns_the_same_points_with_empty_payloads(store):
    points = make_points(6)
    store.upsert(points)
    asked = ["ent-0004", "missing", "ent-0000", "ent-0004"]
    full = store.retrieve(asked, with_vectors=True)
    bare = store.retrieve(asked, with_vectors=True, with_payload=False)
    assert [p.id for p in bare] == [p.id for p in full] == ["ent-0004", "ent-0000"]
    assert [p.vector for p in bare] == [p.vector for p in full] and all(len(p.vector) == 8 for p in bare)
    assert all(p.payload == {} for p in bare) and all(p.payload for p in full)
    assert [p.vector for p in store.retrieve(["ent-0000"], with_payload=False)] == [[]]


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"roles": ["chip"]}, lambda i: i % 4 in (0, 3)),  # list payload: intersection
        ({"roles": ["algorithm", "application"]}, lambda i: i % 4 in (1, 2, 3)),
        ({"region": ["eu"]}, lambda i: i % 3 == 0),  # scalar payload
        ({"roles": ["chip"], "region": ["us", "apac"]}, lambda i: i % 4 in (0, 3) and i % 3 != 0),  # AND
        ({"sectors": ["s1"], "region": ["eu"], "kind": ["entity"]}, lambda i: 1 in (i % 5, (i + 2) % 5)
         and i % 3 == 0),
        ({"offers": ["gpu-hours"]}, lambda i: False),  # a field no point has
        # Two keys with several values each: an OR within each key, an AND between them.
        ({"roles": ["chip", "application"], "region": ["us", "apac"]}, lambda i: i % 4 in (0, 2, 3) and i % 3 != 0),
        ({"roles": ["chip"], "region": []}, lambda i: False),  # no values: nothing matches, not everything
    ],
)
def test_filters_match_on_intersection_and_and_across_keys(store, filter, expected):
    points = make_points(40)
    store.upsert(points)
    wanted = {p.id for i, p in enumerate(points) if expected(i)}
    hits = store.search(points[0].vector, filter=filter, limit=100)
    assert {h.id for h in hits} == wanted
    assert store.count(filter=filter) == len(wanted)
    assert {p.id for p in scroll_all(store, filter=filter, limit=7)} == wanted


def test_search_is_nearest_first_with_cosine_scores(store):
    points = make_points(50)
    store.upsert(points)
    query = points[7].vector
    hits = store.search(query, limit=5)
    expected = sorted(points, key=lambda p: -float(np.dot(p.vector, query)))[:5]
    assert [h.id for h in hits] == [p.id for p in expected]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    cosines = [float(np.dot(p.vector, query)) for p in expected]
    assert [h.score for h in hits] == pytest.approx(cosines, abs=1e-5)
    assert hits[0].payload == points[7].payload
    assert store.search(query, limit=0) == []


def test_filtered_search_finds_the_three_least_similar_matches_among_2000(store):
    """The filter must run in the engine: a search that filtered its top-k afterwards finds nothing."""
    rng = np.random.default_rng(42)
    query = unit(np.ones(DIM))
    near = [unit(np.asarray(query) + 0.3 * rng.standard_normal(DIM)) for _ in range(1997)]
    far = [unit(-np.asarray(query) + 0.1 * rng.standard_normal(DIM)) for _ in range(3)]
    points = [Point(f"near-{i}", v, {"roles": ["chip"], "region": "eu"}) for i, v in enumerate(near)]
    points += [Point(f"far-{i}", v, {"roles": ["rare", "chip"], "region": "eu"}) for i, v in enumerate(far)]
    for start in range(0, len(points), 500):
        store.upsert(points[start : start + 500])
    similarity = {p.id: float(np.dot(p.vector, query)) for p in points}
    assert sorted(similarity, key=similarity.get)[:3] == sorted(
        ["far-0", "far-1", "far-2"], key=similarity.get
    ), "the matches must be the least similar points"

    hits = store.search(query, filter={"roles": ["rare"], "region": ["eu"]}, limit=3)

    assert [h.id for h in hits] == sorted(["far-0", "far-1", "far-2"], key=lambda i: -similarity[i])
    assert all(h.payload["roles"] == ["rare", "chip"] for h in hits)


def test_scroll_pages_cover_everything_once(store):
    points = make_points(23)
    store.upsert(points)
    first, offset = store.scroll(limit=10)
    assert len(first) == 10 and offset is not None
    everything = scroll_all(store, limit=10, with_vectors=True)
    ids = [p.id for p in everything]
    assert len(ids) == len(set(ids)) == 23
    assert set(ids) == {p.id for p in points}
    by_id = {p.id: p for p in points}
    for got in everything:
        assert got.payload == by_id[got.id].payload
        assert got.vector == pytest.approx(by_id[got.id].vector, abs=1e-6)
    # The one order every adapter shares: point id order.
    assert [point_id(i) for i in ids] == sorted(point_id(i) for i in ids)


def test_scroll_of_an_exact_page_ends_with_none(store):
    store.upsert(make_points(10))
    page, offset = store.scroll(limit=10)
    assert len(page) == 10 and offset is None


def test_payloads_are_copies_never_live_objects(store):
    payload = {"roles": ["chip"], "nested": {"tags": ["a"]}}
    store.upsert([Point("a", random_vectors(1)[0], payload)])
    payload["roles"].append("leaked")
    payload["nested"]["tags"].append("leaked")

    (got,) = store.retrieve(["a"])
    got.payload["roles"].append("leaked-again")
    store.search(random_vectors(1)[0], limit=1)[0].payload["nested"]["tags"].clear()
    store.scroll(limit=5)[0][0].payload["roles"].clear()

    assert store.retrieve(["a"])[0].payload == {"roles": ["chip"], "nested": {"tags": ["a"]}}


def test_search_without_payloads_finds_the_same_hits_with_empty_payloads(store):
    points = make_points(200, seed=5)
    store.upsert(points)
    query = points[7].vector
    full = store.search(query, filter={"roles": ["chip"]}, limit=12)
    bare = store.search(query, filter={"roles": ["chip"]}, limit=12, with_payload=False)
    assert [h.id for h in bare] == [h.id for h in full]
    assert [h.score for h in bare] == pytest.approx([h.score for h in full], abs=1e-6)
    assert all(h.payload == {} for h in bare) and all(h.payload for h in full)


def test_searches_without_payloads_follow_later_upserts_and_deletes(store):
    points = make_points(60, seed=9)
    store.upsert(points[:30])
    query = points[45].vector
    store.search(query, limit=5, with_payload=False)  # a store may learn its entity ids here
    store.upsert(points[30:])
    store.delete([p.id for p in points[40:50]])
    full = store.search(query, limit=25)
    bare = store.search(query, limit=25, with_payload=False)
    assert [h.id for h in bare] == [h.id for h in full]
    assert {h.id for h in bare}.isdisjoint(p.id for p in points[40:50])
    assert {h.id for h in bare} & {p.id for p in points[30:40]}


def test_unindexed_filter_keys_and_wrong_dimensions_are_refused(store):
    store.upsert(make_points(2))
    with pytest.raises(ValueError, match="name"):
        store.search(random_vectors(1)[0], filter={"name": ["Entity 1"]})
    with pytest.raises(ValueError, match="name"):
        store.count(filter={"name": ["Entity 1"]})
    with pytest.raises(ValueError, match="list of strings"):
        store.count(filter={"region": "eu"})
    with pytest.raises(ValueError, match="dimensions"):
        store.upsert([Point("short", [1.0, 0.0])])
    with pytest.raises(ValueError, match="dimensions"):
        store.search([1.0, 0.0])
    assert store.count() == 2


# --- all stores give the same answers ----------------------------------------------------------


@pytest.mark.parametrize(
    "filter", [None, {"roles": ["chip"]}, {"region": ["apac"], "sectors": ["s2", "s4"]}]
)
def test_stores_agree_on_search_count_and_scroll(all_stores, filter):
    points = make_points(300, seed=3)
    for store in all_stores.values():
        store.upsert(points)
        store.delete(["ent-0010", "ent-0020"])
    queries = random_vectors(5, seed=9)

    def answers(store):
        return {
            "search": [[h.id for h in store.search(q, filter=filter, limit=15)] for q in queries],
            "count": store.count(filter=filter),
            "scroll": [p.id for p in scroll_all(store, filter=filter, limit=32)],
        }

    reference = answers(all_stores["memory"])
    for kind, store in all_stores.items():
        assert answers(store) == reference, kind
        scores = [h.score for h in store.search(queries[0], filter=filter, limit=15)]
        memory_scores = [h.score for h in all_stores["memory"].search(queries[0], filter=filter, limit=15)]
        assert scores == pytest.approx(memory_scores, abs=1e-5), kind


def test_stores_order_equal_scores_by_point_id_across_the_cut_and_an_optimize(all_stores):
    """Duplicated vectors score exactly alike: every store returns them in point id order, also where the
    limit cuts through them, and an Edge shard still does once optimize has rebuilt its segments (which
    reorders them inside the engine): the workers' partnerships must not change with a restart."""
    vectors = random_vectors(6, seed=4)
    points = [Point(f"dup-{i:03d}", vectors[i % 6], profile(i)) for i in range(120)]
    for store in all_stores.values():
        store.upsert(points)

    def answers(store):
        return [[h.id for h in store.search(vectors[0], filter=filter, limit=limit)]
                for filter in (None, {"roles": ["chip"]}) for limit in (5, 20, 23, 41)]

    reference = answers(all_stores["memory"])
    for kind, store in all_stores.items():
        assert answers(store) == reference, kind
        if hasattr(store, "optimize"):
            store.optimize()
            assert answers(store) == reference, f"{kind}, optimized"


# --- adapter specifics --------------------------------------------------------------------------


def test_edge_store_persists_points_and_info_across_close_and_reopen(tmp_path, store_info):
    points = make_points(30)
    with EdgeStore(tmp_path / "shard") as store:
        store.recreate(store_info)
        store.upsert(points)
        store.delete(["ent-0000"])
        store.flush()
        before = store.search(points[5].vector, filter={"roles": ["chip"]}, limit=5)

    with EdgeStore(tmp_path / "shard") as reopened:
        assert reopened.info() == store_info
        assert reopened.count() == 29
        assert reopened.retrieve(["ent-0005"])[0].payload == points[5].payload
        assert reopened.search(points[5].vector, filter={"roles": ["chip"]}, limit=5) == before
        bare = reopened.search(points[5].vector, filter={"roles": ["chip"]}, limit=5, with_payload=False)
        assert [h.id for h in bare] == [h.id for h in before]
        assert reopened.optimize() in (True, False)
        assert reopened.search(points[5].vector, filter={"roles": ["chip"]}, limit=5) == before


def test_edge_store_int8_copies_serve_only_approximate_searches(tmp_path):
    """Optimize builds int8 copies of the vectors. A plain search ignores them: its hits are the ones it
    gave before they existed, so what the workers derive from searches cannot change with a restart that
    built them. An approximate search shortlists by them and rescores with the float vectors: exact
    scores, and the exact hits but for a rare neighbour that ranks below the oversampled candidates."""
    info = StoreInfo(model="test", dimension=64)
    vectors = np.random.default_rng(3).standard_normal((2_000, 64))
    points = [Point(f"ent-{i:04d}", unit(v), profile(i)) for i, v in enumerate(vectors)]
    queries = [points[i].vector for i in range(0, 2_000, 20)]
    truth = _in_memory(info, points)
    chip = {"roles": ["chip"]}
    with EdgeStore(tmp_path / "shard") as store:
        store.recreate(info)
        store.upsert(points)
        before = [store.search(query, filter=chip, limit=20) for query in queries]
        assert store.optimize()
        assert list((tmp_path / "shard").glob("shard/segments/*/vector_storage/quantized.data"))
        assert [store.search(query, filter=chip, limit=20) for query in queries] == before
        shared = total = 0
        for query in queries:
            exact = {h.id: h.score for h in truth.search(query, filter=chip, limit=20)}
            hits = store.search(query, filter=chip, limit=20, approximate=True)
            assert len(hits) == 20
            assert all(h.score == pytest.approx(exact[h.id], abs=1e-5) for h in hits if h.id in exact)
            shared += sum(h.id in exact for h in hits)
            total += len(exact)
    assert shared / total >= 0.99


@pytest.mark.parametrize("graph", [False, True])
def test_edge_store_optimized_without_the_graph_still_finds_the_nearest(tmp_path, graph):
    """12 MB of vectors: enough for the engine to walk the HNSW graph when it may, which finds near
    neighbours, not always the nearest. Optimized with graph=False, plain searches keep scanning and
    find what they found before."""
    info = StoreInfo(model="test", dimension=1024)
    vectors = np.random.default_rng(11).standard_normal((3_000, 1024))
    points = [Point(f"ent-{i:04d}", unit(v), profile(i)) for i, v in enumerate(vectors)]
    queries = [unit(v) for v in np.random.default_rng(12).standard_normal((20, 1024))]
    with EdgeStore(tmp_path / "shard") as store:
        store.recreate(info)
        for start in range(0, len(points), 500):
            store.upsert(points[start : start + 500])
        before = [store.search(query, limit=41, with_payload=False) for query in queries]
        store.optimize(graph=graph)
        after = [store.search(query, limit=41, with_payload=False) for query in queries]
    assert (after == before) is not graph


def test_edge_store_approximate_searches_read_the_int8_copies(tmp_path):
    """Near-duplicates that differ below int8's resolution: the exact search ranks them, the int8
    shortlist cannot, so an approximate search that read the copies returns other hits."""
    info = StoreInfo(model="test", dimension=64)
    rng = np.random.default_rng(5)
    base = rng.standard_normal(64)
    points = [Point(f"ent-{i:04d}", unit(base + rng.standard_normal(64) * 1e-3), profile(0)) for i in range(400)]
    query = unit(base + rng.standard_normal(64) * 1e-2)
    with EdgeStore(tmp_path / "shard") as store:
        store.recreate(info)
        store.upsert(points)
        store.optimize()
        exact = store.search(query, limit=20)
        approximate = store.search(query, limit=20, approximate=True)
    assert {h.id for h in approximate} != {h.id for h in exact}


def _in_memory(info: StoreInfo, points: list[Point]) -> MemoryStore:
    store = MemoryStore()
    store.recreate(info)
    store.upsert(points)
    return store


def _shard_point_ids(store: EdgeStore) -> list:
    return [point_id for point_id, _ in store._stored_ids()]


def test_edge_store_made_now_uses_integer_point_ids_in_uuid_order(tmp_path, store_info):
    with EdgeStore(tmp_path / "shard") as store:
        store.recreate(store_info)
        store.upsert(make_points(40))
        stored = _shard_point_ids(store)
        assert all(isinstance(i, int) for i in stored) and len(stored) == 40
        assert [p.id for p in scroll_all(store, limit=7)] == sorted(
            (f"ent-{i:04d}" for i in range(40)), key=point_id)


def test_edge_store_made_with_uuid_point_ids_keeps_them_and_works_as_before(tmp_path, store_info):
    with EdgeStore(tmp_path / "shard") as store:
        store.recreate(store_info)
    info_file = tmp_path / "shard" / "store_info.json"
    info_file.write_text(json.dumps({"model": store_info.model, "dimension": store_info.dimension}))  # as before

    points = make_points(30)
    with EdgeStore(tmp_path / "shard") as store:
        store.upsert(points)
        store.delete(["ent-0003"])
        assert {str(i) for i in _shard_point_ids(store)} == {point_id(p.id) for p in points} - {point_id("ent-0003")}
    with EdgeStore(tmp_path / "shard") as reopened:
        hits = reopened.search(points[5].vector, filter={"roles": ["chip"]}, limit=5, with_payload=False)
        assert [h.id for h in hits] == [h.id for h in reopened.search(points[5].vector, filter={"roles": ["chip"]},
                                                                       limit=5)]
        assert [p.id for p in reopened.retrieve(["ent-0004", "ent-0003"], with_vectors=True,
                                                 with_payload=False)] == ["ent-0004"]
        assert len(scroll_all(reopened, limit=7)) == 29


def test_edge_store_gives_an_entity_whose_integer_is_taken_its_uuid(tmp_path, store_info, monkeypatch):
    # Two UUIDv5s alike in their first 64 bits; made to happen by giving every entity the same integer.
    monkeypatch.setattr(edge_point_ids, "integer_id", lambda entity_id: 7)
    points = make_points(3)
    with EdgeStore(tmp_path / "shard") as store:
        store.recreate(store_info)
        store.upsert(points[:2])
        store.upsert(points)
        assert sorted(_shard_point_ids(store), key=str) == sorted([7, UUID(point_id("ent-0001")),
                                                                   UUID(point_id("ent-0002"))], key=str)
        store.delete(["ent-0000"])
        store.upsert([Point("ent-0009", points[0].vector, profile(9))])  # the integer is free again
    with EdgeStore(tmp_path / "shard") as reopened:
        assert [p.id for p in reopened.retrieve(["ent-0009", "ent-0001", "ent-0002", "ent-0000"])] == [
            "ent-0009", "ent-0001", "ent-0002"]
        assert {h.id for h in reopened.search(points[1].vector, limit=5, with_payload=False)} == {
            "ent-0009", "ent-0001", "ent-0002"}
        reopened.upsert([Point("ent-0001", points[2].vector, profile(1))])  # keeps its UUID
        assert 7 in _shard_point_ids(reopened) and len(_shard_point_ids(reopened)) == 3


def test_edge_store_refuses_a_second_opener_in_this_process(tmp_path, store_info):
    with EdgeStore(tmp_path / "shard") as store:
        store.recreate(store_info)
        with pytest.raises(StoreLocked, match="is open in process"):
            EdgeStore(tmp_path / "shard")
        assert store.count() == 0  # the failed opener disturbed nothing
    EdgeStore(tmp_path / "shard").close()  # released on close


def test_edge_store_refuses_a_second_process_with_a_clear_error(tmp_path, store_info):
    import os

    folder = tmp_path / "shard"
    child = textwrap.dedent(
        f"""
        from pathlib import Path
        from matcher.adapters.edge_store import EdgeStore, StoreLocked
        try:
            EdgeStore(Path({str(folder)!r}))
        except StoreLocked as error:
            print("LOCKED", error)
        else:
            print("OPENED")
        """
    )
    with EdgeStore(folder) as store:
        store.recreate(store_info)
        result = subprocess.run(
            [sys.executable, "-c", child], capture_output=True, text=True, timeout=60,
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    assert result.stdout.strip() == f"LOCKED {folder} is open in process {os.getpid()}", result.stderr


def test_qdrant_store_info_lives_in_the_collection_metadata(store_info):
    from qdrant_client import QdrantClient

    from matcher.adapters.qdrant_store import QdrantServerStore

    client = QdrantClient(":memory:")
    QdrantServerStore(client, "profiles").recreate(store_info)
    assert QdrantServerStore(client, "profiles").info() == store_info  # a fresh adapter reads it back
    assert QdrantServerStore(client, "elsewhere").info() is None
    client.close()


def test_qdrant_store_without_qdrant_client_names_the_extra():
    child = textwrap.dedent(
        """
        import sys
        sys.modules["qdrant_client"] = None  # what a missing package looks like to import
        try:
            import matcher.adapters.qdrant_store
        except ImportError as error:
            print(error)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert "pip install 'chainmatch[server]'" in result.stdout, result.stderr
