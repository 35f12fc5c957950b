"""Running asyncio servers on an event loop of their own, in a daemon thread.

No Java class (a Java broker owns its threads).  Blocking code (a plain
pytest test, the blocking ``Producer``, an interop driver) needs the
embedded cluster running while it blocks; :class:`ThreadRunner` starts a
loop in a daemon thread, runs the cluster's ``start()`` there, lets the
caller :meth:`~ThreadRunner.submit` more coroutines, and stops and joins it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..codec.errors import RequestTimeoutError, ServiceStateError

__all__ = ["ThreadRunner"]

_T = TypeVar("_T")


class ThreadRunner:
    """One event loop in one daemon thread named ``name``."""

    def __init__(self, name: str = "rmqwire-local-broker") -> None:
        self.name = name
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        return self._loop is not None

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop

    def start(self, starter: Callable[[], Coroutine[Any, Any, Any]], timeout: float = 10.0) -> None:
        """Start the thread and its loop, then run ``starter()`` on it and
        wait for it; if that fails, the thread is ended and the error raised.
        :class:`~codec.errors.ServiceStateError` if already running."""
        if self._thread is not None:
            raise ServiceStateError(f"{self.name} already runs in a thread")
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_forever()
            finally:
                loop.close()

        thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread, self._loop = thread, loop
        thread.start()
        try:
            self._wait(asyncio.run_coroutine_threadsafe(starter(), loop), timeout, "start")
        except BaseException:
            self._end(timeout)
            raise

    def stop(self, stopper: Callable[[], Coroutine[Any, Any, Any]], timeout: float = 10.0) -> None:
        """Run ``stopper()`` on the loop, then stop the loop and join the
        thread; does nothing when not running."""
        loop = self._loop
        if loop is None:
            return
        try:
            if not loop.is_closed():
                self._wait(asyncio.run_coroutine_threadsafe(stopper(), loop), timeout, "stop")
        finally:
            self._end(timeout)

    def submit(self, coro: Coroutine[Any, Any, _T], timeout: float = 10.0) -> _T:
        """Run ``coro`` on the loop and wait for its result (its exception is
        raised here).  :class:`~codec.errors.ServiceStateError` when not
        running; :class:`~codec.errors.RequestTimeoutError` (the coroutine
        is cancelled) after ``timeout`` seconds."""
        loop = self._loop
        if loop is None or loop.is_closed():
            coro.close()
            raise ServiceStateError("submit() needs a broker started with start_in_thread()")
        return self._wait(asyncio.run_coroutine_threadsafe(coro, loop), timeout, "submitted coroutine")

    @staticmethod
    def _wait(future: concurrent.futures.Future[_T], timeout: float, what: str) -> _T:
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            if not future.done():
                future.cancel()
                raise RequestTimeoutError(f"the broker thread's {what} did not finish within {timeout:g} s") from None
            raise  # the coroutine itself raised a TimeoutError

    def _end(self, timeout: float) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed between the check and the call
                loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout)
