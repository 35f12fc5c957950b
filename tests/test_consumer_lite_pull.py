"""The lite pull consumer on LocalBroker: subscribe or assign, poll, commit, seek."""

from __future__ import annotations

import asyncio

import pytest

from consumer_helpers import eventually, produce, run
from rmqwire import AsyncLitePullConsumer, ConsumeFromWhere, LitePullConsumer, Message, MessageExt, MessageQueue
from rmqwire.codec.errors import ConsumerError
from rmqwire.testing import LocalBroker

Q = [MessageQueue("T", "broker-a", i) for i in range(4)]


def lite(broker: LocalBroker, group: str = "lg", **kwargs: object) -> AsyncLitePullConsumer:
    kwargs.setdefault("consume_from_where", ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET)
    return AsyncLitePullConsumer(group, namesrv_addr=broker.namesrv_addr, **kwargs)  # type: ignore[arg-type]


async def poll_until(consumer: AsyncLitePullConsumer, count: int, timeout: float = 10.0) -> list[MessageExt]:
    got: list[MessageExt] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(got) < count and loop.time() < deadline:
        got.extend(await consumer.poll(0.2))
    return got


def test_subscribe_poll_and_commit() -> None:
    async def main(broker: LocalBroker) -> None:
        await produce(broker, [Message("T", f"{i}".encode(), tags="A" if i % 2 else "B") for i in range(20)])
        consumer = lite(broker, auto_commit=False)
        consumer.subscribe("T", "A")
        async with consumer:
            got = await poll_until(consumer, 10)
            assert sorted(int(m.body) for m in got) == list(range(1, 20, 2))
            assert await consumer.poll(0.1) == []  # nothing else, after the timeout
            assert consumer.assignment() == set(Q)
            assert all(o <= 0 for o in [await consumer.committed(mq) for mq in Q])  # nothing committed yet
            await consumer.commit()
            offsets = {mq: await consumer.committed(mq) for mq in Q}
            # each polled queue's committed offset is one past its last polled message
            last = {}
            for m in got:
                last[m.queue_id] = max(last.get(m.queue_id, -1), m.queue_offset)
            assert {mq.queue_id: o for mq, o in offsets.items() if mq.queue_id in last} == {q: o + 1 for q, o in last.items()}
        assert {q: o for q, o in broker.consumer_offsets("lg", "T").items() if q in last} == {q: o + 1 for q, o in last.items()}

    run(main, topics=["T"])


def test_auto_commit_and_a_restart_resumes() -> None:
    async def main(broker: LocalBroker) -> None:
        await produce(broker, [Message("T", f"a{i}".encode()) for i in range(8)])
        consumer = lite(broker, auto_commit=True, auto_commit_interval=1.0)
        consumer.subscribe("T", "*")
        async with consumer:
            assert len(await poll_until(consumer, 8)) == 8
        # shutdown commits (auto_commit)
        # the last commit is a oneway request: give the broker a moment to apply it
        await eventually(lambda: sum(broker.consumer_offsets("lg", "T").values()) == 8, timeout=5)
        await produce(broker, [Message("T", f"b{i}".encode()) for i in range(4)])
        again = lite(broker)
        again.subscribe("T", "*")
        async with again:
            got = await poll_until(again, 4)
            got += await again.poll(0.2)
        assert sorted(m.body for m in got) == [f"b{i}".encode() for i in range(4)]

    run(main, topics=["T"])


def test_assign_and_seek() -> None:
    async def main(broker: LocalBroker) -> None:
        async with await_producer(broker) as send:
            for i in range(6):
                await send(Message("T", f"q0-{i}".encode()), Q[0])
                await send(Message("T", f"q1-{i}".encode()), Q[1])
        consumer = lite(broker, auto_commit=False)
        async with consumer:
            await consumer.assign([Q[0]])
            got = await poll_until(consumer, 6)
            assert [m.body for m in got] == [f"q0-{i}".encode() for i in range(6)]
            assert {m.queue_id for m in got} == {0}
            await consumer.seek(Q[0], 2)
            again = await poll_until(consumer, 4)
            assert [m.queue_offset for m in again] == [2, 3, 4, 5]
            with pytest.raises(ConsumerError):
                await consumer.seek(Q[0], 99)  # past the max offset
            with pytest.raises(ConsumerError):
                await consumer.seek(Q[2], 0)  # not assigned
            with pytest.raises(ConsumerError):
                consumer.subscribe("T", "*")  # assign and subscribe exclude each other
            await consumer.seek_to_end(Q[0])
            assert await consumer.poll(0.2) == []
            await consumer.assign([Q[1]])
            assert consumer.assignment() == {Q[1]}
            got1 = await poll_until(consumer, 6)
            assert [m.body for m in got1] == [f"q1-{i}".encode() for i in range(6)]

    run(main, topics=["T"])


def test_the_buffer_stays_bounded_when_nobody_polls() -> None:
    async def main(broker: LocalBroker) -> None:
        await produce(broker, [Message("T", f"{i}".encode()) for i in range(200)])
        consumer = lite(broker, pull_threshold_for_all=30, pull_batch_size=10)
        consumer.subscribe("T", "*")
        async with consumer:
            await eventually(lambda: consumer.buffered > 0)
            await asyncio.sleep(0.5)
            # a pull loop stops pulling once more than 30 are buffered; each may add one batch
            assert consumer.buffered <= 30 + 4 * 10
            got = await poll_until(consumer, 200)
        assert sorted(int(m.body) for m in got) == list(range(200))

    run(main, topics=["T"])


def test_the_blocking_lite_pull_consumer() -> None:
    with LocalBroker.in_thread(topics=["T"]) as broker:
        from rmqwire import Producer

        with Producer("pg", namesrv_addr=broker.namesrv_addr) as producer:
            for i in range(5):
                producer.send(Message("T", f"{i}".encode()))
        consumer = LitePullConsumer("lg", namesrv_addr=broker.namesrv_addr, auto_commit=True,
                                    consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET)
        consumer.subscribe("T", "*")
        consumer.start()
        try:
            got: list[MessageExt] = []
            for _ in range(50):
                got.extend(consumer.poll(timeout=0.2))
                if len(got) >= 5:
                    break
            assert sorted(m.body for m in got) == [f"{i}".encode() for i in range(5)]
            assert consumer.poll(timeout=0.1) == []
            consumer.commit()
        finally:
            consumer.shutdown()
        consumer.shutdown()  # idempotent


class await_producer:
    """``async with await_producer(broker) as send: await send(msg, queue)``."""

    def __init__(self, broker: LocalBroker) -> None:
        from rmqwire import AsyncProducer

        self.producer = AsyncProducer("pg", namesrv_addr=broker.namesrv_addr)

    async def __aenter__(self):  # type: ignore[no-untyped-def]
        await self.producer.start()

        async def send(msg: Message, queue: MessageQueue) -> None:
            await self.producer.send(msg, queue=queue)

        return send

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.shutdown()


def test_the_queue_listener_hears_the_share() -> None:
    async def main(broker: LocalBroker) -> None:
        heard: list[tuple[str, int, int]] = []
        consumer = lite(broker, message_queue_listener=lambda topic, all_, mine: heard.append((topic, len(all_), len(mine))))
        consumer.subscribe("T", "*")
        async with consumer:
            await eventually(lambda: bool(heard))
        assert heard[0] == ("T", 4, 4)

    run(main, topics=["T"])
