"""Route cache, queue selection and broker fault avoidance.

Mirrors ``TopicPublishInfo``, ``MQClientInstance.topicRouteData2TopicPublishInfo``
and ``topicRouteData2TopicSubscribeInfo`` (protocol.md 7.3; both through the
one queue-list function in :mod:`codec.body.route`), ``ThreadLocalIndex`` / ``selectOneMessageQueue`` and the
5.x ``LatencyFaultToleranceImpl`` tables (7.4).  No I/O: time is passed in,
so the policy is tested without sleeping.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from .codec.body import PermName, TopicRouteData, topic_route_to_queues
from .types import MessageQueue

__all__ = [
    "MessageQueue",
    "TopicPublishInfo",
    "FaultTracker",
    "publish_info_from_route",
    "subscribe_queues_from_route",
]


@dataclass(slots=True)
class TopicPublishInfo:
    """The writable queues of a topic, and where to send them."""

    topic: str
    queues: list[MessageQueue]
    route: TopicRouteData | None = None
    order_topic: bool = False
    # ThreadLocalIndex starts at a random value so that producers spread out
    _index: int = field(default_factory=lambda: random.randrange(1 << 31))

    @property
    def ok(self) -> bool:
        """True when there is at least one queue to send to."""
        return bool(self.queues)

    def select_queue(self, last_broker: str | None = None, avoid: frozenset[str] = frozenset()) -> MessageQueue:
        """Round-robin, preferring a broker other than ``last_broker`` (the one
        that just failed) and not in ``avoid`` (brokers in a fault window).
        Falls back to the next queue when no such broker exists."""
        if not self.queues:
            raise LookupError(f"no queues for topic {self.topic}")
        size = len(self.queues)
        if last_broker is not None or avoid:
            for _ in range(size):
                self._index = (self._index + 1) & 0x7FFFFFFF
                mq = self.queues[self._index % size]
                if mq.broker_name != last_broker and mq.broker_name not in avoid:
                    return mq
            if avoid:  # every broker is in a fault window: still prefer another broker
                for _ in range(size):
                    self._index = (self._index + 1) & 0x7FFFFFFF
                    mq = self.queues[self._index % size]
                    if mq.broker_name != last_broker:
                        return mq
        self._index = (self._index + 1) & 0x7FFFFFFF
        return self.queues[self._index % size]


def publish_info_from_route(topic: str, route: TopicRouteData, *, clamp_queue_nums: int | None = None) -> TopicPublishInfo:
    """``topicRouteData2TopicPublishInfo``: the writable master queues of a
    route (:func:`~codec.body.topic_route_to_queues` with ``PERM_WRITE``).

    With ``clamp_queue_nums`` (the TBW102 fallback for a topic the name server
    does not know yet), each broker contributes at most that many queues and
    no more than it has read queues, as Java's
    ``getDefaultTopicRouteInfoFromNameServer`` caller rewrites the counts.
    Raises :class:`~codec.errors.MalformedBodyError` for a route whose queues
    cannot be read (a bad ``orderTopicConf``, a corrupt count).
    """
    if clamp_queue_nums is not None:
        route = replace(
            route,
            queue_datas=tuple(
                replace(qd, read_queue_nums=n, write_queue_nums=n)
                for qd in route.queue_datas
                for n in (min(clamp_queue_nums, qd.read_queue_nums),)
            ),
        )
    queues = [MessageQueue(topic, broker, qid) for broker, qid in topic_route_to_queues(topic, route, PermName.PERM_WRITE)]
    return TopicPublishInfo(topic, queues, route, order_topic=bool(route.order_topic_conf))


def subscribe_queues_from_route(topic: str, route: TopicRouteData) -> set[MessageQueue]:
    """``topicRouteData2TopicSubscribeInfo``: the readable queues of a route,
    on masters and slaves (:func:`~codec.body.topic_route_to_queues` with
    ``PERM_READ``)."""
    return {MessageQueue(topic, broker, qid) for broker, qid in topic_route_to_queues(topic, route, PermName.PERM_READ)}


# 5.x MQFaultStrategy: latency (ms) at or above -> not available for (ms)
_LATENCY_MAX = (50, 100, 550, 1800, 3000, 5000, 15000)
_NOT_AVAILABLE = (0, 0, 2000, 5000, 6000, 10000, 30000)
#: an isolated broker (connect failure, timeout) counts as this latency (ms)
ISOLATION_LATENCY_MS = 10000


def not_available_duration(
    latency_ms: float,
    latency_max: Sequence[float] = _LATENCY_MAX,
    not_available: Sequence[float] = _NOT_AVAILABLE,
) -> float:
    """Seconds a broker is avoided after a send that took ``latency_ms``
    (the tables are in milliseconds, as Java's)."""
    for threshold, duration in zip(reversed(latency_max), reversed(not_available)):
        if latency_ms >= threshold:
            return duration / 1000.0
    return 0.0


_NONE: frozenset[str] = frozenset()


class FaultTracker:
    """Which brokers to avoid, until when (seconds on the caller's clock).

    ``latency_max`` and ``not_available`` are Java's
    ``setLatencyMax`` / ``setNotAvailableDuration`` tables, in milliseconds
    (defaults: the 5.x ones).  An isolated broker counts as
    :data:`ISOLATION_LATENCY_MS` of latency, 10 s of avoidance by default;
    shorter tables make the windows short (tests use that, not sleeps).

    Thread-safe: the blocking producer's sends update it from their callers'
    threads while the loop's do from the loop's.
    """

    def __init__(
        self,
        latency_max: Sequence[float] = _LATENCY_MAX,
        not_available: Sequence[float] = _NOT_AVAILABLE,
    ) -> None:
        latency_max, not_available = tuple(latency_max), tuple(not_available)
        if len(latency_max) != len(not_available) or not latency_max:
            raise ValueError("latency_max and not_available must be non-empty and of the same length")
        if any(x < 0 for x in (*latency_max, *not_available)) or list(latency_max) != sorted(latency_max):
            raise ValueError("latency_max must be ascending and no value may be negative")
        self.latency_max = latency_max
        self.not_available = not_available
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()
        # Below this latency (ms) every duration is 0: a send that fast only
        # ends a fault window, which lets update() skip the table walk.
        self._harmless_below = min(
            (t for t, d in zip(latency_max, not_available) if d > 0), default=float("inf")
        )

    def duration(self, latency_ms: float, *, isolated: bool = False) -> float:
        """Seconds a broker is avoided after a send that took ``latency_ms``
        (or failed, when ``isolated``)."""
        latency = ISOLATION_LATENCY_MS if isolated else latency_ms
        return not_available_duration(latency, self.latency_max, self.not_available)

    def update(self, broker: str, latency_ms: float, *, isolated: bool, now: float) -> None:
        """Record a send's outcome: an isolated broker is avoided for the
        isolation window, a slow one for its latency bucket."""
        if not isolated and latency_ms < self._harmless_below:
            if self._until:  # (the usual case, no window open, takes no lock)
                with self._lock:
                    self._until.pop(broker, None)
            return
        duration = self.duration(latency_ms, isolated=isolated)
        with self._lock:
            if duration > 0:
                self._until[broker] = max(self._until.get(broker, 0.0), now + duration)
            elif not isolated:
                self._until.pop(broker, None)

    def avoided(self, now: float) -> frozenset[str]:
        """Brokers still inside their fault window at ``now``."""
        if not self._until:
            return _NONE
        with self._lock:
            until = self._until
            for broker in [b for b, at in until.items() if at <= now]:
                del until[broker]
            return frozenset(until)

    def is_available(self, broker: str, now: float) -> bool:
        """False while ``broker`` is inside its fault window."""
        return broker not in self.avoided(now)
