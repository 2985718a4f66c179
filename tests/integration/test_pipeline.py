"""One micro-batch at a time through streams.pipeline, over the real Edge shard and SQLite state."""

from __future__ import annotations

import json

import pytest
from builders import make_entity, make_event

from matcher.adapters.edge_store import EdgeStore
from matcher.adapters.sqlite_state import SqliteState
from matcher.service import Matcher
from schemas.cloudevents import Record
from streams.pipeline import BatchHandler, Incoming, PipelineState

PREFIX = "chain."


class FlakyStore:
    """The real store, failing its next `failures` upserts as a store that is down would."""

    def __init__(self, store, failures: int = 0):
        self._store, self.failures = store, failures

    def upsert(self, points):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("store unavailable")
        return self._store.upsert(points)

    def __getattr__(self, name):
        return getattr(self._store, name)


class Pipeline:
    def __init__(self, tmp_path, embedder, failures: int = 0, store=None, hand_over: bool = False):
        self.store = FlakyStore(store or EdgeStore(tmp_path / "store"), failures)
        self.state = SqliteState(tmp_path / "state.db")
        self.matcher = Matcher(embedder=embedder, store=self.store, state=self.state)
        self.matcher.ensure_model()
        self.published: list[Record] = []
        self.counters = PipelineState()
        self.offset = 0

        async def publish(records):
            self.published.extend(records)

        self.handler = BatchHandler(matcher=self.matcher, state=self.state, publish=publish, prefix=PREFIX,
                                    counters=self.counters, hand_over=hand_over)

    async def run(self, batch: list[Incoming]) -> None:
        """One batch, then a settle, as when the input falls idle after it."""
        await self.handler.handle(batch)
        await self.handler.settle()

    def record(self, topic: str, event: dict | bytes, key: str | None = None, headers=()) -> Incoming:
        self.offset += 1
        value = event if isinstance(event, bytes) else json.dumps(event).encode()
        if key is None and isinstance(event, dict):
            key = event["data"].get("id") or event["data"].get("partnership_id")
        return Incoming(topic=PREFIX + topic, partition=0, offset=self.offset, key=key.encode() if key else None,
                        value=value, headers=list(headers))

    def on(self, topic: str) -> list[dict]:
        return [json.loads(value) for t, _, value, _ in self.published if t == PREFIX + topic]

    def close(self):
        self.store.close()
        self.state.close()


@pytest.fixture
def pipeline(tmp_path, hashing_embedder):
    p = Pipeline(tmp_path, hashing_embedder)
    yield p
    p.close()


def trio(sector: str = "healthcare") -> list[tuple[str, dict]]:
    return [
        ("companies.v1", make_event("chain.company.upserted", make_entity(id="chip-a", roles=["chip"],
                                                                          sectors=[sector]))),
        ("labs.v1", make_event("chain.lab.upserted", make_entity(id="lab-a", roles=["algorithm"], sectors=[sector],
                                                                 data_policy="hk_only"))),
        ("companies.v1", make_event("chain.company.upserted", make_entity(id="app-a", roles=["application"],
                                                                          sectors=[sector]))),
    ]


async def test_a_batch_stores_entities_and_publishes_partnership_events_on_both_topics(pipeline):
    await pipeline.run([pipeline.record(t, e) for t, e in trio()])
    assert pipeline.matcher.stored(["chip-a", "lab-a", "app-a"]) == ["chip-a", "lab-a", "app-a"]
    [full] = pipeline.on("partnerships.v1")
    [public] = pipeline.on("partnerships.public.v1")
    assert full["type"] == "chain.partnership.recommended" and full["id"] == public["id"]
    assert full["data"]["algorithm"]["id"] == "lab-a"
    assert public["data"]["algorithm"] == {"redacted": True, "roles": ["algorithm"]}
    assert "lab-a" not in json.dumps(public)
    assert set(full) == {"specversion", "id", "source", "type", "subject", "time", "datacontenttype",
                         "dataschema", "data"}


async def test_redelivery_changes_nothing_and_re_sends_the_same_events(pipeline):
    batch = [pipeline.record(t, e) for t, e in trio()]
    await pipeline.run(batch)
    first = list(pipeline.published)
    await pipeline.run(batch)
    assert sorted(pipeline.published[len(first):]) == sorted(first)
    assert pipeline.matcher.count() == 3


async def test_an_unchanged_profile_under_a_new_event_id_publishes_nothing(pipeline):
    events = trio()
    await pipeline.run([pipeline.record(t, e) for t, e in events])
    before = len(pipeline.published)
    topic, event = events[0]
    await pipeline.run([pipeline.record(topic, {**event, "id": "another-id"})])
    assert len(pipeline.published) == before


async def test_update_and_delete_send_updated_then_withdrawn_with_growing_revisions(pipeline):
    await pipeline.run([pipeline.record(t, e) for t, e in trio()])
    delete = make_event("chain.lab.deleted", {"id": "lab-a"})
    await pipeline.run([pipeline.record("labs.v1", delete)])
    kinds = [(e["type"].rsplit(".", 1)[1], e["data"]["revision"]) for e in pipeline.on("partnerships.v1")]
    assert kinds == [("recommended", 1), ("withdrawn", 2)]
    assert pipeline.on("partnerships.v1")[-1]["data"]["reason"] == "algorithm no longer exists"


