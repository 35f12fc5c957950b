"""``LocalBroker``: an embedded name server and broker(s) for tests, benchmarks,
the CLI demo and interop runs with real third-party clients.

Mirrors, on the wire, what a Java 4.9 name server
(``namesrv/.../processor/DefaultRequestProcessor``) and broker
(``broker/.../processor/SendMessageProcessor``, ``ClientManageProcessor``,
``AbstractSendMessageProcessor.msgCheck``, ``TopicConfigManager``,
``DefaultMessageStore.checkMessage``) answer on the producer path: route
lookups with fastjson's legacy or standard JSON, heartbeats, unregistration,
and SEND_MESSAGE / SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE with Java's checks,
response codes and remarks.  No Java server exists in this project's test
environment, which is why this one has to be faithful; where it knowingly
differs from Java, the docstring of the piece says so.

Theory of operation.  Every listener (the name server, one per broker, the
optional HTTP address server) is a plain ``asyncio.Protocol`` server: bytes go
through a bounded :class:`~codec.stream.FrameDecoder`, each request is handled
synchronously in ``data_received`` and answered in the request's serialize
type (4.9.4+ behaviour), so the only tasks this module ever creates are the
ones that send a deliberately delayed answer; they are tracked and cancelled
on :meth:`LocalBroker.stop`.  A connection that sends bytes which do not
decode is closed without an answer, as Java's ``NettyDecoder`` does.  Writes
are flow-controlled: when a client stops reading, the broker stops reading
from it.  Faults (error answers, delays, silence, dropped connections,
refused connections) are injected per request code and per server, and
consumed in injection order.

The broker state (topics, queues, commit log offsets, stored messages,
records of requests) lives in memory; every record is guarded by one lock so
that a test thread may inspect a broker that runs on its own loop
(:meth:`LocalBroker.in_thread`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import random
import shutil
import ssl as _ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from .codec.acl import ACCESS_KEY, redacted, verify_command
from .codec.body import BrokerData, HeartbeatData, QueueData, TopicRouteData
from .codec.command import RemotingCommand, encode
from .codec.enums import LanguageCode, RequestCode, ResponseCode, SerializeType
from .codec.errors import CodecError, EncodeError, RocketMQError
from .codec.headers import (
    GetRouteInfoRequestHeader,
    SendMessageRequestHeader,
    SendMessageResponseHeader,
    UnregisterClientRequestHeader,
)
from .codec.message import (
    MessageSysFlag,
    create_offset_msg_id,
    decode_batch,
    decode_properties,
    decompress_body,
    encode_properties,
    NOT_ALLOWED_SEND_TOPICS,
)
from .codec.stream import DEFAULT_MAX_FRAME_SIZE, FrameDecoder

__all__ = [
    "LocalBroker",
    "StoredMessage",
    "ClientInfo",
    "Fault",
    "FaultKind",
    "RouteJson",
    "NAMESRV",
    "CLUSTER_NAME",
    "SERVER_VERSION",
    "MAX_MESSAGE_SIZE",
    "self_signed_tls",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: The label of the name server in :class:`Fault` and in ``LocalBroker.requests``.
NAMESRV = "namesrv"
#: Every broker of a LocalBroker belongs to this cluster (Java's default).
CLUSTER_NAME = "DefaultCluster"
#: The ``version`` the servers put in their responses: ``V4_9_4``.
SERVER_VERSION = 401
#: ``MessageStoreConfig.maxMessageSize``.
MAX_MESSAGE_SIZE = 4 * 1024 * 1024
#: ``BrokerConfig.regionId`` and ``traceOn`` defaults, echoed in SEND responses.
_REGION_ID = "DefaultRegion"
_TRACE_ON = "true"

_TBW102 = "TBW102"
_PERM_READ, _PERM_WRITE, _PERM_INHERIT = 0x4, 0x2, 0x1
_FAQ = "\nSee http://rocketmq.apache.org/docs/faq/ for further details."
_TOPIC_MAX_LENGTH = 127
_PROPERTIES_MAX_LENGTH = 32767
_VALID_TOPIC_CHARS = frozenset("%|_-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
#: The remark ``SendMessageProcessor.handlePutMessageResult`` gives MESSAGE_ILLEGAL.
_ILLEGAL_REMARK = (
    "the message is illegal, maybe msg body or properties length not matched. "
    "msg body length limit {}B, msg properties length limit 32KB."
)
#: ``CommitLog.calMsgLength`` for IPv4 born/store hosts, less body, topic and properties.
_RECORD_OVERHEAD = 91

_SEND_CODES = frozenset(
    {int(RequestCode.SEND_MESSAGE), int(RequestCode.SEND_MESSAGE_V2), int(RequestCode.SEND_BATCH_MESSAGE)}
)

FaultKind = Literal["error", "delay", "swallow", "drop", "refuse"]
RouteJson = Literal["auto", "legacy", "standard"]
_FAULT_KINDS = ("error", "delay", "swallow", "drop", "refuse")


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message as the broker stored it.

    ``body`` is the body as sent (compressed if the producer compressed it);
    ``payload`` is the body decompressed when ``sys_flag`` has the COMPRESSED
    bit (else the same bytes).  ``properties`` is the decoded properties
    string of this message (for a batch member, its own).  ``offset_msg_id``
    is what the SEND response's ``msgId`` carried for it.
    """

    topic: str
    queue_id: int
    queue_offset: int
    commitlog_offset: int
    offset_msg_id: str
    body: bytes
    payload: bytes
    properties: dict[str, str] = field(hash=False)
    sys_flag: int
    flag: int
    born_timestamp: int
    producer_group: str
    uniq_key: str | None
    tags: str | None
    keys: str | None
    delay_level: int
    broker_name: str
    request_code: int
    serialize_type: SerializeType
    language: LanguageCode
    batch: bool = False
    born_host: str = ""
    reconsume_times: int = 0
    store_timestamp: int = 0

    @property
    def text(self) -> str:
        """``payload`` as UTF-8 (replacing undecodable bytes)."""
        return self.payload.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """What the brokers know of one client id from its latest heartbeat."""

    client_id: str
    language: LanguageCode
    version: int
    producer_groups: frozenset[str]
    consumer_groups: frozenset[str]
    brokers: frozenset[str]
    last_heartbeat: float


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault to inject into the servers (:meth:`LocalBroker.inject`).

    It matches requests by ``code`` (``None`` = any request code) and by
    server: ``broker`` is a broker name, :data:`NAMESRV` for the name server,
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
    :meth:`refuse`.
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
            raise ValueError(f"unknown fault kind {self.kind!r} (expected one of {', '.join(_FAULT_KINDS)})")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be None (forever) or at least 1")
        if self.seconds < 0:
            raise ValueError("seconds must not be negative")

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
            remark = _default_remark(int(response_code))
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


