"""The request pipeline: what happens to each request between the socket
and its processor.

Mirrors ``NettyRemotingAbstract.processRequestCommand`` (find the processor
by code, run it, answer in the request's serialize type, turn a processor's
exception into SYSTEM_ERROR, never answer a oneway request) with, in front
of it, what a test harness and an ACL-enabled broker add: recording every
command, ACL 1.0 signature checks (``PlainPermissionManager.validate``) and
injected faults (:mod:`.faults`).

Requests are handled synchronously, in ``data_received``: the answer (or
the decision to answer later) is made before the next frame is read, so a
connection's answers leave in request order unless a fault or a processor
defers one.  One :class:`RequestPipeline` serves the whole cluster; each
server (the name server, each broker) has a :class:`Dispatcher` with its own
label and processor registry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from ..codec.acl import ACCESS_KEY, verify_command
from ..codec.command import RemotingCommand
from ..codec.enums import ResponseCode
from ..codec.errors import RocketMQError
from ..logfmt import loggable
from .faults import FaultTable
from .processor import DeferredReply, ProcessorRegistry, RequestContext, reply
from .server import ServerConnection

__all__ = ["RequestLog", "RequestPipeline", "Dispatcher", "acl_denial"]

log = logging.getLogger(__name__)

#: ``(role, broker name or None, command)`` as :attr:`RequestLog.entries` keeps them.
RequestRecord = tuple[str, "str | None", RemotingCommand]


class RequestLog:
    """Every command received, in order (thread-safe)."""

    __slots__ = ("_lock", "_entries")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[RequestRecord] = []

    def append(self, role: str, name: str | None, cmd: RemotingCommand) -> None:
        with self._lock:
            self._entries.append((role, name, cmd))

    @property
    def entries(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def acl_denial(cmd: RemotingCommand, secrets: Mapping[str, str]) -> str | None:
    """Why ``PlainPermissionManager.validate`` would refuse ``cmd``, or None."""
    access_key = cmd.ext_fields.get(ACCESS_KEY)
    if access_key is None:
        return "No accessKey is configured"
    if access_key not in secrets:
        return f"No acl config for {access_key}"
    if not verify_command(cmd, {access_key: secrets[access_key]}):
        return f"Check signature failed for accessKey={access_key}"
    return None


class RequestPipeline:
    """What every server of the cluster shares: the fault table, the request
    log, and the two settings that may change while running."""

    __slots__ = ("faults", "requests", "acl", "record_requests")

    def __init__(self, *, acl: Mapping[str, str] | None = None, record_requests: bool = True) -> None:
        self.faults = FaultTable()
        self.requests = RequestLog()
        #: Access key -> secret key when requests must be signed; None: no ACL.
        self.acl: dict[str, str] | None = None if acl is None else dict(acl)
        self.record_requests = record_requests


class Dispatcher:
    """One server's :class:`~.server.ConnectionHandler`: runs each request
    through the pipeline to the processor its registry names.

    ``role`` is ``"namesrv"`` or ``"broker"`` (as :attr:`RequestLog.entries`
    records it), ``label`` the server's name in faults and logs.
    ``on_close`` hooks run when one of its connections closes (the client
    manager forgets the channel).
    """

    __slots__ = ("role", "label", "name", "registry", "pipeline", "close_hooks", "client_of")

    def __init__(self, role: str, label: str, registry: ProcessorRegistry, pipeline: RequestPipeline) -> None:
        self.role = role
        self.label = label
        self.name = label if role == "broker" else None
        self.registry = registry
        self.pipeline = pipeline
        self.close_hooks: list[Callable[[ServerConnection], None]] = []
        #: Connection id -> the client id it heartbeats as (for log lines).
        self.client_of: Callable[[int], str | None] | None = None

    # -- ConnectionHandler

    def on_connect(self, conn: ServerConnection) -> bool:
        faults = self.pipeline.faults
        return not (faults and faults.take(self.label, None) is not None)

    def on_close(self, conn: ServerConnection) -> None:
        for hook in self.close_hooks:
            try:
                hook(conn)
            except Exception:  # one hook's bug must not keep the others from running
                log.exception("%s: close hook failed for connection from %s", self.label, conn.peer)

    def on_response(self, conn: ServerConnection, response: RemotingCommand, matched: bool) -> None:
        pipeline = self.pipeline
        if pipeline.record_requests:
            pipeline.requests.append(self.role, self.name, response)
        if not matched:
            log.debug("%s: response with opaque %d from %s matches no request", self.label, response.opaque, conn.peer)

    def on_request(self, conn: ServerConnection, cmd: RemotingCommand) -> None:
        pipeline = self.pipeline
        if log.isEnabledFor(logging.DEBUG):
            client = self.client_of(conn.id) if self.client_of is not None else None
            client = client or cmd.ext_fields.get("clientID")  # UNREGISTER_CLIENT names it
            log.debug("%s <- %s%s: %r", self.label, conn.peer, f" client {client}" if client else "", loggable(cmd))
        if pipeline.record_requests:
            pipeline.requests.append(self.role, self.name, cmd)
        acl = pipeline.acl
        if acl is not None:
            denied = acl_denial(cmd, acl)
            if denied is not None:
                log.info("%s: request code %d from %s denied: %s", self.label, cmd.code, conn.peer, denied)
                if not cmd.is_oneway:
                    conn.send_response(reply(cmd, ResponseCode.NO_PERMISSION, denied))
                return
        delay = 0.0
        faults = pipeline.faults
        if faults:
            fault = faults.take(self.label, cmd.code)
            if fault is not None:
                log.debug("%s: injected %s for code %d from %s", self.label, fault.kind, cmd.code, conn.peer)
                if fault.kind == "drop":
                    conn.abort()
                    return
                if fault.kind == "swallow":
                    return
                if fault.kind == "error":
                    if not cmd.is_oneway:
                        conn.send_response(reply(cmd, fault.response_code, fault.remark))
                    return
                delay = fault.seconds
        result = self._process(conn, cmd, delay)
        if isinstance(result, RemotingCommand) and not cmd.is_oneway:
            conn.send_response(result, delay)

    def _process(self, conn: ServerConnection, cmd: RemotingCommand, delay: float) -> RemotingCommand | DeferredReply | None:
        ctx = RequestContext(self.label, conn, cmd, delay)
        try:
            result = self.registry.lookup(cmd.code)(cmd, ctx)
        except RocketMQError as exc:
            # Java: the processor throws, processRequestCommand answers SYSTEM_ERROR.
            log.debug("%s: cannot process code %d: %s", self.label, cmd.code, exc)
            result = reply(cmd, ResponseCode.SYSTEM_ERROR, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a processor bug must not kill the server
            log.exception("%s: failed to process code %d", self.label, cmd.code)
            result = reply(cmd, ResponseCode.SYSTEM_ERROR, f"{type(exc).__name__}: {exc}")
        deferred = ctx.deferred
        if deferred is not None and result is not deferred:
            deferred.cancel()  # it answered (or failed) after all: the handle is void
        if result is not None and not isinstance(result, (RemotingCommand, DeferredReply)):
            log.error("%s: processor for code %d returned %r", self.label, cmd.code, type(result).__name__)
            result = reply(cmd, ResponseCode.SYSTEM_ERROR, f"processor returned {type(result).__name__}")
        return result
