"""Request processors, registered by request code, and what they are given.

Mirrors Java's ``NettyRequestProcessor`` and ``NettyRemotingServer.registerProcessor``
/ ``registerDefaultProcessor``: each server (the name server, each broker)
has a :class:`ProcessorRegistry` mapping a request code to a processor, and
a default for codes nobody registered (REQUEST_CODE_NOT_SUPPORTED).

A processor is a plain callable ``processor(request, ctx) -> result``; it
never sees a socket.  Its result is one of

* a :class:`~codec.command.RemotingCommand`: the response, written at once
  (unless the request is oneway);
* a :class:`DeferredReply` from ``ctx.defer()``: the answer comes later, when
  someone calls :meth:`DeferredReply.resolve` (Java's processor returns
  ``null`` and writes to the channel later, as ``PullMessageProcessor`` does
  for a held pull);
* ``None``: nothing is ever written (a processor of oneway requests).

Exceptions are answered for the processor, as Java's ``processRequestCommand``
does: a :class:`~codec.errors.RocketMQError` (a header that does not decode
...) becomes SYSTEM_ERROR with its message; any other exception is logged
as a bug and answered the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Protocol, TypeAlias

from ..codec.command import RemotingCommand
from ..codec.enums import LanguageCode, ResponseCode
from ..codec.errors import ClientError
from .config import SERVER_VERSION

__all__ = [
    "Channel",
    "RequestContext",
    "DeferredReply",
    "RequestProcessor",
    "ProcessorResult",
    "ProcessorRegistry",
    "reply",
    "not_supported",
]

log = logging.getLogger(__name__)


class Channel(Protocol):
    """One client connection as the broker's logic sees it (Java's ``Channel``
    in ``ClientChannelInfo``): an identity to keep in tables, and the means
    to answer and to send requests of the broker's own."""

    @property
    def id(self) -> int:
        """Unique among the connections of this process."""
        ...

    @property
    def peer(self) -> str:
        """The client's ``host:port``."""
        ...

    @property
    def is_open(self) -> bool: ...

    def send_response(self, response: RemotingCommand, delay: float = 0.0) -> None:
        """Write ``response`` now, or ``delay`` seconds from now."""
        ...

    def send_oneway(self, request: RemotingCommand) -> int:
        """Send a oneway request of the server's own; returns its opaque."""
        ...

    async def request(self, request: RemotingCommand, timeout: float) -> RemotingCommand:
        """Send a two-way request of the server's own and await the answer."""
        ...

    def track(self, deferred: DeferredReply) -> None:
        """Cancel ``deferred`` if the connection closes before it is resolved."""
        ...


def reply(
    request: RemotingCommand,
    code: int,
    remark: str | None = None,
    ext_fields: dict[str, str] | None = None,
    body: bytes = b"",
) -> RemotingCommand:
    """The server's response to ``request``: same opaque and serialize type,
    language JAVA and the server's version, as a Java broker answers."""
    return request.reply(int(code), remark, ext_fields, body, language=LanguageCode.JAVA, version=SERVER_VERSION)


