"""``rmqwire send``: where the body comes from, and ``--count N``.

The body is bytes end to end: from a file or standard input as read, from
the command line as the operating system passed it (``os.fsencode`` undoes
Python's surrogate-escaped decoding of argv, so a non-UTF-8 argument is sent
byte for byte).  ``--count`` sends the same message N times, ``in_flight`` at
a time, counting failures instead of stopping at the first, with a progress
bar on a terminal and a closing summary: rate and latency percentiles.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, TextIO

from .cli_decode import CliError
from .codec.errors import RocketMQError

if TYPE_CHECKING:
    from . import AsyncProducer, Message

__all__ = ["read_body", "parse_properties", "percentile", "SendStats", "Progress", "send_many"]


def read_body(body: str | None, body_file: str | None, stdin: BinaryIO | None) -> bytes:
    """The message body: the argument (``-`` = standard input) or ``--body-file``."""
    if body is not None and body_file is not None:
        raise CliError("send: give the body once: as an argument or with --body-file, not both", 2)
    source = body_file if body_file is not None else body
    if source is None:
        raise CliError("send: no body: give it as an argument, '-' for standard input, or --body-file PATH", 2)
    if source == "-":
        if stdin is None:
            raise CliError("send: no standard input to read the body from")
        return stdin.read()
    if body_file is None:
        return os.fsencode(source)
    if os.path.isdir(body_file):
        raise CliError(f"send: --body-file {body_file} is a directory")
    try:
        with open(body_file, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise CliError(f"send: cannot read --body-file {body_file}: {exc.strerror or exc}") from None


def parse_properties(items: Sequence[str] | None) -> dict[str, str]:
    """``KEY=VALUE`` arguments as a dict (the last of a repeated key wins)."""
    props: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"send: --property wants KEY=VALUE, not {item!r}", 2)
        props[key] = value
    return props


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` percentile (0 < q <= 100) of sorted values
    (NaN for none)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class SendStats:
    """What ``--count`` sends came to."""

    requested: int
    attempted: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, successful sends only
    statuses: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    first_failure: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0
    interrupted: bool = False

    @property
    def sent(self) -> int:
        return len(self.latencies)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def all_sent(self) -> bool:
        return self.sent == self.requested

    def summary(self) -> str:
        """One line: how many, how fast, latency p50/p99, statuses, failures."""
        rate = self.sent / self.elapsed if self.elapsed > 0 else 0.0
        parts = [f"{self.sent} of {self.requested} messages sent in {self.elapsed:.2f} s: {rate:.0f} msgs/s"]
        if self.latencies:
            ordered = sorted(self.latencies)
            parts.append(f"latency p50 {percentile(ordered, 50) * 1e3:.2f} ms, p99 {percentile(ordered, 99) * 1e3:.2f} ms")
        if set(self.statuses) - {"SEND_OK"}:
            parts.append("statuses " + ", ".join(f"{k} {v}" for k, v in self.statuses.most_common()))
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.interrupted:
            parts.append(f"interrupted after {self.attempted}")
        return "; ".join(parts)

    def failure_line(self) -> str:
        """The one-line report of the failures (empty when there are none)."""
        if not self.failed:
            return ""
        kinds = ", ".join(f"{name} x{n}" for name, n in self.failures.most_common())
        first_kind = next(iter(self.first_failure))
        return (f"send: {self.failed} of {self.attempted} sends failed: {kinds} "
                f"(first: {first_kind}: {self.first_failure[first_kind]})")


class Progress:
    """Progress of ``--count`` on ``stream``: a bar redrawn in place on a
    terminal, otherwise a plain line every ``plain_interval`` seconds (none
    for a run shorter than that)."""

    def __init__(
        self,
        total: int,
        stream: TextIO,
        *,
        tty_interval: float = 0.1,
        plain_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        isatty = getattr(stream, "isatty", None)
        self.tty = bool(isatty()) if callable(isatty) else False
        self.total = total
        self.stream = stream
        self._interval = tty_interval if self.tty else plain_interval
        self._clock = clock
        self._start = clock()
        self._last = self._start
        self._drawn = False

    def update(self, done: int, failed: int, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        elapsed = now - self._start
        rate = (done - failed) / elapsed if elapsed > 0 else 0.0
        if self.tty:
            width = 30
            filled = width * done // self.total if self.total else width
            bar = "#" * filled + "." * (width - filled)
            pct = 100 * done // self.total if self.total else 100
            self.stream.write(f"\r[{bar}] {done}/{self.total} {pct:3d}% {rate:8.0f} msgs/s {failed} failed\x1b[K")
            self._drawn = True
        else:
            self.stream.write(f"rmqwire send: {done}/{self.total} done, {rate:.0f} msgs/s, {failed} failed\n")
        self.stream.flush()

    def close(self, done: int, failed: int) -> None:
        """Draw the final state (on a terminal) and end the bar's line."""
        if self.tty:
            self.update(done, failed, force=True)
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


async def send_many(
    producer: AsyncProducer,
    msg: Message,
    count: int,
    *,
    in_flight: int = 1,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
) -> SendStats:
    """Send ``msg`` ``count`` times, ``in_flight`` at a time; a failed send
    (any :class:`~rmqwire.codec.RocketMQError`) is counted, not raised.
    Setting ``stop`` lets the sends in flight finish and starts no more."""
    stats = SendStats(requested=count)
    clock = time.perf_counter

    async def worker() -> None:
        while stats.attempted < count and not (stop is not None and stop.is_set()):
            stats.attempted += 1
            t0 = clock()
            try:
                result = await producer.send(msg)
            except RocketMQError as exc:
                name = type(exc).__name__
                stats.failures[name] += 1
                stats.first_failure.setdefault(name, str(exc))
            else:
                stats.latencies.append(clock() - t0)
                stats.statuses[result.status.value] += 1
            if progress is not None:
                progress.update(stats.sent + stats.failed, stats.failed)

    began = clock()
    await asyncio.gather(*(worker() for _ in range(max(1, min(in_flight, count)))))
    stats.elapsed = clock() - began
    stats.interrupted = stats.attempted < count
    if progress is not None:
        progress.close(stats.sent + stats.failed, stats.failed)
    return stats
