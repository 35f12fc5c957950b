"""Blocking facades over the asyncio clients: ``Producer`` and the kit to build more.

For scripts and threads that do not run an event loop.  The async core runs
on a private event-loop thread shared by every blocking client of the
process (so clients with the same client id share one client instance, as
in Java); the thread starts with the first client and stops when the last
one shuts down, so nothing is left running afterwards.  The producer's sends
are the exception: as Java's, they run on the caller's own thread
(:mod:`client.send_blocking`), and the loop thread only reads their answers.

A facade is derived from its async twin, not written again by hand:
:class:`BlockingFacade` owns the loop thread, ``start`` / ``shutdown`` and
the context manager, and :func:`blocking` turns each coroutine method of the
core into a blocking method with the same signature and docstring.  A new
facade is a few lines::

    class PushConsumer(BlockingFacade[AsyncPushConsumer]):
        \"\"\"A blocking push consumer; same options as AsyncPushConsumer.\"\"\"

        _kind = "consumer"

        def __init__(self, group: str, **options: Any) -> None:
            super().__init__(AsyncPushConsumer(group, **options))

        subscribe = blocking_call(AsyncPushConsumer.subscribe)   # a plain method
        seek = blocking(AsyncPushConsumer.seek)                  # a coroutine method

The core must have ``state`` and ``async start()`` / ``async shutdown()``.
Plain methods wrapped with :func:`blocking_call` run on the loop thread once
the facade started (so they never race the core's tasks) and directly
before.  Results and exceptions come back unchanged; the facade adds one
error of its own, when the loop thread does not answer within the call's
``timeout`` (or :meth:`BlockingFacade._default_timeout`) plus
:data:`BACKSTOP_SLACK`: the core enforces its own timeouts, so that only
happens when the loop thread is stuck.  Calling a blocking method from the
loop thread itself (from a callback the core runs) would wait for itself
forever, so it raises :class:`~codec.errors.ClientError` instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
from collections.abc import Callable, Coroutine, Sequence
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from .codec.errors import ClientError, RequestTimeoutError, ServiceStateError

from .instance import ServiceState
from .optioncheck import checked_options
from .codec.store import MessageExt
from . import send_blocking
from .producer import AsyncProducer, MessageQueueSelector
from .types import Message, MessageQueue, SendResult

__all__ = ["Producer", "BlockingFacade", "blocking", "blocking_call", "BACKSTOP_SLACK"]

T = TypeVar("T")
P = ParamSpec("P")

#: seconds a blocking call waits beyond its own timeout before giving up on the loop thread
BACKSTOP_SLACK = 5.0
#: generous: the core's shutdown bounds its own steps (connect timeout,
#: task stop timeout, await-termination); this only catches a wedged loop
SHUTDOWN_TIMEOUT = 120.0


class _AsyncService(Protocol):
    @property
    def state(self) -> ServiceState: ...

    async def start(self) -> None: ...

    async def shutdown(self) -> None: ...


C = TypeVar("C", bound=_AsyncService)
F = TypeVar("F", bound="BlockingFacade[Any]")


class _LoopThread:
    """A reference-counted event loop running in a daemon thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def acquire(self) -> asyncio.AbstractEventLoop:
        """The loop, started if this is its first user."""
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
        """One user less; the last one stops the loop and joins the thread."""
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

    def is_current(self) -> bool:
        """True when called on the loop thread itself."""
        return self._thread is not None and threading.current_thread() is self._thread


_LOOP = _LoopThread()


class _Call(Generic[T]):
    """One coroutine run on the loop thread for a waiting caller thread.

    Leaner than ``run_coroutine_threadsafe`` plus ``concurrent.futures.wait``
    (a Task, two chained futures, a waiter object and a condition per call):
    one callback scheduled on the loop, one Task, and a plain lock that the
    Task itself releases as its coroutine ends (not a done-callback, which
    would wait for another turn of the loop).  The result or exception comes
    back unchanged; a cancelled call raises ``concurrent.futures.CancelledError``,
    as the future of ``run_coroutine_threadsafe`` does.
    """

    __slots__ = ("_coro", "_task", "done", "_cancelled", "_value", "_error")

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self._coro = coro
        self._task: asyncio.Task[None] | None = None
        self._cancelled = False
        self._value: T | None = None
        self._error: BaseException | None = None
        #: held until the call is over; the caller waits by acquiring it
        self.done = threading.Lock()
        self.done.acquire()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._cancelled:
            self._coro.close()
            self.done.release()
            return
        self._task = loop.create_task(self._drive())

    async def _drive(self) -> None:
        try:
            self._value = await self._coro
        except (KeyboardInterrupt, SystemExit) as exc:  # still stop the loop, as a Task does
            self._error = exc
            raise
        except BaseException as exc:  # the caller gets it, unchanged
            self._error = exc
        finally:
            self.done.release()

    def cancel(self) -> None:
        if self._task is None:
            self._cancelled = True  # start() has not run yet; it will not start it
        else:
            self._task.cancel()
            # Cancelled before its first step, _drive never awaits the
            # coroutine: close it then (a no-op on a finished one), so it
            # is not reported as never awaited.
            self._task.add_done_callback(lambda _: self._coro.close())

    def outcome(self) -> T:
        error = self._error
        if self._task is None or isinstance(error, asyncio.CancelledError):
            raise concurrent.futures.CancelledError()
        if error is not None:
            raise error
        return self._value  # type: ignore[return-value]


