import pytest

from chainmatch import retry
from streams import app as stream_app


class FailingTwice:
    def __init__(self):
        self.calls = 0

    async def handle(self):
        self.calls += 1
        if self.calls <= 2:
            raise ConnectionError("store down")


async def test_a_batch_that_fails_on_the_system_is_retried_until_it_goes_through(monkeypatch):
    monkeypatch.setattr(retry, "RETRY_DELAYS", (0,))
    handler = FailingTwice()
    await retry.until_done(handler.handle, "entities")
    assert handler.calls == 3


async def test_cancellation_is_not_swallowed_by_the_retry_loop(monkeypatch):
    class Cancelled:
        async def handle(self):
            import asyncio

            raise asyncio.CancelledError

    with pytest.raises(BaseException) as caught:
        await retry.until_done(Cancelled().handle, "entities")
    assert type(caught.value).__name__ == "CancelledError"


def test_the_settle_clock_waits_for_an_idle_moment_or_for_its_longest_wait():
    clock = stream_app.SettleClock(idle_s=0.5, max_wait_s=5)
    assert not clock.due(10.0, unsettled=False)
    clock.batch_done(10.0)
    assert not clock.due(10.3, unsettled=True)
    assert clock.due(10.5, unsettled=True)
    for tick in range(1, 50):  # batches keep coming every 0.1 s: no idle moment, not yet 5 s
        clock.batch_done(10.0 + tick / 10)
        assert not clock.due(10.0 + tick / 10, unsettled=True)
    clock.batch_done(15.0)
    assert clock.due(15.0, unsettled=True)
    clock.settled()
    clock.batch_done(15.1)
    assert not clock.due(15.2, unsettled=True)


def test_a_batch_still_being_handled_is_no_idle_moment():
    clock = stream_app.SettleClock(idle_s=0.5, max_wait_s=5)
    clock.batch_started()
    clock.batch_done(10.0)
    clock.batch_started()  # a slow batch: a second later it is still being handled
    assert not clock.due(11.0, unsettled=True)
    clock.batch_done(11.2)
    assert not clock.due(11.5, unsettled=True) and clock.due(11.7, unsettled=True)
    clock.settled()
    clock.batch_started()
    clock.batch_done(11.8)
    clock.batch_started()
    assert not clock.due(16.7, unsettled=True) and clock.due(16.8, unsettled=True)  # the longest wait holds
