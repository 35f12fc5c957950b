"""``OrderlyProcessQueue``: a process queue consumed in order, under a broker lock.

Mirrors the orderly half of Java's ``ProcessQueue``.  Pulled messages wait
in offset order; :meth:`take_messages` moves the next batch from the front
into the *consuming* set (Java's ``consumingMsgOrderlyTreeMap``), where it
stays until the listener answered: :meth:`commit` forgets the batch and
returns the offset after it (what the offset store then holds), and
:meth:`make_message_to_consume_again` puts it back at the front for a
local retry.  Taken messages still count for flow control until committed.

``locked`` and ``last_lock_timestamp`` say whether this member holds the
queue's lock on the broker and when it was last granted; a lock not
renewed for :data:`REBALANCE_LOCK_MAX_LIVE_TIME` seconds is treated as
lost (the broker lets others take it after 60 s).  ``consume_lock`` is held
while the listener runs, so that a rebalance does not give the queue away
in the middle of a batch (Java's ``consumeLock``).
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Iterable, Sequence
from typing import Any

from .process_queue import ProcessQueue

__all__ = ["OrderlyProcessQueue", "REBALANCE_LOCK_MAX_LIVE_TIME", "REBALANCE_LOCK_INTERVAL"]

#: seconds a granted lock is trusted without renewal
#: (``rocketmq.client.rebalance.lockMaxLiveTime``, 30000 ms)
REBALANCE_LOCK_MAX_LIVE_TIME = 30.0
#: seconds between two renewals of every lock (``rocketmq.client.rebalance.lockInterval``, 20000 ms)
REBALANCE_LOCK_INTERVAL = 20.0


class OrderlyProcessQueue(ProcessQueue[Any]):
    """In-flight messages of one queue, consumed one batch at a time."""

    def __init__(self, *, now: float | None = None) -> None:
        super().__init__(now=now)
        self._taken: dict[int, Any] = {}
        self.locked = False
        self.last_lock_timestamp = time.monotonic() if now is None else now
        self.consume_lock = asyncio.Lock()
        #: how often a rebalance could not give the queue up because a batch was being consumed
        self.try_unlock_times = 0

    def __repr__(self) -> str:
        state = "locked" if self.locked else "unlocked"
        return f"<OrderlyProcessQueue count={self.msg_count} taken={len(self._taken)} {state}{' dropped' if self.dropped else ''}>"

    # -- the lock
    def mark_locked(self, *, now: float | None = None) -> None:
        """The broker granted (or renewed) the lock."""
        self.locked = True
        self.last_lock_timestamp = time.monotonic() if now is None else now

    def is_lock_expired(self, now: float | None = None) -> bool:
        """The lock has not been renewed for :data:`REBALANCE_LOCK_MAX_LIVE_TIME` seconds."""
        t = time.monotonic() if now is None else now
        return t - self.last_lock_timestamp > REBALANCE_LOCK_MAX_LIVE_TIME

    # -- counting: taken messages are in flight until committed
    @property
    def msg_count(self) -> int:
        return super().msg_count + len(self._taken)

    @property
    def taken(self) -> list[Any]:
        """The batch being consumed, in offset order (a copy)."""
        return [self._taken[o] for o in sorted(self._taken)]

    def has_temp_message(self) -> bool:
        """Messages pulled and not yet taken (``hasTempMessage``)."""
        return super().msg_count > 0

    # -- consuming
    def take_messages(self, batch_size: int, *, now: float | None = None) -> list[Any]:
        """Move up to ``batch_size`` messages from the front to the consuming set."""
        self.last_consume_timestamp = time.monotonic() if now is None else now
        count = min(batch_size, len(self._offsets))
        offsets, self._offsets = self._offsets[:count], self._offsets[count:]
        taken = []
        for offset in offsets:
            msg = self._msgs.pop(offset)
            self._taken[offset] = msg
            taken.append(msg)
        if not taken:
            self.consuming = False
        return taken

    def commit(self) -> int:
        """Forget the consumed batch; the offset after it, -1 if nothing was taken."""
        if not self._taken:
            return -1
        last = max(self._taken)
        for msg in self._taken.values():
            self.msg_size -= len(msg.body)
        self._taken.clear()
        if not self._msgs:
            self.msg_size = 0
        return last + 1

    def make_message_to_consume_again(self, msgs: Sequence[Any]) -> None:
        """Put messages of the batch (possibly updated copies) back at the front."""
        for msg in msgs:
            offset = msg.queue_offset
            self._taken.pop(offset, None)
            if offset not in self._msgs:
                bisect.insort(self._offsets, offset)
            self._msgs[offset] = msg

    def rollback(self) -> None:
        """Put the whole batch back (Java's ``rollback``)."""
        self.make_message_to_consume_again(list(self._taken.values()))

    def put_messages(self, msgs: Iterable[Any], max_offset: int | None = None) -> bool:
        # a message pulled again while its batch is being consumed is that batch's
        fresh = [m for m in msgs if m.queue_offset not in self._taken]
        return super().put_messages(fresh, max_offset)

    def clear(self) -> None:
        super().clear()
        self._taken.clear()
