"""The view's loop under Kafka failures a real broker cannot be made to produce on demand (a
stand-in for the consumer; everything else is the service's own)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, KafkaTimeoutError, OffsetOutOfRangeError

from shop.orders import rebalance
from shop.orders.consumer import COMMIT_INTERVAL_S, OrderViewConsumer
from shop.orders.watermarks import Watermarks
from shop.ownership import Instance, Ownership
from shop.store import OrderStore
from tests.waiting import wait_until

TP = TopicPartition("order-events", 0)


class StandIn:
    """Records every call and when; fails the calls named in ``failing`` as many times as given.
    With ``out_of_range_at``, fetches fail as out of range until a seek succeeds, as aiokafka's
    do."""

    def __init__(self, failing: dict[str, int], out_of_range_at: int | None = None) -> None:
        self.failing = failing
        self.calls: list[str] = []
        self.times: list[float] = []
        self.assigned = {TP}
        self.on_end_offsets: Callable[[], None] = lambda: None
        self.on_commit: Callable[[], None] = lambda: None
        self._out_of_range_at = out_of_range_at
        # What the group committed, told once ``answering`` is set.
        self.committed_offset = 0
        self.ends_asked: list[list[int]] = []
        self.answering = asyncio.Event()
        self.answering.set()

    def _call(self, name: str) -> None:
        self.calls.append(name)
        self.times.append(asyncio.get_running_loop().time())
        if self.failing.get(name, 0) > 0:
            self.failing[name] -= 1
            if name == "commit":
                raise CommitFailedError("the group rebalanced")
            raise KafkaTimeoutError()

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[Any, Any]:
        self._call("getmany")
        await asyncio.sleep(0.01)
        if self._out_of_range_at is not None:
            self._call("out_of_range")
            raise OffsetOutOfRangeError({TP: self._out_of_range_at})
        return {}

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        self._call("end_offsets")
        self.ends_asked.append(sorted(tp.partition for tp in partitions))
        self.on_end_offsets()
        return {tp: 5 for tp in partitions}

    async def committed(self, tp: TopicPartition) -> int:
        self._call("committed")
        await self.answering.wait()
        return self.committed_offset

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self._call("seek")
        self._out_of_range_at = None

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.on_commit()
        self._call("commit")

    async def position(self, tp: TopicPartition) -> int:
        return 5

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

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
    view._rebalance._consumer = stand_in  # type: ignore[assignment]
    return view


async def _run_until(view: OrderViewConsumer, until: Callable[[], bool], what: str) -> None:
    """Run the view's loop until ``until()``; it must not end meanwhile."""
    task = asyncio.create_task(view._run())
    try:
        await _until(task, until, what)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _until(task: asyncio.Task[None], until: Callable[[], bool], what: str) -> None:
    async def reached() -> bool:
        assert not task.done(), task
        return until()

    await wait_until(reached, timeout=10.0, what=what)


def _fetches(stand_in: StandIn, count: int) -> Callable[[], bool]:
    start = stand_in.calls.count("getmany")
    return lambda: stand_in.calls.count("getmany") >= start + count


async def test_a_kafka_error_while_handling_an_out_of_range_position_is_retried() -> None:
    """The end offsets that would tell a loss from retention time out once: the loop retries,
    it does not end (which would stop the view, and every write would answer 503), and reads on
    from the log's start (retention, not a loss)."""
    stand_in = StandIn({"end_offsets": 1}, out_of_range_at=2)
    view = await _view(stand_in)
    await _run_until(view, lambda: "seek" in stand_in.calls, "the seek to the log's start")
    assert stand_in.calls.count("end_offsets") == 2
    assert view.loss.report() is None


async def test_a_rebuild_whose_replay_cannot_start_is_retried_before_reading_on() -> None:
    """After a loss the view is emptied and replayed from the beginning; when the seek fails,
    the next pass seeks again before it fetches: the emptied view never reads on from where the
    old one was."""
    stand_in = StandIn({"seek": 1}, out_of_range_at=50)  # past the end (5): a loss
    view = await _view(stand_in)
    await _run_until(view, lambda: view.caught_up.is_set(), "the rebuild")
    first_seek = stand_in.calls.index("seek")
    assert stand_in.calls[first_seek + 1] == "seek", stand_in.calls
    assert view.loss.report() is not None


async def test_a_rebuild_pending_on_no_partitions_waits_for_the_next_assignment() -> None:
    """A rebuild's replay failed and the consumer lost its partitions (a rejoin): the view does
    not declare the rebuild done on nothing; it replays once partitions are assigned again."""
    stand_in = StandIn({"seek": 1}, out_of_range_at=50)
    view = await _view(stand_in)
    task = asyncio.create_task(view._run())
    try:
        await _until(task, lambda: "seek" in stand_in.calls, "the failed seek")
        stand_in.assigned = set()
        await _until(task, _fetches(stand_in, 5), "fetches with no partitions")
        assert view._replaying_all and not view.caught_up.is_set()
        stand_in.assigned = {TP}
        await _until(task, view.caught_up.is_set, "the replay")
        assert not view._replaying_all
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_failed_commits_are_retried_a_second_later_without_holding_up_the_reading() -> None:
    """A commit that fails (a rebalance under way) is tried again a second later; meanwhile the
    loop reads on, with no back-off between its fetches."""
    stand_in = StandIn({"commit": 100})
    view = await _view(stand_in)
    view._progress._applied[TP] = 5
    view._uncommitted = True
    await _run_until(view, lambda: stand_in.calls.count("commit") >= 2, "2 commits")
    first, second = (i for i, name in enumerate(stand_in.calls) if name == "commit")
    assert stand_in.times[second] - stand_in.times[first] >= 0.9 * COMMIT_INTERVAL_S
    assert stand_in.calls[first:second].count("getmany") >= 5


