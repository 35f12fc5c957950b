"""Small asyncio helpers that keep cancellation intact.

``asyncio.wait_for`` before Python 3.12 can swallow a cancel: when the
awaited operation finishes in the same loop turn as the cancel arrives, it
returns (or raises) the operation's outcome and the cancel is gone.  A
service task cancelled by ``shutdown()`` then keeps running and shutdown
waits for ever.  These helpers are built on ``asyncio.wait``, which never
consumes a cancel of its caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

__all__ = ["stop_tasks", "wait_for"]

T = TypeVar("T")

log = logging.getLogger(__name__)


async def wait_for(aw: Awaitable[T], timeout: float | None, *, discard: Callable[[T], Any] | None = None) -> T:
    """``asyncio.wait_for`` that never loses a cancel of the caller.

    Raises :class:`asyncio.TimeoutError` after ``timeout`` seconds (the
    operation is cancelled and awaited first).  When the caller is cancelled
    the operation is cancelled too and the cancel propagates; a result that
    still arrives then is handed to ``discard`` (e.g. to close a connection
    nobody will use)."""
    fut = asyncio.ensure_future(aw)
    try:
        done, _ = await asyncio.wait([fut], timeout=timeout)
    except asyncio.CancelledError:
        fut.cancel()
        if discard is not None:
            fut.add_done_callback(lambda f: _discard(f, discard))
        raise
    if done:
        return fut.result()
    fut.cancel()
    await asyncio.wait([fut])  # let it clean up; a cancel of ours still propagates
    if fut.cancelled():
        raise asyncio.TimeoutError()
    return fut.result()  # it finished (or failed) as it was being cancelled


def _discard(fut: asyncio.Future[T], discard: Callable[[T], Any]) -> None:
    if not fut.cancelled() and fut.exception() is None:
        discard(fut.result())


async def stop_tasks(tasks: Iterable[asyncio.Task[Any]], timeout: float, owner: str) -> list[asyncio.Task[Any]]:
    """Cancel ``tasks`` and wait at most about ``2 * timeout`` seconds for them.

    A task still running after ``timeout`` (it swallowed the cancel) is
    cancelled once more and given another ``timeout``; one that still refuses
    is logged as an error and left behind.  Returns the tasks left running."""
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    for attempt in (1, 2):
        if not pending:
            break
        _, still = await asyncio.wait(pending, timeout=timeout)
        pending = list(still)
        for task in pending:
            log.error(
                "%s: task %s did not stop within %g s of being cancelled (it swallowed the cancel)%s",
                owner,
                task.get_name(),
                timeout,
                "; cancelling it again" if attempt == 1 else "; leaving it behind",
            )
            if attempt == 1:
                task.cancel()
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: a crash was logged by the task itself or is irrelevant now
    return pending
