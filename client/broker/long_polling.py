"""Held pulls: a PULL_MESSAGE that found nothing new waits for a message.

Mirrors ``PullRequestHoldService`` (with ``PullRequest`` and
``ManyPullRequest``): a pull with the SUSPEND flag that would be answered
PULL_NOT_FOUND is kept, keyed by topic and queue, until

* a message arrives on its queue past the offset it asked for and passes
  its filter (``notifyMessageArriving`` from the store's arrival listener),
* the periodic check (every 5 s, or the short-polling interval) sees the
  queue grew past that offset, whatever was stored (``checkHoldRequest``,
  which passes no tag code, so the filter is not asked), or
* its timeout passes (``suspendTimeoutMillis``, or ``shortPollingTimeMills``
  with long polling off);

then the pull is run again without suspending (``executeRequestWhenWakeup``)
and the answer goes out with the original opaque.

Theory of operation: :class:`PullHoldTable` is sans-I/O: time is the
``now`` argument (seconds, the loop's monotonic clock), it never runs a
pull itself but returns the ones to wake.  A held pull whose connection
closes is cancelled by the connection (its :class:`~.processor.DeferredReply`)
and leaves the table at once, so nothing leaks.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from ..codec.command import RemotingCommand
from .processor import DeferredReply
from .store import MessageFilter, StoredMessage

__all__ = ["HeldPull", "PullHoldTable", "HOLD_CHECK_INTERVAL", "SHORT_POLLING_TIME"]

#: ``PullRequestHoldService.run``: ``waitForRunning(5 * 1000)`` with long polling.
HOLD_CHECK_INTERVAL: Final = 5.0
#: ``BrokerConfig.shortPollingTimeMills``.
SHORT_POLLING_TIME: Final = 1.0

_ids = itertools.count(1)


@dataclass(eq=False, slots=True)
class HeldPull:
    """``PullRequest``: one suspended pull and what it waits for."""

    request: RemotingCommand
    deferred: DeferredReply
    topic: str
    queue_id: int
    offset: int
    message_filter: MessageFilter | None
    suspended_at: float
    timeout: float
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def deadline(self) -> float:
        return self.suspended_at + self.timeout


class PullHoldTable:
    """Held pulls by ``(topic, queue id)``, in arrival order."""

    __slots__ = ("_table", "check_interval", "_last_check", "_count")

    def __init__(self, check_interval: float = HOLD_CHECK_INTERVAL) -> None:
        self._table: dict[tuple[str, int], dict[int, HeldPull]] = {}
        self.check_interval = check_interval
        self._last_check: float | None = None
        self._count = 0  # kept, not summed: tests read it from another thread

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return bool(self._table)

    def held(self, topic: str | None = None, queue_id: int | None = None) -> list[HeldPull]:
        """The pulls waiting (on one topic / queue)."""
        return [
            pull
            for (t, q), pulls in self._table.items()
            if (topic is None or t == topic) and (queue_id is None or q == queue_id)
            for pull in pulls.values()
        ]

    def hold(self, pull: HeldPull, now: float) -> None:
        """``suspendPullRequest``; the pull leaves the table by itself when
        its deferred answer is done (resolved or cancelled)."""
        if self._last_check is None or not self._table:
            self._last_check = now
        self._table.setdefault((pull.topic, pull.queue_id), {})[pull.id] = pull
        self._count += 1
        pull.deferred.add_done_callback(lambda _d: self.discard(pull))

    def discard(self, pull: HeldPull) -> None:
        key = (pull.topic, pull.queue_id)
        pulls = self._table.get(key)
        if pulls is not None and pulls.pop(pull.id, None) is not None:
            self._count -= 1
            if not pulls:
                del self._table[key]

    def on_arrival(self, message: StoredMessage, max_offset: int, now: float) -> list[HeldPull]:
        """``notifyMessageArriving`` with the stored message: the pulls to
        wake (taken out of the table): those past whose offset the queue
        grew and whose filter takes ``message``, and those timed out."""
        pulls = self._table.get((message.topic, message.queue_id))
        if not pulls:
            return []
        return self._wake(pulls, max_offset, message, now)

    def on_check(self, max_offset_of: Callable[[str, int], int], now: float) -> list[HeldPull]:
        """``checkHoldRequest``: every queue with held pulls is checked
        against its max offset (no message: filters are not asked)."""
        self._last_check = now
        woken: list[HeldPull] = []
        for (topic, queue_id), pulls in list(self._table.items()):
            woken.extend(self._wake(pulls, max_offset_of(topic, queue_id), None, now))
        return woken

    def _wake(self, pulls: dict[int, HeldPull], max_offset: int, message: StoredMessage | None, now: float) -> list[HeldPull]:
        woken: list[HeldPull] = []
        for pull in list(pulls.values()):
            if max_offset > pull.offset and (
                message is None or pull.message_filter is None or pull.message_filter(message)
            ):
                woken.append(pull)
            elif now >= pull.deadline:
                woken.append(pull)
        for pull in woken:
            self.discard(pull)
        return woken

    def next_deadline(self) -> float | None:
        """When to call :meth:`on_check` next: the earliest timeout or the
        next periodic check, whichever comes first; None with nothing held."""
        if not self._table:
            return None
        soonest = min(pull.deadline for pulls in self._table.values() for pull in pulls.values())
        if self._last_check is not None:
            soonest = min(soonest, self._last_check + self.check_interval)
        return soonest

    def cancel_all(self) -> int:
        """Drop every held pull without an answer (the broker stops); returns how many."""
        pulls = self.held()
        for pull in pulls:
            pull.deferred.cancel()  # each leaves the table through its done callback
        self._table.clear()
        self._count = 0
        return len(pulls)
