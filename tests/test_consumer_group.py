"""Members of one group share a topic's queues: no queue owned twice, a
leaver's queues move within seconds, and with production running throughout
nothing is lost (duplicates only around the change, counted and few)."""

from __future__ import annotations

import asyncio
import collections

from consumer_helpers import Collector, consumer_for, eventually, produce, run
from rmqwire import AsyncProducer, AsyncPushConsumer, Message, MessageQueue
from rmqwire.testing import LocalBroker

TOPIC_QUEUES = {MessageQueue("T", "broker-a", i) for i in range(8)}


def owners(consumers: list[AsyncPushConsumer]) -> dict[MessageQueue, list[str]]:
    table: dict[MessageQueue, list[str]] = collections.defaultdict(list)
    for c in consumers:
        for mq in c.process_queues:
            if mq.topic == "T":
                table[mq].append(c.client_id)
    return table


def shared_without_overlap(consumers: list[AsyncPushConsumer]) -> bool:
    table = owners(consumers)
    return set(table) == TOPIC_QUEUES and all(len(o) == 1 for o in table.values()) and all(
        any(mq.topic == "T" for mq in c.process_queues) for c in consumers
    )


def test_three_members_share_the_queues_and_a_leavers_queues_move() -> None:
    async def main(broker: LocalBroker) -> None:
        got = [Collector() for _ in range(3)]
        consumers = [consumer_for(broker, listener=g, instance_name=f"member-{i}") for i, g in enumerate(got)]
        sent: list[bytes] = []
        stop = asyncio.Event()

        async def produce() -> None:
            async with AsyncProducer("pg", namesrv_addr=broker.namesrv_addr) as producer:
                i = 0
                while not stop.is_set():
                    body = f"msg-{i}".encode()
                    await producer.send(Message("T", body))
                    sent.append(body)
                    i += 1
                    await asyncio.sleep(0.005)

        producing = asyncio.get_running_loop().create_task(produce())
        try:
            for c in consumers:
                await c.start()
            # every member rebalances when NOTIFY_CONSUMER_IDS_CHANGED comes
            await eventually(lambda: shared_without_overlap(consumers), timeout=20)
            shares = {c.client_id: sorted(mq.queue_id for mq in c.process_queues if mq.topic == "T") for c in consumers}
            assert sorted(len(s) for s in shares.values()) == [2, 3, 3]  # 8 queues averagely over 3
            await asyncio.sleep(0.5)

            leaver = consumers.pop(1)
            left_with = set(mq for mq in leaver.process_queues if mq.topic == "T")
            await leaver.shutdown()
            await eventually(lambda: shared_without_overlap(consumers), timeout=10)  # within seconds
            taken = set().union(*(set(c.process_queues) for c in consumers))
            assert left_with <= taken
            await asyncio.sleep(0.5)
        finally:
            stop.set()
            await producing
        await eventually(lambda: {m.body for g in got for m in g.msgs} >= set(sent), timeout=15)
        for c in consumers:
            await c.shutdown()

        consumed = [m.body for g in got for m in g.msgs]
        assert set(consumed) == set(sent) and len(sent) > 20  # production ran throughout
        duplicates = len(consumed) - len(set(consumed))
        print(f"{len(sent)} sent, {len(consumed)} consumed, {duplicates} duplicates")
        # a queue changes hands once: at most what was in flight on it is seen twice
        assert duplicates <= 0.2 * len(sent), (duplicates, len(sent))

    run(main, topics=["T"], queues=8)


def test_two_members_share_the_queues_of_two_brokers() -> None:
    async def main(broker: LocalBroker) -> None:
        a, b = Collector(), Collector()
        ca = consumer_for(broker, listener=a, instance_name="a")
        cb = consumer_for(broker, listener=b, instance_name="b")
        both = {MessageQueue("T", name, i) for name in ("broker-a", "broker-b") for i in range(4)}
        async with ca, cb:
            def split() -> bool:
                mine = [{mq for mq in c.process_queues if mq.topic == "T"} for c in (ca, cb)]
                return mine[0] | mine[1] == both and not mine[0] & mine[1] and len(mine[0]) == 4
            await eventually(split)
            await produce(broker, [Message("T", f"{i}".encode()) for i in range(40)])
            await eventually(lambda: len(a.msgs) + len(b.msgs) >= 40)
        assert sorted(int(m.body) for m in a.msgs + b.msgs) == list(range(40))
        assert {m.broker_name for m in a.msgs + b.msgs} == {"broker-a", "broker-b"}

    run(main, topics=["T"], broker_names=["broker-a", "broker-b"])