@pytest.mark.parametrize(("value", "key", "error_class"), [
    (b"not json at all", "x", "NotACloudEvent"),
    ({"specversion": "1.0", "id": "e", "source": "s", "type": "chain.nothing", "data": {}}, "x", "UnknownType"),
    (make_event("chain.company.upserted", {"id": "Bad Id", "name": "n", "description": "d"}), "x",
     "SchemaViolation"),
    (make_event("chain.company.upserted", make_entity(id="co-z")), "another-key", "IdMismatch"),
    (make_event("chain.company.upserted", make_entity(id="co-f"), time="2999-01-01T00:00:00Z"), "co-f",
     "FutureTime"),
    (make_event("chain.lab.upserted", make_entity(id="lab-w")), "lab-w", "WrongTopic"),
    (make_event("chain.company.upserted", make_entity(id="co-big", description="x" * 5000,
                                                       notes="y" * (1024 * 1024))), "co-big", "TooLarge"),
])
async def test_each_malformed_record_is_dead_lettered_while_its_neighbours_are_stored(
        pipeline, value, key, error_class):
    good = make_event("chain.company.upserted", make_entity(id="co-good"))
    bad = pipeline.record("companies.v1", value, key=key, headers=[("trace", b"t-1")])
    await pipeline.run([bad, pipeline.record("companies.v1", good)])
    assert pipeline.matcher.stored(["co-good"]) == ["co-good"]
    [(topic, dead_key, dead_value, headers)] = [r for r in pipeline.published if r[0] == PREFIX + "deadletter.v1"]
    assert (dead_key, dead_value) == (bad.key, bad.value)
    named = dict(headers)
    assert named["trace"] == b"t-1" and named["error.class"] == error_class.encode()
    assert named["source.topic"] == b"chain.companies.v1" and named["source.offset"] == str(bad.offset).encode()
    assert named["error.message"]


async def test_a_decision_is_applied_and_published_as_decided(pipeline):
    await pipeline.run([pipeline.record(t, e) for t, e in trio()])
    [recommended] = pipeline.on("partnerships.v1")
    decision = make_event("chain.partnership.decision.submitted", {
        "partnership_id": recommended["data"]["id"], "decision": "approved", "note": "go", "by": "Ada"})
    await pipeline.run([pipeline.record("curation.v1", decision)])
    decided = pipeline.on("partnerships.v1")[-1]
    assert decided["type"] == "chain.partnership.decided"
    assert (decided["data"]["status"], decided["data"]["decisions"][0]["note"]) == ("approved", "go")
    unknown = make_event("chain.partnership.decision.submitted", {
        "partnership_id": "pt_0123", "decision": "approved", "note": "", "by": "Ada"})
    await pipeline.run([pipeline.record("curation.v1", unknown)])
    assert dict(pipeline.published[-1][3])["error.class"] == b"UnknownPartnership"


async def test_a_store_failure_dead_letters_nothing_and_the_retry_stores_the_entity(tmp_path, hashing_embedder):
    pipeline = Pipeline(tmp_path, hashing_embedder, failures=1)
    batch = [pipeline.record(t, e) for t, e in trio()]
    with pytest.raises(ConnectionError):
        await pipeline.run(batch)
    assert pipeline.published == [] and pipeline.counters.deadlettered == 0
    await pipeline.run(batch)
    assert pipeline.matcher.stored(["chip-a", "lab-a", "app-a"]) == ["chip-a", "lab-a", "app-a"]
    assert [e["type"] for e in pipeline.on("partnerships.v1")] == ["chain.partnership.recommended"]
    pipeline.close()


async def test_state_survives_a_restart_and_redelivery_after_it_changes_nothing(tmp_path, hashing_embedder):
    first = Pipeline(tmp_path, hashing_embedder)
    batch = [first.record(t, e) for t, e in trio()]
    await first.run(batch)
    published = list(first.published)
    first.close()
    again = Pipeline(tmp_path, hashing_embedder)
    await again.run(batch)
    assert sorted(again.published) == sorted(published)
    assert len(again.matcher.partnerships()) == 1
    again.close()


async def test_a_settle_whose_publish_fails_sends_its_events_on_the_retry_and_after_a_restart(
        tmp_path, hashing_embedder):
    first = Pipeline(tmp_path, hashing_embedder)
    await first.handler.handle([first.record(t, e) for t, e in trio()])

    async def broker_down(records):
        raise ConnectionError("broker unavailable")

    first.handler._publish = broker_down
    with pytest.raises(ConnectionError):
        await first.handler.settle()
    with pytest.raises(ConnectionError):
        await first.handler.settle()  # the retry, broker still down
    first.close()
    again = Pipeline(tmp_path, hashing_embedder)
    await again.handler.publish_pending()
    [recommended] = again.on("partnerships.v1")
    assert recommended["type"] == "chain.partnership.recommended" and recommended["data"]["revision"] == 1
    await again.handler.settle()
    assert len(again.on("partnerships.v1")) == 1, "the restart settles to the same book: nothing new"
    again.close()


