"""``ConsumerStatsManager``: a push consumer's pull and consume rates per topic.

Mirrors what Java's ``ConsumerStatsManager`` reports in a
GET_CONSUMER_RUNNING_INFO answer (``consumeStatus``): over the last minute,
the average pull and consume time (ms) and the pulled, consumed-OK and
consumed-failed messages per second; over the last hour, how many messages
failed.  Java samples cumulative counters every 10 s (``StatsItem``) and
compares the newest sample with the oldest of the window; here each event
adds to a per-second bucket (a per-minute one for the hour), and a
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


# slots of a minute bucket of _TopicStats
_PULL_RT, _PULLS, _PULLED, _CONSUME_RT, _CONSUMES, _OK, _FAILED = range(1, 8)


class _TopicStats:
    """The minute's counters of one topic in one deque of per-second buckets
    ``[second, pull rt sum, pulls, pulled, consume rt sum, consumes, ok,
    failed]`` (one bucket check per event: this runs once per message), and
    the failed messages of the hour."""

    __slots__ = ("minute", "start", "failed_hour")

    def __init__(self, now: float | None) -> None:
        self.minute: deque[list[float]] = deque()
        self.start = time.monotonic() if now is None else now
        self.failed_hour = StatsWindow(3600.0, 60.0, now=now)

    def bucket(self, now: float | None) -> list[float]:
        second = int(time.monotonic() if now is None else now)
        minute = self.minute
        if minute and minute[-1][0] == second:
            return minute[-1]
        fresh = [second, 0.0, 0, 0, 0.0, 0, 0, 0]
        minute.append(fresh)
        while minute[0][0] <= second - 60:
            minute.popleft()
        return fresh

    def sums(self, now: float | None) -> tuple[list[float], float]:
        t = time.monotonic() if now is None else now
        second = int(t)
        live = [b for b in self.minute if b[0] > second - 60]
        totals = [sum(b[i] for b in live) for i in range(8)]
        return totals, min(60.0, max(t - self.start, 1.0))


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
        bucket = self._of(topic, now).bucket(now)
        bucket[_PULL_RT] += rt_ms
        bucket[_PULLS] += 1
        bucket[_PULLED] += found

    def consumed(self, topic: str, rt_ms: float, ok: int, failed: int, now: float | None = None) -> None:
        """A listener call took ``rt_ms`` and acknowledged ``ok`` messages,
        failed ``failed`` (``incConsumeRT``, ``incConsumeOKTPS``, ``incConsumeFailedTPS``)."""
        stats = self._of(topic, now)
        bucket = stats.bucket(now)
        bucket[_CONSUME_RT] += rt_ms
        bucket[_CONSUMES] += 1
        bucket[_OK] += ok
        if failed:
            bucket[_FAILED] += failed
            stats.failed_hour.add(failed, 1, now)

    def consume_status(self, topic: str, now: float | None = None) -> TopicConsumeStatus:
        """``consumeStatus(group, topic)``: zeros for a topic nothing happened on."""
        stats = self._topics.get(topic)
        if stats is None:
            return TopicConsumeStatus()
        sums, seconds = stats.sums(now)
        return TopicConsumeStatus(
            pull_rt=sums[_PULL_RT] / sums[_PULLS] if sums[_PULLS] else 0.0,
            pull_tps=sums[_PULLED] / seconds,
            consume_rt=sums[_CONSUME_RT] / sums[_CONSUMES] if sums[_CONSUMES] else 0.0,
            consume_ok_tps=sums[_OK] / seconds,
            consume_failed_tps=sums[_FAILED] / seconds,
            consume_failed_msgs=int(stats.failed_hour.totals(now)[0]),
        )
