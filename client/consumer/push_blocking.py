"""The blocking push consumer: :class:`AsyncPushConsumer` on the loop thread
(:class:`~..sync.BlockingFacade`), the plain listener in a pool of worker
threads, as Java's ``ConsumeMessageThread_*`` pool runs it."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Any, TypeVar

from ..codec.errors import ConfigError, ServiceStateError
from ..codec.store import MessageExt
from ..optioncheck import checked_options
from ..sync import BlockingFacade, blocking_call
from .client_options import ClientOptions
from .push import AsyncPushConsumer, _is_async_callable

__all__ = ["PushConsumer"]

F = TypeVar("F", bound=Callable[..., Any])


@checked_options(ClientOptions, like=AsyncPushConsumer.__init__)
class PushConsumer(BlockingFacade[AsyncPushConsumer]):
    """A blocking push consumer; same options as :class:`AsyncPushConsumer`.

    The listener is a plain function, run in a pool of
    ``consume_thread_min`` worker threads::

        with PushConsumer("my-group", namesrv_addr="127.0.0.1:9876") as consumer:
            ...

    (``subscribe`` and ``register_listener`` before ``start``; the
    ``with`` block starts it.)
    """

    _kind = "consumer"

    def __init__(self, group: str, **options: Any) -> None:
        super().__init__(AsyncPushConsumer(group, **options))
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    subscribe = blocking_call(AsyncPushConsumer.subscribe)
    unsubscribe = blocking_call(AsyncPushConsumer.unsubscribe)
    suspend = blocking_call(AsyncPushConsumer.suspend)
    resume = blocking_call(AsyncPushConsumer.resume)

    @property
    def group(self) -> str:
        return self.core.group_name

    @property
    def client_id(self) -> str:
        return self.core.client_id

    def register_listener(self, listener: F, *, orderly: bool = False) -> F:
        """Set the listener: ``def listener(msgs) -> ConsumeStatus``, called in
        a worker thread.  Returns it unchanged (usable as a decorator).
        ``orderly=True``: see :meth:`AsyncPushConsumer.register_listener`."""
        if not callable(listener):
            raise ConfigError("the listener must be callable")
        if _is_async_callable(listener):
            raise ConfigError("PushConsumer takes a plain function; give a coroutine function to AsyncPushConsumer")

        async def in_worker(msgs: list[MessageExt]) -> Any:
            pool = self._pool
            if pool is None:
                raise ServiceStateError("the consumer's worker threads are gone")
            return await asyncio.get_running_loop().run_in_executor(pool, listener, msgs)

        in_worker.__qualname__ = getattr(listener, "__qualname__", "listener")
        self._run_plain(lambda: self.core.register_listener(in_worker, orderly=orderly), "register_listener")
        return listener

    def start(self) -> None:
        """Start consuming; the listener threads start with it."""
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.core.options.consume_thread_min, thread_name_prefix=f"ConsumeMessageThread_{self.group}"
        )
        try:
            super().start()
        except BaseException:
            self._pool.shutdown(wait=False)
            self._pool = None
            raise

    def shutdown(self) -> None:
        """Stop consuming, persist offsets, unregister; idempotent.  A listener
        call still running finishes in its thread; its result is dropped."""
        try:
            super().shutdown()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=False)
                self._pool = None
