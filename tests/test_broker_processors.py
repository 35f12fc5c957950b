"""Request processors registered by code, and answers given later.

A processor is ``processor(request, ctx) -> response | ctx.defer() | None``;
the registry maps codes to processors (Java's ``registerProcessor``) with a
default that answers REQUEST_CODE_NOT_SUPPORTED.  A deferred answer (what
long polling will use to hold a pull) is written when resolved, with the
request's opaque, after other answers on the connection; it is cancelled
when the connection closes.  Driven over real sockets with raw frames.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest

from rmqwire.broker import DeferredReply, ProcessorRegistry, RequestContext, not_supported, reply
from rmqwire.codec import (
    ClientError,
    ConfigError,
    FrameDecoder,
    LanguageCode,
    MalformedHeaderError,
    RemotingCommand,
    RequestCode,
    ResponseCode,
    ServiceStateError,
    encode,
)
from rmqwire.testing import NAMESRV, Fault, LocalBroker

_T = TypeVar("_T")

HOLD = 9001  # a request code of our own for the tests' processors


def run(coro: Coroutine[Any, Any, _T], timeout: float = 15.0) -> _T:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def with_broker(**kwargs: Any) -> Callable[[Callable[[LocalBroker], Awaitable[None]]], Callable[[], None]]:
    def wrap(body: Callable[[LocalBroker], Awaitable[None]]) -> Callable[[], None]:
        def test() -> None:
            async def main() -> None:
                async with LocalBroker(**kwargs) as broker:
                    await body(broker)

            run(main())

        test.__name__ = body.__name__
        test.__doc__ = body.__doc__
        return test

    return wrap


class Peer:
    """A raw connection: write frames, read whole frames back."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = FrameDecoder()
        self.pending: list[RemotingCommand] = []

    @classmethod
    async def connect(cls, addr: str) -> Peer:
        host, port = addr.rsplit(":", 1)
        return cls(*await asyncio.open_connection(host, int(port)))

    def send(self, cmd: RemotingCommand) -> None:
        self.writer.write(encode(cmd))

    async def recv(self, timeout: float = 3.0) -> RemotingCommand:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("closed by the server")
            self.pending.extend(self.decoder.feed(data))
        return self.pending.pop(0)

    async def nothing(self, within: float = 0.2) -> bool:
        try:
            await self.recv(within)
        except asyncio.TimeoutError:
            return True
        return False

    async def closed_by_server(self, within: float = 3.0) -> bool:
        try:
            while await asyncio.wait_for(self.reader.read(65536), within):
                pass
            return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except asyncio.TimeoutError:
            return False

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


class Holder:
    """A processor that holds every request until released (the shape of a long-polling pull)."""

    def __init__(self) -> None:
        self.held: list[DeferredReply] = []
        self.contexts: list[RequestContext] = []
        self.ended: list[DeferredReply] = []

    def __call__(self, request: RemotingCommand, ctx: RequestContext) -> DeferredReply:
        self.contexts.append(ctx)
        deferred = ctx.defer()
        assert ctx.defer() is deferred  # one handle per request
        deferred.add_done_callback(self.ended.append)
        self.held.append(deferred)
        return deferred

    def release(self, index: int = 0, code: int = ResponseCode.SUCCESS) -> bool:
        deferred = self.held[index]
        return deferred.resolve(reply(deferred.request, code, "released", {"at": str(index)}))


def hold(opaque: int, *, oneway: bool = False) -> RemotingCommand:
    return RemotingCommand.request(HOLD, {"topic": "T"}, opaque=opaque, oneway=oneway)


# --------------------------------------------------------------------------- registry


