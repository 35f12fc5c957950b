"""Load: 8 producers x 2,000 messages at once through one LocalBroker (issue: faults).

Every message carries a unique body; afterwards the broker holds each one
exactly once and the ids the producers were given are exactly the ids the
broker stored: none lost, none duplicated.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from rmqwire import AsyncProducer, Message, SendResult, SendStatus
from rmqwire.testing import LocalBroker

PRODUCERS = 8
MESSAGES = 2_000
#: sends in flight per producer
CONCURRENCY = 32
TOPIC = "LoadTopic"


async def _produce(producer: AsyncProducer, index: int) -> list[tuple[bytes, SendResult]]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(MESSAGES):
        queue.put_nowait(n)
    sent: list[tuple[bytes, SendResult]] = []

    async def worker() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            body = f"p{index}-m{n}".encode()
            sent.append((body, await producer.send(Message(TOPIC, body, keys=f"p{index}"))))

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return sent


def test_eight_producers_two_thousand_messages_each_none_lost_none_twice() -> None:
    async def main() -> None:
        async with LocalBroker(broker_names=("broker-a", "broker-b"), topics=(TOPIC,), record_requests=False) as broker:
            producers = [
                AsyncProducer(f"load-group-{i}", namesrv_addr=broker.namesrv_addr, send_timeout=10.0)
                for i in range(PRODUCERS)
            ]
            for p in producers:
                await p.start()
            started = time.monotonic()
            per_producer = await asyncio.gather(*(_produce(p, i) for i, p in enumerate(producers)))
            elapsed = time.monotonic() - started
            for p in producers:
                await p.shutdown()

            sent = [item for items in per_producer for item in items]
            assert len(sent) == PRODUCERS * MESSAGES
            assert all(r.status is SendStatus.SEND_OK for _, r in sent)
            stored = broker.messages(TOPIC)
            assert len(stored) == PRODUCERS * MESSAGES
            # bodies: each sent body stored exactly once
            assert Counter(m.payload for m in stored) == Counter(body for body, _ in sent)
            assert len({body for body, _ in sent}) == PRODUCERS * MESSAGES
            # ids: the client's message id and the broker's offset id of every
            # result are those of the stored message with that body
            by_body = {m.payload: m for m in stored}
            for body, result in sent:
                m = by_body[body]
                assert (m.uniq_key, m.offset_msg_id) == (result.msg_id, result.offset_msg_id)
                assert (m.broker_name, m.queue_id, m.queue_offset) == (
                    result.message_queue.broker_name,
                    result.message_queue.queue_id,
                    result.queue_offset,
                )
            assert len({r.msg_id for _, r in sent}) == len({m.offset_msg_id for m in stored}) == len(sent)
            # queue offsets are dense per queue: nothing was skipped or stored twice
            offsets: dict[tuple[str, int], list[int]] = {}
            for m in stored:
                offsets.setdefault((m.broker_name, m.queue_id), []).append(m.queue_offset)
            for queue_offsets in offsets.values():
                assert sorted(queue_offsets) == list(range(len(queue_offsets)))
            assert {m.broker_name for m in stored} == {"broker-a", "broker-b"}
            print(f"{len(sent)} sends in {elapsed:.2f} s ({len(sent) / elapsed:.0f}/s)")

    asyncio.run(main())
