"""Helpers shared by the consumer tests: a LocalBroker per test, a listener
that records what arrives and wakes waiters, bounded waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from rmqwire import AsyncProducer, AsyncPushConsumer, ConsumeFromWhere, ConsumeStatus, Message, MessageExt
from rmqwire.testing import LocalBroker

T = TypeVar("T")


def run(factory: Callable[[LocalBroker], Awaitable[T]], **broker_kwargs: Any) -> T:
    """Run ``factory(broker)`` on a fresh loop with a started LocalBroker."""

    async def main() -> T:
        broker_kwargs.setdefault("delay_scale", 0.01)  # a retry at level 3 comes 0.1 s later
        async with LocalBroker(**broker_kwargs) as broker:
            return await asyncio.wait_for(factory(broker), 60)

    return asyncio.run(main())


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait (polling every 10 ms) until ``predicate`` holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


class Collector:
    """An async listener that records every message it is given."""

    def __init__(self, answer: Callable[[MessageExt], ConsumeStatus] | None = None) -> None:
        self.msgs: list[MessageExt] = []
        self.answer = answer
        self._changed = asyncio.Event()

    async def __call__(self, msgs: list[MessageExt]) -> ConsumeStatus:
        self.msgs.extend(msgs)
        self._changed.set()
        if self.answer is not None:
            for msg in msgs:
                status = self.answer(msg)
                if status is not ConsumeStatus.CONSUME_SUCCESS:
                    return status
        return ConsumeStatus.CONSUME_SUCCESS

    def bodies(self) -> list[bytes]:
        return [m.body for m in self.msgs]

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[MessageExt]:
        """Wait until at least ``count`` messages arrived."""
        await eventually(lambda: len(self.msgs) >= count, timeout)
        return self.msgs


def consumer_for(broker: LocalBroker, group: str = "cg", topic: str = "T", expression: str = "*",
                 listener: Any = None, **kwargs: Any) -> AsyncPushConsumer:
    """A subscribed AsyncPushConsumer on ``broker`` starting from the first offset."""
    kwargs.setdefault("consume_from_where", ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET)
    consumer = AsyncPushConsumer(group, namesrv_addr=broker.namesrv_addr, **kwargs)
    consumer.subscribe(topic, expression)
    if listener is not None:
        consumer.register_listener(listener)
    return consumer


async def produce(broker: LocalBroker, messages: list[Message], group: str = "pg") -> list[str]:
    """Send ``messages``; their msg ids."""
    async with AsyncProducer(group, namesrv_addr=broker.namesrv_addr) as producer:
        return [(await producer.send(m)).msg_id for m in messages]
