"""The blocking facade kit (client/sync.py): a facade derived from its async
twin in a few lines, with the twin's signatures, docstrings, results and
exceptions, on the shared loop thread."""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import Any

import pytest

from rmqwire import BlockingFacade
from rmqwire.codec.errors import ClientError, RequestTimeoutError, ServiceStateError
from rmqwire.instance import ServiceState
from rmqwire.sync import _LoopThread, blocking, blocking_call


class AsyncEcho:
    """A minimal async client: what a facade needs and two methods."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = ServiceState.CREATE_JUST
        self.subscribed: list[tuple[str, str]] = []

    async def start(self) -> None:
        self.state = ServiceState.RUNNING

    async def shutdown(self) -> None:
        self.state = ServiceState.SHUTDOWN_ALREADY

    async def echo(self, value: str, *, times: int = 1, timeout: float | None = None) -> str:
        """Echo ``value`` ``times`` times."""
        await asyncio.sleep(0)
        return value * times

    async def fail(self, timeout: float | None = None) -> None:
        raise RequestTimeoutError("no response from 10.0.0.1:10911 to request code 11 within 3 s")

    def subscribe(self, topic: str, expression: str = "*") -> str:
        """Subscribe (a plain method)."""
        self.subscribed.append((topic, expression))
        return threading.current_thread().name


class Echo(BlockingFacade[AsyncEcho]):
    _kind = "echo"

    def __init__(self, name: str) -> None:
        super().__init__(AsyncEcho(name))

    echo = blocking(AsyncEcho.echo)
    fail = blocking(AsyncEcho.fail)
    subscribe = blocking_call(AsyncEcho.subscribe)


def test_a_derived_facade_has_the_twins_signatures_and_docs() -> None:
    assert inspect.signature(Echo.echo) == inspect.signature(AsyncEcho.echo)
    assert Echo.echo.__doc__ == AsyncEcho.echo.__doc__
    assert Echo.subscribe.__doc__ == AsyncEcho.subscribe.__doc__


def test_a_derived_facade_runs_the_twin_on_the_loop_thread() -> None:
    echo = Echo("e")
    assert echo.subscribe("before") == threading.current_thread().name  # not started: runs here
    with pytest.raises(ServiceStateError, match="echo service state not OK, CREATE_JUST"):
        echo.echo("x")
    with echo:
        assert echo.state is ServiceState.RUNNING
        assert echo.echo("ab", times=2) == "abab"
        assert Echo.echo(echo, "c") == "c"
        assert echo.subscribe("T", "TagA") == "rmqwire-loop"
        assert echo.core.subscribed == [("before", "*"), ("T", "TagA")]
    assert echo.state is ServiceState.SHUTDOWN_ALREADY
    echo.shutdown()  # idempotent


def test_the_twins_exceptions_come_through_unchanged() -> None:
    with Echo("e") as echo:
        with pytest.raises(RequestTimeoutError, match="no response from 10.0.0.1:10911 to request code 11 within 3 s"):
            echo.fail(timeout=0.01)


def test_a_blocking_call_from_the_loop_thread_is_refused_not_deadlocked() -> None:
    with Echo("e") as echo:
        loop = echo._loop
        assert loop is not None

        async def from_a_callback() -> Any:
            return echo.echo("x")

        future = asyncio.run_coroutine_threadsafe(from_a_callback(), loop)
        with pytest.raises(ClientError, match="own event-loop thread"):
            future.result(5.0)


def test_starting_twice_is_refused() -> None:
    with Echo("e") as echo:
        with pytest.raises(ServiceStateError, match="maybe started once"):
            echo.start()


def test_a_call_after_the_loop_closed_says_the_service_is_shut_down() -> None:
    # a call racing shutdown found the loop it read already closed
    echo = Echo("closing")
    echo._loop_thread = _LoopThread()  # its own, so that shutdown closes it
    echo.start()
    loop = echo._loop
    echo.shutdown()
    assert loop is not None and loop.is_closed()
    echo._loop = loop
    with pytest.raises(ServiceStateError, match="shut down"):
        echo.echo("x")
    echo._loop = None
