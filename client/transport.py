"""The asyncio transport: one TCP (or TLS) connection to a name server or broker.

Mirrors the channel half of Java's ``NettyRemotingClient``.  All protocol
logic (opaques, matching responses, timeouts) lives in the sans-I/O
:class:`codec.session.ClientSession`; this module only moves bytes between
the socket and the session, and arms one timer at the session's next deadline
(``get_timer``/``handle_timer``, time from the event loop's clock).

Two things keep its cost per request low (issue 13): the frames written in
one turn of the event loop leave with one ``transport.write`` (see
``Connection._queue``), and the timer is only re-armed when a new request
ends before the armed deadline; a timer that fires early for an answered
request just re-arms at the next one.

A thread other than the loop's may send too (:meth:`Connection.request_blocking`,
for the blocking producer): waking the loop thread for every request would
cost more than the request (two thread switches and a self-pipe write), so
the thread writes its frame itself, straight to the socket when nothing is
queued before it, and blocks on a lock that the loop releases when the
response is read.  One lock (``_mutex``) makes the session and the outgoing
queue safe to share between the threads; the session stays single-minded.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl as _ssl
import threading
from collections.abc import Callable
from typing import Protocol

from .codec.command import RemotingCommand
from .codec.enums import ResponseCode
from .codec.errors import CodecError, ConnectError, ConnectionClosedError, RequestTimeoutError
from .codec.session import ClientSession, RequestReceived, ResponseReceived, UnmatchedResponse
from .codec.stream import DEFAULT_MAX_FRAME_SIZE
from .aiotools import wait_for
from .logfmt import loggable

__all__ = ["Connection", "FrameObserver", "parse_addr", "open_connection"]

log = logging.getLogger(__name__)

#: ``observer(direction, role, addr, frame)`` sees every whole frame as it
#: crosses the socket: direction ``"out"`` or ``"in"``, role ``"namesrv"`` or
#: ``"broker"`` (the frame recorder).  Outgoing frames are shown in wire
#: order, on the thread that sends them (the loop's, or a blocking
#: producer's caller's) with the connection's lock held: an observer must be
#: thread-safe and must not send through the same client.
FrameObserver = Callable[[str, str, str, bytes], None]

#: ``on_request(connection, request)`` takes a request the server started
#: (``NOTIFY_CONSUMER_IDS_CHANGED``, ``CHECK_TRANSACTION_STATE`` ...) and
#: answers it, now or later, with :meth:`Connection.send_response`.  Without
#: one, every such request gets REQUEST_CODE_NOT_SUPPORTED, as Java answers
#: codes without a processor; a handler that raises gets SYSTEM_ERROR sent.
RequestHandler = Callable[["Connection", RemotingCommand], None]


_PLAIN_TO_TLS_HINT = "if the server uses TLS, connect with ssl=True (or an ssl.SSLContext)"
_TLS_TO_PLAIN_HINT = "the TLS handshake failed: if the server does not use TLS, connect without ssl="


def _looks_like_tls(data: bytes) -> bool:
    # a TLS record: content type handshake (22) or alert (21), version 3.x;
    # as a RocketMQ length prefix that would be a 350 MB frame
    return len(data) >= 2 and data[0] in (0x15, 0x16) and data[1] == 0x03


def _handshake_failure(exc: BaseException) -> bool:
    # a refused connection never reached the handshake, and a certificate
    # error means the peer does speak TLS
    if isinstance(exc, _ssl.SSLCertVerificationError) or isinstance(exc, ConnectionRefusedError):
        return False
    return isinstance(exc, (_ssl.SSLError, ConnectionResetError, ConnectionAbortedError, BrokenPipeError, EOFError))


#: bytes of frames buffered in one loop turn that are written at once: the
#: first frames of a burst then reach the peer while the rest are still being
#: built, so both ends work at once (64 sends in flight to a minimal broker:
#: ~30,000 msgs/s at 16 KiB against ~20,000 at 64 KiB, for the same CPU)
_FLUSH_AT = 16 * 1024
#: seconds a thread waits for an outcome the loop has already taken from the
#: session (it is being delivered) before giving up on a wedged loop
_DELIVERY_SLACK = 5.0


class _Waiter(Protocol):
    def done(self) -> bool: ...

    def set_result(self, result: RemotingCommand, /) -> None: ...

    def set_exception(self, exception: BaseException, /) -> None: ...


class _ThreadWaiter:
    """The future of a request a thread sent: a held lock the thread blocks
    on, released by the loop thread (the only one that completes it)."""

    __slots__ = ("_lock", "_done", "_result", "_error")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._done = False
        self._result: RemotingCommand | None = None
        self._error: BaseException | None = None

    def done(self) -> bool:
        return self._done

    def set_result(self, result: RemotingCommand) -> None:
        if not self._done:
            self._result, self._done = result, True
            self._lock.release()

    def set_exception(self, exception: BaseException) -> None:
        if not self._done:
            self._error, self._done = exception, True
            self._lock.release()

    def wait(self, timeout: float) -> bool:
        return self._lock.acquire(timeout=min(max(timeout, 0.0), threading.TIMEOUT_MAX))

    def result(self) -> RemotingCommand:
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


def parse_addr(addr: str) -> tuple[str, int]:
    """``"host:port"`` (or ``"[v6]:port"``) as a (host, port) pair."""
    host, sep, port = addr.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not a host:port address: {addr!r}")
    return host.strip("[]"), int(port)


class _Protocol(asyncio.Protocol):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def data_received(self, data: bytes) -> None:
        self.conn._data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn._connection_lost(exc)

    # With a high-water mark of 0 (set at connect), the transport says when
    # it holds unsent bytes and when it no longer does: threads write
    # directly only in between.
    def pause_writing(self) -> None:
        self.conn._transport_busy = True

    def resume_writing(self) -> None:
        self.conn._transport_busy = False


class Connection:
    """A connection to one address, multiplexing concurrent requests.

    ``request`` sends a command and waits for the response with the same
    opaque; ``send_oneway`` sends and returns.  When the connection closes,
    every pending request fails with :class:`~codec.errors.ConnectionClosedError`.
    """

    def __init__(
        self,
        addr: str,
        *,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        observer: FrameObserver | None = None,
        on_request: RequestHandler | None = None,
        role: str = "broker",
    ) -> None:
        self.addr = addr
        self.role = role
        self._raw = bytearray()  # only used to hand whole raw frames to the observer
        self._session = ClientSession(max_frame_size=max_frame_size)
        self._observer = observer
        self._on_request = on_request
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._waiters: dict[int, _Waiter] = {}
        #: guards the session, ``_out`` and the sockets against the loop
        #: thread and threads sending with request_blocking at once
        self._mutex = threading.Lock()
        #: a dup of the socket for threads to write to (plain TCP only)
        self._direct: socket.socket | None = None
        self._direct_usable = True
        #: the transport holds bytes it has not sent yet (or is sending them)
        self._transport_busy = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        # Frames written in one turn of the event loop, sent with one
        # transport.write at the end of it (see _queue).
        self._out: list[bytes] = []
        self._out_size = 0
        self._closed = self._loop.create_future()
        self._tls = False
        self._received_any = False
        self._peer_speaks_tls = False

    @property
    def closed(self) -> bool:
        """True once the connection is closed (or lost)."""
        return self._closed.done()

    async def _connect(self, ssl: _ssl.SSLContext | None, timeout: float) -> None:
        host, port = parse_addr(self.addr)
        try:
            transport, _ = await wait_for(
                self._loop.create_connection(
                    lambda: _Protocol(self), host, port, ssl=ssl, server_hostname=host if ssl else None
                ),
                timeout,
                discard=lambda pair: pair[0].close(),  # connected as we were cancelled
            )
        except asyncio.TimeoutError:
            raise ConnectError(self.addr, f"no connection within {timeout:g} s") from None
        except (OSError, _ssl.SSLError) as exc:
            reason = str(exc) or type(exc).__name__
            if ssl is not None and _handshake_failure(exc):
                reason += f"; {_TLS_TO_PLAIN_HINT}"
            raise ConnectError(self.addr, reason) from None
        self._tls = ssl is not None
        self._transport = transport  # type: ignore[assignment, unused-ignore]
        if ssl is None:
            transport.set_write_buffer_limits(high=0)  # see _Protocol.pause_writing
        log.debug("connected to %s %s%s", self.role, self.addr, " (TLS)" if ssl else "")

    # -- requests
    async def request(self, cmd: RemotingCommand, timeout: float) -> RemotingCommand:
        """Send ``cmd`` and return its response; raises
        :class:`~codec.errors.RequestTimeoutError` after ``timeout`` seconds."""
        return await self.request_future(cmd, timeout)

    def request_future(self, cmd: RemotingCommand, timeout: float) -> asyncio.Future[RemotingCommand]:
        """Send ``cmd`` now; the future gets its response (or the timeout,
        or the closed connection).  :meth:`request` without the coroutine,
        for callers that await many requests on a hot path."""
        if self._transport is None or self._closed.done():
            raise ConnectionClosedError(f"connection to {self.addr} is closed")
        loop = self._loop
        now = loop.time()
        waiter: asyncio.Future[RemotingCommand] = loop.create_future()
        with self._mutex:
            opaque, frame = self._session.send_request(cmd, now=now, timeout=timeout)
            self._waiters[opaque] = waiter
            self._queue(frame, cmd, opaque)
        # A timer already armed at or before this deadline will see to it
        # (when it fires it re-arms at the next deadline), so arming is only
        # needed when this request ends first.
        at = self._timer_at
        if at is None or now + timeout < at:
            self._arm_timer()
        return waiter

    def request_blocking(self, cmd: RemotingCommand, timeout: float) -> RemotingCommand:
        """:meth:`request` for a thread other than the event loop's: send
        ``cmd`` from this thread and block until its response, the timeout
        (:class:`~codec.errors.RequestTimeoutError`) or the closed connection.
        Must not be called on the loop thread, which would wait for itself."""
        waiter = _ThreadWaiter()
        opaque: int | None = None
        try:
            with self._mutex:
                if self._transport is None or self._closed.done():
                    raise ConnectionClosedError(f"connection to {self.addr} is closed")
                opaque, frame = self._session.send_request(cmd, now=self._loop.time(), timeout=timeout)
                self._waiters[opaque] = waiter
                self._queue_from_thread(frame, cmd, opaque)
            answered = waiter.wait(timeout)
        except BaseException:  # KeyboardInterrupt: nobody waits for it any more
            if opaque is not None:
                self._give_up(opaque)
            raise
        if not answered:
            # This thread keeps the deadline itself, so the loop's timer need
            # not be re-armed (which would wake the loop thread).
            expired = self._give_up(opaque)
            if expired is not None:
                raise expired
            # The loop took the outcome from the session as the wait ended
            # and is handing it over.
            if not waiter.wait(_DELIVERY_SLACK):
                raise RequestTimeoutError(f"the event loop did not deliver the answer from {self.addr}")
        return waiter.result()

    def _give_up(self, opaque: int) -> BaseException | None:
        with self._mutex:
            event = self._session.expire(opaque)
            if event is None:
                return None
            self._waiters.pop(opaque, None)
        return event.error

    def answer_unread(self) -> bool:
        """True when bytes wait on the socket that the loop has not read: a
        thread's request timed out because the loop thread is stuck, not the peer."""
        with self._mutex:
            sock = self._direct
            if sock is None:
                return False
            try:
                return bool(sock.recv(1, socket.MSG_PEEK))
            except OSError:  # EAGAIN: nothing waits
                return False

    def send_oneway_blocking(self, cmd: RemotingCommand) -> None:
        """:meth:`send_oneway` for a thread other than the event loop's."""
        if not cmd.is_oneway:
            raise ValueError("send_oneway_blocking needs a command with the oneway flag")
        with self._mutex:
            if self._transport is None or self._closed.done():
                raise ConnectionClosedError(f"connection to {self.addr} is closed")
            opaque, frame = self._session.send_request(cmd, now=self._loop.time(), timeout=0.0)
            self._queue_from_thread(frame, cmd, opaque)

    def send_oneway(self, cmd: RemotingCommand) -> None:
        """Send a oneway request (flag bit 1 set): nothing will answer it."""
        if self.closed or self._transport is None:
            raise ConnectionClosedError(f"connection to {self.addr} is closed")
        if not cmd.is_oneway:
            raise ValueError("send_oneway needs a command with the oneway flag")
        with self._mutex:
            opaque, frame = self._session.send_request(cmd, now=self._loop.time(), timeout=0.0)
            self._queue(frame, cmd, opaque)

    def _queue(self, frame: bytes, cmd: RemotingCommand, opaque: int | None = None) -> None:
        # Frames are not written one by one: the first of a loop turn
        # schedules a flush, which writes all of that turn's frames with one
        # transport.write.  When one read completes sixty responses, sixty
        # senders resume in the same turn and each writes its next request:
        # one syscall (and one wake-up of the peer) instead of sixty, and no
        # added latency, since the flush runs in the very next turn.
        # (On the loop thread, with _mutex held.)
        if self._observer is not None or log.isEnabledFor(logging.DEBUG):
            self._going_out(frame, cmd, opaque)
        out = self._out
        if not out:
            self._loop.call_soon(self._flush)
            self._out_size = 0
        out.append(frame)
        self._out_size += len(frame)
        if self._out_size >= _FLUSH_AT:
            # do not keep the peer waiting for the whole turn's frames, and a
            # sender that never yields to the loop (oneway sends in a tight
            # loop) must not pile up frames until it does
            self._flush_locked()

    def _queue_from_thread(self, frame: bytes, cmd: RemotingCommand, opaque: int) -> None:
        # (On another thread, with _mutex held.)  Straight to the socket when
        # nothing waits before this frame: the loop's transport writes only
        # under _mutex (in _flush), and once it has said it holds nothing
        # (resume_writing) it sends nothing until then.  Its buffer size is
        # no sign of that: on 3.12+ a frame being sent leaves the buffer
        # while the send runs.  Otherwise the frame waits behind the others
        # and the loop flushes it.
        if self._observer is not None or log.isEnabledFor(logging.DEBUG):
            self._going_out(frame, cmd, opaque)
        transport = self._transport
        assert transport is not None
        out = self._out
        if not out and not self._transport_busy and not transport.is_closing():
            sent = self._send_direct(frame)
            if sent == len(frame):
                return
            if sent:
                try:
                    self._queue_rest(frame[sent:])
                except BaseException:
                    # (KeyboardInterrupt) half a frame is on the wire and the
                    # rest is not queued: nothing after it could be read
                    self._direct_usable = False
                    self._loop.call_soon_threadsafe(self.abort)
                    raise
                return
        self._queue_rest(frame)

    def _queue_rest(self, frame: bytes) -> None:
        out = self._out
        if not out:
            try:
                self._loop.call_soon_threadsafe(self._flush)
            except RuntimeError:  # the loop is closed: so is the connection, for good
                raise ConnectionClosedError(f"connection to {self.addr} is closed (its event loop is)") from None
            self._out_size = 0
        out.append(frame)
        self._out_size += len(frame)

    def _send_direct(self, frame: bytes) -> int:
        sock = self._direct
        if sock is None:
            if self._tls or not self._direct_usable:
                return 0
            raw = None if self._transport is None else self._transport.get_extra_info("socket")
            try:
                if raw is None:
                    raise ValueError("no socket")
                # a socket of our own on the same connection (non-blocking, as
                # the loop's), so it can never be another file's descriptor
                sock = socket.fromfd(raw.fileno(), raw.family, raw.type)
                sock.setblocking(False)
            except (OSError, AttributeError, ValueError):
                self._direct_usable = False
                return 0
            self._direct = sock
        try:
            return sock.send(frame)
        except OSError:  # EAGAIN, or a broken connection the loop will see and report
            return 0

    def _close_direct(self) -> None:
        # (With _mutex held.)  Before the transport closes its socket: while
        # our descriptor is open the kernel would not end the connection.
        if self._direct is not None:
            self._direct.close()
            self._direct = None
        self._direct_usable = False

    def _going_out(self, frame: bytes, cmd: RemotingCommand, opaque: int | None) -> None:
        if log.isEnabledFor(logging.DEBUG):
            # the session assigned the request its opaque: log what went out
            if opaque is not None and opaque != cmd.opaque:
                cmd = cmd.with_opaque(opaque)
            log.debug("-> %s %s: %r", self.role, self.addr, loggable(cmd))
        if self._observer is not None:
            self._observer("out", self.role, self.addr, frame)

    def _flush(self) -> None:
        with self._mutex:
            self._flush_locked()

    def _flush_locked(self) -> None:
        out = self._out
        if not out:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    # -- events from the socket
    def _data_received(self, data: bytes) -> None:
        if not self._received_any and data:
            self._received_any = True
            if not self._tls and _looks_like_tls(data):
                self._peer_speaks_tls = True
                log.warning("closing %s: it answered with TLS; %s", self.addr, _PLAIN_TO_TLS_HINT)
                self.close()
                return
        if self._observer is not None:
            self._observe_in(data)
        try:
            with self._mutex:
                events = self._session.receive_data(data)
        except CodecError as exc:
            # Java's NettyDecoder closes the channel on any decode error.
            log.warning("closing %s: undecodable data from peer: %s", self.addr, exc)
            self.close(exc)
            return
        debug = log.isEnabledFor(logging.DEBUG)
        for event in events:
            if debug:
                got = event.response if isinstance(event, ResponseReceived) else event.command  # type: ignore[attr-defined]
                log.debug("<- %s %s: %r", self.role, self.addr, loggable(got))
            if isinstance(event, ResponseReceived):
                waiter = self._waiters.pop(event.opaque, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(event.response)
            elif isinstance(event, RequestReceived):
                self._answer(event.command)
            elif isinstance(event, UnmatchedResponse):
                log.debug("dropping response with unknown opaque %d from %s", event.command.opaque, self.addr)

    def _observe_in(self, data: bytes) -> None:
        # Split on the 4-byte length alone: the observer wants the frames as
        # they arrived, byte for byte; decoding is the session's business.
        raw = self._raw
        raw += data
        while len(raw) >= 4:
            size = 4 + int.from_bytes(raw[:4], "big", signed=True)
            if size < 4 or len(raw) < size:
                break
            assert self._observer is not None
            self._observer("in", self.role, self.addr, bytes(raw[:size]))
            del raw[:size]

    def _answer(self, request: RemotingCommand) -> None:
        if self._on_request is not None:
            try:
                self._on_request(self, request)
                return
            except Exception as exc:  # a handler bug must not kill the connection
                log.exception("request handler failed for code %d", request.code)
                response = request.reply(ResponseCode.SYSTEM_ERROR, f"{type(exc).__name__}: {exc}")
        else:
            response = request.reply(
                ResponseCode.REQUEST_CODE_NOT_SUPPORTED, f" request type {request.code} not supported"
            )
        if not request.is_oneway:
            self.send_response(response)

    def send_response(self, response: RemotingCommand) -> bool:
        """Answer a request the peer started (``response`` carries its
        opaque, e.g. made with ``request.reply(...)``).  False when the
        connection has closed meanwhile: the answer is dropped, as Java's
        is when the channel is gone."""
        if self.closed or self._transport is None or self._transport.is_closing():
            log.debug("dropping the answer to opaque %d: connection to %s is closed", response.opaque, self.addr)
            return False
        with self._mutex:
            try:
                frame = self._session.send_response(response)
            except ConnectionClosedError:
                return False
            self._queue(frame, response)
        return True

    def _fire_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        with self._mutex:
            expired = self._session.handle_timer(self._loop.time())
        for event in expired:
            self._fail(event.opaque, event.error)
        self._arm_timer()

    def _arm_timer(self) -> None:
        with self._mutex:
            when = self._session.get_timer()
        if when == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = when
        if when is not None:
            self._timer = self._loop.call_at(when, self._fire_timer)

    def _fail(self, opaque: int, error: BaseException) -> None:
        waiter = self._waiters.pop(opaque, None)
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _connection_lost(self, exc: BaseException | None) -> None:
        log.debug("connection to %s %s closed%s", self.role, self.addr, f": {exc}" if exc else "")
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        hint = self._close_hint()
        if hint is not None:
            exc = ConnectionClosedError(f"{exc}; {hint}" if exc else hint)
        with self._mutex:
            self._out.clear()
            self._close_direct()
            failed = self._session.connection_lost(exc)
        for event in failed:
            self._fail(event.opaque, event.error)
        # anything still waiting (defensive: the session owns the truth)
        for waiter in list(self._waiters.values()):
            if not waiter.done():
                waiter.set_exception(ConnectionClosedError(f"connection to {self.addr} closed"))
        self._waiters.clear()
        if not self._closed.done():
            self._closed.set_result(None)

    def _close_hint(self) -> str | None:
        # A TLS/plaintext mismatch shows only as a closed connection: the
        # peer gives up on bytes it cannot read, so say what is likely.
        if self._peer_speaks_tls:
            return f"{self.addr} answered with TLS; {_PLAIN_TO_TLS_HINT}"
        if not self._tls and not self._received_any and self._session.pending:
            return f"nothing came back before it closed; {_PLAIN_TO_TLS_HINT}"
        return None

    # -- closing
    def close(self, exc: BaseException | None = None) -> None:
        """Close the connection; pending requests fail."""
        if self._transport is not None and not self._transport.is_closing():
            with self._mutex:
                self._flush_locked()  # what was written before close() goes out first
                self._close_direct()
            # outside the lock: closing TLS may read, and reading takes it
            self._transport.close()
        elif self._transport is None:
            self._connection_lost(exc)

    async def wait_closed(self) -> None:
        """Wait until the socket is really closed."""
        await asyncio.shield(self._closed)

    def abort(self) -> None:
        """Close at once, without flushing (used when a request timed out)."""
        with self._mutex:
            self._out.clear()
            self._close_direct()
        if self._transport is not None:
            self._transport.abort()


async def open_connection(
    addr: str,
    *,
    ssl: _ssl.SSLContext | None = None,
    connect_timeout: float = 3.0,
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    observer: FrameObserver | None = None,
    on_request: RequestHandler | None = None,
    role: str = "broker",
) -> Connection:
    """Connect to ``addr`` (``host:port``); raises :class:`~codec.errors.ConnectError`."""
    try:
        parse_addr(addr)
    except ValueError as exc:
        raise ConnectError(addr, str(exc)) from None
    conn = Connection(addr, max_frame_size=max_frame_size, observer=observer, on_request=on_request, role=role)
    await conn._connect(ssl, connect_timeout)
    return conn

