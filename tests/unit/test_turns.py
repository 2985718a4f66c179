from __future__ import annotations

import asyncio

import pytest

from api.turns import Turns


def recording(events: list[str], name: str):
    def work() -> str:
        events.append(name)
        # What the loop does between turns (reading requests, writing answers) comes before the next turn.
        asyncio.get_running_loop().call_soon(events.append, f"loop after {name}")
        return name

    return work


async def test_turns_run_in_arrival_order_with_the_loop_running_between_them():
    turns, events = Turns(), []
    results = await asyncio.gather(*(turns.take(recording(events, name)) for name in "abc"))
    assert results == ["a", "b", "c"]
    assert events == ["a", "loop after a", "b", "loop after b", "c", "loop after c"]


async def test_a_failing_turn_raises_to_its_caller_and_frees_the_next():
    turns = Turns()

    def fail() -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        await turns.take(fail)
    assert await turns.take(lambda: 1) == 1


def test_each_event_loop_gets_turns_of_its_own():
    turns = Turns()

    async def two_at_once() -> list[int]:  # the second waits, which ties a lock to its loop
        return await asyncio.gather(turns.take(lambda: 1), turns.take(lambda: 2))

    assert asyncio.run(two_at_once()) == [1, 2]
    assert asyncio.run(two_at_once()) == [1, 2]
