"""The asyncio side of the embedded servers: listening sockets and one
protocol object per accepted connection.

Mirrors the channel half of Java's ``NettyRemotingServer`` (and
``NettyRemotingAbstract``'s response table for requests the server sends
itself).  Everything the remoting protocol decides lives in the sans-I/O
:class:`~codec.session.ServerSession`; everything the broker decides lives
behind a :class:`ConnectionHandler` (:mod:`.dispatch`).  This module only
moves bytes, arms one timer at the session's next deadline, pauses reading
from a client that stops reading our answers, and keeps the tasks that
write deliberately delayed answers so that stopping can cancel them.

A connection whose bytes do not decode is closed without an answer, as
Java's ``NettyDecoder`` does; so is one that would take the server's shared
:class:`~codec.session.BufferBudget` over its limit, and one that sends no
complete frame for ``idle_timeout`` seconds (Java's ``IdleStateHandler`` with
``serverChannelMaxIdleTimeSeconds``, 120 s).  Only whole frames count as
activity, so a client dribbling an unfinished frame byte by byte (slowloris)
is closed too; a connection the server owes an answer to (a held
:class:`~.processor.DeferredReply`) or awaits one from is not idle.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl as _ssl
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any, Protocol

from ..codec.command import RemotingCommand
from ..codec.errors import ClientError, CodecError, ConfigError, ConnectionClosedError, EncodeError
from ..codec.session import BufferBudget, RequestReceived, ResponseReceived, ServerSession, UnmatchedResponse
from ..logfmt import loggable
from .config import IDLE_TIMEOUT
from .processor import DeferredReply

__all__ = ["Listener", "RemotingListener", "TrackedConnection", "ServerConnection", "ConnectionHandler", "TaskSet"]

log = logging.getLogger(__name__)

# ``call_at`` may fire up to the loop's clock resolution early.
_IDLE_SLACK = 0.001

_connection_ids = itertools.count(1)


class ConnectionHandler(Protocol):
    """What a remoting listener hands its connections' traffic to."""

    def on_connect(self, conn: ServerConnection) -> bool:
        """A new connection; False closes it at once (a ``refuse`` fault)."""
        ...

    def on_request(self, conn: ServerConnection, request: RemotingCommand) -> None: ...

    def on_response(self, conn: ServerConnection, response: RemotingCommand, matched: bool) -> None:
        """A response from the client, ``matched`` to one of our requests or not."""
        ...

    def on_close(self, conn: ServerConnection) -> None: ...


class TaskSet:
    """Tasks the servers start (delayed answers), cancelled together on stop."""

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    def __len__(self) -> int:
        return len(self._tasks)


class Listener:
    """One listening socket and the connections it accepted."""

    def __init__(self, label: str, port: int, factory: Callable[[Listener], TrackedConnection]) -> None:
        self.label = label  # "namesrv", a broker name, or "http"
        self.port = port  # the bound port once listening (0 before, for an ephemeral one)
        self.server: asyncio.AbstractServer | None = None
        self.conns: set[TrackedConnection] = set()
        self._factory = factory

    @property
    def listening(self) -> bool:
        return self.server is not None

    async def listen(self, host: str, ssl: _ssl.SSLContext | None) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: self._factory(self), host, self.port, ssl=ssl, reuse_address=True)
        self.server = server
        self.port = server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening, abort every connection, wait (briefly) until they are gone."""
        server, self.server = self.server, None
        if server is not None:
            server.close()
        conns = list(self.conns)
        for conn in conns:
            conn.abort()
        if conns:
            await asyncio.wait([c.closed for c in conns], timeout=2.0)
        if server is not None:
            await server.wait_closed()


class RemotingListener(Listener):
    """A listener speaking the remoting protocol: the name server or a broker."""

    def __init__(
        self,
        label: str,
        port: int,
        handler: ConnectionHandler,
        *,
        tasks: TaskSet,
        max_frame_size: int,
        max_buffered_bytes: int | None = None,
        idle_timeout: float | None = IDLE_TIMEOUT,
    ) -> None:
        super().__init__(label, port, ServerConnection)  # type: ignore[arg-type]
        self.handler = handler
        self.tasks = tasks
        self.max_frame_size = max_frame_size
        #: Seconds without a complete frame after which a connection is closed (None: never).
        self.idle_timeout = idle_timeout
        #: Shared by this listener's connections (None: no cross-connection cap).
        self.budget = BufferBudget(max_buffered_bytes) if max_buffered_bytes is not None else None


class TrackedConnection(asyncio.Protocol):
    """An accepted connection that its listener tracks, with flow control:
    when the client stops reading, we stop reading from it."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.id = next(_connection_ids)
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)
        self.listener.conns.add(self)
        self.accepted()

    def connection_lost(self, exc: Exception | None) -> None:
        self.listener.conns.discard(self)
        self.transport = None
        self.lost(exc)
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def accepted(self) -> None:
        """Hook: the connection is up."""

    def lost(self, exc: Exception | None) -> None:
        """Hook: the connection is gone."""

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def abort(self) -> None:
        transport = self.transport
        if transport is not None:
            transport.abort()

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()


