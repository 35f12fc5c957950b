"""``ClientSession``: the client side of one remoting connection, sans I/O.

Mirrors the request bookkeeping of Java's ``NettyRemotingAbstract`` (its
``responseTable`` of ``ResponseFuture`` keyed by opaque,
``processResponseCommand``, ``scanResponseTable``) without Netty: no sockets,
no asyncio, no clocks, as h11 and aioquic are shaped.  Bytes go in through
:meth:`ClientSession.receive_data` and come out of :meth:`~ClientSession.send_request`
/ :meth:`~ClientSession.send_response`; time is an argument (``now``), and
the caller arms one timer at :meth:`~ClientSession.get_timer` and calls
:meth:`~ClientSession.handle_timer` when it fires, so tests never sleep.
What happened is reported as events (frozen dataclasses).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

from .command import RemotingCommand, encode
from .errors import ClientError, ConfigError, ConnectionClosedError, RequestTimeoutError
from .stream import DEFAULT_MAX_FRAME_SIZE, FrameDecoder

__all__ = [
    "ClientSession",
    "Event",
    "ResponseReceived",
    "RequestReceived",
    "UnmatchedResponse",
    "RequestTimedOut",
    "RequestFailed",
    "MAX_OPAQUE",
]

#: Opaques stay non-negative int32 (as the C++ client keeps them, ``& INT_MAX``).
MAX_OPAQUE = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Event:
    """Base of everything a :class:`ClientSession` reports."""


@dataclass(frozen=True, slots=True)
class ResponseReceived(Event):
    """The response to one of our pending requests (matched by opaque)."""

    opaque: int
    request: RemotingCommand
    response: RemotingCommand


@dataclass(frozen=True, slots=True)
class RequestReceived(Event):
    """A request the peer initiated (flag bit 0 clear), e.g.
    CHECK_TRANSACTION_STATE.  Answer it with :meth:`ClientSession.send_response`
    of ``command.reply(...)``, unless it is oneway."""

    command: RemotingCommand


@dataclass(frozen=True, slots=True)
class UnmatchedResponse(Event):
    """A response whose opaque matches no pending request: it came after its
    request timed out, answered a oneway request, or is bogus.  Java logs and
    drops these; so may the caller."""

    command: RemotingCommand


@dataclass(frozen=True, slots=True)
class RequestTimedOut(Event):
    """No response arrived by the request's deadline; the request is forgotten,
    and a late response will come as :class:`UnmatchedResponse`."""

    opaque: int
    request: RemotingCommand
    timeout: float

    @property
    def error(self) -> RequestTimeoutError:
        """The exception to hand to whoever waits for this request."""
        return RequestTimeoutError(
            f"no response to request code {self.request.code} (opaque {self.opaque}) within {self.timeout:g} s"
        )


@dataclass(frozen=True, slots=True)
class RequestFailed(Event):
    """The connection was lost while the request was pending."""

    opaque: int
    request: RemotingCommand
    error: ConnectionClosedError


@dataclass(frozen=True, slots=True, eq=False)
class _Pending:
    opaque: int
    request: RemotingCommand
    deadline: float
    timeout: float


# Theory of operation
# -------------------
# The session has two states, open and closed (after connection_lost), and
# one table: ``_pending`` maps the opaque of every two-way request sent and
# not yet answered, timed out or failed to its entry.  A dict, because a
# broker may answer out of order.
#
# Opaques are handed out from a counter that wraps from MAX_OPAQUE to 0 and
# skips values still in ``_pending``, so two live requests never share one.
# Oneway requests take an opaque too (it is on the wire) but are not entered:
# nothing answers them.
#
# Incoming frames are told apart by flag bit 0 alone, as Java does: requests
# the broker initiates carry the broker's own opaques, which may equal one of
# ours, so an opaque never makes a request a response.
#
# Deadlines live in a min-heap of (deadline, serial, entry).  Answering a
# request does not search the heap: the entry just leaves ``_pending``, and
# its heap item goes stale; stale items are dropped when they reach the top,
# or all at once when they outnumber the live ones.  ``serial`` keeps equal
# deadlines in sending order and entries out of comparisons; an entry is live
# only while ``_pending[entry.opaque] is entry``, which stays right when an
# opaque is reused after its first request ended.
#
# On connection_lost every pending request fails, in sending order, and the
# session refuses to send from then on.  A codec error from receive_data is
# not handled here: the stream is out of sync, the transport must close the
# connection and then call connection_lost.


class ClientSession:
    """One client connection's request/response matching and timeouts.

    ``first_opaque`` is where opaque assignment starts (Java, C++: 0).
    """

    __slots__ = ("_decoder", "_pending", "_heap", "_stale", "_serial", "_next_opaque", "_closed")

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE, *, first_opaque: int = 0) -> None:
        if max_frame_size < 8:
            raise ConfigError(f"max_frame_size must be at least 8 bytes, not {max_frame_size}")
        if not 0 <= first_opaque <= MAX_OPAQUE:
            raise ConfigError(f"first_opaque must be within 0..{MAX_OPAQUE}, not {first_opaque}")
        self._decoder = FrameDecoder(max_frame_size)
        self._pending: dict[int, _Pending] = {}
        self._heap: list[tuple[float, int, _Pending]] = []
        self._stale = 0
        self._serial = 0
        self._next_opaque = first_opaque
        self._closed = False

    # ----------------------------------------------------------------- state

    @property
    def pending(self) -> int:
        """How many two-way requests await a response."""
        return len(self._pending)

    @property
    def closed(self) -> bool:
        """Whether :meth:`connection_lost` was called."""
        return self._closed

    # ----------------------------------------------------------------- sending

    def send_request(self, cmd: RemotingCommand, *, now: float, timeout: float) -> tuple[int, bytes]:
        """Assign ``cmd`` the next free opaque and return ``(opaque, frame)``.

        Unless ``cmd`` is oneway, the request stays pending until its response
        arrives or ``now + timeout`` passes (:meth:`handle_timer`).  Raises
        :class:`~codec.errors.ConnectionClosedError` once the connection is
        lost, :class:`~codec.errors.EncodeError` if ``cmd`` cannot be encoded
        (nothing is registered then).
        """
        if not isinstance(cmd, RemotingCommand):
            raise TypeError(f"send_request() takes a RemotingCommand, not {type(cmd).__name__}")
        if self._closed:
            raise ConnectionClosedError("cannot send a request: the connection is closed")
        if cmd.is_response:
            raise ClientError("send_request() takes a request; send responses with send_response()")
        if not (math.isfinite(timeout) and timeout >= 0):
            raise ConfigError(f"timeout must be a finite number of seconds >= 0, not {timeout!r}")
        if not math.isfinite(now):
            raise ConfigError(f"now must be a finite time, not {now!r}")
        opaque = self._free_opaque()
        request = cmd.with_opaque(opaque)
        frame = encode(request)
        self._next_opaque = 0 if opaque == MAX_OPAQUE else opaque + 1
        if not request.is_oneway:
            entry = _Pending(opaque, request, now + timeout, timeout)
            self._pending[opaque] = entry
            self._serial += 1
            heapq.heappush(self._heap, (entry.deadline, self._serial, entry))
        return opaque, frame

    def send_response(self, cmd: RemotingCommand) -> bytes:
        """The frame answering a :class:`RequestReceived` (``cmd`` keeps the
        request's opaque, e.g. built with ``request.reply(...)``)."""
        if not isinstance(cmd, RemotingCommand):
            raise TypeError(f"send_response() takes a RemotingCommand, not {type(cmd).__name__}")
        if self._closed:
            raise ConnectionClosedError("cannot send a response: the connection is closed")
        if not cmd.is_response:
            raise ClientError("send_response() takes a response (flag bit 0 set); send requests with send_request()")
        return encode(cmd)

    def _free_opaque(self) -> int:
        opaque = self._next_opaque
        if len(self._pending) > MAX_OPAQUE:
            raise ClientError("every opaque is in use")
        while opaque in self._pending:
            opaque = 0 if opaque == MAX_OPAQUE else opaque + 1
        return opaque

    # ----------------------------------------------------------------- receiving

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Feed bytes read from the connection; return what they completed:
        :class:`ResponseReceived`, :class:`RequestReceived` and
        :class:`UnmatchedResponse`, in arrival order.

        A malformed stream raises a :class:`~codec.errors.CodecError`; the
        connection is then unusable and should be closed.
        """
        if self._closed:
            raise ConnectionClosedError("cannot receive: the connection is closed")
        events: list[Event] = []
        for cmd in self._decoder.feed(data):
            if not cmd.is_response:
                events.append(RequestReceived(cmd))
                continue
            entry = self._pending.pop(cmd.opaque, None)
            if entry is None:
                events.append(UnmatchedResponse(cmd))
                continue
            self._note_stale()
            events.append(ResponseReceived(entry.opaque, entry.request, cmd))
        return events

    # ----------------------------------------------------------------- time

    def get_timer(self) -> float | None:
        """The earliest deadline of a pending request, or ``None``."""
        heap = self._heap
        while heap and self._pending.get(heap[0][2].opaque) is not heap[0][2]:
            heapq.heappop(heap)
            self._stale -= 1
        return heap[0][0] if heap else None

    def handle_timer(self, now: float) -> list[RequestTimedOut]:
        """Expire every pending request whose deadline is ``<= now``, earliest
        deadline first."""
        heap = self._heap
        pending = self._pending
        events: list[RequestTimedOut] = []
        while heap and heap[0][0] <= now:
            _, _, entry = heapq.heappop(heap)
            if pending.get(entry.opaque) is entry:
                del pending[entry.opaque]
                events.append(RequestTimedOut(entry.opaque, entry.request, entry.timeout))
            else:
                self._stale -= 1
        return events

    def _note_stale(self) -> None:
        # An entry left _pending before its deadline.  Rebuild the heap when
        # stale items dominate, so a busy connection with long timeouts does
        # not keep a heap of mostly dead items.
        self._stale += 1
        if self._stale > 64 and self._stale > len(self._pending):
            pending = self._pending
            self._heap = [item for item in self._heap if pending.get(item[2].opaque) is item[2]]
            heapq.heapify(self._heap)
            self._stale = 0

    # ----------------------------------------------------------------- end

    def connection_lost(self, exc: BaseException | None = None) -> list[RequestFailed]:
        """The connection is gone: fail every pending request (in sending
        order) with a :class:`~codec.errors.ConnectionClosedError` whose
        ``__cause__`` is ``exc``.  Further sends raise
        ``ConnectionClosedError``.  Calling it again returns nothing."""
        self._closed = True
        reason = f": {exc}" if exc is not None else ""
        events: list[RequestFailed] = []
        for opaque, entry in self._pending.items():
            error = ConnectionClosedError(
                f"connection closed before the response to request code {entry.request.code} (opaque {opaque}){reason}"
            )
            error.__cause__ = exc
            events.append(RequestFailed(opaque, entry.request, error))
        self._pending.clear()
        self._heap.clear()
        self._stale = 0
        return events