async def test_events_depend_on_what_is_stored_not_on_where_batches_were_cut(tmp_path, hashing_embedder):
    records = [(t, e) for t, e in trio()] + [
        ("companies.v1", make_event("chain.company.upserted", make_entity(
            id=f"more-{i}", roles=[("chip", "algorithm", "application")[i % 3]], sectors=["healthcare"])))
        for i in range(9)]
    ids = []
    for cut, folder in ((1, "one-by-one"), (len(records), "all-at-once")):
        pipeline = Pipeline(tmp_path / folder, hashing_embedder)
        batch = [pipeline.record(t, e) for t, e in records]
        for start in range(0, len(batch), cut):
            await pipeline.handler.handle(batch[start : start + cut])
        await pipeline.handler.settle()
        ids.append(sorted(e["id"] for e in pipeline.on("partnerships.v1")))
        pipeline.close()
    assert ids[0] == ids[1] and len(ids[0]) > 1


async def test_feedback_is_applied_persisted_and_re_ranks_at_the_next_settle(tmp_path, hashing_embedder):
    first = Pipeline(tmp_path, hashing_embedder)
    # A second chip like the first, so the penalty changes which triad ranks first.
    twin = make_event("chain.company.upserted", make_entity(id="chip-b", roles=["chip"], sectors=["healthcare"]))
    await first.run([first.record(t, e) for t, e in [*trio(), ("companies.v1", twin)]])
    [best, _] = first.matcher.partnerships(sector="healthcare")
    feedback = make_event("chain.entity.feedback.submitted", {
        "entity_id": "app-a", "other_id": best["chip"]["id"], "signal": "not_interested", "by": "Ada"})
    await first.run([first.record("feedback.v1", feedback, key="app-a")])
    updated = [e for e in first.on("partnerships.v1") if e["data"]["id"] == best["id"]][-1]
    assert updated["type"] == "chain.partnership.updated" and updated["data"]["score_breakdown"]["feedback"] == -0.2
    assert best["chip"]["id"] not in [s.profile.id for s in first.matcher.suggest("app-a")]
    assert [doc["other_id"] for _, doc in first.state.items("feedback")] == [best["chip"]["id"]]
    unknown = make_event("chain.entity.feedback.submitted", {
        "entity_id": "app-a", "other_id": "nobody", "signal": "not_interested"})
    await first.handler.handle([first.record("feedback.v1", unknown, key="app-a")])
    assert dict(first.published[-1][3])["error.class"] == b"UnknownEntity"
    first.close()
    again = Pipeline(tmp_path, hashing_embedder)
    assert best["chip"]["id"] not in [s.profile.id for s in again.matcher.suggest("app-a")]
    assert again.matcher.partnership(best["id"])["score_breakdown"]["feedback"] == -0.2
    again.close()


async def test_ingest_replicas_hand_their_changes_to_one_partnerships_worker(tmp_path, hashing_embedder):
    """Several ingest replicas and one partnerships worker over one store publish the partnerships a
    single worker would."""
    alone = Pipeline(tmp_path / "alone", hashing_embedder)
    batch = [alone.record(t, e) for t, e in trio()]
    await alone.run(batch)
    shared = EdgeStore(tmp_path / "shared")
    replicas = [Pipeline(tmp_path / f"ingest-{n}", hashing_embedder, store=shared, hand_over=True) for n in (0, 1)]
    owner = Pipeline(tmp_path / "partnerships", hashing_embedder, store=shared)
    await replicas[0].handler.handle(batch[:2])
    await replicas[1].handler.handle(batch[2:])
    await replicas[1].handler.settle()  # a replica settles nothing
    assert not any(t.endswith("partnerships.v1") for t, *_ in replicas[0].published + replicas[1].published)
    notices = [r for p in replicas for r in p.published if r[0] == PREFIX + "stored.v1"]
    assert len(notices) == 2
    await owner.run([Incoming(t, 0, n, k, v, h) for n, (t, k, v, h) in enumerate(notices)])
    assert ([(e["id"], e["data"]["chip"]) for e in owner.on("partnerships.v1")]
            == [(e["id"], e["data"]["chip"]) for e in alone.on("partnerships.v1")])
    delete = replicas[0].record("labs.v1", make_event("chain.lab.deleted", {"id": "lab-a"}))
    await replicas[0].handler.handle([delete])
    [notice] = [r for r in replicas[0].published if r[0] == PREFIX + "stored.v1"][1:]
    await owner.run([Incoming(notice[0], 0, 9, *notice[1:])])
    assert owner.on("partnerships.v1")[-1]["type"] == "chain.partnership.withdrawn"
    for pipeline in (alone, owner, *replicas):
        pipeline.state.close()
    alone.store.close()
    shared.close()
