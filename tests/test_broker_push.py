"""The embedded broker's own requests to its clients, end to end.

A raw client built from the codec alone (a ClientSession over a loopback
socket) heartbeats like a Java consumer and answers what the broker sends
it: NOTIFY_CONSUMER_IDS_CHANGED (40, oneway, header ``consumerGroup``,
consumer-protocol.md section 8, GOLDEN java-broker-4.9.8 seq 55), pushed when
a group's membership changes and on demand, and two-way requests such as
GET_CONSUMER_RUNNING_INFO (307) whose answers come back to
``request_client``, with our own timeout and connection-closed errors.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest
from golden_support import shared_golden_file

from rmqwire.broker.controller import notify_consumer_ids_changed_request
from rmqwire.codec import (
    ClientError,
    ConfigError,
    ConnectionClosedError,
    LanguageCode,
    RemotingCommand,
    RequestCode,
    RequestTimeoutError,
    ServiceStateError,
    decode,
    encode,
)
from rmqwire.codec.body import ConsumerData, HeartbeatData, ProducerData, SubscriptionData
from rmqwire.codec.session import ClientSession, RequestReceived, ResponseReceived
from rmqwire.testing import LocalBroker

_T = TypeVar("_T")

GOLDEN_JAVA = shared_golden_file("java-broker-4.9.8.jsonl")
GROUP = "CG_PUSH"


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


Answer = Callable[[RemotingCommand], "RemotingCommand | None"]


class RawClient:
    """A client connection made of the codec: requests go out through a
    ClientSession; requests the broker pushes are kept in ``pushed`` (raw
    frames too) and, when ``answer`` gives a response, answered."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer: Answer | None) -> None:
        self.reader, self.writer = reader, writer
        self.session = ClientSession(first_opaque=1)
        self.answer = answer
        self.arrivals: list[str] = []  # "push <code>" / "response <opaque>", in arrival order
        self.pushed: asyncio.Queue[RemotingCommand] = asyncio.Queue()
        self.waiters: dict[int, asyncio.Future[RemotingCommand]] = {}
        self.eof = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, addr: str, answer: Answer | None = None) -> RawClient:
        host, port = addr.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer, answer)

    async def _read(self) -> None:
        try:
            while data := await self.reader.read(65536):
                for event in self.session.receive_data(data):
                    if isinstance(event, RequestReceived):
                        cmd = event.command
                        self.arrivals.append(f"push {cmd.code}")
                        self.pushed.put_nowait(cmd)
                        response = self.answer(cmd) if self.answer is not None else None
                        if response is not None and not cmd.is_oneway:
                            self.writer.write(self.session.send_response(response))
                    elif isinstance(event, ResponseReceived):
                        self.arrivals.append(f"response {event.opaque}")
                        waiter = self.waiters.pop(event.opaque, None)
                        if waiter is not None:
                            waiter.set_result(event.response)
        except (ConnectionError, OSError):
            pass
        finally:
            self.eof.set()

    async def call(self, cmd: RemotingCommand, timeout: float = 3.0) -> RemotingCommand:
        opaque, frame = self.session.send_request(cmd, now=0, timeout=timeout)
        waiter: asyncio.Future[RemotingCommand] = asyncio.get_running_loop().create_future()
        self.waiters[opaque] = waiter
        self.writer.write(frame)
        return await asyncio.wait_for(waiter, timeout)

    async def heartbeat(self, client_id: str, *groups: str, topics: tuple[str, ...] = ("T",)) -> RemotingCommand:
        consumers = tuple(
            ConsumerData(
                group, "CONSUME_PASSIVELY", "CLUSTERING", "CONSUME_FROM_LAST_OFFSET",
                tuple(SubscriptionData(t, "*", sub_version=1) for t in topics),
            )
            for group in groups
        )
        body = HeartbeatData(client_id, (ProducerData("CLIENT_INNER_PRODUCER"),), consumers).to_json()
        return await self.call(RemotingCommand.request(RequestCode.HEART_BEAT, body=body))

    async def next_push(self, timeout: float = 3.0) -> RemotingCommand:
        return await asyncio.wait_for(self.pushed.get(), timeout)

    async def no_push(self, within: float = 0.3) -> bool:
        try:
            await asyncio.wait_for(self.pushed.get(), within)
        except asyncio.TimeoutError:
            return True
        return False

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
        await self.task


