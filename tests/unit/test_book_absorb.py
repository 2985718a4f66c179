"""PartnershipBook.absorb: the read model of a process that reads the partnership topic instead of
computing triads (the API of a split deployment) ends as the computing book did."""

from __future__ import annotations

from test_book import reconcile, triad

from matcher.book import PartnershipBook

TYPE = "chain.partnership."


def events_of_a_life():
    """recommended, updated, decided (approved), then withdrawn, as a worker's book sends them."""
    book = PartnershipBook()
    events = [*reconcile(book, (triad(1, 0.8), 0)), *reconcile(book, (triad(1, 0.9), 2))]
    events.append(book.decide(triad(1).id, decision="approved", note="go ahead", by="Ada", at="2026-01-02T00:00:00Z"))
    events += reconcile(book, exists=lambda entity_id: entity_id != "chip-1")
    assert [e.kind for e in events] == ["recommended", "updated", "decided", "withdrawn"]
    return book, events


def absorbed(events):
    reader = PartnershipBook()
    changed = [reader.absorb(TYPE + e.kind, e.data, at=e.at) for e in events]
    return reader, changed


def without_internals(record):
    return {k: v for k, v in record.items() if k not in ("rank", "rejected_members")} | {
        role: {k: v for k, v in record[role].items() if k != "words"} for role in ("chip", "algorithm", "application")}


def test_each_revision_replaces_the_record_and_a_decision_comes_with_its_note():
    _, events = events_of_a_life()
    reader, changed = absorbed(events[:3])
    assert changed == [True, True, True]
    record = reader.get(triad(1).id)
    assert (record["revision"], record["status"], record["score"]) == (3, "approved", 0.9)
    assert record["decisions"][0]["note"] == "go ahead"
    assert [r["id"] for r in reader.best_first()] == [triad(1).id]


def test_the_reader_ends_as_the_writer_with_a_withdrawal_keeping_the_last_data():
    writer, events = events_of_a_life()
    reader, _ = absorbed(events)
    [ours] = reader.records(("withdrawn",))
    assert ours["status"] == "withdrawn" and ours["revision"] == 4
    assert ours == without_internals(writer.get(triad(1).id))
    assert reader.records() == []  # no longer listed by default (proposed, approved)


def test_duplicates_and_older_revisions_change_nothing():
    _, events = events_of_a_life()
    reader, _ = absorbed(events[:3])
    reader.take_dirty()
    assert [reader.absorb(TYPE + e.kind, e.data) for e in events[:3]] == [False, False, False]
    assert reader.get(triad(1).id)["status"] == "approved"
    assert reader.take_dirty() == {}
    reader.absorb(TYPE + "withdrawn", events[3].data)
    assert reader.absorb(TYPE + "decided", events[2].data) is False  # an older revision after a newer one
    assert reader.get(triad(1).id)["status"] == "withdrawn"


def test_a_withdrawal_of_an_unknown_partnership_and_malformed_data_are_ignored():
    _, events = events_of_a_life()
    reader = PartnershipBook()
    assert reader.absorb(TYPE + "withdrawn", events[3].data) is False
    assert reader.absorb(TYPE + "recommended", {"id": "pt_x", "revision": "2"}) is False
    assert reader.absorb(TYPE + "recommended", {"id": "pt_x", "revision": True}) is False
    assert reader.absorb("chain.company.upserted", events[0].data) is False
    assert reader.records(("proposed", "approved", "rejected", "withdrawn")) == []


def test_absorbed_records_are_handed_out_for_persisting_and_reload():
    _, events = events_of_a_life()
    reader, _ = absorbed(events[:2])
    dirty = reader.take_dirty()
    assert list(dirty) == [triad(1).id]
    assert PartnershipBook(dirty.values()).get(triad(1).id)["revision"] == 2
