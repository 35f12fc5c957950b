"""``Producer``: the blocking facade over :class:`~client.producer.AsyncProducer`.

For scripts and threads that do not run an event loop.  The async core runs
on a private event-loop thread shared by every blocking producer of the
process (so producers with the same client id share one client instance, as
in Java); the thread starts with the first producer and stops when the last
one shuts down, so nothing is left running afterwards.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from types import TracebackType
from typing import Any, TypeVar

from .codec.errors import RequestTimeoutError, ServiceStateError

from .instance import ServiceState
from .producer import AsyncProducer, Message, MessageQueue, SendResult

__all__ = ["Producer"]

T = TypeVar("T")


class _LoopThread:
    """A reference-counted event loop running in a daemon thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def acquire(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=run, name="rmqwire-loop", daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            self._users += 1
            return self._loop

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0 or self._loop is None:
                return
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        assert thread is not None
        thread.join()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


_LOOP = _LoopThread()


class Producer:
    """A blocking RocketMQ producer; same options as :class:`AsyncProducer`.

    ::

        with Producer("my-group", namesrv_addr="127.0.0.1:9876") as producer:
            result = producer.send(Message("TopicTest", b"hello"))
    """

    def __init__(self, group: str, **options: Any) -> None:
        self._async = AsyncProducer(group, **options)
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncProducer", "Producer", 1)

    @property
    def state(self) -> ServiceState:
        """The service state (CREATE_JUST, RUNNING, SHUTDOWN_ALREADY, START_FAILED)."""
        return self._async.state

    @property
    def group(self) -> str:
        return self._async.group

    @property
    def client_id(self) -> str:
        return self._async.client_id

    @property
    def async_producer(self) -> AsyncProducer:
        """The async core (for inspection; call it only from its own loop)."""
        return self._async

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if self._loop is None:
            coro.close()
            raise ServiceStateError(f"The producer service state not OK, {self._async.state.value}")
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            # the async core enforces its own timeouts; this is only a backstop
            return future.result(None if timeout is None else timeout + 5.0)
        except FutureTimeoutError:
            future.cancel()
            raise RequestTimeoutError("the producer's event loop did not answer in time") from None

    def start(self) -> None:
        """Start the producer (see :meth:`AsyncProducer.start`)."""
        if self._loop is not None:
            raise ServiceStateError(f"The producer service state not OK, maybe started once, {self._async.state.value}")
        self._loop = _LOOP.acquire()
        try:
            self._run(self._async.start())
        except BaseException:
            loop, self._loop = self._loop, None
            if loop is not None:
                _LOOP.release()
            raise

    def send(self, msg: Message, *, queue: MessageQueue | None = None, timeout: float | None = None) -> SendResult:
        """Send and wait for the result (see :meth:`AsyncProducer.send`)."""
        return self._run(self._async.send(msg, queue=queue, timeout=timeout), timeout or self._async._opts.send_timeout)

    def send_oneway(self, msg: Message, *, queue: MessageQueue | None = None) -> None:
        """Send without waiting for an answer (see :meth:`AsyncProducer.send_oneway`)."""
        self._run(self._async.send_oneway(msg, queue=queue), self._async._opts.send_timeout)

    def send_batch(self, messages: Sequence[Message], *, queue: MessageQueue | None = None, timeout: float | None = None) -> SendResult:
        """Send a batch (see :meth:`AsyncProducer.send_batch`)."""
        return self._run(self._async.send_batch(messages, queue=queue, timeout=timeout), timeout or self._async._opts.send_timeout)

    def fetch_publish_queues(self, topic: str) -> list[MessageQueue]:
        """The queues of ``topic`` (for orderly sends with ``queue=``)."""
        return self._run(self._async.fetch_publish_queues(topic))

    def shutdown(self) -> None:
        """Unregister and release everything; idempotent."""
        if self._loop is None:
            return
        try:
            self._run(self._async.shutdown())
        finally:
            self._loop = None
            _LOOP.release()

    def __enter__(self) -> Producer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.shutdown()