def _default_remark(code: int) -> str:
    if code == ResponseCode.SYSTEM_BUSY:
        return "[REJECTREQUEST]system busy, start flow control for a while"
    if code == ResponseCode.SERVICE_NOT_AVAILABLE:
        return "service not available now, maybe disk full, maybe your broker machine memory too small."
    if code == ResponseCode.NO_PERMISSION:
        return "the broker sending message is forbidden"
    if code == ResponseCode.TOPIC_NOT_EXIST:
        return "topic not exist, apply first please!" + _FAQ
    if code == ResponseCode.MESSAGE_ILLEGAL:
        return _ILLEGAL_REMARK.format(MAX_MESSAGE_SIZE)
    try:
        return f"injected {ResponseCode(code).name}"
    except ValueError:
        return f"injected error {code}"


class _ActiveFault:
    __slots__ = ("fault", "remaining")

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.remaining = fault.times


# --------------------------------------------------------------------------- server state


class _Listener:
    """One listening socket: the name server, a broker, or the HTTP server."""

    __slots__ = ("role", "label", "port", "server", "conns", "broker")

    def __init__(self, role: str, label: str, port: int, broker: _Broker | None = None) -> None:
        self.role = role  # "namesrv" | "broker" | "http"
        self.label = label  # "namesrv", the broker name, or "http"
        self.port = port
        self.server: asyncio.AbstractServer | None = None
        self.conns: set[_Connection] = set()
        self.broker = broker


class _Broker:
    """One broker's store: topic table, queue offsets, commit log position."""

    __slots__ = ("name", "listener", "topics", "next_offsets", "commitlog", "_id_prefix")

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.listener = _Listener("broker", name, port, self)
        self.topics: dict[str, int] = {}  # topic -> read/write queue nums
        self.next_offsets: dict[tuple[str, int], int] = {}
        self.commitlog = 0
        self._id_prefix: tuple[str, int, str] | None = None

    def msg_id_prefix(self, host: str) -> str:
        """The store-host part of this broker's offset message ids (all but the
        16 hex digits of the commit log offset)."""
        port = self.listener.port
        cached = self._id_prefix
        if cached is None or cached[:2] != (host, port):
            cached = self._id_prefix = (host, port, create_offset_msg_id(host, port, 0)[:-16])
        return cached[2]


class _Connection(asyncio.Protocol):
    """One accepted connection (remoting or HTTP)."""

    def __init__(self, owner: LocalBroker, listener: _Listener) -> None:
        self.owner = owner
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.closed: asyncio.Future[None] = owner._loop_or_raise().create_future()

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)
        self.listener.conns.add(self)
        if self.owner._take_refusal(self.listener):
            log.debug("%s refuses connection from %s (injected)", self.listener.label, self.peer)
            self.abort()
            return
        self.made()

    def connection_lost(self, exc: Exception | None) -> None:
        self.listener.conns.discard(self)
        self.transport = None
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    # -- helpers

    def made(self) -> None:
        pass

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


class _RemotingConnection(_Connection):
    def made(self) -> None:
        self.decoder = FrameDecoder(self.owner.max_frame_size)

    def data_received(self, data: bytes) -> None:
        if not self.is_open:
            return
        try:
            commands = self.decoder.feed(data)
        except CodecError as exc:
            # NettyDecoder: log "decode exception" and close the channel, no answer.
            log.warning("%s: decode exception from %s, closing: %s", self.listener.label, self.peer, exc)
            self.abort()
            return
        for cmd in commands:
            if not self.is_open:
                return
            self.owner._dispatch(self, cmd)

    def send(self, cmd: RemotingCommand) -> None:
        try:
            try:
                frame = encode(cmd)
            except EncodeError:
                # A remark quoting a topic with a lone surrogate: Java's
                # getBytes(UTF_8) writes '?' for it, so do the same.
                frame = encode(_java_utf8(cmd))
        except CodecError as exc:  # NettyEncoder closes the channel when encoding fails
            log.error("%s: cannot encode response to %s, closing: %s", self.listener.label, self.peer, exc)
            self.abort()
            return
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s -> %s: %r", self.listener.label, self.peer, cmd)
        self.write(frame)