def _java_text(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


def java_utf8(cmd: RemotingCommand) -> RemotingCommand:
    """``cmd`` with every string made encodable the way Java's
    ``String.getBytes(UTF_8)`` does: unpaired surrogates become '?'."""
    return replace(
        cmd,
        remark=None if cmd.remark is None else _java_text(cmd.remark),
        ext_fields={_java_text(k): _java_text(v) for k, v in cmd.ext_fields.items()},
    )


class ServerConnection(TrackedConnection):
    """One accepted remoting connection: bytes <-> :class:`~codec.session.ServerSession`.

    It is the :class:`~.processor.Channel` processors and the client manager
    see: answers go out with :meth:`send_response`; the broker's own
    requests with :meth:`send_oneway` and :meth:`request`, matched by the
    session's opaque table and timed out on the loop's clock.
    """

    listener: RemotingListener

    def __init__(self, listener: RemotingListener) -> None:
        super().__init__(listener)
        self.session = ServerSession(listener.max_frame_size, budget=listener.budget)
        self._waiters: dict[int, asyncio.Future[RemotingCommand]] = {}
        self._deferred: set[DeferredReply] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._loop = asyncio.get_running_loop()
        #: When the last complete frame arrived (or the connection opened).
        self.last_frame_at = self._loop.time()
        self._idle_timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<ServerConnection {self.id} {self.listener.label} <- {self.peer}>"

    # -- events from the socket

    def accepted(self) -> None:
        label = self.listener.label
        if not self.listener.handler.on_connect(self):
            log.debug("%s refuses connection from %s (injected)", label, self.peer)
            self.abort()
            return
        log.info("%s: connection %d from %s", label, self.id, self.peer)
        idle = self.listener.idle_timeout
        if idle is not None:
            self.last_frame_at = self._loop.time()
            self._idle_timer = self._loop.call_at(self.last_frame_at + idle, self._check_idle)

    def data_received(self, data: bytes) -> None:
        if not self.is_open:
            return
        try:
            events = self.session.receive_data(data)
        except CodecError as exc:
            # NettyDecoder: log "decode exception" and close the channel, no answer.
            log.warning("%s: decode exception from %s, closing: %s", self.listener.label, self.peer, exc)
            self.abort()
            return
        if events:
            self.last_frame_at = self._loop.time()
        handler = self.listener.handler
        for event in events:
            if not self.is_open:
                return
            if type(event) is RequestReceived:
                handler.on_request(self, event.command)
            elif isinstance(event, ResponseReceived):
                handler.on_response(self, event.response, True)
                waiter = self._waiters.get(event.opaque)
                if waiter is not None and not waiter.done():
                    waiter.set_result(event.response)
            elif isinstance(event, UnmatchedResponse):
                # processResponseCommand: nothing of ours waits for it, so it is dropped.
                handler.on_response(self, event.command, False)
        if self._waiters:
            self._arm_timer()

    def lost(self, exc: Exception | None) -> None:
        log.info("%s: connection %d from %s closed%s", self.listener.label, self.id, self.peer, f": {exc}" if exc else "")
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for event in self.session.connection_lost(exc):
            self._fail(event.opaque, event.error)
        for deferred in list(self._deferred):
            deferred.cancel()
        self._deferred.clear()
        self.listener.handler.on_close(self)

    # -- answers

    def send_response(self, response: RemotingCommand, delay: float = 0.0) -> None:
        """Write ``response`` now, or ``delay`` seconds from now (a tracked task)."""
        if delay > 0:
            self.listener.tasks.spawn(self._send_later(response, delay))
            return
        if not self.is_open:
            return
        try:
            try:
                frame = self.session.send_response(response)
            except EncodeError:
                # A remark quoting a topic with a lone surrogate: Java's
                # getBytes(UTF_8) writes '?' for it, so do the same.
                frame = self.session.send_response(java_utf8(response))
        except CodecError as exc:  # NettyEncoder closes the channel when encoding fails
            log.error("%s: cannot encode response to %s, closing: %s", self.listener.label, self.peer, exc)
            self.abort()
            return
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s -> %s: %r", self.listener.label, self.peer, loggable(response))
        self.write(frame)

    async def _send_later(self, response: RemotingCommand, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.send_response(response)

    def track(self, deferred: DeferredReply) -> None:
        """Cancel ``deferred`` if this connection closes first."""
        if not self.is_open:
            deferred.cancel()
            return
        self._deferred.add(deferred)
        deferred.add_done_callback(self._answered)

    def _answered(self, deferred: DeferredReply) -> None:
        self._deferred.discard(deferred)
        # The idle clock starts again once the held answer went out.
        self.last_frame_at = self._loop.time()

    # -- the idle timeout

    def _check_idle(self) -> None:
        self._idle_timer = None
        idle = self.listener.idle_timeout
        if idle is None or not self.is_open:
            return
        now = self._loop.time()
        if self._deferred or self._waiters:
            # An answer is owed to the client (a held long poll) or awaited
            # from it: the silence is ours or expected, not the client's.
            self.last_frame_at = now
        elif now + _IDLE_SLACK >= self.last_frame_at + idle:
            buffered = self.session.buffered
            log.warning(
                "%s: closing connection %d from %s: no complete frame for %g s (idle timeout)%s",
                self.listener.label,
                self.id,
                self.peer,
                idle,
                f", {buffered} bytes of an unfinished frame held" if buffered else "",
            )
            self.abort()
            return
        self._idle_timer = self._loop.call_at(self.last_frame_at + idle, self._check_idle)

    @property
    def deferred(self) -> int:
        """Answers promised and not yet given on this connection."""
        return len(self._deferred)

    # -- requests of the server's own

    def _check_sendable(self, request: RemotingCommand) -> None:
        if not isinstance(request, RemotingCommand):
            raise TypeError(f"expected a RemotingCommand, not {type(request).__name__}")
        if request.is_response:
            raise ClientError("the broker's own requests must be requests (flag bit 0 clear)")
        if not self.is_open:
            raise ConnectionClosedError(f"connection {self.id} from {self.peer} to {self.listener.label} is closed")

    def send_oneway(self, request: RemotingCommand) -> int:
        """Send a oneway request (flag bit 1 set); returns the opaque it got
        from this connection's counter.  Raises
        :class:`~codec.errors.ConnectionClosedError` on a closed connection."""
        self._check_sendable(request)
        if not request.is_oneway:
            raise ClientError("send_oneway() needs a request with the oneway flag (RemotingCommand.request(..., oneway=True))")
        opaque, frame = self.session.send_request(request, now=asyncio.get_running_loop().time(), timeout=0.0)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s -> %s: %r", self.listener.label, self.peer, loggable(request.with_opaque(opaque)))
        self.write(frame)
        return opaque

    async def request(self, request: RemotingCommand, timeout: float) -> RemotingCommand:
        """Send a two-way request and return the client's response; raises
        :class:`~codec.errors.RequestTimeoutError` after ``timeout`` seconds
        and :class:`~codec.errors.ConnectionClosedError` if the connection
        closes first."""
        self._check_sendable(request)
        if request.is_oneway:
            raise ClientError("request() waits for an answer: use send_oneway() for a oneway request")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise ConfigError(f"timeout must be a number of seconds, not {timeout!r}")
        loop = asyncio.get_running_loop()
        opaque, frame = self.session.send_request(request, now=loop.time(), timeout=float(timeout))
        waiter: asyncio.Future[RemotingCommand] = loop.create_future()
        self._waiters[opaque] = waiter
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s -> %s: %r", self.listener.label, self.peer, loggable(request.with_opaque(opaque)))
        self.write(frame)
        self._arm_timer()
        try:
            return await waiter
        finally:
            self._waiters.pop(opaque, None)

    def _fire_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        for event in self.session.handle_timer(asyncio.get_running_loop().time()):
            self._fail(event.opaque, event.error)
        self._arm_timer()

    def _arm_timer(self) -> None:
        when = self.session.get_timer()
        if when == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = when
        if when is not None:
            self._timer = asyncio.get_running_loop().call_at(when, self._fire_timer)

    def _fail(self, opaque: int, error: BaseException) -> None:
        waiter = self._waiters.get(opaque)
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