def _awaiting(call: _Call[Any]) -> str:
    """Where a call's coroutine is waiting ("; waiting in A > B"), best effort:
    read from another thread while the loop may be moving it on."""
    names: list[str] = []
    aw: Any = call._coro
    try:
        while aw is not None and len(names) < 12:
            name = getattr(aw, "__qualname__", None)
            if name is None:
                break
            names.append(name)
            aw = getattr(aw, "cr_await", None)
    except Exception:  # racing the loop thread; the message is only a hint
        pass
    return f", waiting in {' > '.join(names)}" if names else ""


class BlockingFacade(Generic[C]):
    """The blocking twin of an async client ``core`` (see the module docstring)."""

    #: what the messages call this client ("producer", "consumer" ...)
    _kind = "client"
    #: seconds :meth:`shutdown` waits for the core before it gives up with
    #: :class:`ServiceStateError` (the core itself bounds each of its steps)
    shutdown_timeout: float = SHUTDOWN_TIMEOUT

    def __init__(self, core: C, *, loop_thread: _LoopThread | None = None) -> None:
        self._core = core
        self._loop_thread = loop_thread or _LOOP
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def core(self) -> C:
        """The async twin (for inspection; call it only from its own loop)."""
        return self._core

    @property
    def state(self) -> ServiceState:
        """The service state (CREATE_JUST, RUNNING, SHUTDOWN_ALREADY, START_FAILED)."""
        return self._core.state

    def _default_timeout(self) -> float | None:
        """The timeout of a call that passes none (None: wait as long as the core does)."""
        return None

    def _check_caller(self, what: str) -> asyncio.AbstractEventLoop:
        """The loop, once the facade is started and the caller is not its thread."""
        loop = self._loop
        if loop is None:
            raise ServiceStateError(f"The {self._kind} service state not OK, {self._core.state.value}")
        if self._loop_thread.is_current():
            raise ClientError(
                f"blocking {self._kind} {what}() called on the {self._kind}'s own event-loop thread "
                "(from a callback?): it would wait for itself; use the async client there"
            )
        return loop

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None, what: str = "call") -> T:
        try:
            loop = self._check_caller(what)
        except BaseException:
            coro.close()
            raise
        call = _Call(coro)
        try:
            loop.call_soon_threadsafe(call.start, loop)
        except BaseException as exc:
            coro.close()
            if isinstance(exc, RuntimeError):  # a shutdown closed the loop meanwhile
                raise ServiceStateError(f"The {self._kind} service state not OK: it was shut down") from None
            raise
        try:
            finished = call.done.acquire(timeout=-1 if timeout is None else timeout)
        except BaseException:  # KeyboardInterrupt: do not leave the call running
            loop.call_soon_threadsafe(call.cancel)
            raise
        if not finished and not call.done.acquire(blocking=False):  # not even just after the wait gave up
            where = _awaiting(call)  # before the cancel unwinds it
            loop.call_soon_threadsafe(call.cancel)
            raise RequestTimeoutError(
                f"the {self._kind}'s event loop did not finish {what}() within {timeout:g} s"
                f"{where} (the loop thread is blocked or overloaded, or a task does not stop)"
            )
        return call.outcome()

    def _run_within(self, coro: Coroutine[Any, Any, T], timeout: float, what: str) -> T:
        """:meth:`_run` for a coroutine that ends by itself within ``timeout``
        seconds; the loop gets :data:`BACKSTOP_SLACK` more."""
        return self._run(coro, timeout + BACKSTOP_SLACK, what)

    def _run_plain(self, fn: Callable[[], T], what: str) -> T:
        if self._loop is None:
            return fn()

        async def on_loop() -> T:
            return fn()

        return self._run(on_loop(), None, what)

    def start(self) -> None:
        """Start the core on the shared loop thread."""
        if self._loop is not None:
            raise ServiceStateError(
                f"The {self._kind} service state not OK, maybe started once, {self._core.state.value}"
            )
        self._loop = self._loop_thread.acquire()
        try:
            self._run(self._core.start(), None, "start")
        except BaseException:
            self._loop = None
            self._loop_thread.release()
            raise

    def shutdown(self) -> None:
        """Shut the core down and release the loop thread; idempotent."""
        if self._loop is None:
            return
        try:
            self._run(self._core.shutdown(), self.shutdown_timeout, "shutdown")
        except RequestTimeoutError as exc:
            raise ServiceStateError(f"{self._kind} shutdown did not stop: {exc}") from None
        finally:
            self._loop = None
            self._loop_thread.release()

    def __enter__(self: F) -> F:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.shutdown()



def _backstop(facade: BlockingFacade[Any], kwargs: dict[str, Any]) -> float | None:
    timeout = kwargs.get("timeout")
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        timeout = facade._default_timeout()
    return None if timeout is None else float(timeout) + BACKSTOP_SLACK