def test_registry_routes_codes_and_falls_back_to_not_supported() -> None:
    registry = ProcessorRegistry()
    seen: list[int] = []

    def processor(request: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        seen.append(request.code)
        return reply(request, 0)

    registry.register([HOLD, HOLD + 1], processor)
    assert registry.codes == [HOLD, HOLD + 1] and HOLD in registry and 7 not in registry
    assert registry.lookup(HOLD) is processor and registry.lookup(7) is not_supported
    assert registry.unregister(HOLD) is processor and registry.lookup(HOLD) is not_supported
    registry.set_default(processor)
    assert registry.lookup(12345) is processor
    with pytest.raises(TypeError):
        registry.register(HOLD, "not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        registry.register("10", processor)  # type: ignore[arg-type]


@with_broker(topics=("T",))
async def test_a_registered_processor_answers_its_code(broker: LocalBroker) -> None:
    calls: list[tuple[str, str]] = []

    def echo(request: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        calls.append((ctx.server, ctx.peer))
        return reply(request, ResponseCode.SUCCESS, ext_fields={"echo": request.ext_fields["topic"]})

    broker.broker().registry.register(HOLD, echo)
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    peer.send(hold(5))
    answer = await peer.recv()
    assert (answer.code, answer.opaque, answer.flag, answer.ext_fields) == (0, 5, 1, {"echo": "T"})
    assert (answer.language, answer.version) == (LanguageCode.JAVA, 401)
    server, client_addr = calls[0]
    assert server == "broker-a" and client_addr.startswith("127.0.0.1:")
    # the name server has its own registry: the code is unknown there
    npeer = await Peer.connect(broker.namesrv_addr)
    npeer.send(hold(6))
    assert (await npeer.recv()).code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED
    assert broker.cluster.namesrv.registry.codes == [RequestCode.GET_ROUTEINFO_BY_TOPIC, RequestCode.GET_BROKER_CLUSTER_INFO]
    await peer.close()
    await npeer.close()


@with_broker()
async def test_processor_failures_are_answered_system_error(broker: LocalBroker) -> None:
    def codec_error(request: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        raise MalformedHeaderError("field 'x' is missing")

    def bug(request: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        raise ZeroDivisionError("a bug")

    def defer_then_fail(request: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        deferred.append(ctx.defer())
        raise ZeroDivisionError("after deferring")

    def wrong_type(request: RemotingCommand, ctx: RequestContext) -> Any:
        return "OK"

    deferred: list[DeferredReply] = []
    registry = broker.broker().registry
    for code, processor in ((HOLD, codec_error), (HOLD + 1, bug), (HOLD + 2, defer_then_fail), (HOLD + 3, wrong_type)):
        registry.register(code, processor)
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    remarks = []
    for opaque, code in enumerate(range(HOLD, HOLD + 4), 1):
        peer.send(RemotingCommand.request(code, opaque=opaque))
        answer = await peer.recv()
        assert (answer.code, answer.opaque) == (ResponseCode.SYSTEM_ERROR, opaque)
        remarks.append(answer.remark)
    assert remarks[0] == "MalformedHeaderError: field 'x' is missing"
    assert remarks[1] == "ZeroDivisionError: a bug"
    assert deferred[0].cancelled  # the handle of a processor that failed is void
    assert remarks[3] == "processor returned str"
    await peer.close()


# --------------------------------------------------------------------------- deferred answers


@with_broker()
async def test_a_deferred_answer_comes_later_with_the_requests_opaque(broker: LocalBroker) -> None:
    holder = Holder()
    broker.broker().registry.register(HOLD, holder)
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    peer.send(hold(11))
    peer.send(hold(12))
    heartbeat = RemotingCommand.request(RequestCode.HEART_BEAT, body=b'{"clientID":"c"}', opaque=13)
    peer.send(heartbeat)
    assert (await peer.recv()).opaque == 13  # answered while the two holds wait
    assert await peer.nothing()
    assert [d.done for d in holder.held] == [False, False]
    assert holder.release(1)
    second = await peer.recv()
    assert (second.opaque, second.code, second.remark, second.ext_fields) == (12, 0, "released", {"at": "1"})
    assert holder.release(0) and (await peer.recv()).opaque == 11
    assert not holder.release(0)  # done already: nothing more is written
    assert await peer.nothing()
    assert holder.ended == [holder.held[1], holder.held[0]]
    await peer.close()


@with_broker()
async def test_a_deferred_answer_is_cancelled_when_the_connection_closes(broker: LocalBroker) -> None:
    holder = Holder()
    broker.broker().registry.register(HOLD, holder)
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    peer.send(hold(1))
    for _ in range(100):
        if holder.held:
            break
        await asyncio.sleep(0.01)
    (deferred,) = holder.held
    assert deferred.connection_open
    await peer.close()
    for _ in range(100):
        if deferred.done:
            break
        await asyncio.sleep(0.01)
    assert deferred.cancelled and not deferred.connection_open and holder.ended == [deferred]
    assert not deferred.resolve(reply(deferred.request, 0))


@with_broker()
async def test_a_deferred_answer_to_a_oneway_request_is_never_written(broker: LocalBroker) -> None:
    holder = Holder()
    broker.broker().registry.register(HOLD, holder)
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    peer.send(hold(1, oneway=True))
    peer.send(hold(2))
    await asyncio.sleep(0.1)
    assert not holder.release(0)
    assert holder.release(1)
    assert (await peer.recv()).opaque == 2
    assert await peer.nothing()
    await peer.close()


@with_broker()
async def test_resolve_takes_the_answer_to_its_own_request(broker: LocalBroker) -> None:
    holder = Holder()
    broker.broker().registry.register(HOLD, holder)
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    peer.send(hold(1))
    peer.send(hold(2))
    await asyncio.sleep(0.1)
    with pytest.raises(ClientError, match="opaque 1"):
        holder.held[0].resolve(reply(holder.held[1].request, 0))
    with pytest.raises(ClientError):
        holder.held[0].resolve(holder.held[0].request)  # a request, not a response
    assert holder.held[1].cancel() and not holder.held[1].cancel()
    assert holder.release(0) and (await peer.recv()).opaque == 1
    assert await peer.nothing()
    await peer.close()


@with_broker()
async def test_a_delay_fault_delays_a_deferred_answer_from_its_resolution(broker: LocalBroker) -> None:
    holder = Holder()
    broker.broker().registry.register(HOLD, holder)
    broker.inject(Fault.delay(0.3, code=HOLD, times=1))
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    peer.send(hold(1))
    await asyncio.sleep(0.1)
    start = time.monotonic()
    assert holder.release(0)
    answer = await peer.recv()
    assert answer.opaque == 1 and time.monotonic() - start >= 0.3
    await peer.close()


# --------------------------------------------------------------------------- bounded buffering


@with_broker(max_buffered_bytes=100_000)
async def test_a_server_closes_the_connection_that_would_exceed_its_buffer_budget(broker: LocalBroker) -> None:
    addr = broker.broker_addrs["broker-a"]
    big = encode(RemotingCommand.request(RequestCode.HEART_BEAT, body=bytes(150_000), opaque=1))
    slow = await Peer.connect(addr)
    slow.writer.write(big[:60_000])  # an unfinished frame, held
    await asyncio.sleep(0.1)
    budget = broker.broker().listener.budget
    assert budget is not None and budget.used == 60_000
    greedy = await Peer.connect(addr)
    greedy.writer.write(big[:50_000])
    assert await greedy.closed_by_server()
    assert budget.used == 60_000
    # whole frames never count, so ordinary traffic goes on
    ok = await Peer.connect(addr)
    ok.send(RemotingCommand.request(RequestCode.HEART_BEAT, body=b'{"clientID":"c"}', opaque=2))
    assert (await ok.recv()).code == 0
    await slow.close()
    for _ in range(100):
        if budget.used == 0:
            break
        await asyncio.sleep(0.01)
    assert budget.used == 0
    # the name server has a budget of its own
    assert broker.cluster.namesrv.listener.budget is not budget
    await greedy.close()
    await ok.close()


# --------------------------------------------------------------------------- states and options


def test_lifecycle_errors_are_service_state_errors() -> None:
    broker = LocalBroker()
    with pytest.raises(ServiceStateError, match="not started"):
        broker.namesrv_addr
    with pytest.raises(ServiceStateError):
        broker.submit(asyncio.sleep(0))

    async def twice() -> None:
        async with broker:
            with pytest.raises(ServiceStateError):
                await broker.start()
        with pytest.raises(ServiceStateError):
            await broker.start_broker("broker-a")

    run(twice())
    with LocalBroker.in_thread() as threaded:
        with pytest.raises(ServiceStateError, match="already runs"):
            threaded.start_in_thread()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"broker_names": ()}, "at least one broker"),
        ({"broker_names": ("a", "a")}, "unique"),
        ({"broker_names": (NAMESRV,)}, "namesrv"),
        ({"queues": 0}, "queues"),
        ({"queues": True}, "queues"),
        ({"route_json": "xml"}, "route_json"),
        ({"standard_json": True, "route_json": "legacy"}, "contradicts"),
        ({"auto_create_scope": "world"}, "auto_create_scope"),
        ({"namesrv_port": 70000}, "namesrv_port"),
        ({"max_frame_size": 4}, "max_frame_size"),
        ({"max_queue_messages": 0}, "max_queue_messages"),
        ({"max_buffered_bytes": -1}, "max_buffered_bytes"),
    ],
)
def test_bad_options_are_config_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        LocalBroker(**kwargs)


def test_unknown_broker_names_are_config_errors() -> None:
    broker = LocalBroker()
    for call in (
        lambda: broker.topics("broker-z"),
        lambda: broker.create_topic("T", broker_name="broker-z"),
        lambda: broker.connections_to("broker-z"),
        lambda: broker.messages(broker_name="broker-z"),
        lambda: broker.broker("broker-z"),
    ):
        with pytest.raises(ConfigError, match="broker-z"):
            call()
    with pytest.raises(ConfigError, match="queues"):
        broker.create_topic("T", 0)
