"""Shutdown finishes within a bound, and no helper loses a cancel.

Regression: ``PushConsumer.shutdown()`` right after ``start()`` against an
unreachable name server could hang for ever on Python 3.11, because
``asyncio.wait_for`` (connect) swallowed the cancel of the rebalance service
when the connect failed in the same loop turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from rmqwire import ConsumeStatus, PushConsumer
from rmqwire.aiotools import stop_tasks, wait_for
from rmqwire.codec.errors import ServiceStateError
from rmqwire.instance import ClientConfig, ClientInstance


def test_wait_for_keeps_a_cancel_that_comes_as_the_operation_finishes() -> None:
    async def scenario() -> None:
        inner: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        waiter = asyncio.ensure_future(wait_for(inner, 10.0))
        await asyncio.sleep(0)  # waiter now waits on inner
        inner.set_result(1)
        waiter.cancel()  # same loop turn: asyncio.wait_for < 3.12 would return 1
        with pytest.raises(asyncio.CancelledError):
            await waiter

    asyncio.run(scenario())


def test_wait_for_times_out_and_discards_a_late_result_when_cancelled() -> None:
    async def scenario() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await wait_for(asyncio.Event().wait(), 0.01)
        assert await wait_for(asyncio.sleep(0, "x"), 1.0) == "x"
        discarded: list[str] = []
        inner: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        waiter = asyncio.ensure_future(wait_for(inner, 10.0, discard=discarded.append))
        await asyncio.sleep(0)
        inner.set_result("conn")
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert discarded == ["conn"]

    asyncio.run(scenario())


async def _swallow_cancels(times: int, release: asyncio.Event) -> None:
    swallowed = 0
    while True:
        try:
            await release.wait()
            return
        except asyncio.CancelledError:
            swallowed += 1
            if swallowed > times:
                raise


def test_stop_tasks_recancels_a_task_that_swallows_one_cancel(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        release = asyncio.Event()
        task = asyncio.create_task(_swallow_cancels(1, release), name="stubborn")
        await asyncio.sleep(0)
        with caplog.at_level(logging.ERROR, "rmqwire.aiotools"):
            left = await stop_tasks([task], 0.05, "test")
        assert left == [] and task.cancelled()
        assert "stubborn did not stop" in caplog.text and "cancelling it again" in caplog.text

    asyncio.run(scenario())


def test_stop_tasks_leaves_behind_a_task_that_refuses_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        release = asyncio.Event()
        task = asyncio.create_task(_swallow_cancels(10, release), name="refuser")
        await asyncio.sleep(0)
        with caplog.at_level(logging.ERROR, "rmqwire.aiotools"):
            left = await stop_tasks([task], 0.02, "test")
        assert left == [task] and not task.done()
        assert "leaving it behind" in caplog.text
        release.set()
        await task

    asyncio.run(scenario())


def test_instance_shutdown_is_bounded_when_a_service_task_swallows_a_cancel() -> None:
    async def scenario() -> None:
        instance = ClientInstance(ClientConfig("127.0.0.1@stubborn", ("127.0.0.1:1",), None, "nsaddr"))
        instance.task_stop_timeout = 0.05
        await instance.start()
        release = asyncio.Event()
        instance._spawn(_swallow_cancels(1, release), "stubborn")
        await asyncio.sleep(0)
        await asyncio.wait_for(instance.shutdown(), 5.0)  # the test's own bound, not the fix

    asyncio.run(scenario())


def test_push_consumer_start_then_shutdown_with_unreachable_namesrv_never_hangs() -> None:
    for i in range(20):
        consumer = PushConsumer(
            f"g-unreachable-{i}",
            namesrv_addr="127.0.0.1:1",
            rebalance_interval=0.01,
            heartbeat_interval=0.01,
            poll_name_server_interval=0.01,
            persist_consumer_offset_interval=0.01,
        )
        consumer.shutdown_timeout = 30.0  # a regression fails here instead of hanging the suite
        consumer.subscribe("T", "*")
        consumer.register_listener(lambda msgs: ConsumeStatus.CONSUME_SUCCESS)
        consumer.start()
        time.sleep(i * 0.0005)  # sweep the moment shutdown lands against the failing connects
        try:
            consumer.shutdown()
        except ServiceStateError as exc:  # pragma: no cover - the regression
            pytest.fail(str(exc))


def test_blocking_shutdown_gives_up_after_its_bound_and_says_what_did_not_stop() -> None:
    from rmqwire.instance import ServiceState
    from rmqwire.sync import BlockingFacade

    class WedgedCore:
        state = ServiceState.CREATE_JUST

        async def start(self) -> None:
            self.state = ServiceState.RUNNING

        async def shutdown(self) -> None:
            await self.wait_for_ever()

        async def wait_for_ever(self) -> None:
            await asyncio.Event().wait()

    facade: BlockingFacade[Any] = BlockingFacade(WedgedCore())
    facade.shutdown_timeout = 0.2
    facade.start()
    with pytest.raises(ServiceStateError, match=r"shutdown did not stop: .*within 0.2 s, waiting in .*wait_for_ever"):
        facade.shutdown()
    assert facade.state is ServiceState.RUNNING  # nothing pretends it stopped
    facade.shutdown()  # released: a second call is a no-op
