from __future__ import annotations

import dataclasses

from builders import make_entity

from matcher.book import RETAINED, VISIBLE, PartnershipBook
from matcher.model import Profile
from matcher.triads import Triad, partnership_id


def profile(entity_id: str, role: str, **overrides) -> Profile:
    return Profile.from_data("company", make_entity(**{"id": entity_id, "name": entity_id, "roles": [role],
                                                      **overrides}))


def triad(n: int, score: float = 0.8, **chip_overrides) -> Triad:
    chip = profile(f"chip-{n}", "chip", **chip_overrides)
    algorithm, application = profile(f"alg-{n}", "algorithm"), profile(f"app-{n}", "application")
    return Triad(id=partnership_id([chip.id, algorithm.id, application.id]), chip=chip, algorithm=algorithm,
                 application=application, sectors=("healthcare",), project_id=None, score=score,
                 score_breakdown={"members": score}, reasons=("all three work in healthcare",))


def everyone_exists(entity_id: str) -> bool:
    return True


def reconcile(book, *ranked_triads: tuple[Triad, int], exists=everyone_exists):
    return book.reconcile({t.id: (t, rank) for t, rank in ranked_triads}, exists=exists, now="2026-01-01T00:00:00Z")


def test_a_new_triad_in_the_top_is_recommended_once_with_a_stable_event_id():
    book = PartnershipBook()
    t = triad(1)
    [event] = reconcile(book, (t, 0))
    assert (event.kind, event.revision, event.data["status"]) == ("recommended", 1, "proposed")
    assert event.data["revision"] == 1
    assert set(event.data["chip"]) == {"id", "name", "name_zh", "roles", "sectors", "region", "kind", "data_policy"}
    assert reconcile(book, (t, 0)) == []
    assert event.event_id == PartnershipBook().reconcile({t.id: (t, 0)}, exists=everyone_exists, now="x")[0].event_id


def test_updated_only_when_rank_or_score_really_changes():
    book = PartnershipBook()
    reconcile(book, (triad(1, 0.8), 0))
    assert reconcile(book, (triad(1, 0.805), 0)) == []
    [event] = reconcile(book, (triad(1, 0.82), 0))
    assert (event.kind, event.revision) == ("updated", 2)
    [event] = reconcile(book, (triad(1, 0.82), 3))
    assert (event.kind, event.revision) == ("updated", 3)
    assert "rank" not in event.data


def test_hysteresis_enter_in_the_visible_top_leave_past_the_retained_top():
    book = PartnershipBook()
    assert reconcile(book, (triad(1), VISIBLE)) == []
    reconcile(book, (triad(1), VISIBLE - 1))
    [moved] = reconcile(book, (triad(1), RETAINED - 1))
    assert moved.kind == "updated"
    [gone] = reconcile(book)
    assert (gone.kind, gone.data["reason"]) == ("withdrawn", f"fell out of the top {RETAINED}")
    [again] = reconcile(book, (triad(1), 0))
    assert (again.kind, again.revision) == ("recommended", 4)


def test_a_deleted_member_withdraws_even_an_approved_partnership():
    book = PartnershipBook()
    t = triad(1)
    reconcile(book, (t, 0))
    book.decide(t.id, decision="approved", note="good", by="Ada", at="2026-01-02T00:00:00Z")
    assert reconcile(book) == []  # approved stays while its members exist
    [gone] = reconcile(book, exists=lambda entity_id: entity_id != "alg-1")
    assert gone.data["reason"] == "algorithm no longer exists"


def test_decisions_are_recorded_and_a_rejection_holds_until_a_member_changes_materially():
    book = PartnershipBook()
    t = triad(1)
    reconcile(book, (t, 0))
    decided = book.decide(t.id, decision="rejected", note="no", by="Ada", at="2026-01-02T00:00:00Z")
    assert (decided.kind, decided.revision, decided.data["status"]) == ("decided", 2, "rejected")
    assert decided.data["decisions"] == [{"decision": "rejected", "note": "no", "by": "Ada",
                                          "at": "2026-01-02T00:00:00Z"}]
    assert "rejected_members" not in decided.data
    assert reconcile(book, (t, 0)) == []
    same_words = triad(1, description="Designs low-power AI inference chips for edge devices!")
    assert reconcile(book, (same_words, 0)) == []
    changed = triad(1, description="Builds radar sensors and lidar fusion boards for autonomous trucks at ports.")
    [again] = reconcile(book, (changed, 0))
    assert (again.kind, again.data["status"], len(again.data["decisions"])) == ("recommended", "proposed", 1)
    assert book.decide("pt_unknown", decision="approved", note="", by="Ada", at="x") is None


def test_changed_records_are_handed_out_once_for_persisting():
    book = PartnershipBook()
    reconcile(book, (triad(1), 0), (triad(2), 1))
    dirty = book.take_dirty()
    assert len(dirty) == 2 and book.take_dirty() == {}
    by_id = lambda records: sorted(records, key=lambda r: r["id"])  # noqa: E731
    assert by_id(PartnershipBook(dirty.values()).records()) == by_id(book.records())


def test_a_member_shown_or_redacted_differently_is_an_update_at_the_same_rank_and_score():
    """`chainmatch api`, SSE, webhooks and the public topic know a member's policy and summary only
    from partnership events: a tightened policy or a new name must reach them, as an `updated`."""
    book = PartnershipBook()
    reconcile(book, (triad(1), 0))
    [tightened] = reconcile(book, (triad(1, data_policy="hk_only"), 0))
    assert (tightened.kind, tightened.revision, tightened.data["chip"]["data_policy"]) == ("updated", 2, "hk_only")
    [renamed] = reconcile(book, (triad(1, data_policy="hk_only", name="Chip One Ltd"), 0))
    assert (renamed.kind, renamed.data["chip"]["name"]) == ("updated", "Chip One Ltd")
    [moved] = reconcile(book, (triad(1, data_policy="hk_only", name="Chip One Ltd", region="SG"), 0))
    assert (moved.kind, moved.data["chip"]["region"]) == ("updated", "SG")

    project = dataclasses.replace(triad(2), project_id="pj-1", project_data_policy="open")
    reconcile(book, (project, 0))
    [hidden] = reconcile(book, (dataclasses.replace(project, project_data_policy="cn_only"), 0))
    assert (hidden.kind, hidden.data["project_data_policy"]) == ("updated", "cn_only")


def test_a_member_whose_words_alone_changed_stays_quiet_but_current():
    book = PartnershipBook()
    reconcile(book, (triad(1), 0))
    book.take_dirty()
    assert reconcile(book, (triad(1, description="Designs tiny AI inference chips for edge devices."), 0)) == []
    assert "tiny" in book.take_dirty()[triad(1).id]["chip"]["words"]