async def eventually(predicate: Callable[[], bool], within: float = 3.0) -> bool:
    for _ in range(int(within / 0.01)):
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


# --------------------------------------------------------------------------- NOTIFY_CONSUMER_IDS_CHANGED


def _golden(seq: int) -> dict[str, Any]:
    if not GOLDEN_JAVA.is_file():
        pytest.skip(f"the golden Java session (../shared/golden) is not available at {GOLDEN_JAVA}")
    for line in GOLDEN_JAVA.read_text().splitlines():
        frame = json.loads(line)
        if frame["seq"] == seq:
            return frame
    raise AssertionError(f"no seq {seq} in {GOLDEN_JAVA}")


def test_the_notify_request_is_the_java_brokers_frame() -> None:
    """GOLDEN seq 55: byte for byte, once the broker's opaque and version are its own."""
    golden = bytes.fromhex(_golden(55)["frame_hex"])
    ours = notify_consumer_ids_changed_request("GOLDEN_JAVA_CG")
    assert (ours.code, ours.flag, ours.language, ours.ext_fields) == (40, 2, LanguageCode.JAVA, {"consumerGroup": "GOLDEN_JAVA_CG"})
    java = decode(golden)
    assert encode(RemotingCommand(**{**_fields(ours), "opaque": java.opaque, "version": java.version})) == golden


def _fields(cmd: RemotingCommand) -> dict[str, Any]:
    return {name: getattr(cmd, name) for name in cmd.__dataclass_fields__}


def test_a_java_consumer_heartbeat_is_notified_before_it_is_answered() -> None:
    """GOLDEN seq 52 -> 55, 56: the Java broker pushes NOTIFY (its own opaque,
    flag 2) to the new member, then answers the heartbeat."""
    heartbeat = decode(bytes.fromhex(_golden(52)["frame_hex"]))

    async def main() -> None:
        async with LocalBroker() as broker:
            client = await RawClient.connect(broker.broker_addrs["broker-a"])
            reply = await client.call(heartbeat)
            assert reply.code == 0
            notify = await client.next_push()
            assert (notify.code, notify.flag, notify.ext_fields) == (40, 2, {"consumerGroup": "GOLDEN_JAVA_CG"})
            assert notify.language == LanguageCode.JAVA and not notify.is_response
            assert client.arrivals == ["push 40", "response 1"]
            # the group's retry topic exists now, as after a Java heartbeat
            assert broker.topics()["%RETRY%GOLDEN_JAVA_CG"] == 1
            await client.close()

    run(main())


@with_broker()
async def test_members_are_notified_when_the_group_changes(broker: LocalBroker) -> None:
    addr = broker.broker_addrs["broker-a"]
    first = await RawClient.connect(addr)
    await first.heartbeat("10.0.0.1@first", GROUP)
    assert (await first.next_push()).ext_fields == {"consumerGroup": GROUP}
    await first.heartbeat("10.0.0.1@first", GROUP)  # nothing changed: no notification
    assert await first.no_push()

    second = await RawClient.connect(addr)
    await second.heartbeat("10.0.0.2@second", GROUP)
    for member in (first, second):  # the new member joined: every member hears of it
        assert (await member.next_push()).code == RequestCode.NOTIFY_CONSUMER_IDS_CHANGED
    assert broker.cluster.clients.consumer_ids("broker-a", GROUP) == ["10.0.0.1@first", "10.0.0.2@second"]

    await second.heartbeat("10.0.0.2@second", GROUP, topics=("T", "U"))  # a subscription came
    for member in (first, second):
        await member.next_push()

    await second.close()  # a member left: the one remaining hears of it
    assert (await first.next_push()).ext_fields == {"consumerGroup": GROUP}
    assert broker.cluster.clients.consumer_ids("broker-a", GROUP) == ["10.0.0.1@first"]

    unregister = RemotingCommand.request(RequestCode.UNREGISTER_CLIENT, {"clientID": "10.0.0.1@first", "consumerGroup": GROUP})
    assert (await first.call(unregister)).code == 0
    assert await first.no_push()  # Java notifies the remaining channels: there are none
    assert broker.cluster.clients.consumer_group("broker-a", GROUP) is None
    await first.close()