class _Blocking(Generic[P, T]):
    """A facade method running the core's coroutine method on the loop thread."""

    def __init__(self, method: Callable[..., Any], plain: bool) -> None:
        self._method = method
        self._plain = plain
        self._name = method.__name__
        functools.update_wrapper(self, method)

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __call__(self, facade: BlockingFacade[Any], *args: Any, **kwargs: Any) -> Any:
        """Called through the class: ``Producer.send(producer, msg)``."""
        return self.__get__(facade)(*args, **kwargs)

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> _Blocking[P, T]: ...

    @overload
    def __get__(self, instance: BlockingFacade[Any], owner: type | None = None) -> Callable[P, T]: ...

    def __get__(self, instance: BlockingFacade[Any] | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        method, name, facade = self._method, self._name, instance

        if self._plain:

            @functools.wraps(method)
            def call_plain(*args: Any, **kwargs: Any) -> Any:
                return facade._run_plain(lambda: method(facade._core, *args, **kwargs), name)

            instance.__dict__[name] = call_plain
            return call_plain

        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            return facade._run(method(facade._core, *args, **kwargs), _backstop(facade, kwargs), name)

        # a non-data descriptor: the instance attribute answers from now on,
        # so a hot blocking send does not build its wrapper each time
        instance.__dict__[name] = call
        return call


def blocking(method: Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]) -> _Blocking[P, T]:
    """A blocking facade method from the core's coroutine method ``method``
    (same parameters, same docstring, same result and exceptions)."""
    return _Blocking(method, plain=False)


def blocking_call(method: Callable[Concatenate[Any, P], T]) -> _Blocking[P, T]:
    """A facade method from the core's plain method ``method``, run on the
    loop thread once the facade started."""
    return _Blocking(method, plain=True)


@checked_options(like=AsyncProducer.__init__)
class Producer(BlockingFacade[AsyncProducer]):
    """A blocking RocketMQ producer; same options as :class:`AsyncProducer`.

    Safe to share between threads, as Java's ``DefaultMQProducer`` is: each
    ``send`` runs on its caller's thread.

    ::

        with Producer("my-group", namesrv_addr="127.0.0.1:9876") as producer:
            result = producer.send(Message("TopicTest", b"hello"))
    """

    _kind = "producer"

    def __init__(self, group: str, **options: Any) -> None:
        super().__init__(AsyncProducer(group, **options))

    def __repr__(self) -> str:
        return repr(self._core).replace("AsyncProducer", "Producer", 1)

    def _default_timeout(self) -> float | None:
        return self._core._opts.send_timeout

    @property
    def group(self) -> str:
        return self._core.group

    @property
    def client_id(self) -> str:
        return self._core.client_id

    @property
    def async_producer(self) -> AsyncProducer:
        """The async core (for inspection; call it only from its own loop)."""
        return self._core

    # The sends run on the caller's thread (client.send_blocking), as Java's do.
    def send(
        self,
        msg: Message,
        *,
        queue: MessageQueue | None = None,
        selector: MessageQueueSelector | None = None,
        arg: Any = None,
        timeout: float | None = None,
    ) -> SendResult:
        self._check_caller("send")
        result = send_blocking.send(
            self._core, self._core._single(msg, oneway=False, queue=queue, selector=selector, arg=arg), timeout, self._run_within
        )
        assert result is not None
        return result

    send.__doc__ = AsyncProducer.send.__doc__

    def request(
        self,
        msg: Message,
        timeout: float = 3.0,
        *,
        queue: MessageQueue | None = None,
        selector: MessageQueueSelector | None = None,
        arg: Any = None,
    ) -> MessageExt:
        """Send ``msg`` as a request and return the reply; see
        :meth:`AsyncProducer.request`."""
        # written out rather than blocking(): the backstop must follow a positional timeout too
        backstop = float(timeout) + BACKSTOP_SLACK if isinstance(timeout, (int, float)) and timeout > 0 else None
        return self._run(
            self._core.request(msg, timeout, queue=queue, selector=selector, arg=arg), backstop, "request"
        )

    def send_oneway(
        self,
        msg: Message,
        *,
        queue: MessageQueue | None = None,
        selector: MessageQueueSelector | None = None,
        arg: Any = None,
    ) -> None:
        self._check_caller("send_oneway")
        request = self._core._single(msg, oneway=True, queue=queue, selector=selector, arg=arg)
        send_blocking.send(self._core, request, None, self._run_within)

    send_oneway.__doc__ = AsyncProducer.send_oneway.__doc__

    def send_batch(
        self, messages: Sequence[Message], *, queue: MessageQueue | None = None, timeout: float | None = None
    ) -> SendResult:
        self._check_caller("send_batch")
        result = send_blocking.send(self._core, self._core._batch(messages, queue), timeout, self._run_within)
        assert result is not None
        return result

    send_batch.__doc__ = AsyncProducer.send_batch.__doc__
    fetch_publish_queues = blocking(AsyncProducer.fetch_publish_queues)
