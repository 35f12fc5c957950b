"""One re-armable timer on the broker's event loop, for the services whose
logic is sans-I/O and says when it wants to run next (delayed delivery,
held pulls).

No Java class: Java runs those services as threads that sleep
(``ServiceThread.waitForRunning``, ``Timer.schedule``).  Here each is a
callback the loop calls at the earliest deadline it was armed for;
:meth:`LoopTimer.stop` (when the cluster stops) cancels it for good.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

__all__ = ["LoopTimer"]

log = logging.getLogger(__name__)


class LoopTimer:
    """Calls ``callback()`` on ``loop`` once, at the earliest time it was
    armed for; arming again for a later time changes nothing, for an
    earlier one moves it.  Arm it from any thread."""

    __slots__ = ("_callback", "_name", "_loop", "_thread", "_handle", "_when", "_stopped")

    def __init__(self, callback: Callable[[], None], name: str) -> None:
        self._callback = callback
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._when: float | None = None
        self._stopped = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run on ``loop`` from now on (the broker binds it when it listens)."""
        self._loop = loop
        self._thread = threading.get_ident()
        self._stopped = False

    @property
    def armed(self) -> bool:
        return self._handle is not None

    def arm(self, delay: float) -> None:
        """Fire ``delay`` seconds from now (0: on the loop's next turn),
        unless it is armed to fire sooner already."""
        loop = self._loop
        if loop is None or self._stopped or loop.is_closed():
            return
        if threading.get_ident() != self._thread:
            loop.call_soon_threadsafe(self.arm, delay)
            return
        when = loop.time() + max(0.0, delay)
        if self._when is not None and self._when <= when:
            return
        if self._handle is not None:
            self._handle.cancel()
        self._when = when
        self._handle = loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._when = None
        try:
            self._callback()
        except Exception:  # the service's bug must not kill the loop's other work
            log.exception("%s: timer callback failed", self._name)

    def stop(self) -> None:
        """Cancel it and refuse to arm again until bound again."""
        self._stopped = True
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._when = None
