"""Faults to inject into the embedded servers: error answers, delays,
silence, dropped and refused connections.

No Java class: this is the test harness's own, in the spirit of
kafka-python's scriptable ``MockBroker``.  A :class:`Fault` says what to do
and to which requests (by request code and server); a :class:`FaultTable`
holds the active ones and hands them out in injection order, counting down
their ``times``.  The request pipeline (:mod:`.dispatch`) asks the table for
each request and each new connection.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Final, Literal

from ..codec.enums import ResponseCode
from ..codec.errors import ConfigError
from .config import FAQ_SUFFIX, MAX_MESSAGE_SIZE

__all__ = ["Fault", "FaultKind", "FaultTable", "ILLEGAL_REMARK", "default_remark"]

FaultKind = Literal["error", "delay", "swallow", "drop", "refuse"]
_FAULT_KINDS: Final = ("error", "delay", "swallow", "drop", "refuse")

#: The remark ``SendMessageProcessor.handlePutMessageResult`` gives MESSAGE_ILLEGAL.
ILLEGAL_REMARK: Final = (
    "the message is illegal, maybe msg body or properties length not matched. "
    "msg body length limit {}B, msg properties length limit 32KB."
)


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault to inject into the servers (``LocalBroker.inject``).

    It matches requests by ``code`` (``None`` = any request code) and by
    server: ``broker`` is a broker name, ``"namesrv"`` for the name server,
    or ``None`` for any server.  It applies to the next ``times`` matching
    requests (``None`` = until cleared).  Kinds:

    * ``error``: answer ``response_code`` with ``remark`` instead of handling
      the request (a SEND is not stored);
    * ``delay``: handle the request (a SEND is stored), answer ``seconds`` later;
    * ``swallow``: record the request, neither handle nor answer it;
    * ``drop``: close the connection on receiving the request, before handling;
    * ``refuse``: close each new connection to the server right after
      accepting it (``code`` is ignored; ``times`` counts connections).

    Oneway requests never get an answer, whatever the fault.  Build faults
    with :meth:`error`, :meth:`delay`, :meth:`swallow`, :meth:`drop`,
    :meth:`refuse`; a bad one is a :class:`~codec.errors.ConfigError`.
    """

    kind: FaultKind
    code: int | None = None
    broker: str | None = None
    times: int | None = None
    response_code: int = int(ResponseCode.SYSTEM_BUSY)
    remark: str | None = None
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in _FAULT_KINDS:
            raise ConfigError(f"unknown fault kind {self.kind!r} (expected one of {', '.join(_FAULT_KINDS)})")
        if self.times is not None and self.times < 1:
            raise ConfigError("times must be None (forever) or at least 1")
        if self.seconds < 0:
            raise ConfigError("seconds must not be negative")

    @classmethod
    def error(
        cls,
        response_code: int,
        remark: str | None = None,
        *,
        code: int | None = None,
        broker: str | None = None,
        times: int | None = None,
    ) -> Fault:
        """Answer ``response_code`` (e.g. ``ResponseCode.SYSTEM_BUSY``) with ``remark``."""
        if remark is None:
            remark = default_remark(int(response_code))
        return cls("error", code, broker, times, int(response_code), remark)

    @classmethod
    def delay(
        cls, seconds: float, *, code: int | None = None, broker: str | None = None, times: int | None = None
    ) -> Fault:
        """Handle the request, then answer it ``seconds`` later."""
        return cls("delay", code, broker, times, seconds=float(seconds))

    @classmethod
    def swallow(cls, *, code: int | None = None, broker: str | None = None, times: int | None = None) -> Fault:
        """Never answer (the request is recorded, not handled)."""
        return cls("swallow", code, broker, times)

    @classmethod
    def drop(cls, *, code: int | None = None, broker: str | None = None, times: int | None = None) -> Fault:
        """Close the connection on receiving the request, before handling it."""
        return cls("drop", code, broker, times)

    @classmethod
    def refuse(cls, broker: str | None = None, *, times: int | None = None) -> Fault:
        """Close new connections to ``broker`` (or any server) right after accepting them."""
        return cls("refuse", None, broker, times)

    def matches(self, server: str, code: int | None) -> bool:
        """Whether this fault applies to a request ``code`` (``None``: a new
        connection) arriving at ``server`` (a broker name or ``"namesrv"``)."""
        if self.broker is not None and self.broker != server:
            return False
        if code is None:
            return self.kind == "refuse"
        return self.kind != "refuse" and (self.code is None or self.code == code)


def default_remark(code: int) -> str:
    """The remark a Java broker gives ``code`` where it has a usual one."""
    if code == ResponseCode.SYSTEM_BUSY:
        return "[REJECTREQUEST]system busy, start flow control for a while"
    if code == ResponseCode.SERVICE_NOT_AVAILABLE:
        return "service not available now, maybe disk full, maybe your broker machine memory too small."
    if code == ResponseCode.NO_PERMISSION:
        return "the broker sending message is forbidden"
    if code == ResponseCode.TOPIC_NOT_EXIST:
        return "topic not exist, apply first please!" + FAQ_SUFFIX
    if code == ResponseCode.MESSAGE_ILLEGAL:
        return ILLEGAL_REMARK.format(MAX_MESSAGE_SIZE)
    try:
        return f"injected {ResponseCode(code).name}"
    except ValueError:
        return f"injected error {code}"


class _Active:
    __slots__ = ("fault", "remaining")

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.remaining = fault.times


class FaultTable:
    """The active faults, consumed in injection order; thread-safe, so a
    test thread may inject into servers running on another loop."""

    __slots__ = ("_lock", "_active")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: list[_Active] = []

    def __bool__(self) -> bool:
        # Read without the lock: the hot path only wants "is there any".
        return bool(self._active)

    def add(self, fault: Fault) -> Fault:
        if not isinstance(fault, Fault):
            raise TypeError(f"inject() takes a Fault, not {type(fault).__name__}")
        with self._lock:
            self._active.append(_Active(fault))
        return fault

    def clear(self) -> None:
        with self._lock:
            self._active.clear()

    def snapshot(self) -> list[tuple[Fault, int | None]]:
        """Active faults with what is left of their ``times``."""
        with self._lock:
            return [(a.fault, a.remaining) for a in self._active]

    def take(self, server: str, code: int | None) -> Fault | None:
        """The first fault matching a request ``code`` (``None``: a new
        connection) at ``server``, counted as used once."""
        with self._lock:
            for active in self._active:
                if active.fault.matches(server, code):
                    if active.remaining is not None:
                        active.remaining -= 1
                        if active.remaining <= 0:
                            self._active.remove(active)
                    return active.fault
        return None