@with_broker(notify_consumer_ids_changed=False)
async def test_notification_can_be_turned_off(broker: LocalBroker) -> None:
    client = await RawClient.connect(broker.broker_addrs["broker-a"])
    await client.heartbeat("10.0.0.1@quiet", GROUP)
    assert await client.no_push()
    assert await broker.notify_consumer_ids_changed(GROUP) == 1  # on demand it still goes out
    assert (await client.next_push()).ext_fields == {"consumerGroup": GROUP}
    await client.close()


@with_broker(broker_names=("broker-a", "broker-b"))
async def test_notify_on_demand_reaches_every_connection_of_the_group(broker: LocalBroker) -> None:
    a = await RawClient.connect(broker.broker_addrs["broker-a"])
    b = await RawClient.connect(broker.broker_addrs["broker-b"])
    other = await RawClient.connect(broker.broker_addrs["broker-a"])
    for conn, cid in ((a, "c1"), (b, "c1"), (other, "c2")):
        await conn.heartbeat(cid, GROUP if conn is not other else "OTHER")
        await conn.next_push()
    assert await broker.notify_consumer_ids_changed(GROUP) == 2
    pushed = [await a.next_push(), await b.next_push()]
    assert all(p.code == 40 and p.flag == 2 for p in pushed)
    assert await other.no_push()
    assert await broker.notify_consumer_ids_changed(GROUP, broker_name="broker-b") == 1
    assert (await b.next_push()).code == 40
    assert await broker.notify_consumer_ids_changed("NOBODY") == 0
    # opaques come from each connection's own counter, not the client's
    assert pushed[0].opaque == 1 and pushed[1].opaque == 1
    for conn in (a, b, other):
        await conn.close()


# --------------------------------------------------------------------------- two-way requests


def running_info_answer(cmd: RemotingCommand) -> RemotingCommand | None:
    if cmd.code == RequestCode.GET_CONSUMER_RUNNING_INFO:
        body = json.dumps({"properties": {"consumerGroup": cmd.ext_fields["consumerGroup"]}}).encode()
        return cmd.reply(0, body=body)
    return None


@with_broker()
async def test_request_client_returns_the_clients_answer(broker: LocalBroker) -> None:
    client = await RawClient.connect(broker.broker_addrs["broker-a"], answer=running_info_answer)
    await client.heartbeat("10.0.0.1@answering", GROUP)
    await client.next_push()
    # TODO: GetConsumerRunningInfoRequestHeader once codec/headers has it.
    ask = RemotingCommand.request(
        RequestCode.GET_CONSUMER_RUNNING_INFO, {"consumerGroup": GROUP, "clientId": "10.0.0.1@answering", "jstackEnable": "false"}
    )
    answer = await broker.request_client("10.0.0.1@answering", ask, timeout=3)
    assert (answer.code, answer.flag, json.loads(answer.body)) == (0, 1, {"properties": {"consumerGroup": GROUP}})
    sent = await client.next_push()
    assert (sent.code, sent.flag, sent.language) == (307, 0, LanguageCode.JAVA) and answer.opaque == sent.opaque
    # the answer is recorded with what arrived, like any command from a client
    assert [cmd.code for _, _, cmd in broker.requests if cmd.is_response] == [0]
    await client.close()


