"""``ClientSession`` and ``ServerSession``: the two ends of one remoting
connection, sans I/O.

Mirrors the request bookkeeping of Java's ``NettyRemotingAbstract`` (its
``responseTable`` of ``ResponseFuture`` keyed by opaque,
``processResponseCommand``, ``scanResponseTable``), which Java's
``NettyRemotingClient`` and ``NettyRemotingServer`` share, without Netty: no
sockets, no asyncio, no clocks, as h11 and aioquic are shaped.  Either end
may send requests and answer the peer's: a client sends SEND_MESSAGE and
answers CHECK_TRANSACTION_STATE; a broker answers SEND_MESSAGE and sends
NOTIFY_CONSUMER_IDS_CHANGED or GET_CONSUMER_RUNNING_INFO.  So both sessions
are one machine (:class:`RemotingSession`); the subclasses name the end and
keep its defaults.

Bytes go in through :meth:`RemotingSession.receive_data` and come out of
:meth:`~RemotingSession.send_request` / :meth:`~RemotingSession.send_response`;
time is an argument (``now``), and the caller arms one timer at
:meth:`~RemotingSession.get_timer` and calls
:meth:`~RemotingSession.handle_timer` when it fires, so tests never sleep.
What happened is reported as events (frozen dataclasses).

Memory is bounded per connection by ``max_frame_size`` (the decoder refuses
a longer frame as soon as its length is read) and, across connections, by an
optional shared :class:`BufferBudget`: the bytes of unfinished frames all its
sessions hold together.  The session whose data would take the total over
the budget is refused with a :class:`~codec.errors.FrameError`, as an
over-long frame is, and the server closes that connection.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
import math
from dataclasses import dataclass

from .command import RemotingCommand, _fast_constructor, encode
from .enums import RemotingFlag
from .errors import ClientError, CodecError, ConfigError, ConnectionClosedError, FrameError, RequestTimeoutError
from .stream import DEFAULT_MAX_FRAME_SIZE, FrameDecoder

__all__ = [
    "RemotingSession",
    "ClientSession",
    "ServerSession",
    "BufferBudget",
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
    """Base of everything a session reports."""


@dataclass(frozen=True, slots=True)
class ResponseReceived(Event):
    """The response to one of our pending requests (matched by opaque)."""

    opaque: int
    request: RemotingCommand
    response: RemotingCommand


@dataclass(frozen=True, slots=True)
class RequestReceived(Event):
    """A request the peer initiated (flag bit 0 clear): SEND_MESSAGE at a
    broker, CHECK_TRANSACTION_STATE at a client.  Answer it with
    :meth:`RemotingSession.send_response` of ``command.reply(...)``, unless
    it is oneway."""

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


_new_pending: Callable[..., _Pending] = _fast_constructor(_Pending)
_new_response_received: Callable[..., ResponseReceived] = _fast_constructor(ResponseReceived)
_heappush = heapq.heappush
_isfinite = math.isfinite
_RESPONSE = int(RemotingFlag.RESPONSE)
_ONEWAY = int(RemotingFlag.ONEWAY)


class BufferBudget:
    """A cap on the bytes of unfinished frames that several sessions hold
    together (e.g. every connection of one server).

    ``used`` is what they hold now.  A session whose data would take ``used``
    over ``limit`` is refused (``receive_data`` raises
    :class:`~codec.errors.FrameError`) and gives its share back; so a peer
    trickling one long frame cannot pin memory that other connections need,
    and forty of them cannot take the server to forty frames' worth.
    """

    __slots__ = ("limit", "used")

    def __init__(self, limit: int) -> None:
        if type(limit) is not int or limit < 0:
            raise ConfigError(f"a buffer budget must be an int of bytes >= 0, not {limit!r}")
        self.limit = limit
        self.used = 0

    def __repr__(self) -> str:
        return f"BufferBudget(limit={self.limit}, used={self.used})"


# Theory of operation
# -------------------
# The session has two states, open and closed (after connection_lost), and
# one table: ``_pending`` maps the opaque of every two-way request sent and
# not yet answered, timed out or failed to its entry.  A dict, because the
# peer may answer out of order.
#
# Opaques are handed out from a counter that wraps from MAX_OPAQUE to 0 and
# skips values still in ``_pending``, so two live requests never share one.
# Oneway requests take an opaque too (it is on the wire) but are not entered:
# nothing answers them.
#
# Incoming frames are told apart by flag bit 0 alone, as Java does: requests
# the peer initiates carry the peer's own opaques, which may equal one of
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
# With a BufferBudget, ``_held`` is this session's share of ``budget.used``:
# the decoder's unfinished bytes after the last receive_data.  Every exit
# (a refusal, a codec error, connection_lost) gives the share back.
#
# On connection_lost every pending request fails, in sending order, and the
# session refuses to send from then on.  A codec error from receive_data is
# not handled here: the stream is out of sync, the transport must close the
# connection and then call connection_lost.


class RemotingSession:
    """One connection's request/response matching, timeouts and framing.

    ``first_opaque`` is where opaque assignment starts; ``budget`` (optional)
    caps the unfinished-frame bytes held together with other sessions.  Use
    :class:`ClientSession` or :class:`ServerSession`.
    """

    __slots__ = (
        "_decoder", "_pending", "_heap", "_stale", "_serial", "_next_opaque", "_closed",
        "_budget", "_held", "_refused",
    )

    def __init__(
        self,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        *,
        first_opaque: int = 0,
        budget: BufferBudget | None = None,
    ) -> None:
        if max_frame_size < 8:
            raise ConfigError(f"max_frame_size must be at least 8 bytes, not {max_frame_size}")
        if not 0 <= first_opaque <= MAX_OPAQUE:
            raise ConfigError(f"first_opaque must be within 0..{MAX_OPAQUE}, not {first_opaque}")
        if budget is not None and not isinstance(budget, BufferBudget):
            raise TypeError(f"budget must be a BufferBudget, not {type(budget).__name__}")
        self._decoder = FrameDecoder(max_frame_size)
        self._pending: dict[int, _Pending] = {}
        self._heap: list[tuple[float, int, _Pending]] = []
        self._stale = 0
        self._serial = 0
        self._next_opaque = first_opaque
        self._closed = False
        self._budget = budget
        self._held = 0
        self._refused: CodecError | None = None

    # ----------------------------------------------------------------- state

    @property
    def pending(self) -> int:
        """How many two-way requests await a response."""
        return len(self._pending)

    @property
    def closed(self) -> bool:
        """Whether :meth:`connection_lost` was called."""
        return self._closed

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet make a whole frame."""
        return self._decoder.buffered

    # ----------------------------------------------------------------- sending

    def send_request(self, cmd: RemotingCommand, *, now: float, timeout: float) -> tuple[int, bytes]:
        """Assign ``cmd`` the next free opaque and return ``(opaque, frame)``.

        Unless ``cmd`` is oneway, the request stays pending until its response
        arrives or ``now + timeout`` passes (:meth:`handle_timer`).  Raises
        :class:`~codec.errors.ConnectionClosedError` once the connection is
        lost, :class:`~codec.errors.EncodeError` if ``cmd`` cannot be encoded
        (nothing is registered then).
        """
        if type(cmd) is not RemotingCommand and not isinstance(cmd, RemotingCommand):
            raise TypeError(f"send_request() takes a RemotingCommand, not {type(cmd).__name__}")
        if self._closed:
            raise ConnectionClosedError("cannot send a request: the connection is closed")
        flag = cmd.flag
        if flag & _RESPONSE:
            raise ClientError("send_request() takes a request; send responses with send_response()")
        if not (_isfinite(timeout) and timeout >= 0):
            raise ConfigError(f"timeout must be a finite number of seconds >= 0, not {timeout!r}")
        if not _isfinite(now):
            raise ConfigError(f"now must be a finite time, not {now!r}")
        pending = self._pending
        opaque = self._next_opaque
        if opaque in pending:
            opaque = self._free_opaque()
        request = cmd if cmd.opaque == opaque else cmd.with_opaque(opaque)
        frame = encode(request)
        self._next_opaque = 0 if opaque == MAX_OPAQUE else opaque + 1
        if not flag & _ONEWAY:
            deadline = now + timeout
            entry = _new_pending(opaque, request, deadline, timeout)
            pending[opaque] = entry
            self._serial += 1
            _heappush(self._heap, (deadline, self._serial, entry))
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

        A malformed stream, a frame over ``max_frame_size`` or data that would
        take a shared :class:`BufferBudget` over its limit raise a
        :class:`~codec.errors.CodecError`; the connection is then unusable
        and should be closed.
        """
        if self._closed:
            raise ConnectionClosedError("cannot receive: the connection is closed")
        if self._refused is not None:
            raise FrameError(f"session is unusable after an earlier error: {self._refused}")
        budget = self._budget
        if budget is None:
            commands = self._decoder.feed(data)
        else:
            commands = self._feed_within(budget, data)
        events: list[Event] = []
        for cmd in commands:
            if not cmd.is_response:
                events.append(RequestReceived(cmd))
                continue
            entry = self._pending.pop(cmd.opaque, None)
            if entry is None:
                events.append(UnmatchedResponse(cmd))
                continue
            self._note_stale()
            events.append(_new_response_received(entry.opaque, entry.request, cmd))
        return events

    def _feed_within(self, budget: BufferBudget, data: bytes | bytearray | memoryview) -> list[RemotingCommand]:
        try:
            commands = self._decoder.feed(data)
        except CodecError as exc:
            self._refuse(exc)  # the decoder dropped what it held
            raise
        held = self._decoder.buffered
        budget.used += held - self._held
        self._held = held
        if held and budget.used > budget.limit:
            error = FrameError(
                f"{held} bytes of an unfinished frame would take the bytes buffered across connections "
                f"to {budget.used}, over the budget of {budget.limit}"
            )
            self._refuse(error)
            raise error
        return commands

    def _refuse(self, error: CodecError) -> None:
        self._refused = error
        self._release()
        self._decoder = FrameDecoder(self._decoder.max_frame_size)  # drop the bytes held

    def _release(self) -> None:
        if self._budget is not None and self._held:
            self._budget.used -= self._held
        self._held = 0

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

    def expire(self, opaque: int) -> RequestTimedOut | None:
        """The caller stopped waiting for request ``opaque`` before its
        deadline was handled here (a thread that keeps its own clock): forget
        it and return its :class:`RequestTimedOut`, or ``None`` when it is no
        longer pending (its response or failure was already reported, so the
        caller will get that instead)."""
        entry = self._pending.pop(opaque, None)
        if entry is None:
            return None
        self._note_stale()
        return RequestTimedOut(entry.opaque, entry.request, entry.timeout)

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
        ``__cause__`` is ``exc``, and give back what a :class:`BufferBudget`
        lent.  Further sends raise ``ConnectionClosedError``.  Calling it
        again returns nothing."""
        self._closed = True
        self._release()
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


class ClientSession(RemotingSession):
    """The client end of one connection (Java's ``NettyRemotingClient``):
    sends requests to a name server or broker and answers the requests a
    broker initiates.  ``first_opaque`` is where opaque assignment starts
    (Java, C++: 0)."""

    __slots__ = ()


class ServerSession(RemotingSession):
    """The server end of one accepted connection (Java's
    ``NettyRemotingServer``): answers the client's requests with
    :meth:`send_response` and sends requests of its own
    (NOTIFY_CONSUMER_IDS_CHANGED, CHECK_TRANSACTION_STATE,
    GET_CONSUMER_RUNNING_INFO ...) with :meth:`send_request`, their opaques
    from this session's own counter, never the client's.  A server shares
    one :class:`BufferBudget` among its sessions to bound what slow or
    hostile peers make it hold."""

    __slots__ = ()
