"""Orderly sends (issue 12): ``send(msg, queue=...)`` and ``send(msg,
selector=..., arg=...)`` are tried once, as Java's ``send(msg, mq)`` and
``send(msg, selector, arg)``; the ready selectors hash as Java does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rmqwire import (
    AsyncProducer,
    Message,
    MessageQueue,
    Producer,
    select_message_queue_by_hash,
    select_message_queue_by_random,
)
from rmqwire.codec import RequestCode, ResponseCode
from rmqwire.codec.errors import ClientError, ConfigError, InvalidMessageError, SystemBusyError
from rmqwire.selector import java_hash_code
from rmqwire.testing import Fault, LocalBroker
from producer_support import producer_for, run

TOPIC = "OrderTopic"
SEND_CODES = {RequestCode.SEND_MESSAGE, RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_BATCH_MESSAGE}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("", 0),
        ("hello", 99162322),
        ("Aa", 2112),
        ("BB", 2112),
        ("polygenelubricants", -(2**31)),  # Integer.MIN_VALUE
        ("\U0001f600", 0xD83D * 31 + 0xDE00),  # UTF-16 code units, not the code point
        ("杭州", 0x676D * 31 + 0x5DDE),
        (7, 7),
        (-7, -7),
        (2**31 - 1, 2**31 - 1),
        (2**32, 1),  # Long.hashCode: (int)(v ^ (v >>> 32))
        (-1 << 40, (((-1 << 40) & 0xFFFFFFFFFFFFFFFF) ^ (((-1 << 40) & 0xFFFFFFFFFFFFFFFF) >> 32)) & 0xFFFFFFFF),
        (True, 1231),
        (False, 1237),
    ],
)
def test_java_hash_code(value: Any, expected: int) -> None:
    h = java_hash_code(value)
    assert -(2**31) <= h < 2**31
    assert h == (expected - 2**32 if expected >= 2**31 else expected)


def queues(n: int) -> list[MessageQueue]:
    return [MessageQueue(TOPIC, "broker-a", i) for i in range(n)]


def test_select_by_hash_is_java_select_message_queue_by_hash() -> None:
    msg = Message(TOPIC, b"x")
    mqs = queues(3)
    # Java: abs(hashCode % size); for Integer.MIN_VALUE: abs(-2 % 3 ...) = 2
    assert select_message_queue_by_hash(mqs, msg, "polygenelubricants") is mqs[2]
    assert select_message_queue_by_hash(mqs, msg, "hello") is mqs[99162322 % 3]
    assert select_message_queue_by_hash(mqs, msg, -7) is mqs[1]
    for order_id in range(50):
        assert select_message_queue_by_hash(mqs, msg, order_id) is select_message_queue_by_hash(mqs, msg, order_id)


def test_select_by_random_picks_from_the_queues() -> None:
    mqs = queues(4)
    picked = {select_message_queue_by_random(mqs, Message(TOPIC, b"x"), None) for _ in range(200)}
    assert picked == set(mqs)
    with pytest.raises(ClientError):
        select_message_queue_by_random([], Message(TOPIC, b"x"), None)


def sends(broker: LocalBroker) -> list[tuple[str | None, int]]:
    """(broker name, queue id) of every send request the brokers received."""
    return [
        (name, int(cmd.ext_fields.get("queueId", cmd.ext_fields.get("e", "-1"))))
        for kind, name, cmd in broker.requests
        if kind == "broker" and cmd.code in SEND_CODES
    ]


def test_a_selector_picks_the_queue_from_the_topics_queues() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker) as producer:
            mqs = await producer.fetch_publish_queues(TOPIC)
            seen: list[tuple[list[MessageQueue], str]] = []

            def selector(candidates: list[MessageQueue], msg: Message, arg: Any) -> MessageQueue:
                seen.append((list(candidates), arg))
                return candidates[-1]

            result = await producer.send(Message(TOPIC, b"o"), selector=selector, arg="order-1")
            assert seen == [(mqs, "order-1")]
            assert result.message_queue == mqs[-1]
            for order in ("order-1", "order-2", "order-3"):
                r = await producer.send(Message(TOPIC, order), selector=select_message_queue_by_hash, arg=order)
                assert r.message_queue == mqs[abs(java_hash_code(order)) % len(mqs)]

    run(scenario, broker_names=("broker-a", "broker-b"), topics=(TOPIC,))


@pytest.mark.parametrize("how", ["queue", "selector"])
def test_an_orderly_send_is_tried_once(how: str) -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker, retry_times_when_send_failed=2) as producer:
            target = (await producer.fetch_publish_queues(TOPIC))[1]
            broker.clear()
            broker.inject(Fault.error(ResponseCode.SYSTEM_BUSY, code=RequestCode.SEND_MESSAGE_V2))
            kwargs: dict[str, Any] = (
                {"queue": target} if how == "queue" else {"selector": lambda mqs, m, a: target, "arg": 1}
            )
            with pytest.raises(SystemBusyError):
                await producer.send(Message(TOPIC, b"once"), **kwargs)
            assert sends(broker) == [(target.broker_name, target.queue_id)]
            # an ordinary send still retries retriable failures
            broker.clear()
            broker.clear_faults()
            broker.inject(Fault.error(ResponseCode.SYSTEM_BUSY, code=RequestCode.SEND_MESSAGE_V2, times=1))
            await producer.send(Message(TOPIC, b"retried"))
            assert len(sends(broker)) == 2

    run(scenario, broker_names=("broker-a", "broker-b"), topics=(TOPIC,))


def test_a_selector_that_fails_or_returns_nothing_is_our_error_and_nothing_is_sent() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker) as producer:
            await producer.fetch_publish_queues(TOPIC)
            broker.clear()

            def broken(mqs: list[MessageQueue], msg: Message, arg: Any) -> MessageQueue:
                return mqs[arg]

            with pytest.raises(ClientError, match="select message queue threw exception: IndexError"):
                await producer.send(Message(TOPIC, b"x"), selector=broken, arg=99)
            with pytest.raises(ClientError, match="return null"):
                await producer.send(Message(TOPIC, b"x"), selector=lambda mqs, m, a: None)  # type: ignore[arg-type, return-value]
            with pytest.raises(ClientError, match="not a MessageQueue"):
                await producer.send(Message(TOPIC, b"x"), selector=lambda mqs, m, a: 3)  # type: ignore[arg-type, return-value]
            with pytest.raises(ConfigError, match="either queue= or selector="):
                await producer.send(Message(TOPIC, b"x"), queue=MessageQueue(TOPIC, "broker-a", 0), selector=broken)
            with pytest.raises(InvalidMessageError, match="topic not equal"):
                await producer.send(Message(TOPIC, b"x"), queue=MessageQueue("Other", "broker-a", 0))
            assert sends(broker) == []

    run(scenario, topics=(TOPIC,))


def test_oneway_and_blocking_sends_take_a_selector_too() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker) as producer:
            mqs = await producer.fetch_publish_queues(TOPIC)
            await producer.send_oneway(Message(TOPIC, b"one"), selector=lambda q, m, a: q[a], arg=2)
            for _ in range(100):
                if sends(broker):
                    break
                await asyncio.sleep(0.01)
            assert sends(broker)[-1] == (mqs[2].broker_name, mqs[2].queue_id)

    run(scenario, topics=(TOPIC,))
    with LocalBroker.in_thread(topics=(TOPIC,)) as broker:
        with Producer("sync-selector", namesrv_addr=broker.namesrv_addr) as producer:
            mqs = producer.fetch_publish_queues(TOPIC)
            result = producer.send(Message(TOPIC, b"s"), selector=select_message_queue_by_hash, arg=5)
            assert result.message_queue == mqs[5 % len(mqs)]


def test_async_producer_send_signature_is_the_blocking_ones() -> None:
    import inspect

    assert inspect.signature(Producer.send) == inspect.signature(AsyncProducer.send)
    assert Producer.send.__doc__ == AsyncProducer.send.__doc__
