"""``rmqwire consume``: print messages as they arrive, then a summary.

A push consumer of one group on one topic (and tag expression).  Each
message is one line: its number, queue and offset, ids, tags, keys, retry
count, user properties and body (text when it is printable UTF-8, else
hex).  It stops after ``--count`` messages, after ``--idle-timeout``
seconds without one, or at Ctrl-C / SIGTERM, and prints how many arrived,
how fast, from how many queues.

Messages are printed one at a time (one listener call at once), so the
count is exact: the listener acknowledges a message only once it is
printed, and after the last one it holds the next calls until shutdown, so
whatever it did not print stays unacknowledged and is delivered again on
the next run of the same group.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .codec.store import MessageExt
    from .types import ConsumeStatus

__all__ = ["format_message", "format_body", "ConsumeStats", "Printer"]


def format_body(body: bytes) -> str:
    """The body as quoted text when it is printable UTF-8, else ``hex:...``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "hex:" + body.hex()
    if text.isprintable():
        return repr(text)
    return "hex:" + body.hex()


def format_message(number: int, msg: MessageExt) -> str:
    """One line describing ``msg``, the ``number``-th to arrive."""
    parts = [
        f"#{number}",
        f"{msg.topic}",
        f"queue={msg.broker_name}:{msg.queue_id}",
        f"offset={msg.queue_offset}",
        f"msg_id={msg.msg_id}",
    ]
    if msg.tags:
        parts.append(f"tags={msg.tags}")
    if msg.keys:
        parts.append(f"keys={msg.keys}")
    if msg.reconsume_times:
        parts.append(f"reconsume_times={msg.reconsume_times}")
    for name, value in sorted(msg.user_properties.items()):
        parts.append(f"{name}={value}")
    parts.append(f"body={format_body(msg.body)}")
    return " ".join(parts)


@dataclass
class ConsumeStats:
    """What arrived: how many, from which queues, over how long."""

    started: float = field(default_factory=time.monotonic)
    count: int = 0
    queues: set[tuple[str, str, int]] = field(default_factory=set)
    first: float | None = None
    last: float | None = None

    def add(self, msg: MessageExt, now: float | None = None) -> int:
        """Count ``msg``; its number."""
        t = time.monotonic() if now is None else now
        self.count += 1
        self.queues.add((msg.topic, msg.broker_name, msg.queue_id))
        if self.first is None:
            self.first = t
        self.last = t
        return self.count

    def summary(self, now: float | None = None) -> str:
        """``N messages consumed in S s[: R msgs/s], from Q queues``.

        The rate counts the ``N - 1`` intervals between the first and the
        last arrival; with fewer than two messages (or all in one instant)
        there is no rate to tell."""
        elapsed = (time.monotonic() if now is None else now) - self.started
        noun = "message" if self.count == 1 else "messages"
        text = f"{self.count} {noun} consumed in {elapsed:.2f} s"
        if self.count and self.first is not None and self.last is not None:
            span = self.last - self.first
            parts = [f"{(self.count - 1) / span:.0f} msgs/s"] if self.count >= 2 and span > 0 else []
            queues = len(self.queues)
            parts.append(f"from {queues} queue{'s' if queues != 1 else ''}")
            text += ": " + ", ".join(parts)
        return text


class Printer:
    """The listener: print, count, and say when to stop."""

    def __init__(self, out: TextIO, count: int | None, idle_timeout: float | None) -> None:
        self.out = out
        self.limit = count
        self.idle_timeout = idle_timeout
        self.stats = ConsumeStats()
        self.done = asyncio.Event()
        self._last_arrival = time.monotonic()
        self._hold = asyncio.Event()  # never set: calls past the count wait for shutdown

    async def __call__(self, msgs: list[MessageExt]) -> ConsumeStatus:
        from .types import ConsumeStatus

        for msg in msgs:
            if self.limit is not None and self.stats.count >= self.limit:
                await self._hold.wait()
            number = self.stats.add(msg)
            self._last_arrival = time.monotonic()
            print(format_message(number, msg), file=self.out, flush=True)
            if self.limit is not None and number >= self.limit:
                self.done.set()
        return ConsumeStatus.CONSUME_SUCCESS

    async def wait(self, stop: asyncio.Event) -> bool:
        """Until the count is reached, the idle timeout passes or ``stop`` is
        set; True if stopped by ``stop`` before the count."""
        stopping = asyncio.ensure_future(stop.wait())
        finished = asyncio.ensure_future(self.done.wait())
        try:
            while True:
                timeout = None
                if self.idle_timeout is not None:
                    timeout = max(0.0, self._last_arrival + self.idle_timeout - time.monotonic())
                await asyncio.wait([stopping, finished], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if finished.done():
                    return False
                if stopping.done():
                    return True
                if self.idle_timeout is not None and time.monotonic() - self._last_arrival >= self.idle_timeout:
                    return False
        finally:
            stopping.cancel()
            finished.cancel()


def install_stop_signals(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> Callable[[], None]:
    """Ctrl-C and SIGTERM set ``stop`` (when the loop runs in the main
    thread); returns the undo."""
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop)
            installed.append(sig)

    def undo() -> None:
        for sig in installed:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)

    return undo
