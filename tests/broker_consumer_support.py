"""A raw consumer made of the codec alone, for the embedded broker's
consumer-side tests: requests go out through a ClientSession over a
loopback socket, answers are matched by opaque (a held pull's answer comes
late, after others), pushes from the broker are kept."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from rmqwire.codec import RemotingCommand, RequestCode
from rmqwire.codec.body import ConsumerData, HeartbeatData, ProducerData
from rmqwire.codec.enums import PullSysFlag
from rmqwire.codec.filter import build_subscription
from rmqwire.codec.headers import (
    ConsumerSendMsgBackRequestHeader,
    PullMessageRequestHeader,
    SendMessageRequestHeader,
)
from rmqwire.codec.message import encode_properties
from rmqwire.codec.session import ClientSession, RequestReceived, ResponseReceived
from rmqwire.testing import LocalBroker

_T = TypeVar("_T")

SUSPEND = int(PullSysFlag.SUSPEND)
COMMIT = int(PullSysFlag.COMMIT_OFFSET)
SUBSCRIPTION = int(PullSysFlag.SUBSCRIPTION)


def run(coro: Coroutine[Any, Any, _T], timeout: float = 20.0) -> _T:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def with_broker(**kwargs: Any) -> Callable[[Callable[[LocalBroker], Awaitable[None]]], Callable[[], None]]:
    """Run the test body against a started LocalBroker(**kwargs)."""

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


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Wait (bounded) until ``predicate()`` holds; False if it never did."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def send_request(topic: str, body: bytes, *, queue_id: int = 0, group: str = "PG", **props: str) -> RemotingCommand:
    header = SendMessageRequestHeader(
        producer_group=group,
        topic=topic,
        queue_id=queue_id,
        sys_flag=0,
        born_timestamp=1700000000000,
        flag=0,
        properties=encode_properties({"WAIT": "true", **props}),
    )
    return header.to_request(body, v2=True)


def pull_request(
    topic: str,
    queue_id: int,
    offset: int,
    *,
    group: str = "CG",
    sys_flag: int = SUBSCRIPTION,
    subscription: str | None = "*",
    max_msg_nums: int = 32,
    suspend_ms: int = 15000,
    commit_offset: int = 0,
    sub_version: int = 0,
    expression_type: str | None = "TAG",
) -> RemotingCommand:
    header = PullMessageRequestHeader(
        consumer_group=group,
        topic=topic,
        queue_id=queue_id,
        queue_offset=offset,
        max_msg_nums=max_msg_nums,
        sys_flag=sys_flag,
        commit_offset=commit_offset,
        suspend_timeout_millis=suspend_ms,
        subscription=subscription if sys_flag & SUBSCRIPTION else None,
        sub_version=sub_version,
        expression_type=expression_type,
        broker_name="broker-a",
    )
    return header.to_request()


def send_back_request(
    offset: int, group: str = "CG", *, delay_level: int = 0, max_reconsume_times: int | None = 16
) -> RemotingCommand:
    header = ConsumerSendMsgBackRequestHeader(
        offset=offset,
        group=group,
        delay_level=delay_level,
        origin_msg_id="U",
        origin_topic="T",
        unit_mode=False,
        max_reconsume_times=max_reconsume_times,
        broker_name="broker-a",
    )
    return header.to_request()


class RawConsumer:
    """One connection to a broker, speaking through a ClientSession."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.session = ClientSession(first_opaque=1)
        self.pushed: asyncio.Queue[RemotingCommand] = asyncio.Queue()
        self.waiters: dict[int, asyncio.Future[RemotingCommand]] = {}
        self.eof = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, addr: str) -> RawConsumer:
        host, port = addr.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer)

    async def _read(self) -> None:
        try:
            while data := await self.reader.read(65536):
                for event in self.session.receive_data(data):
                    if isinstance(event, RequestReceived):
                        self.pushed.put_nowait(event.command)
                    elif isinstance(event, ResponseReceived):
                        waiter = self.waiters.pop(event.opaque, None)
                        if waiter is not None and not waiter.done():
                            waiter.set_result(event.response)
        except (ConnectionError, OSError):
            pass
        finally:
            self.eof.set()

    def start(self, cmd: RemotingCommand, timeout: float = 60.0) -> asyncio.Future[RemotingCommand]:
        """Send ``cmd``; the future gets its answer (whenever it comes)."""
        opaque, frame = self.session.send_request(cmd, now=0, timeout=timeout)
        waiter: asyncio.Future[RemotingCommand] = asyncio.get_running_loop().create_future()
        self.waiters[opaque] = waiter
        self.writer.write(frame)
        return waiter

    async def call(self, cmd: RemotingCommand, timeout: float = 3.0) -> RemotingCommand:
        return await asyncio.wait_for(self.start(cmd), timeout)

    def oneway(self, cmd: RemotingCommand) -> None:
        """Send ``cmd`` with the oneway flag (nothing will answer it)."""
        _, frame = self.session.send_request(replace(cmd, flag=cmd.flag | 2), now=0, timeout=0)
        self.writer.write(frame)

    async def send(self, topic: str, body: bytes, *, queue_id: int = 0, **props: str) -> RemotingCommand:
        reply = await self.call(send_request(topic, body, queue_id=queue_id, **props))
        assert reply.code == 0, reply
        return reply

    async def heartbeat(
        self, client_id: str, group: str = "CG", subscriptions: dict[str, str] | None = None, sub_version: int = 1
    ) -> RemotingCommand:
        subs = tuple(
            build_subscription(topic, expr, sub_version=sub_version) for topic, expr in (subscriptions or {"T": "*"}).items()
        )
        consumer = ConsumerData(group, "CONSUME_PASSIVELY", "CLUSTERING", "CONSUME_FROM_FIRST_OFFSET", subs)
        body = HeartbeatData(client_id, (ProducerData("CLIENT_INNER_PRODUCER"),), (consumer,)).to_json()
        return await self.call(RemotingCommand.request(RequestCode.HEART_BEAT, body=body))

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
        await self.eof.wait()
        self.task.cancel()
