"""``ProcessQueue``: the messages pulled from one queue and not yet acknowledged.

Mirrors Java's ``ProcessQueue`` for concurrent consumption.  Pulled messages
are kept by queue offset; the pull loop reads ``msg_count`` and ``msg_size``
for flow control; the consume service removes a message once its listener
succeeded (or the message was sent back) and commits the offset
:meth:`remove_messages` returns: the smallest offset still in flight, or one
past the largest offset ever put when nothing is left.  So an offset is
committed only when every message before it is done, whatever order the
listeners finish in.

The rebalance sets ``dropped`` when the queue is given up; pulls and
consume results for a dropped queue are discarded.

Everything runs on one event loop, so no locks.  Times are monotonic
seconds and may be passed in (``now``) so that tests need no clock.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable, Sequence
from typing import Generic, Protocol, TypeVar

__all__ = ["ProcessQueue", "PULL_MAX_IDLE_TIME"]

#: seconds without a pull after which a push consumer's queue is recreated
#: (Java ``rocketmq.client.pull.pullMaxIdleTime``, 120000 ms)
PULL_MAX_IDLE_TIME = 120.0


class _Stored(Protocol):
    @property
    def queue_offset(self) -> int: ...

    @property
    def body(self) -> bytes: ...


M = TypeVar("M", bound=_Stored)


class ProcessQueue(Generic[M]):
    """In-flight messages of one message queue, ordered by queue offset."""

    def __init__(self, *, now: float | None = None) -> None:
        self._msgs: dict[int, M] = {}
        self._offsets: list[int] = []  # sorted keys of _msgs
        self.msg_size = 0
        #: the offset of the last new message put (Java ``queueOffsetMax``)
        self.queue_offset_max = 0
        #: messages the broker holds beyond the last pull (``msgAccCnt``)
        self.msg_acc_cnt = 0
        self.dropped = False
        self.consuming = False
        # offset -> when a listener started on it (for the consume timeout)
        self._consume_started: dict[int, float] = {}
        t = time.monotonic() if now is None else now
        self.last_pull_timestamp = t
        self.last_consume_timestamp = t

    def __repr__(self) -> str:
        return (
            f"<ProcessQueue count={self.msg_count} size={self.msg_size} span={self.max_span}"
            f"{' dropped' if self.dropped else ''}>"
        )

    @property
    def msg_count(self) -> int:
        """How many messages are in flight."""
        return len(self._msgs)

    @property
    def max_span(self) -> int:
        """Largest minus smallest in-flight offset (0 when empty)."""
        return self._offsets[-1] - self._offsets[0] if self._offsets else 0

    @property
    def min_offset(self) -> int | None:
        """The smallest in-flight offset, None when empty."""
        return self._offsets[0] if self._offsets else None

    def __contains__(self, offset: object) -> bool:
        return offset in self._msgs

    def messages(self) -> list[M]:
        """The in-flight messages in offset order (a copy)."""
        return [self._msgs[o] for o in self._offsets]

    def put_messages(self, msgs: Iterable[M], max_offset: int | None = None) -> bool:
        """Add pulled messages; an offset already present is not counted twice.

        ``max_offset`` is the pull response's queue max offset, for
        ``msg_acc_cnt``.  Returns True when the queue was idle and now has
        messages (Java's ``dispatchToConsume``).
        """
        last: M | None = None
        for msg in msgs:
            last = msg
            offset = msg.queue_offset
            if offset in self._msgs:
                self._msgs[offset] = msg
                continue
            self._msgs[offset] = msg
            if not self._offsets or offset > self._offsets[-1]:
                self._offsets.append(offset)
            else:
                bisect.insort(self._offsets, offset)
            self.queue_offset_max = offset
            self.msg_size += len(msg.body)
        dispatch = False
        if self._msgs and not self.consuming:
            dispatch = self.consuming = True
        if last is not None and max_offset is not None:
            acc = max_offset - last.queue_offset
            if acc > 0:
                self.msg_acc_cnt = acc
        return dispatch

    def remove_messages(self, msgs: Sequence[M], *, now: float | None = None) -> int:
        """Remove acknowledged messages; the offset to commit, or -1 when the
        queue was already empty (``ProcessQueue.removeMessage``)."""
        self.last_consume_timestamp = time.monotonic() if now is None else now
        if not self._msgs:
            return -1
        for msg in msgs:
            offset = msg.queue_offset
            self._consume_started.pop(offset, None)
            if self._msgs.pop(offset, None) is not None:
                at = bisect.bisect_left(self._offsets, offset)
                del self._offsets[at]
                self.msg_size -= len(msg.body)
        if not self._msgs:
            self.msg_size = 0
            return self.queue_offset_max + 1
        return self._offsets[0]

    def take_messages(self, batch_size: int, *, now: float | None = None) -> list[M]:
        """Up to ``batch_size`` messages from the front, without removing them
        (the front is what a consumer handles next)."""
        self.last_consume_timestamp = time.monotonic() if now is None else now
        taken = [self._msgs[o] for o in self._offsets[:batch_size]]
        if not taken:
            self.consuming = False
        return taken

    def mark_consume_start(self, msgs: Iterable[M], *, now: float | None = None) -> None:
        """Note that a listener started on ``msgs`` (``CONSUME_START_TIME``)."""
        t = time.monotonic() if now is None else now
        for msg in msgs:
            if msg.queue_offset in self._msgs:
                self._consume_started[msg.queue_offset] = t

    def expired_front(self, timeout: float, *, now: float | None = None, limit: int = 16) -> list[M]:
        """Messages at the front whose listener started over ``timeout``
        seconds ago, stopping at the first that is not (``cleanExpiredMsg``
        looks at most at 16)."""
        t = time.monotonic() if now is None else now
        expired = []
        for offset in self._offsets[:limit]:
            started = self._consume_started.get(offset)
            if started is None or t - started <= timeout:
                break
            expired.append(self._msgs[offset])
        return expired

    def clear(self) -> None:
        """Forget every in-flight message (seek, reset)."""
        self._msgs.clear()
        self._offsets.clear()
        self._consume_started.clear()
        self.msg_size = 0
        self.queue_offset_max = 0
        self.msg_acc_cnt = 0
        self.consuming = False

    def is_pull_expired(self, now: float | None = None) -> bool:
        """No pull for :data:`PULL_MAX_IDLE_TIME` seconds."""
        return ((time.monotonic() if now is None else now) - self.last_pull_timestamp) > PULL_MAX_IDLE_TIME