async def test_a_stop_as_a_commit_fails_stops_the_loop() -> None:
    """The view's task cancelled just as a commit ends (here in failure) stops: the cancellation
    is not lost in the commit's timeout (asyncio.wait_for loses it on 3.11)."""
    stand_in = StandIn({"commit": 1})
    view = await _view(stand_in)
    view._progress._applied[TP] = 5
    view._uncommitted = True
    loop = asyncio.create_task(view._run())
    stand_in.on_commit = loop.cancel
    done, _ = await asyncio.wait({loop}, timeout=10.0)
    assert done, "the loop went on after it was cancelled"
    assert loop.cancelled()


async def test_a_replay_overtaken_by_an_assignment_does_not_set_its_stale_targets() -> None:
    """The group's listener runs beside the loop: partitions assigned while a rebuild's replay
    awaits its end offsets make that replay stale. It sets no targets (the assignment replays on
    its own) and is tried again on the partitions assigned now."""
    stand_in = StandIn({}, out_of_range_at=50)
    view = await _view(stand_in)

    def assigned_meanwhile() -> None:
        if stand_in.calls.count("end_offsets") == 2:  # the rebuild's replay (1: the loss check)
            view._progress.restart({TP})

    stand_in.on_end_offsets = assigned_meanwhile
    await _run_until(view, view.caught_up.is_set, "the replay")
    assert stand_in.calls.count("seek") == 2  # the stale replay's, and its retry's
    assert not view._replaying_all


async def _during_an_assignment(
    stand_in: StandIn, committed: int
) -> tuple[OrderViewConsumer, asyncio.Task[None], asyncio.Task[None]]:
    """The view's loop running while an assignment of ``TP`` checks what the group committed
    (``committed``): held there until the loop has fetched once."""
    stand_in.committed_offset = committed
    stand_in.answering.clear()
    view = await _view(stand_in)
    assigning = asyncio.create_task(view._rebalance.on_partitions_assigned({TP}))
    loop = asyncio.create_task(view._run())
    # Raised, handled and waiting for the assignment in one step of the loop's task.
    await _until(loop, lambda: "out_of_range" in stand_in.calls, "a fetch out of range")
    assert view._rebalance.assigning
    stand_in.answering.set()
    await assigning
    return view, loop, assigning


async def test_a_committed_offset_past_the_end_is_reported_once_by_the_assignment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """aiokafka fetches from the committed offset while the assignment checks it: that fetch's
    out-of-range error is left to the check, which reports the loss; the loop does not again."""
    monkeypatch.setattr(rebalance, "END_SETTLE_S", 0.2)  # how long an end may trail (3 s)
    stand_in = StandIn({}, out_of_range_at=7)
    view, loop, _ = await _during_an_assignment(stand_in, committed=7)
    try:
        await _until(loop, _fetches(stand_in, 2), "fetches after the assignment")
        assert view.loss.detected == 1
        assert "ends at offset 5, below the 7" in view.loss.last_reason
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)


async def test_a_position_the_assignment_did_not_check_is_the_loops_to_report() -> None:
    """An out-of-range position other than the committed offset the assignment checked (one the
    view reached) is still a loss the loop reports, once the assignment is done."""
    stand_in = StandIn({}, out_of_range_at=9)
    view, loop, _ = await _during_an_assignment(stand_in, committed=3)
    try:
        await _until(loop, lambda: view.loss.detected == 1, "the loop's report")
        assert "position order-events-0@9 (end 5)" in view.loss.last_reason
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)


async def test_an_assignment_waits_for_every_shortened_partition_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """aiokafka sends no heartbeat while the assignment's check runs: the ends of partitions
    found below what was reached are waited for together, not one after another (which, a few
    seconds each, would outlast the session timeout and evict the member)."""
    monkeypatch.setattr(rebalance, "END_SETTLE_S", 0.5)
    stand_in = StandIn({})
    stand_in.assigned = {TopicPartition(TP.topic, p) for p in range(3)}
    stand_in.committed_offset = 7  # each log ends at 5
    view = await _view(stand_in)
    await view._rebalance.on_partitions_assigned(stand_in.assigned)
    assert view.loss.detected == 3
    each = [asked for asked in stand_in.ends_asked if len(asked) == 1]
    assert sorted(partition for [partition] in each[:3]) == [0, 1, 2]
