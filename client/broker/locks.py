"""Queue locks of orderly consumers: which client of a group owns a queue.

Mirrors ``RebalanceLockManager``: per group, per message queue, the client
id holding it and when it last locked it.  A lock is re-entrant for its
holder (locking again refreshes it), is taken over by another client only
once it has not been refreshed for ``expiry`` seconds (Java's
``rocketmq.broker.rebalance.lockMaxLiveTime``, 60 s), and is released only
by its holder.  LOCK_BATCH_MQ / UNLOCK_BATCH_MQ (:mod:`.processors.admin`)
are its requests; orderly consumers renew their locks every 20 s.

Time is an argument (``now``, seconds on any monotonic clock; default
``time.monotonic()``) so tests can expire a lock without sleeping.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Final, TypeVar

from ..codec.errors import ConfigError

__all__ = ["RebalanceLockTable", "LockEntry", "LOCK_MAX_LIVE_TIME"]

log = logging.getLogger(__name__)

#: ``REBALANCE_LOCK_MAX_LIVE_TIME``: 60 s.
LOCK_MAX_LIVE_TIME: Final = 60.0

_Q = TypeVar("_Q", bound=Hashable)


@dataclass(slots=True)
class LockEntry:
    """``LockEntry``: the holder of one queue and when it last locked it."""

    client_id: str
    last_update: float


class RebalanceLockTable:
    """Locks of one broker's queues, per consumer group (thread-safe).

    A queue is any hashable value naming it (the processors use
    ``(topic, broker name, queue id)``, as ``MessageQueue.equals`` does).
    """

    __slots__ = ("expiry", "_lock", "_table")

    def __init__(self, expiry: float = LOCK_MAX_LIVE_TIME) -> None:
        if isinstance(expiry, bool) or not isinstance(expiry, (int, float)) or expiry < 0:
            raise ConfigError(f"lock expiry must be a number of seconds >= 0, not {expiry!r}")
        self.expiry = float(expiry)
        self._lock = threading.Lock()
        self._table: dict[str, dict[Hashable, LockEntry]] = {}

    def _expired(self, entry: LockEntry, now: float) -> bool:
        return now - entry.last_update > self.expiry

    def try_lock_batch(self, group: str, queues: Iterable[_Q], client_id: str, now: float | None = None) -> list[_Q]:
        """``tryLockBatch``: lock what ``client_id`` may hold of ``queues``
        (free ones, its own, expired ones) and return them, in the order
        given."""
        stamp = time.monotonic() if now is None else now
        locked: list[_Q] = []
        with self._lock:
            entries = self._table.setdefault(group, {})
            for queue in queues:
                entry = entries.get(queue)
                if entry is None:
                    entries[queue] = LockEntry(client_id, stamp)
                    locked.append(queue)
                    log.info("lock: group %s, %s locked by %s", group, queue, client_id)
                elif entry.client_id == client_id or self._expired(entry, stamp):
                    if entry.client_id != client_id:
                        log.info("lock: group %s, %s expired for %s, taken by %s", group, queue, entry.client_id, client_id)
                    entry.client_id = client_id
                    entry.last_update = stamp
                    locked.append(queue)
                else:
                    log.debug("lock: group %s, %s held by %s, refused to %s", group, queue, entry.client_id, client_id)
        return locked

    def try_lock(self, group: str, queue: Hashable, client_id: str, now: float | None = None) -> bool:
        """``tryLock``: one queue."""
        return bool(self.try_lock_batch(group, [queue], client_id, now))

    def unlock_batch(self, group: str, queues: Iterable[Hashable], client_id: str) -> None:
        """``unlockBatch``: release the ones ``client_id`` holds (expired or
        not); others' locks stay."""
        with self._lock:
            entries = self._table.get(group)
            if entries is None:
                return
            for queue in queues:
                entry = entries.get(queue)
                if entry is not None and entry.client_id == client_id:
                    del entries[queue]
                    log.info("unlock: group %s, %s released by %s", group, queue, client_id)
            if not entries:
                del self._table[group]

    def is_locked(self, group: str, queue: Hashable, client_id: str, now: float | None = None) -> bool:
        """Whether ``client_id`` holds an unexpired lock on ``queue`` (it
        does not refresh it, unlike Java's private ``isLocked``)."""
        stamp = time.monotonic() if now is None else now
        with self._lock:
            entry = self._table.get(group, {}).get(queue)
            return entry is not None and entry.client_id == client_id and not self._expired(entry, stamp)

    def holder(self, group: str, queue: Hashable, now: float | None = None) -> str | None:
        """The client id holding an unexpired lock on ``queue``, or None."""
        stamp = time.monotonic() if now is None else now
        with self._lock:
            entry = self._table.get(group, {}).get(queue)
            return None if entry is None or self._expired(entry, stamp) else entry.client_id

    def clear(self) -> None:
        with self._lock:
            self._table.clear()
