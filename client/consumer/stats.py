"""``ConsumerStatsManager``: a push consumer's pull and consume rates per topic.

Mirrors what Java's ``ConsumerStatsManager`` reports in a
GET_CONSUMER_RUNNING_INFO answer (``consumeStatus``): over the last minute,
the average pull and consume time (ms) and the pulled, consumed-OK and
consumed-failed messages per second; over the last hour, how many messages
failed.  Java samples cumulative counters every 10 s (``StatsItem``) and
compares the newest sample with the oldest of the window; here each event
lands in a per-second bucket (a per-minute one for the hour), and a
snapshot sums the buckets of its window, divided by the time the window
actually covers (so a consumer started 5 s ago reports over 5 s, not 60).

Recording is O(1) and done once per pull and once per listener call, on
the event loop.  Times are monotonic seconds and may be passed in (``now``)
so tests need no clock.
"""

from __future__ import annotations

import time
from collections import deque

from ..codec.body import ConsumeStatus as TopicConsumeStatus

__all__ = ["ConsumerStats", "StatsWindow"]


class StatsWindow:
    """Sums and counts of the events of the last ``span`` seconds, in
    buckets ``bucket`` seconds wide."""

    __slots__ = ("span", "bucket", "_buckets", "_start")

    def __init__(self, span: float = 60.0, bucket: float = 1.0, *, now: float | None = None) -> None:
        self.span = span
        self.bucket = bucket
        # [bucket index, value sum, times]
        self._buckets: deque[list[float]] = deque()
        self._start = time.monotonic() if now is None else now

    def add(self, value: float, times: int = 1, now: float | None = None) -> None:
        """Record an event of ``value`` (a time in ms, or a message count)."""
        t = time.monotonic() if now is None else now
        index = int(t // self.bucket)
        buckets = self._buckets
        if buckets and buckets[-1][0] == index:
            last = buckets[-1]
            last[1] += value
            last[2] += times
        else:
            buckets.append([index, value, times])
            self._trim(index)

    def _trim(self, index: int) -> None:
        oldest = index - int(self.span // self.bucket)
        buckets = self._buckets
        while buckets and buckets[0][0] <= oldest:
            buckets.popleft()

    def totals(self, now: float | None = None) -> tuple[float, int, float]:
        """(value sum, times, seconds covered) over the window ending ``now``."""
        t = time.monotonic() if now is None else now
        self._trim(int(t // self.bucket))
        value = sum(b[1] for b in self._buckets)
        times = int(sum(b[2] for b in self._buckets))
        return value, times, min(self.span, max(t - self._start, self.bucket))

    def tps(self, now: float | None = None) -> float:
        """Value per second (``StatsSnapshot.tps``)."""
        value, _, seconds = self.totals(now)
        return value / seconds if seconds > 0 else 0.0

    def avg(self, now: float | None = None) -> float:
        """Value per event (``StatsSnapshot.avgpt``)."""
        value, times, _ = self.totals(now)
        return value / times if times else 0.0


class _TopicStats:
    __slots__ = ("pull_rt", "pull_tps", "consume_rt", "consume_ok", "consume_failed", "failed_hour")

    def __init__(self, now: float | None) -> None:
        self.pull_rt = StatsWindow(now=now)
        self.pull_tps = StatsWindow(now=now)
        self.consume_rt = StatsWindow(now=now)
        self.consume_ok = StatsWindow(now=now)
        self.consume_failed = StatsWindow(now=now)
        self.failed_hour = StatsWindow(3600.0, 60.0, now=now)


class ConsumerStats:
    """One consumer group's rates, by topic (Java keys them ``topic@group``)."""

    def __init__(self) -> None:
        self._topics: dict[str, _TopicStats] = {}

    def _of(self, topic: str, now: float | None) -> _TopicStats:
        stats = self._topics.get(topic)
        if stats is None:
            stats = self._topics[topic] = _TopicStats(now)
        return stats

    def pulled(self, topic: str, rt_ms: float, found: int, now: float | None = None) -> None:
        """A pull answered after ``rt_ms`` with ``found`` messages (``incPullRT``,
        ``incPullTPS``)."""
        stats = self._of(topic, now)
        stats.pull_rt.add(rt_ms, 1, now)
        if found:
            stats.pull_tps.add(found, 1, now)

    def consumed(self, topic: str, rt_ms: float, ok: int, failed: int, now: float | None = None) -> None:
        """A listener call took ``rt_ms`` and acknowledged ``ok`` messages,
        failed ``failed`` (``incConsumeRT``, ``incConsumeOKTPS``, ``incConsumeFailedTPS``)."""
        stats = self._of(topic, now)
        stats.consume_rt.add(rt_ms, 1, now)
        if ok:
            stats.consume_ok.add(ok, 1, now)
        if failed:
            stats.consume_failed.add(failed, 1, now)
            stats.failed_hour.add(failed, 1, now)

    def consume_status(self, topic: str, now: float | None = None) -> TopicConsumeStatus:
        """``consumeStatus(group, topic)``: zeros for a topic nothing happened on."""
        stats = self._topics.get(topic)
        if stats is None:
            return TopicConsumeStatus()
        return TopicConsumeStatus(
            pull_rt=stats.pull_rt.avg(now),
            pull_tps=stats.pull_tps.tps(now),
            consume_rt=stats.consume_rt.avg(now),
            consume_ok_tps=stats.consume_ok.tps(now),
            consume_failed_tps=stats.consume_failed.tps(now),
            consume_failed_msgs=int(stats.failed_hour.totals(now)[0]),
        )
