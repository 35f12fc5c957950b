"""Consumer offsets: the next offset each consumer group will read, per
topic and queue, on one broker.

Mirrors ``ConsumerOffsetManager``: one table keyed ``topic@group`` with a
queue id -> offset map; ``commitOffset`` (UPDATE_CONSUMER_OFFSET and the
offset piggy-backed on a PULL_MESSAGE) overwrites, ``queryOffset`` answers
-1 when nothing was committed.  Java persists the table to
``consumerOffset.json`` every 5 s; here it lives as long as the broker
object, which is what a restarted embedded broker keeps.
"""

from __future__ import annotations

import threading

__all__ = ["ConsumerOffsetTable", "TOPIC_GROUP_SEPARATOR"]

#: ``ConsumerOffsetManager.TOPIC_GROUP_SEPARATOR``.
TOPIC_GROUP_SEPARATOR = "@"


class ConsumerOffsetTable:
    """Committed offsets of one broker (thread-safe: tests read it from
    another thread than the broker's loop)."""

    __slots__ = ("_lock", "_table")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (topic, group) -> queue id -> offset
        self._table: dict[tuple[str, str], dict[int, int]] = {}

    def commit(self, group: str, topic: str, queue_id: int, offset: int) -> None:
        """``commitOffset``: ``offset`` is the next one to consume."""
        with self._lock:
            self._table.setdefault((topic, group), {})[queue_id] = offset

    def query(self, group: str, topic: str, queue_id: int) -> int:
        """``queryOffset``: the committed offset, or -1 when there is none."""
        with self._lock:
            queues = self._table.get((topic, group))
            if queues is None:
                return -1
            return queues.get(queue_id, -1)

    def offsets(self, group: str, topic: str) -> dict[int, int]:
        """Queue id -> committed offset of ``group`` on ``topic`` (a copy)."""
        with self._lock:
            return dict(self._table.get((topic, group), {}))

    def groups_of(self, topic: str) -> list[str]:
        """``whichGroupByTopic``: groups with an offset on ``topic``."""
        with self._lock:
            return sorted({group for t, group in self._table if t == topic})

    def topics_of(self, group: str) -> list[str]:
        """``whichTopicByConsumer``: topics ``group`` has offsets on."""
        with self._lock:
            return sorted({t for t, g in self._table if g == group})

    def snapshot(self) -> dict[str, dict[int, int]]:
        """The whole table as ``consumerOffset.json`` keys it: ``topic@group``."""
        with self._lock:
            return {f"{t}{TOPIC_GROUP_SEPARATOR}{g}": dict(q) for (t, g), q in self._table.items()}

    def clear(self) -> None:
        with self._lock:
            self._table.clear()
