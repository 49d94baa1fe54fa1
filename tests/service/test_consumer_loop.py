"""The view's loop under Kafka failures a real broker cannot be made to produce on demand (a
stand-in for the consumer; everything else is the service's own)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, KafkaTimeoutError, OffsetOutOfRangeError

from shop.orders.consumer import OrderViewConsumer
from shop.orders.watermarks import Watermarks
from shop.ownership import Instance, Ownership
from shop.store import OrderStore
from tests.waiting import wait_until

TP = TopicPartition("order-events", 0)


class StandIn:
    """Records every call; fails the calls named in ``failing`` as many times as given."""

    def __init__(self, failing: dict[str, int], out_of_range_at: int | None = None) -> None:
        self.failing = failing
        self.calls: list[str] = []
        self._out_of_range_at = out_of_range_at

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.failing.get(name, 0) > 0:
            self.failing[name] -= 1
            if name == "commit":
                raise CommitFailedError("the group rebalanced")
            raise KafkaTimeoutError()

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[Any, Any]:
        self._call("getmany")
        await asyncio.sleep(0.01)
        if self._out_of_range_at is not None:
            position, self._out_of_range_at = self._out_of_range_at, None
            raise OffsetOutOfRangeError({TP: position})
        return {}

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        self._call("end_offsets")
        return {tp: 5 for tp in partitions}

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self._call("seek")

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self._call("commit")

    async def position(self, tp: TopicPartition) -> int:
        return 5

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def highwater(self, tp: TopicPartition) -> int:
        return 5

    def coordination_died(self) -> None:
        return None


async def _view(stand_in: StandIn) -> OrderViewConsumer:
    view = OrderViewConsumer(
        "127.0.0.1:1",
        TP.topic,
        "group",
        OrderStore(),
        codec=None,  # type: ignore[arg-type]  # nothing is decoded here
        dead_letters=None,  # type: ignore[arg-type]
        watermarks=Watermarks(None, TP.topic),
        timeout_s=1.0,
        ownership=Ownership(Instance("http://a:1", "http://a:2"), 10.0),
    )
    await view._consumer.stop()  # never started: closing it only keeps it from warning
    view._consumer = stand_in  # type: ignore[assignment]
    view._progress._consumer = stand_in  # type: ignore[assignment]
    return view


async def _run_until(view: OrderViewConsumer, stand_in: StandIn, getmany_calls: int) -> None:
    task = asyncio.create_task(view._run())
    try:

        async def read_on() -> bool:
            assert not task.done(), task
            return stand_in.calls.count("getmany") >= getmany_calls

        await wait_until(read_on, timeout=5.0, what=f"{getmany_calls} fetches")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_kafka_error_while_handling_an_out_of_range_position_is_retried() -> None:
    """The end offsets that would tell a loss from retention time out once: the loop retries,
    it does not end (which would stop the view, and every write would answer 503)."""
    stand_in = StandIn({"end_offsets": 1}, out_of_range_at=2)
    await _run_until(await _view(stand_in), stand_in, getmany_calls=5)


async def test_a_rebuild_whose_replay_cannot_start_is_retried_before_reading_on() -> None:
    """After a loss the view is emptied and replayed from the beginning; when the seek fails,
    the next pass seeks again before it fetches: the emptied view never reads on from where the
    old one was."""
    stand_in = StandIn({"seek": 1}, out_of_range_at=50)  # past the end (5): a loss
    view = await _view(stand_in)
    await _run_until(view, stand_in, getmany_calls=4)
    first_seek = stand_in.calls.index("seek")
    assert stand_in.calls[first_seek + 1] == "seek", stand_in.calls
    assert view.loss.report() is not None


async def test_failed_commits_are_retried_a_second_later_without_holding_up_the_reading() -> None:
    """A commit that fails (a rebalance under way) is tried again a second later; meanwhile the
    loop reads on at full speed, with no back-off."""
    stand_in = StandIn({"commit": 100})
    view = await _view(stand_in)
    view._progress._applied[TP] = 5
    view._uncommitted = True
    await _run_until(view, stand_in, getmany_calls=20)
    assert stand_in.calls.count("commit") == 1
