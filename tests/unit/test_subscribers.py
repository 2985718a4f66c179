"""The subscribers' core without a network: SSRF guard, signing, backoff, redaction, window, registry."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from builders import make_partnership_event

from api.auth import Caller
from subscribers import signing
from subscribers.backoff import parse_retry_after, retry_delay
from subscribers.database import Database
from subscribers.events import EventFilter, redact_event
from subscribers.registry import Outcome, Registry, key_owner
from subscribers.ssrf import UnsafeUrl, check_addresses, is_public, resolve_public, target
from subscribers.window import EventWindow

NOT_PUBLIC = ["127.0.0.1", "10.0.0.8", "172.16.3.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
              "224.0.0.1", "240.0.0.1", "255.255.255.255", "192.0.2.10", "::1", "::", "fe80::1", "fc00::5",
              "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:7f00:1::", "64:ff9b::a00:1", "2001:db8::1"]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_the_guard_refuses_every_address_that_is_not_public(address):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_the_guard_lets_public_addresses_through(address):
    assert is_public(ipaddress.ip_address(address))


def test_one_private_address_among_public_ones_is_enough_to_refuse():
    with pytest.raises(UnsafeUrl, match="10.0.0.1"):
        check_addresses("h.example", ["8.8.8.8", "10.0.0.1"], allow_private=False)
    assert check_addresses("h.example", ["8.8.8.8", "10.0.0.1"], allow_private=True) == ["8.8.8.8", "10.0.0.1"]


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "example.com/hook", "http:///x",
                                 "http://user:pw@example.com/", "http://example.com:99999/"])
def test_only_http_urls_with_a_host_are_accepted(url):
    with pytest.raises(UnsafeUrl):
        target(url)


async def test_names_are_resolved_and_literals_checked_as_they_are():
    def resolver(host, port):
        return {"public.example": ["93.184.216.34"], "rebound.example": ["127.0.0.1"]}[host]

    assert await resolve_public("https://public.example/h", allow_private=False, resolver=resolver) == [
        "93.184.216.34"]
    for url in ("https://rebound.example/h", "http://127.0.0.1:8080/", "http://[::1]/", "http://localhost/"):
        with pytest.raises(UnsafeUrl):
            await resolve_public(url, allow_private=False,
                                 resolver=resolver if "example" in url else lambda h, p: ["127.0.0.1"])


def verify_standard_webhook(secret: str, headers: dict[str, str], body: bytes, *, tolerance_s: int = 300) -> bool:
    """Written from the Standard Webhooks spec alone: sign "{id}.{timestamp}.{body}" with HMAC-SHA256 under
    the base64-decoded secret after "whsec_"; the header holds space-separated "v1,<base64>" entries."""
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(int(datetime.now(UTC).timestamp()) - int(timestamp)) > tolerance_s:
        return False
    key = base64.b64decode(secret.split("_", 1)[1])
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest())
    return any(version == "v1" and hmac.compare_digest(sig.encode(), expected)
               for version, _, sig in (entry.partition(",") for entry in headers["webhook-signature"].split()))


def test_signatures_verify_by_the_spec_and_fail_when_anything_changes():
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    now = int(datetime.now(UTC).timestamp())
    headers = signing.headers(secret=secret, msg_id="evt-1", timestamp=now, body=b'{"a":1}')
    assert verify_standard_webhook(secret, headers, b'{"a":1}')
    assert not verify_standard_webhook(secret, headers, b'{"a":2}')
    assert not verify_standard_webhook(signing.new_secret(), headers, b'{"a":1}')
    assert not verify_standard_webhook(secret, {**headers, "webhook-id": "evt-2"}, b'{"a":1}')


def test_retry_after_in_seconds_or_as_a_date_and_the_schedule_with_jitter():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120", now=now) == 120
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90
    assert parse_retry_after("soon", now=now) is None and parse_retry_after(None, now=now) is None
    rng = random.Random(7)
    schedule = (5, 300)
    assert 5 <= retry_delay(attempts=1, schedule=schedule, retry_after=None, rng=rng) <= 5.5
    assert 300 <= retry_delay(attempts=2, schedule=schedule, retry_after=None, rng=rng) <= 330
    assert retry_delay(attempts=3, schedule=schedule, retry_after=None, rng=rng) is None
    assert retry_delay(attempts=1, schedule=schedule, retry_after=60, rng=rng) == 60


POLICIES = {"chip": "hk_only", "algorithm": "cn_only", "application": "gba_only"}


@pytest.mark.parametrize(("region", "visible"), [
    ("HK", {"chip", "application"}), ("CN-GD-SZ", {"algorithm", "application"}), ("US", set()),
])
def test_events_are_redacted_per_key_region_like_the_api(region, visible):
    event = make_partnership_event(policies=POLICIES)
    shown = redact_event(event, Caller(role="platform", name=None, entity_id=None, region=region))["data"]
    for role in POLICIES:
        if role in visible:
            assert shown[role]["id"] == event["data"][role]["id"]
        else:
            assert shown[role] == {"redacted": True, "roles": [role]}
    assert event["data"]["chip"]["name"]  # the input is left as it was
    staff = Caller(role="staff", name=None, entity_id=None, region=None)
    assert redact_event(event, staff) == event
    withdrawn = make_partnership_event("withdrawn")
    assert redact_event(withdrawn, Caller(role="platform", name=None, entity_id=None, region="US")) == withdrawn


def test_a_member_without_a_policy_is_redacted_for_all_but_unrestricted_staff():
    event = make_partnership_event()
    del event["data"]["chip"]["data_policy"]
    us = Caller(role="platform", name=None, entity_id=None, region="US")
    assert redact_event(event, us)["data"]["chip"] == {"redacted": True, "roles": ["chip"]}


def test_filters_by_type_and_sector_and_an_unknown_sector_matches():
    only = EventFilter.of(sectors=["healthcare"], types=["withdrawn"])
    assert only.matches("chain.partnership.withdrawn", ["healthcare", "cloud"])
    assert only.matches("chain.partnership.withdrawn", None)
    assert not only.matches("chain.partnership.withdrawn", ["cloud"])
    assert not only.matches("chain.partnership.recommended", ["healthcare"])
    assert EventFilter().matches("chain.partnership.decided", [])


def test_the_window_numbers_events_once_prunes_and_keeps_growing_after_a_reopen(tmp_path):
    window = EventWindow(Database(tmp_path / "s.db"), retain=3)
    events = [make_partnership_event() for _ in range(5)]
    assert window.append(events[:2], {("t", 0): 2}) == 2
    assert window.append(events[:2]) == 0  # re-delivered: same ids, nothing new
    assert window.append(events[2:], {("t", 0): 5}) == 3
    assert window.bounds() == (3, 5)
    assert [e.event["id"] for e in window.after(2)] == [e["id"] for e in events[2:]]
    reopened = EventWindow(Database(tmp_path / "s.db"), retain=3)
    assert reopened.offsets() == {("t", 0): 5}
    reopened.append([make_partnership_event()])
    assert reopened.bounds() == (4, 6)


def test_a_withdrawal_gets_the_sectors_its_partnership_was_seen_in(tmp_path):
    window = EventWindow(Database(tmp_path / "s.db"))
    recommended = make_partnership_event(sectors=("vehicles",))
    withdrawn = make_partnership_event("withdrawn", partnership_id=recommended["data"]["id"], revision=2)
    window.append([recommended, withdrawn, make_partnership_event("withdrawn")])
    assert [e.sectors for e in window.after(0)] == [["vehicles"], ["vehicles"], None]


def test_deliveries_retry_then_the_tenth_failure_in_a_row_disables(tmp_path):
    clock = [1000.0]
    registry = Registry(Database(tmp_path / "s.db"), clock=lambda: clock[0])
    sub = registry.create(owner=key_owner("k"), url="https://h.example/", filter=EventFilter())
    assert registry.enqueue([(sub.id, f"e{i}", "chain.partnership.updated", b"{}") for i in range(12)]) == 12
    for _ in range(5):
        [(delivery, _)] = registry.claim_due(live_owners={sub.owner}, busy=(), limit=10)
        [(other, _)] = registry.claim_due(live_owners={sub.owner}, busy=(), limit=10)
        assert other.id != delivery.id  # a claimed delivery is leased: never claimed twice at once
        registry.finish(other, Outcome(delivered=False, status_code=500, retry_in=1.0))
        registry.finish(delivery, Outcome(delivered=False, status_code=500, retry_in=1.0))
        clock[0] += 0.5
    disabled = registry.get(sub.id)
    assert disabled.status == "disabled" and "10 failed attempts in a row" in disabled.disabled_reason
    assert registry.claim_due(live_owners={sub.owner}, busy=(), limit=10) == []


def test_a_410_disables_at_once_and_a_success_resets_the_count(tmp_path):
    registry = Registry(Database(tmp_path / "s.db"))
    sub = registry.create(owner="o", url="https://h.example/", filter=EventFilter())
    registry.enqueue([(sub.id, "e1", "t", b"{}"), (sub.id, "e2", "t", b"{}")])
    [(first, _)] = registry.claim_due(live_owners={"o"}, busy=(), limit=5)
    registry.finish(first, Outcome(delivered=False, status_code=500, retry_in=0.0))
    assert registry.get(sub.id).failures_in_row == 1
    [(second, _)] = registry.claim_due(live_owners={"o"}, busy=(), limit=5)
    registry.finish(second, Outcome(delivered=True, status_code=204))
    assert registry.get(sub.id).failures_in_row == 0
    [(third, _)] = registry.claim_due(live_owners={"o"}, busy=(), limit=5)
    registry.finish(third, Outcome(delivered=False, status_code=410, gone=True))
    assert registry.get(sub.id).status == "disabled" and "410" in registry.get(sub.id).disabled_reason


def test_subscriptions_of_a_removed_key_are_disabled_and_never_claimed(tmp_path):
    registry = Registry(Database(tmp_path / "s.db"))
    kept = registry.create(owner="kept", url="https://h.example/", filter=EventFilter())
    gone = registry.create(owner="gone", url="https://h.example/", filter=EventFilter())
    registry.enqueue([(kept.id, "e1", "t", b"{}"), (gone.id, "e1", "t", b"{}")])
    assert [s.id for _, s in registry.claim_due(live_owners={"kept"}, busy=(), limit=5)] == [kept.id]
    assert registry.disable_orphans({"kept"}) == 1
    assert registry.get(gone.id).status == "disabled"


async def test_a_stream_sends_reset_when_the_id_is_older_than_the_window(tmp_path):
    from subscribers.sse import stream

    window = EventWindow(Database(tmp_path / "s.db"), retain=2)
    window.append([make_partnership_event() for _ in range(4)])
    staff = Caller(role="staff", name=None, entity_id=None, region=None)
    frames = stream(window, viewer=staff, filter=EventFilter(), last_event_id=1, keepalive_s=0.05)
    got = [await anext(frames) for _ in range(5)]
    assert got[0].startswith("retry: ") and got[1].startswith("event: reset")
    assert [f.split("\n")[0] for f in got[2:4]] == ["id: 3", "id: 4"]
    assert got[4] == ": keep-alive\n\n"
    await frames.aclose()
    current = stream(window, viewer=staff, filter=EventFilter(), last_event_id=3, keepalive_s=5)
    assert (await anext(current)).startswith("retry:") and (await anext(current)).startswith("id: 4")
    await asyncio.wait_for(current.aclose(), 1)
