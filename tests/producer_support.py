"""Helpers shared by the producer tests: a LocalBroker per test on a fresh
event loop, polling without long sleeps, and counting open sockets."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from rmqwire import AsyncProducer
from rmqwire.testing import LocalBroker

T = TypeVar("T")


def run(factory: Callable[[LocalBroker], Awaitable[T]], **broker_kwargs: Any) -> T:
    """Run ``factory(broker)`` on a fresh loop with a started LocalBroker."""

    async def main() -> T:
        async with LocalBroker(**broker_kwargs) as broker:
            return await factory(broker)

    return asyncio.run(main())


def producer_for(broker: LocalBroker, group: str = "test-group", **kwargs: Any) -> AsyncProducer:
    """An AsyncProducer pointed at ``broker``'s name server."""
    return AsyncProducer(group, namesrv_addr=broker.namesrv_addr, **kwargs)


async def eventually(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll ``predicate`` every 10 ms until it holds or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


def open_sockets() -> int:
    """How many of this process's file descriptors are sockets."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:  # closed meanwhile (the listing's own fd)
            pass
    return count


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts sockets through /proc/self/fd")
