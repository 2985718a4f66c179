"""SSE over a real socket: live events, resume after a reconnect and after an API restart, reset past
the window, redaction per key region."""

from __future__ import annotations

import pytest
from builders import make_partnership_event
from subscriber_harness import Api, SseReader

from chainmatch.settings import ApiKey, Settings
from subscribers.hub import Subscribers

KEYS = {
    "staff-key": ApiKey(role="staff"),
    "hk-platform": ApiKey(role="platform", region="HK"),
    "sz-platform": ApiKey(role="platform", region="CN-GD-SZ"),
    "us-platform": ApiKey(role="platform", region="US"),
}


def hub_in(tmp_path, **options) -> Subscribers:
    return Subscribers(Settings(api_keys=KEYS, data_dir=tmp_path), keepalive_s=0.2, **options)


def ids(events) -> list[str]:
    return [e.data["id"] for e in events]


def test_live_events_then_resume_after_a_reconnect_and_after_a_restart(tmp_path):
    sent = [make_partnership_event() for _ in range(8)]
    # ids: 1-3 live, 4-5 missed while away, 6 live again, 7 the fresh one; 8-9 after the restart
    with Api(hub_in(tmp_path)) as api:
        reader = SseReader(api, "staff-key").started()
        api.receive(sent[:3])
        live = reader.take(3)
        assert ids(live) == [e["id"] for e in sent[:3]] and reader.retry == 3000
        assert [e.event for e in live] == ["chain.partnership.recommended"] * 3
        assert live[1].id == live[0].id + 1 and live[2].id == live[1].id + 1
        reader.close()

        api.receive(sent[3:5])  # while nobody listens
        again = SseReader(api, "staff-key", last_event_id=live[-1].id)
        api.receive(sent[5:6])
        assert ids(again.take(3)) == [e["id"] for e in sent[3:6]]
        fresh = make_partnership_event()
        api.receive(sent[3:4])  # re-delivered by the broker: not appended twice
        api.receive([fresh])
        assert ids([again.next()]) == [fresh["id"]]
        again.close()
    api.hub.close()

    with Api(hub_in(tmp_path)) as restarted:  # a new app object, the same data dir
        restarted.receive(sent[6:8])
        resumed = SseReader(restarted, "staff-key", last_event_id=live[-1].id + 4)
        after = resumed.take(2)
        assert ids(after) == [e["id"] for e in sent[6:8]]
        assert [e.id for e in after] == [live[-1].id + 5, live[-1].id + 6]  # numbers keep growing
        resumed.close()
    restarted.hub.close()


def test_keep_alives_while_idle_and_filters_by_sector_and_type(tmp_path):
    with Api(hub_in(tmp_path)) as api:
        reader = SseReader(api, "hk-platform", params={"sector": "vehicles", "type": "recommended,withdrawn"}).started()
        wanted = make_partnership_event(sectors=("vehicles",))
        api.receive([make_partnership_event(sectors=("cloud",)), wanted,
                     make_partnership_event("updated", partnership_id=wanted["data"]["id"], revision=2,
                                            sectors=("vehicles",)),
                     make_partnership_event("withdrawn", partnership_id=wanted["data"]["id"], revision=3)])
        got = reader.take(2)
        assert [(e.event, e.data["data"]["id"]) for e in got] == [
            ("chain.partnership.recommended", wanted["data"]["id"]),
            ("chain.partnership.withdrawn", wanted["data"]["id"])]
        reader.close()
        idle = SseReader(api, "hk-platform").started()
        assert [idle.next_line() for _ in range(2)] == [": keep-alive", ": keep-alive"]  # every 0.2 s here
        idle.close()
    api.hub.close()


def test_reset_first_when_the_id_is_older_than_the_window(tmp_path):
    sent = [make_partnership_event() for _ in range(9)]
    with Api(hub_in(tmp_path, retain=4)) as api:
        api.receive(sent[:2])
        first = SseReader(api, "staff-key", last_event_id=0)
        seen = first.take(2)
        first.close()
        api.receive(sent[2:9])  # five of them push the client's place out of the window
        behind = SseReader(api, "staff-key", last_event_id=seen[-1].id)
        reset = behind.next()
        assert reset.event == "reset" and reset.id is None
        assert ids(behind.take(4)) == [e["id"] for e in sent[5:9]]
        behind.close()
        current = SseReader(api, "staff-key", last_event_id=seen[-1].id + 5)
        assert current.next().event != "reset"
        current.close()
    api.hub.close()


@pytest.mark.parametrize(("key", "visible"), [
    ("hk-platform", {"chip", "application"}), ("sz-platform", {"algorithm", "application"}),
    ("us-platform", set()), ("staff-key", {"chip", "algorithm", "application"}),
])
def test_each_key_sees_the_stream_redacted_for_its_region(tmp_path, key, visible):
    event = make_partnership_event(policies={"chip": "hk_only", "algorithm": "cn_only", "application": "gba_only"})
    with Api(hub_in(tmp_path)) as api:
        api.receive([event])
        reader = SseReader(api, key, last_event_id=0)
        data = reader.next().data["data"]
        reader.close()
    api.hub.close()
    for role in ("chip", "algorithm", "application"):
        if role in visible:
            assert data[role]["name"] == event["data"][role]["name"]
        else:
            assert data[role] == {"redacted": True, "roles": [role]}
