import pytest

from streams import app as stream_app


class FailingTwice:
    def __init__(self):
        self.calls = 0

    async def handle(self, batch):
        self.calls += 1
        if self.calls <= 2:
            raise ConnectionError("store down")


async def test_a_batch_that_fails_on_the_system_is_retried_until_it_goes_through(monkeypatch):
    monkeypatch.setattr(stream_app, "RETRY_DELAYS", (0,))
    handler = FailingTwice()
    await stream_app.handle_until_done(handler, ["record"], "entities")
    assert handler.calls == 3


async def test_cancellation_is_not_swallowed_by_the_retry_loop(monkeypatch):
    class Cancelled:
        async def handle(self, batch):
            import asyncio

            raise asyncio.CancelledError

    with pytest.raises(BaseException) as caught:
        await stream_app.handle_until_done(Cancelled(), [], "entities")
    assert type(caught.value).__name__ == "CancelledError"