class _HttpConnection(_Connection):
    """``GET /rocketmq/{subgroup}``: the address server Java's ``TopAddressing`` reads."""

    _LIMIT = 8192

    def made(self) -> None:
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        if not self.is_open:
            return
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > self._LIMIT:
                self._respond(431, "Request Header Fields Too Large", "")
            return
        line = bytes(self.buffer[: self.buffer.find(b"\r\n")]).decode("latin-1")
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            self._respond(400, "Bad Request", "")
            return
        method, target = parts[0], parts[1]
        path = target.split("?", 1)[0]
        segments = path.split("/")
        if len(segments) != 3 or segments[0] or segments[1] != "rocketmq" or not segments[2]:
            self._respond(404, "Not Found", "")
        elif method not in ("GET", "HEAD"):
            self._respond(405, "Method Not Allowed", "")
        else:
            self._respond(200, "OK", self.owner.namesrv_addr, head=method == "HEAD")

    def _respond(self, status: int, reason: str, text: str, head: bool = False) -> None:
        body = text.encode()
        head_bytes = (
            f"HTTP/1.1 {status} {reason}\r\n"
            "Content-Type: text/plain; charset=UTF-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode("latin-1")
        self.write(head_bytes if head else head_bytes + body)
        if self.transport is not None:
            self.transport.close()


# --------------------------------------------------------------------------- the broker


class LocalBroker:
    """An asyncio name server plus one or more brokers, on loopback by default.

    ``broker_names`` gives one broker (with its own port) per name, all in
    cluster ``DefaultCluster``; ``broker_port`` is the first broker's port
    (0 = ephemeral, as for every port).  Each topic has ``queues`` read and
    write queues on each broker that has it.  ``topics`` are created at start
    on every broker; with ``auto_create_topics`` the auto-create key topic
    ``TBW102`` exists (perm 7) and a send naming it as default topic creates
    an unknown topic with ``min(defaultTopicQueueNums, queues)`` queues, as
    Java's ``TopicConfigManager.createTopicInSendMessageMethod`` does.  Java
    creates it on the broker that received the send only; here
    ``auto_create_scope="cluster"`` (the default) creates it on every broker
    so that routes span the cluster, and ``"broker"`` is Java's way.

    ``route_json`` picks the route body encoding: ``"auto"`` answers standard
    JSON when the request's version is at least 401 or it carries
    ``acceptStandardJsonOnly=true`` and fastjson's legacy form (unquoted
    integer keys) otherwise, as a 4.9.4+ name server does; ``"legacy"`` is a
    name server up to 4.9.3; ``"standard"`` always answers standard JSON
    (``standard_json=True`` is the same).

    ``http_port`` (when not None) also serves ``GET /rocketmq/{subgroup}``,
    answering the name server address as ``text/plain``.  ``ssl`` puts TLS on
    every listener: an ``ssl.SSLContext`` with the server's certificate, or
    ``True`` for a throwaway self-signed certificate for the host (made now,
    see :func:`self_signed_tls`), which :attr:`client_ssl` trusts.

    ``acl`` (access key -> secret key) makes the name server and every broker
    check each request's ACL 1.0 signature (``AccessKey``, ``Signature``, as
    Java's ``AclClientRPCHook`` makes them; :func:`codec.acl.verify_command`)
    before anything else, as a broker with ``aclEnable=true`` does: a request
    without an access key, with an unknown one or with a bad signature is not
    handled and is answered NO_PERMISSION (16) with the remark of Java's
    ``PlainPermissionManager`` (``Check signature failed for accessKey=AK``);
    a oneway one gets nothing.  Secrets never reach the logs.

    ``record_requests=False`` keeps :attr:`requests` empty (for benchmarks).
    ``max_message_size`` is the store's limit on one message record (Java's
    ``maxMessageSize``, 4 MiB).

    Where this differs from Java 4.9, knowingly:

    * the name server answers REQUEST_CODE_NOT_SUPPORTED to codes it does not
      know (a Java name server answers nothing at all);
    * ``"batch":"1"`` (the C++ client's way) counts as a batch, as
      :mod:`codec.headers` reads it (Java's ``Boolean.parseBoolean`` would not);
    * stored properties are the ones sent (Java drops ``WAIT`` and adds
      ``CLUSTER``), and commit log offsets advance by Java's record length
      computed from the sent sizes;
    * brokers never leave routes: a stopped broker stays in them, as it does
      for the 120 s a Java name server takes to notice;
    * with ``acl`` the name server checks signatures too (a Java name server
      does not), and the answer is always NO_PERMISSION (a Java broker's
      remoting layer turns the ``AclException`` into a code that depends on
      its version).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        namesrv_port: int = 0,
        broker_port: int = 0,
        broker_names: Sequence[str] = ("broker-a",),
        queues: int = 4,
        auto_create_topics: bool = True,
        auto_create_scope: Literal["cluster", "broker"] = "cluster",
        topics: Sequence[str] = (),
        standard_json: bool = False,
        route_json: RouteJson = "auto",
        http_port: int | None = None,
        ssl: _ssl.SSLContext | bool | None = None,
        acl: Mapping[str, str] | None = None,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        max_message_size: int = MAX_MESSAGE_SIZE,
        record_requests: bool = True,
    ) -> None:
        names = [broker_names] if isinstance(broker_names, str) else list(broker_names)
        if not names:
            raise ValueError("broker_names must name at least one broker")
        if len(set(names)) != len(names) or NAMESRV in names:
            raise ValueError(f"broker names must be unique and not {NAMESRV!r}: {names}")
        if queues < 1:
            raise ValueError("queues must be at least 1")
        if route_json not in ("auto", "legacy", "standard"):
            raise ValueError(f"route_json must be 'auto', 'legacy' or 'standard', not {route_json!r}")
        if standard_json and route_json == "legacy":
            raise ValueError("standard_json=True contradicts route_json='legacy'")
        if auto_create_scope not in ("cluster", "broker"):
            raise ValueError("auto_create_scope must be 'cluster' or 'broker'")
        # One listening socket per server (a name like "localhost" could bind
        # several, each with its own ephemeral port).
        self.host = {"localhost": "127.0.0.1", "": "0.0.0.0"}.get(host, host)
        self.advertised_host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        self.queues = queues
        self.auto_create_topics = auto_create_topics
        self.auto_create_scope = auto_create_scope
        self.route_json: RouteJson = "standard" if standard_json else route_json
        #: With ``ssl=True``: a client context trusting the self-signed certificate.
        self.client_ssl: _ssl.SSLContext | None = None
        if ssl is True:
            ssl, self.client_ssl = self_signed_tls(self.advertised_host)
        self.ssl: _ssl.SSLContext | None = ssl or None
        #: Access key -> secret key when requests must be signed (may be
        #: replaced while running, e.g. to rotate a secret); None: no ACL.
        self.acl: dict[str, str] | None = None if acl is None else dict(acl)
        self.max_frame_size = max_frame_size
        self.max_message_size = max_message_size
        self.record_requests = record_requests
        self._initial_topics = [topics] if isinstance(topics, str) else [str(t) for t in topics]

        self._namesrv = _Listener("namesrv", NAMESRV, namesrv_port)
        self._brokers: dict[str, _Broker] = {}
        for i, name in enumerate(names):
            self._brokers[name] = _Broker(name, broker_port if i == 0 else 0)
        self._http = _Listener("http", "http", http_port) if http_port is not None else None

        self._lock = threading.Lock()
        self._messages: list[StoredMessage] = []
        self._heartbeats: list[tuple[str, HeartbeatData, LanguageCode, int]] = []
        self._unregistered: list[tuple[str, str, str | None, str | None]] = []
        self._requests: list[tuple[str, str | None, RemotingCommand]] = []
        self._clients: dict[str, ClientInfo] = {}
        self._faults: list[_ActiveFault] = []
        self._tasks: set[asyncio.Task[Any]] = set()

        self._loop: asyncio.AbstractEventLoop | None = None
        self._state = "new"  # new -> running -> stopped
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> LocalBroker:
        """Listen on every port (name server, brokers, HTTP); returns self."""
        if self._state != "new":
            raise RuntimeError(f"LocalBroker cannot start: it is {self._state}")
        self._loop = asyncio.get_running_loop()
        self._state = "running"
        for broker in self._brokers.values():
            if self.auto_create_topics:
                broker.topics[_TBW102] = self.queues
            for topic in self._initial_topics:
                broker.topics[topic] = self.queues
        try:
            await self._listen(self._namesrv)
            for broker in self._brokers.values():
                await self._listen(broker.listener)
            if self._http is not None:
                await self._listen(self._http)
        except BaseException:
            await self.stop()
            raise
        log.info("LocalBroker name server %s, brokers %s", self.namesrv_addr, self.broker_addrs)
        return self

    async def stop(self) -> None:
        """Close every listener and connection and cancel every task; idempotent."""
        if self._state != "running":
            self._state = "stopped"
            return
        self._state = "stopped"
        listeners = [self._namesrv, *(b.listener for b in self._brokers.values())]
        if self._http is not None:
            listeners.append(self._http)
        for listener in listeners:
            await self._close_listener(listener)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def __aenter__(self) -> LocalBroker:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _listen(self, listener: _Listener) -> None:
        loop = self._loop_or_raise()
        factory = _HttpConnection if listener.role == "http" else _RemotingConnection
        server = await loop.create_server(
            lambda: factory(self, listener), self.host, listener.port, ssl=self.ssl, reuse_address=True
        )
        listener.server = server
        listener.port = server.sockets[0].getsockname()[1]

    async def _close_listener(self, listener: _Listener) -> None:
        server, listener.server = listener.server, None
        if server is not None:
            server.close()
        conns = list(listener.conns)
        for conn in conns:
            conn.abort()
        if conns:
            await asyncio.wait([c.closed for c in conns], timeout=2.0)
        if server is not None:
            await server.wait_closed()

    async def stop_broker(self, name: str) -> None:
        """Take one server down: close its listener and its connections, so that
        connecting to it is refused.  ``name`` is a broker name or ``"namesrv"``."""
        await self._close_listener(self._listener(name))

    async def start_broker(self, name: str) -> None:
        """Listen again, on the same port, for a server :meth:`stop_broker` took down."""
        listener = self._listener(name)
        if self._state != "running":
            raise RuntimeError("LocalBroker is not running")
        if listener.server is None:
            await self._listen(listener)

    async def restart_broker(self, name: str) -> None:
        """:meth:`stop_broker` then :meth:`start_broker`: every client connection
        to it is closed; its topics and stored messages are kept (a real broker
        keeps them on disk)."""
        await self.stop_broker(name)
        await self.start_broker(name)

    def _listener(self, name: str) -> _Listener:
        if name == NAMESRV:
            return self._namesrv
        broker = self._brokers.get(name)
        if broker is None:
            raise KeyError(f"no broker named {name!r} (brokers: {', '.join(self._brokers)})")
        return broker.listener

    def _loop_or_raise(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("LocalBroker is not started")
        return self._loop

    # ------------------------------------------------------------------ running in a thread

    def start_in_thread(self, timeout: float = 10.0) -> LocalBroker:
        """Start on a new event loop in a daemon thread (for blocking code); returns self."""
        if self._thread is not None:
            raise RuntimeError("LocalBroker already runs in a thread")
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_forever()
            finally:
                loop.close()

        thread = threading.Thread(target=run, name="rmqwire-local-broker", daemon=True)
        self._thread, self._thread_loop = thread, loop
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout)
        except BaseException:
            self._end_thread(timeout)
            raise
        return self

    def stop_in_thread(self, timeout: float = 10.0) -> None:
        """Stop the broker started by :meth:`start_in_thread` and join its thread; idempotent."""
        loop = self._thread_loop
        if loop is None:
            return
        try:
            if not loop.is_closed():
                asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout)
        finally:
            self._end_thread(timeout)

    def _end_thread(self, timeout: float) -> None:
        loop, thread = self._thread_loop, self._thread
        self._thread_loop = self._thread = None
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout)

    def submit(self, coro: Coroutine[Any, Any, _T], timeout: float = 10.0) -> _T:
        """Run ``coro`` (e.g. ``broker.restart_broker("broker-a")``) on the loop
        of a broker started with :meth:`start_in_thread`, and wait for it."""
        loop = self._thread_loop
        if loop is None:
            coro.close()
            raise RuntimeError("submit() needs a LocalBroker started with start_in_thread()")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, **kwargs: Any) -> Iterator[LocalBroker]:
        """``with LocalBroker.in_thread(**kwargs) as broker:`` a broker running on its
        own loop in a daemon thread, stopped (thread joined) on exit."""
        broker = cls(**kwargs)
        broker.start_in_thread()
        try:
            yield broker
        finally:
            broker.stop_in_thread()

    # ------------------------------------------------------------------ addresses

    @property
    def namesrv_addr(self) -> str:
        """``"host:port"`` of the name server."""
        return f"{self.advertised_host}:{self._bound_port(self._namesrv)}"

    @property
    def broker_addrs(self) -> dict[str, str]:
        """Broker name -> ``"host:port"``."""
        return {name: f"{self.advertised_host}:{self._bound_port(b.listener)}" for name, b in self._brokers.items()}

    @property
    def http_addr(self) -> str | None:
        """``"host:port"`` of the HTTP address server, or None without ``http_port``."""
        if self._http is None:
            return None
        return f"{self.advertised_host}:{self._bound_port(self._http)}"

    @property
    def broker_names(self) -> list[str]:
        return list(self._brokers)

    def _bound_port(self, listener: _Listener) -> int:
        if self._state == "new":
            raise RuntimeError("LocalBroker is not started: its ports are not bound yet")
        return listener.port

    # ------------------------------------------------------------------ inspection

    def messages(self, topic: str | None = None, *, broker_name: str | None = None) -> list[StoredMessage]:
        """Stored messages in store order, optionally of one topic / one broker."""
        with self._lock:
            return [
                m
                for m in self._messages
                if (topic is None or m.topic == topic) and (broker_name is None or m.broker_name == broker_name)
            ]

    @property
    def heartbeats(self) -> list[tuple[str, HeartbeatData, LanguageCode, int]]:
        """Every heartbeat received: (broker name, body, language, version)."""
        with self._lock:
            return list(self._heartbeats)

    @property
    def clients(self) -> dict[str, ClientInfo]:
        """Client id -> what its latest heartbeat said."""
        with self._lock:
            return dict(self._clients)

    @property
    def unregistered(self) -> list[tuple[str, str, str | None, str | None]]:
        """Every UNREGISTER_CLIENT: (broker name, client id, producer group, consumer group)."""
        with self._lock:
            return list(self._unregistered)

    @property
    def requests(self) -> list[tuple[str, str | None, RemotingCommand]]:
        """Every request received, in order: (``"namesrv"`` or ``"broker"``,
        broker name or None, command)."""
        with self._lock:
            return list(self._requests)

    @property
    def connections(self) -> int:
        """Open client connections to the name server and the brokers."""
        return len(self._namesrv.conns) + sum(len(b.listener.conns) for b in self._brokers.values())

    def connections_to(self, name: str) -> int:
        """Open client connections to one broker (or ``"namesrv"``)."""
        return len(self._listener(name).conns)

    def topics(self, broker_name: str | None = None) -> dict[str, int]:
        """Topic -> queue count, of one broker (default: the first)."""
        broker = self._brokers[broker_name] if broker_name else next(iter(self._brokers.values()))
        with self._lock:
            return dict(broker.topics)

    def create_topic(self, topic: str, queues: int | None = None, *, broker_name: str | None = None) -> None:
        """Create (or resize) ``topic`` on one broker or, by default, on all."""
        nums = self.queues if queues is None else queues
        targets = [self._brokers[broker_name]] if broker_name else list(self._brokers.values())
        with self._lock:
            for broker in targets:
                broker.topics[topic] = nums

    def clear(self) -> None:
        """Forget stored messages and every record (requests, heartbeats,
        unregistrations, clients).  Topics and queue offsets stay, as on a
        real broker."""
        with self._lock:
            self._messages.clear()
            self._heartbeats.clear()
            self._unregistered.clear()
            self._requests.clear()
            self._clients.clear()

    # ------------------------------------------------------------------ faults

    def inject(self, fault: Fault) -> Fault:
        """Add ``fault``; faults are consumed in the order they were injected."""
        if not isinstance(fault, Fault):
            raise TypeError(f"inject() takes a Fault, not {type(fault).__name__}")
        if fault.broker is not None and fault.broker != NAMESRV and fault.broker not in self._brokers:
            raise KeyError(f"no broker named {fault.broker!r}")
        with self._lock:
            self._faults.append(_ActiveFault(fault))
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> list[tuple[Fault, int | None]]:
        """Active faults with what is left of their ``times``."""
        with self._lock:
            return [(f.fault, f.remaining) for f in self._faults]

    def _take_fault(self, server: str, code: int | None) -> Fault | None:
        with self._lock:
            for active in self._faults:
                if active.fault.matches(server, code):
                    if active.remaining is not None:
                        active.remaining -= 1
                        if active.remaining <= 0:
                            self._faults.remove(active)
                    return active.fault
        return None

    def _take_refusal(self, listener: _Listener) -> bool:
        if listener.role == "http" or not self._faults:
            return False
        return self._take_fault(listener.label, None) is not None

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, conn: _RemotingConnection, cmd: RemotingCommand) -> None:
        listener = conn.listener
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s <- %s: %r", listener.label, conn.peer, redacted(cmd))
        if self.record_requests:
            with self._lock:
                self._requests.append((listener.role, listener.broker.name if listener.broker else None, cmd))
        if cmd.is_response:
            # processResponseCommand: nothing of ours is pending, so it is dropped.
            log.debug("%s: response with opaque %d from %s matches no request", listener.label, cmd.opaque, conn.peer)
            return
        acl = self.acl
        if acl is not None:
            denied = _acl_denial(cmd, acl)
            if denied is not None:
                log.info("%s: request code %d from %s denied: %s", listener.label, cmd.code, conn.peer, denied)
                if not cmd.is_oneway:
                    conn.send(_reply(cmd, ResponseCode.NO_PERMISSION, denied))
                return
        fault = self._take_fault(listener.label, cmd.code) if self._faults else None
        if fault is not None:
            log.debug("%s: injected %s for code %d from %s", listener.label, fault.kind, cmd.code, conn.peer)
            if fault.kind == "drop":
                conn.abort()
                return
            if fault.kind == "swallow":
                return
            if fault.kind == "error":
                if not cmd.is_oneway:
                    conn.send(_reply(cmd, fault.response_code, fault.remark))
                return
        response = self._handle(conn, cmd)
        if response is None or cmd.is_oneway:
            return
        if fault is not None and fault.kind == "delay":
            task = self._loop_or_raise().create_task(self._send_later(conn, response, fault.seconds))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            conn.send(response)

    @staticmethod
    async def _send_later(conn: _RemotingConnection, response: RemotingCommand, seconds: float) -> None:
        await asyncio.sleep(seconds)
        conn.send(response)

    def _handle(self, conn: _RemotingConnection, cmd: RemotingCommand) -> RemotingCommand | None:
        broker = conn.listener.broker
        try:
            if broker is None:
                return self._handle_namesrv(cmd)
            return self._handle_broker(conn, broker, cmd)
        except RocketMQError as exc:
            # Java: the processor throws, processRequestCommand answers SYSTEM_ERROR.
            log.debug("%s: cannot process code %d: %s", conn.listener.label, cmd.code, exc)
            return _reply(cmd, ResponseCode.SYSTEM_ERROR, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a bug here must not kill the server
            log.exception("%s: failed to process code %d", conn.listener.label, cmd.code)
            return _reply(cmd, ResponseCode.SYSTEM_ERROR, f"{type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ name server

    def _handle_namesrv(self, cmd: RemotingCommand) -> RemotingCommand:
        if cmd.code == RequestCode.GET_ROUTEINFO_BY_TOPIC:
            header = GetRouteInfoRequestHeader.from_command(cmd)
            route = self._route(header.topic)
            if route is None:
                return _reply(
                    cmd,
                    ResponseCode.TOPIC_NOT_EXIST,
                    f"No topic route info in name server for the topic: {header.topic}{_FAQ}",
                )
            return _reply(cmd, ResponseCode.SUCCESS, body=route.to_json(standard=self._standard_json(cmd)))
        if cmd.code == RequestCode.GET_BROKER_CLUSTER_INFO:
            return _reply(cmd, ResponseCode.SUCCESS, body=self._cluster_info())
        # A Java name server's DefaultRequestProcessor answers nothing at all for a
        # code it does not know; answering 3 keeps a client from waiting forever.
        return _not_supported(cmd)

    def _standard_json(self, cmd: RemotingCommand) -> bool:
        if self.route_json != "auto":
            return self.route_json == "standard"
        accept = cmd.ext_fields.get("acceptStandardJsonOnly")
        return cmd.version >= SERVER_VERSION or (isinstance(accept, str) and accept.lower() == "true")

    def _route(self, topic: str) -> TopicRouteData | None:
        queue_datas: list[QueueData] = []
        broker_datas: list[BrokerData] = []
        addrs = self.broker_addrs
        with self._lock:
            for name, broker in self._brokers.items():
                nums = broker.topics.get(topic)
                if nums is None:
                    continue
                perm = _PERM_READ | _PERM_WRITE | (_PERM_INHERIT if topic == _TBW102 else 0)
                queue_datas.append(
                    QueueData(
                        broker_name=name, read_queue_nums=nums, write_queue_nums=nums, perm=perm, topic_sys_flag=0
                    )
                )
                broker_datas.append(BrokerData(cluster=CLUSTER_NAME, broker_name=name, broker_addrs={0: addrs[name]}))
        if not queue_datas:
            return None
        return TopicRouteData(queue_datas=tuple(queue_datas), broker_datas=tuple(broker_datas))

    def _cluster_info(self) -> bytes:
        # ClusterInfo.encode(): always fastjson's legacy form, keys sorted.
        import json

        tables = ",".join(
            f"{json.dumps(name)}:{{\"brokerAddrs\":{{0:{json.dumps(addr)}}},"
            f"\"brokerName\":{json.dumps(name)},\"cluster\":{json.dumps(CLUSTER_NAME)}}}"
            for name, addr in sorted(self.broker_addrs.items())
        )
        names = ",".join(json.dumps(name) for name in sorted(self._brokers))
        return f'{{"brokerAddrTable":{{{tables}}},"clusterAddrTable":{{"{CLUSTER_NAME}":[{names}]}}}}'.encode()

    # ------------------------------------------------------------------ broker

    def _handle_broker(self, conn: _RemotingConnection, broker: _Broker, cmd: RemotingCommand) -> RemotingCommand:
        code = cmd.code
        if code in _SEND_CODES:
            return self._handle_send(conn, broker, cmd)
        if code == RequestCode.HEART_BEAT:
            data = HeartbeatData.from_json(cmd.body)
            self._record_heartbeat(broker.name, data, cmd)
            return _reply(cmd, ResponseCode.SUCCESS)
        if code == RequestCode.UNREGISTER_CLIENT:
            header = UnregisterClientRequestHeader.from_command(cmd)
            with self._lock:
                self._unregistered.append(
                    (broker.name, header.client_id, header.producer_group, header.consumer_group)
                )
            return _reply(cmd, ResponseCode.SUCCESS)
        if code == RequestCode.GET_MAX_OFFSET:
            topic = cmd.ext_fields.get("topic", "")
            try:
                queue_id = int(cmd.ext_fields.get("queueId", "0"))
            except ValueError:
                queue_id = 0
            with self._lock:
                offset = broker.next_offsets.get((topic, queue_id), 0)
            return _reply(cmd, ResponseCode.SUCCESS, ext_fields={"offset": str(offset)})
        return _not_supported(cmd)

    def _record_heartbeat(self, broker_name: str, data: HeartbeatData, cmd: RemotingCommand) -> None:
        producers = frozenset(p.group_name for p in data.producer_data_set)
        consumers = frozenset(
            str(getattr(c, "group_name", "")) for c in data.consumer_data_set if getattr(c, "group_name", None)
        )
        with self._lock:
            self._heartbeats.append((broker_name, data, cmd.language, cmd.version))
            previous = self._clients.get(data.client_id)
            brokers = (previous.brokers if previous else frozenset()) | {broker_name}
            self._clients[data.client_id] = ClientInfo(
                data.client_id, cmd.language, cmd.version, producers, consumers, brokers, time.time()
            )

    def _handle_send(self, conn: _RemotingConnection, broker: _Broker, cmd: RemotingCommand) -> RemotingCommand:
        header = SendMessageRequestHeader.from_command(cmd)
        extras = {"MSG_REGION": _REGION_ID, "TRACE_ON": _TRACE_ON}

        def fail(code: int, remark: str) -> RemotingCommand:
            log.debug("%s: send to %s refused (%d): %s", broker.name, header.topic, code, remark)
            return _reply(cmd, code, remark, extras)

        topic = header.topic
        # AbstractSendMessageProcessor.msgCheck
        problem = _check_topic(topic)
        if problem is not None:
            return fail(*problem)
        if topic in NOT_ALLOWED_SEND_TOPICS:
            return fail(ResponseCode.NO_PERMISSION, f"Sending message to topic[{topic}] is forbidden.")
        with self._lock:
            nums = broker.topics.get(topic)
            if nums is None:
                nums = self._auto_create(broker, topic, header.default_topic, header.default_topic_queue_nums)
        if nums is None:
            return fail(ResponseCode.TOPIC_NOT_EXIST, f"topic[{topic}] not exist, apply first please!{_FAQ}")
        queue_id = header.queue_id
        if queue_id >= nums:
            perm = "RW-" if topic != _TBW102 else "RWX"
            return fail(
                ResponseCode.SYSTEM_ERROR,
                f"request queueId[{queue_id}] is illegal, TopicConfig [topicName={topic}, readQueueNums={nums}, "
                f"writeQueueNums={nums}, perm={perm}, topicFilterType=SINGLE_TAG, topicSysFlag=0, order=false] "
                f"Producer: {conn.peer}",
            )
        if queue_id < 0:
            queue_id = random.randrange(nums)

        body = cmd.body
        illegal = _ILLEGAL_REMARK.format(self.max_message_size)
        topic_size = len(topic.encode())
        # (body, properties, properties size in bytes, flag), in store order
        entries: list[tuple[bytes, dict[str, str], int, int]]
        if header.batch:
            # asyncSendBatchMessage, DefaultMessageStore.checkMessages
            if len(body) > self.max_message_size:
                return fail(ResponseCode.MESSAGE_ILLEGAL, illegal)
            try:
                batch = decode_batch(body)
            except CodecError:
                return fail(ResponseCode.MESSAGE_ILLEGAL, illegal)
            if not batch:
                return fail(ResponseCode.MESSAGE_ILLEGAL, illegal)
            entries = [(e.body, e.properties, len(encode_properties(e.properties).encode()), e.flag) for e in batch]
        else:
            props_text = header.properties or ""
            props_dict = decode_properties(props_text) if props_text else {}
            entries = [(body, props_dict, len(props_text.encode()), header.flag)]
        # DefaultMessageStore.checkMessage and CommitLog's size checks
        for entry_body, _props, props_size, _flag in entries:
            if props_size > _PROPERTIES_MAX_LENGTH:
                return fail(ResponseCode.MESSAGE_ILLEGAL, illegal)
            if _RECORD_OVERHEAD + len(entry_body) + topic_size + props_size > self.max_message_size:
                return fail(ResponseCode.MESSAGE_ILLEGAL, illegal)

        msg_ids: list[str] = []
        first_offset = -1
        now = int(time.time() * 1000)
        id_prefix = broker.msg_id_prefix(self.advertised_host)
        sys_flag = header.sys_flag
        compressed = bool(sys_flag & MessageSysFlag.COMPRESSED_FLAG)
        payloads = [_payload(e[0], sys_flag) if compressed else e[0] for e in entries]
        stored: list[StoredMessage] = []
        with self._lock:
            for (entry_body, props, props_size, flag), payload in zip(entries, payloads):
                key = (topic, queue_id)
                queue_offset = broker.next_offsets.get(key, 0)
                broker.next_offsets[key] = queue_offset + 1
                commitlog = broker.commitlog
                broker.commitlog += _RECORD_OVERHEAD + len(entry_body) + topic_size + props_size
                msg_id = f"{id_prefix}{commitlog:016X}"
                msg_ids.append(msg_id)
                if first_offset < 0:
                    first_offset = queue_offset
                stored.append(
                    StoredMessage(
                        topic=topic,
                        queue_id=queue_id,
                        queue_offset=queue_offset,
                        commitlog_offset=commitlog,
                        offset_msg_id=msg_id,
                        body=entry_body,
                        payload=payload,
                        properties=props,
                        sys_flag=sys_flag,
                        flag=flag,
                        born_timestamp=header.born_timestamp,
                        producer_group=header.producer_group,
                        uniq_key=props.get("UNIQ_KEY"),
                        tags=props.get("TAGS"),
                        keys=props.get("KEYS"),
                        delay_level=_int_or_zero(props.get("DELAY")),
                        broker_name=broker.name,
                        request_code=cmd.code,
                        serialize_type=cmd.serialize_type,
                        language=cmd.language,
                        batch=bool(header.batch),
                        born_host=conn.peer,
                        reconsume_times=header.reconsume_times or 0,
                        store_timestamp=now,
                    )
                )
            self._messages.extend(stored)
        response = SendMessageResponseHeader(
            msg_id=",".join(msg_ids),
            queue_id=queue_id,
            queue_offset=first_offset,
            msg_region=_REGION_ID,
            trace_on=True,
        )
        return _reply(cmd, ResponseCode.SUCCESS, None, response.to_ext_fields())

    def _auto_create(self, broker: _Broker, topic: str, default_topic: str, client_nums: int) -> int | None:
        """``TopicConfigManager.createTopicInSendMessageMethod``; the caller holds the lock."""
        if not self.auto_create_topics or default_topic != _TBW102:
            return None
        key_nums = broker.topics.get(_TBW102)
        if key_nums is None:
            return None
        nums = max(0, min(client_nums, key_nums))
        targets = self._brokers.values() if self.auto_create_scope == "cluster" else (broker,)
        for target in targets:
            target.topics.setdefault(topic, nums)
        log.info("%s: auto-created topic %s with %d queues", broker.name, topic, nums)
        return broker.topics[topic]


# --------------------------------------------------------------------------- helpers


def _reply(
    cmd: RemotingCommand,
    code: int,
    remark: str | None = None,
    ext_fields: dict[str, str] | None = None,
    body: bytes = b"",
) -> RemotingCommand:
    return cmd.reply(int(code), remark, ext_fields, body, language=LanguageCode.JAVA, version=SERVER_VERSION)


def _java_text(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


def _java_utf8(cmd: RemotingCommand) -> RemotingCommand:
    """``cmd`` with every string made encodable the way Java's
    ``String.getBytes(UTF_8)`` does: unpaired surrogates become '?'."""
    return replace(
        cmd,
        remark=None if cmd.remark is None else _java_text(cmd.remark),
        ext_fields={_java_text(k): _java_text(v) for k, v in cmd.ext_fields.items()},
    )


def _acl_denial(cmd: RemotingCommand, secrets: Mapping[str, str]) -> str | None:
    """Why ``PlainPermissionManager.validate`` would refuse ``cmd``, or None."""
    access_key = cmd.ext_fields.get(ACCESS_KEY)
    if access_key is None:
        return "No accessKey is configured"
    if access_key not in secrets:
        return f"No acl config for {access_key}"
    if not verify_command(cmd, {access_key: secrets[access_key]}):
        return f"Check signature failed for accessKey={access_key}"
    return None


def self_signed_tls(host: str = "127.0.0.1") -> tuple[_ssl.SSLContext, _ssl.SSLContext]:
    """(server context, client context) for a throwaway self-signed
    certificate for ``host`` (an IP address or a DNS name, put in the
    certificate's subjectAltName), valid for a day, made now with the
    ``cryptography`` package or else the ``openssl`` command.

    The client context verifies the server against that certificate, host
    name included, so a client connecting to ``host`` accepts it.  Raises
    ``RuntimeError`` when neither tool is available.
    """
    with tempfile.TemporaryDirectory(prefix="rmqwire-tls-") as directory:
        cert = os.path.join(directory, "cert.pem")
        key = os.path.join(directory, "key.pem")
        try:
            _self_signed_with_cryptography(host, cert, key)
        except ImportError:
            _self_signed_with_openssl(host, cert, key)
        server = _ssl.create_default_context(_ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(cert, key)
        client = _ssl.create_default_context(cafile=cert)
    return server, client


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _self_signed_with_openssl(host: str, cert: str, key: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("a self-signed certificate needs the cryptography package or the openssl command")
    done = subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", f"/CN={host}",
            "-addext", f"subjectAltName={'IP' if _is_ip(host) else 'DNS'}:{host}",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"openssl could not make a certificate: {done.stderr.decode(errors='replace')[:300]}")


def _self_signed_with_cryptography(host: str, cert: str, key: str) -> None:
    import datetime

    from cryptography import x509  # type: ignore[import-not-found, unused-ignore]
    from cryptography.hazmat.primitives import hashes, serialization  # type: ignore[import-not-found, unused-ignore]
    from cryptography.hazmat.primitives.asymmetric import ec  # type: ignore[import-not-found, unused-ignore]
    from cryptography.x509.oid import NameOID  # type: ignore[import-not-found, unused-ignore]

    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    alt = x509.IPAddress(ipaddress.ip_address(host)) if _is_ip(host) else x509.DNSName(host)
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([alt]), False)
        .sign(private, hashes.SHA256())
    )
    with open(key, "wb") as f:
        f.write(
            private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    with open(cert, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))


def _not_supported(cmd: RemotingCommand) -> RemotingCommand:
    return _reply(cmd, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, f" request type {cmd.code} not supported")


def _check_topic(topic: str) -> tuple[int, str] | None:
    """``TopicValidator.validateTopic`` as a 4.9 broker runs it: SYSTEM_ERROR."""
    if not topic.strip():
        return ResponseCode.SYSTEM_ERROR, "The specified topic is blank."
    if not _VALID_TOPIC_CHARS.issuperset(topic):
        return (
            ResponseCode.SYSTEM_ERROR,
            "The specified topic contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$",
        )
    if len(topic) > _TOPIC_MAX_LENGTH:
        return ResponseCode.SYSTEM_ERROR, "The specified topic is longer than topic max length."
    return None


def _payload(body: bytes, sys_flag: int) -> bytes:
    try:
        return decompress_body(body, sys_flag)
    except CodecError as exc:
        log.debug("compressed body does not decompress (%s); keeping it as sent", exc)
        return body


def _int_or_zero(value: str | None) -> int:
    if value is None:
        return 0
    try:
        return int(value)
    except ValueError:
        return 0