@with_broker()
async def test_request_client_times_out_with_our_error(broker: LocalBroker) -> None:
    client = await RawClient.connect(broker.broker_addrs["broker-a"])  # never answers
    await client.heartbeat("10.0.0.1@silent", GROUP)
    ask = RemotingCommand.request(RequestCode.CONSUME_MESSAGE_DIRECTLY, {"consumerGroup": GROUP})
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(RequestTimeoutError, match="within 0.2 s"):
        await broker.request_client("10.0.0.1@silent", ask, timeout=0.2)
    assert 0.2 <= loop.time() - start < 2
    await client.close()


@with_broker()
async def test_request_client_fails_when_the_connection_closes(broker: LocalBroker) -> None:
    client = await RawClient.connect(broker.broker_addrs["broker-a"])
    await client.heartbeat("10.0.0.1@leaving", GROUP)
    ask = RemotingCommand.request(RequestCode.GET_CONSUMER_RUNNING_INFO, {"consumerGroup": GROUP})
    pending = asyncio.ensure_future(broker.request_client("10.0.0.1@leaving", ask, timeout=10))
    await client.next_push()
    await client.next_push()  # the request arrived; now hang up instead of answering
    await client.close()
    with pytest.raises(ConnectionClosedError):
        await pending
    # the client's connection left the table with the socket
    assert await eventually(lambda: broker.cluster.clients.channels_of("10.0.0.1@leaving") == [])
    with pytest.raises(ConnectionClosedError, match="no open connection"):
        await broker.request_client("10.0.0.1@leaving", ask)


@with_broker()
async def test_requests_to_unknown_clients_and_bad_requests_are_refused(broker: LocalBroker) -> None:
    with pytest.raises(ConnectionClosedError, match="no open connection"):
        await broker.request_client("nobody", RemotingCommand.request(RequestCode.GET_CONSUMER_RUNNING_INFO))
    client = await RawClient.connect(broker.broker_addrs["broker-a"])
    await client.heartbeat("10.0.0.1@x")
    with pytest.raises(ClientError, match="oneway"):
        await broker.request_client("10.0.0.1@x", RemotingCommand.request(39, oneway=True))
    with pytest.raises(ClientError, match="oneway"):
        await broker.send_oneway_to_client("10.0.0.1@x", RemotingCommand.request(307))
    with pytest.raises(ConfigError, match="broker-z"):
        await broker.request_client("10.0.0.1@x", RemotingCommand.request(307), broker_name="broker-z")
    await client.close()


@with_broker()
async def test_oneway_check_transaction_state_reaches_the_producer(broker: LocalBroker) -> None:
    client = await RawClient.connect(broker.broker_addrs["broker-a"])
    await client.heartbeat("10.0.0.1@producer")
    # TODO: CheckTransactionStateRequestHeader once codec/headers has it.
    check = RemotingCommand.request(
        RequestCode.CHECK_TRANSACTION_STATE, {"tranStateTableOffset": "5", "commitLogOffset": "1234"}, oneway=True
    )
    opaque = await broker.send_oneway_to_client("10.0.0.1@producer", check)
    got = await client.next_push()
    assert (got.code, got.flag, got.opaque, got.ext_fields["commitLogOffset"]) == (39, 2, opaque, "1234")
    await client.close()


def test_push_calls_need_a_running_broker() -> None:
    broker = LocalBroker()
    with pytest.raises(ServiceStateError):
        run(broker.notify_consumer_ids_changed(GROUP))


def test_push_from_a_blocking_test_through_submit() -> None:
    async def answer_from(addr: str) -> RawClient:
        client = await RawClient.connect(addr, answer=running_info_answer)
        await client.heartbeat("10.0.0.9@sync", GROUP)
        return client

    with LocalBroker.in_thread() as broker:
        client = broker.submit(answer_from(broker.broker_addrs["broker-a"]))
        ask = RemotingCommand.request(RequestCode.GET_CONSUMER_RUNNING_INFO, {"consumerGroup": GROUP})
        assert broker.submit(broker.request_client("10.0.0.9@sync", ask)).code == 0
        assert broker.submit(broker.notify_consumer_ids_changed(GROUP)) == 1
        broker.submit(client.close())