def not_supported(request: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
    """The default processor: ``NettyRemotingAbstract`` answers a code without
    a processor REQUEST_CODE_NOT_SUPPORTED with this remark."""
    return reply(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, f" request type {request.code} not supported")


# Theory of operation: a DeferredReply is pending until exactly one of
# resolve() (the answer is written, or dropped if the request is oneway or
# the connection is gone) and cancel() (never answered: the connection
# closed, the broker stopped, or the holder gave up).  Either ends it; done
# callbacks run once, in registration order.


class DeferredReply:
    """An answer a processor promised to give later.

    Get one from :meth:`RequestContext.defer`, return it from the processor,
    keep it (e.g. in a table of held pulls) and call :meth:`resolve` with the
    response when it is ready.  The connection cancels it when it closes, so
    a holder learns of that through :meth:`add_done_callback`.  A delay
    fault injected for the request delays the answer from :meth:`resolve` on.
    Like everything that writes to a connection, call it on the broker's
    event loop (from another thread: ``loop.call_soon_threadsafe``).
    """

    __slots__ = ("request", "channel", "_delay", "_state", "_callbacks")

    def __init__(self, request: RemotingCommand, channel: Channel, delay: float = 0.0) -> None:
        self.request = request
        self.channel = channel
        self._delay = delay
        self._state = "pending"  # -> "resolved" | "cancelled"
        self._callbacks: list[Callable[[DeferredReply], None]] = []

    @property
    def done(self) -> bool:
        """Whether it was resolved or cancelled."""
        return self._state != "pending"

    @property
    def cancelled(self) -> bool:
        return self._state == "cancelled"

    @property
    def connection_open(self) -> bool:
        """Whether an answer could still reach the client."""
        return self.channel.is_open

    def resolve(self, response: RemotingCommand) -> bool:
        """Answer with ``response`` (built with :func:`reply` on
        :attr:`request`).  Returns whether it was written: not when already
        done, when the request is oneway, or when the connection is gone."""
        if not isinstance(response, RemotingCommand):
            raise TypeError(f"resolve() takes a RemotingCommand, not {type(response).__name__}")
        if not response.is_response or response.opaque != self.request.opaque:
            raise ClientError(
                f"resolve() takes the response to opaque {self.request.opaque} (build it with reply(request, ...))"
            )
        if self._state != "pending":
            return False
        self._state = "resolved"
        written = not self.request.is_oneway and self.channel.is_open
        if written:
            self.channel.send_response(response, self._delay)
        self._finish()
        return written

    def cancel(self) -> bool:
        """Never answer.  Returns False when it was already done."""
        if self._state != "pending":
            return False
        self._state = "cancelled"
        self._finish()
        return True

    def add_done_callback(self, callback: Callable[[DeferredReply], None]) -> None:
        """Call ``callback(self)`` once it is done (at once if it is)."""
        if self._state != "pending":
            callback(self)
        else:
            self._callbacks.append(callback)

    def _finish(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:  # one holder's bug must not stop the others
                log.exception("deferred reply callback failed for request code %d", self.request.code)

    def __repr__(self) -> str:
        return f"<DeferredReply code={self.request.code} opaque={self.request.opaque} {self._state}>"


class RequestContext:
    """What a processor is told besides the request: which server got it
    (``server``: a broker name or ``"namesrv"``), over which connection
    (``channel``; its :attr:`~Channel.peer` is the client's address), and
    how to answer later (:meth:`defer`)."""

    __slots__ = ("server", "channel", "request", "_delay", "deferred")

    def __init__(self, server: str, channel: Channel, request: RemotingCommand, delay: float = 0.0) -> None:
        self.server = server
        self.channel = channel
        self.request = request
        self._delay = delay
        #: The handle :meth:`defer` made, if it was called.
        self.deferred: DeferredReply | None = None

    @property
    def peer(self) -> str:
        """The client's ``host:port``."""
        return self.channel.peer

    def defer(self) -> DeferredReply:
        """A handle to answer this request later; return it from the
        processor.  Calling it again returns the same handle."""
        if self.deferred is None:
            self.deferred = DeferredReply(self.request, self.channel, self._delay)
            self.channel.track(self.deferred)
        return self.deferred


#: What a processor returns: a response now, one later, or nothing.
ProcessorResult: TypeAlias = RemotingCommand | DeferredReply | None
#: ``processor(request, ctx) -> ProcessorResult``.
RequestProcessor: TypeAlias = Callable[[RemotingCommand, RequestContext], ProcessorResult]


class ProcessorRegistry:
    """Request code -> processor, with a default for the rest."""

    __slots__ = ("_processors", "_default")

    def __init__(self, default: RequestProcessor = not_supported) -> None:
        self._processors: dict[int, RequestProcessor] = {}
        self._default: RequestProcessor = default
        self.set_default(default)

    def register(self, code: int | Iterable[int], processor: RequestProcessor) -> None:
        """Route requests with ``code`` (or each of several codes) to
        ``processor``, replacing the one registered before."""
        if not callable(processor):
            raise TypeError(f"a processor must be callable, not {type(processor).__name__}")
        codes = [code] if isinstance(code, int) else list(code)
        for one in codes:
            if isinstance(one, bool) or not isinstance(one, int):
                raise TypeError(f"a request code is an int, not {type(one).__name__}")
        for one in codes:
            self._processors[int(one)] = processor

    def unregister(self, code: int) -> RequestProcessor | None:
        """Forget the processor of ``code`` (it falls to the default); returns it."""
        return self._processors.pop(int(code), None)

    def set_default(self, processor: RequestProcessor) -> None:
        """The processor of every code nobody registered."""
        if not callable(processor):
            raise TypeError(f"a processor must be callable, not {type(processor).__name__}")
        self._default = processor

    def lookup(self, code: int) -> RequestProcessor:
        """The processor for ``code``: the registered one or the default."""
        return self._processors.get(code, self._default)

    def __contains__(self, code: object) -> bool:
        return code in self._processors

    @property
    def codes(self) -> list[int]:
        """Registered codes, ascending."""
        return sorted(self._processors)
