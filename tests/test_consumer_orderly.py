"""Orderly consumption end to end on LocalBroker: messages sent in order per
shard key (selector by hash) are consumed in that order per shard, by one
consumer and by a group whose membership changes mid-stream; a suspended
batch is retried here, in order; queues are locked on the broker, renewed
and released; the lock frames look like a Java client's."""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import threading
from typing import Any

import pytest
from golden_support import shared_golden_file

from consumer_helpers import consumer_for, eventually, run
from rmqwire import (
    AsyncProducer,
    AsyncPushConsumer,
    ConsumeOrderlyStatus,
    ConsumeStatus,
    Message,
    MessageExt,
    MessageQueue,
    PushConsumer,
    select_message_queue_by_hash,
)
from rmqwire.codec.body import LockBatchRequestBody, MessageQueueData, UnlockBatchRequestBody
from rmqwire.codec.command import RemotingCommand, decode
from rmqwire.codec.enums import RequestCode
from rmqwire.consumer import consume_orderly
from rmqwire.consumer.orderly_queue import OrderlyProcessQueue
from rmqwire.testing import LocalBroker

GOLDEN = shared_golden_file("java-broker-4.9.8-tx-order-ns.jsonl")


class OrderlyCollector:
    """An orderly listener recording (consumer, shard, seq, reconsume times) in consume order."""

    def __init__(self, log: list[tuple[str, str, int, int]], name: str = "c", answer: Any = None) -> None:
        self.log = log
        self.name = name
        self.answer = answer

    async def __call__(self, msgs: list[MessageExt]) -> object:
        for m in msgs:
            shard, seq = m.keys.split("-")
            self.log.append((self.name, shard, int(seq), m.reconsume_times))
        await asyncio.sleep(0)
        if self.answer is not None:
            return self.answer(msgs)
        return ConsumeOrderlyStatus.SUCCESS


def orderly(broker: LocalBroker, listener: Any, **kwargs: Any) -> AsyncPushConsumer:
    consumer = consumer_for(broker, **kwargs)
    consumer.register_listener(listener, orderly=True)
    return consumer


async def send_sharded(broker: LocalBroker, shards: int, per_shard: int, start: int = 0) -> None:
    """``shard-seq`` keys, interleaved across shards, each shard to its queue by hash."""
    async with AsyncProducer("pg", namesrv_addr=broker.namesrv_addr) as producer:
        for seq in range(start, start + per_shard):
            for s in range(shards):
                await producer.send(Message("T", b"x", keys=f"s{s}-{seq}"), selector=select_message_queue_by_hash, arg=f"s{s}")


def ok(consumer: AsyncPushConsumer) -> int:
    """Messages whose batch the consumer committed."""
    service = consumer.consume_service
    return service.consumed_ok if service is not None else 0


def per_shard(log: list[tuple[str, str, int, int]]) -> dict[str, list[int]]:
    table: dict[str, list[int]] = collections.defaultdict(list)
    for _, shard, seq, _ in log:
        table[shard].append(seq)
    return table


def never_skips_ahead(seqs: list[int]) -> bool:
    """Each consumed seq is at most one past the highest consumed before
    (a redelivery may go back, never forward past a gap)."""
    high = -1
    for seq in seqs:
        if seq > high + 1:
            return False
        high = max(high, seq)
    return True


def lock_frames(broker: LocalBroker, code: int) -> list[RemotingCommand]:
    return [cmd for role, _, cmd in broker.requests if role == "broker" and cmd.code == code]


def test_each_shard_arrives_in_the_order_sent_with_one_consumer() -> None:
    async def main(broker: LocalBroker) -> None:
        await send_sharded(broker, shards=6, per_shard=20)
        seen: list[tuple[str, str, int, int]] = []
        async with orderly(broker, OrderlyCollector(seen), consume_message_batch_max_size=3) as consumer:
            await eventually(lambda: len(seen) >= 120)
            await eventually(lambda: ok(consumer) == 120)  # the last batch committed too
            assert all(isinstance(pq, OrderlyProcessQueue) and pq.locked for pq in consumer.process_queues.values())
        table = per_shard(seen)
        assert sorted(table) == [f"s{s}" for s in range(6)]
        assert all(seqs == list(range(20)) for seqs in table.values()), table
        assert sum(broker.consumer_offsets("cg", "T").values()) == 120

    run(main, topics=["T"])


def test_queues_are_locked_before_pulling_and_released_at_shutdown() -> None:
    async def main(broker: LocalBroker) -> None:
        seen: list[tuple[str, str, int, int]] = []
        consumer = orderly(broker, OrderlyCollector(seen))
        await consumer.start()
        try:
            cid = consumer.client_id
            await eventually(lambda: len(consumer.process_queues) == 5)
            # every queue (T's four, the retry queue) is held by this client
            assert all(broker.lock_holder("cg", "T", q) == cid for q in range(4))
            assert broker.lock_holder("cg", "%RETRY%cg", 0) == cid
            # each queue was locked on its own before its first pull
            first_pull: dict[tuple[str, int], int] = {}
            first_lock: dict[tuple[str, int], int] = {}
            for i, (role, _, cmd) in enumerate(broker.requests):
                if role != "broker":
                    continue
                if cmd.code == RequestCode.PULL_MESSAGE:
                    first_pull.setdefault((cmd.ext_fields["topic"], int(cmd.ext_fields["queueId"])), i)
                elif cmd.code == RequestCode.LOCK_BATCH_MQ:
                    for mq in LockBatchRequestBody.from_json(cmd.body).mq_set:
                        first_lock.setdefault((mq.topic, mq.queue_id), i)
            assert {("T", q) for q in range(4)} <= set(first_pull) <= set(first_lock)
            assert all(first_lock[q] < first_pull[q] for q in first_pull)
            await send_sharded(broker, shards=2, per_shard=3)
            await eventually(lambda: len(seen) == 6)
        finally:
            await consumer.shutdown()
        assert all(broker.lock_holder("cg", "T", q) is None for q in range(4))
        [unlock] = lock_frames(broker, RequestCode.UNLOCK_BATCH_MQ)
        body = UnlockBatchRequestBody.from_json(unlock.body)
        assert {(mq.topic, mq.queue_id) for mq in body.mq_set} == {("T", q) for q in range(4)} | {("%RETRY%cg", 0)}
        assert not unlock.is_oneway  # unlockAll(false) at shutdown, as the golden session shows

    run(main, topics=["T"])


def test_locks_are_renewed_periodically(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consume_orderly, "REBALANCE_LOCK_INTERVAL", 0.2)

    async def main(broker: LocalBroker) -> None:
        consumer = orderly(broker, OrderlyCollector([]))
        async with consumer:
            await eventually(lambda: len(consumer.process_queues) == 5)
            # lockAll: one LOCK_BATCH_MQ naming every owned queue of the broker
            await eventually(lambda: any(len(LockBatchRequestBody.from_json(c.body).mq_set) == 5
                                         for c in lock_frames(broker, RequestCode.LOCK_BATCH_MQ)), timeout=5)
            stamps = {mq: pq.last_lock_timestamp for mq, pq in consumer.process_queues.items() if isinstance(pq, OrderlyProcessQueue)}
            await eventually(lambda: all(pq.last_lock_timestamp > stamps[mq]  # type: ignore[attr-defined]
                                         for mq, pq in consumer.process_queues.items()), timeout=5)

    run(main, topics=["T"])


def test_a_queue_locked_by_another_client_is_not_consumed() -> None:
    async def main(broker: LocalBroker) -> None:
        holder = broker.broker()
        queue = MessageQueueData("T", "broker-a", 0)
        assert holder.locks.try_lock_batch("cg", [queue], "someone-else") == [queue]
        await send_sharded(broker, shards=8, per_shard=2)
        seen: list[tuple[str, str, int, int]] = []
        consumer = orderly(broker, OrderlyCollector(seen))
        async with consumer:
            await eventually(lambda: len(consumer.process_queues) == 4)  # queue 0 refused
            assert MessageQueue("T", "broker-a", 0) not in consumer.process_queues
            stored_on_0 = sum(1 for m in broker.messages("T") if m.queue_id == 0)
            await eventually(lambda: len(seen) == 16 - stored_on_0)
            await asyncio.sleep(0.2)
            assert len(seen) == 16 - stored_on_0 and stored_on_0 > 0

    run(main, topics=["T"])


def test_suspend_retries_the_batch_here_in_order(caplog: pytest.LogCaptureFixture) -> None:
    async def main(broker: LocalBroker) -> None:
        await send_sharded(broker, shards=1, per_shard=5)
        seen: list[tuple[str, str, int, int]] = []

        def answer(msgs: list[MessageExt]) -> object:
            m = msgs[0]
            if m.keys == "s0-1" and m.reconsume_times < 2:
                return ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT
            if m.keys == "s0-3" and m.reconsume_times == 0:
                raise ValueError("not yet")  # raising is SUSPEND too
            if m.keys == "s0-4" and m.reconsume_times == 0:
                return ConsumeStatus.RECONSUME_LATER  # the concurrent answer maps to SUSPEND
            return ConsumeStatus.CONSUME_SUCCESS

        async with orderly(broker, OrderlyCollector(seen, answer=answer), suspend_current_queue_time_millis=50) as consumer:
            await eventually(lambda: len(seen) == 9 and ok(consumer) == 5)
            await asyncio.sleep(0.1)
        assert [(seq, times) for _, _, seq, times in seen] == [
            (0, 0), (1, 0), (1, 1), (1, 2), (2, 0), (3, 0), (3, 1), (4, 0), (4, 1)
        ]
        assert broker.messages("%RETRY%cg") == []  # retried here, not through the broker
        assert sum(broker.consumer_offsets("cg", "T").values()) == 5

    with caplog.at_level(logging.ERROR, logger="rmqwire.consumer.consume_orderly"):
        run(main, topics=["T"], queues=1)
    assert any("not yet" in (r.exc_text or "") for r in caplog.records)


def test_past_max_reconsume_times_a_message_goes_to_the_dlq_and_the_queue_goes_on() -> None:
    async def main(broker: LocalBroker) -> None:
        await send_sharded(broker, shards=1, per_shard=3)
        seen: list[tuple[str, str, int, int]] = []

        def answer(msgs: list[MessageExt]) -> object:
            return ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT if msgs[0].keys == "s0-1" else ConsumeOrderlyStatus.SUCCESS

        consumer = orderly(broker, OrderlyCollector(seen, answer=answer), suspend_current_queue_time_millis=10,
                           max_reconsume_times=2)
        async with consumer:
            await eventually(lambda: (2, 0) in [(s, t) for _, _, s, t in seen] and ok(consumer) == 2)
            await eventually(lambda: len(broker.messages("%DLQ%cg")) == 1)
        assert [(seq, times) for _, _, seq, times in seen] == [(0, 0), (1, 0), (1, 1), (1, 2), (2, 0)]
        [dead] = broker.messages("%DLQ%cg")
        assert dead.properties["RETRY_TOPIC"] == "T" and dead.properties["ORIGIN_MESSAGE_ID"]
        assert broker.messages("%RETRY%cg") == []
        assert sum(broker.consumer_offsets("cg", "T").values()) == 3

    run(main, topics=["T"], queues=1)


def test_three_consumers_keep_each_shards_order_across_a_rebalance(monkeypatch: pytest.MonkeyPatch) -> None:
    # a queue given up with messages still cached is unlocked this much later (Java: 20 s)
    monkeypatch.setattr(consume_orderly, "UNLOCK_DELAY_TIME", 0.3)

    async def main(broker: LocalBroker) -> None:
        seen: list[tuple[str, str, int, int]] = []
        names = ["m0", "m1", "m2"]
        consumers = [
            orderly(broker, OrderlyCollector(seen, name), instance_name=name, rebalance_interval=0.5,
                    consume_message_batch_max_size=2)
            for name in names
        ]
        shards, sent = 16, collections.Counter[str]()
        stop = asyncio.Event()

        async def produce() -> None:
            async with AsyncProducer("pg", namesrv_addr=broker.namesrv_addr) as producer:
                seq = 0
                while not stop.is_set():
                    for s in range(shards):
                        key = f"s{s}"
                        await producer.send(Message("T", b"x", keys=f"{key}-{seq}"), selector=select_message_queue_by_hash, arg=key)
                        sent[key] += 1
                    seq += 1
                    await asyncio.sleep(0.01)

        producing = asyncio.get_running_loop().create_task(produce())
        try:
            await consumers[0].start()
            await consumers[1].start()
            await eventually(lambda: len(seen) > 100)
            await consumers[2].start()  # one joins
            await eventually(lambda: sum(1 for c in consumers if any(mq.topic == "T" for mq in c.process_queues)) == 3, timeout=10)
            mark = len(seen)
            await eventually(lambda: len({n for n, *_ in seen[mark:]}) == 3, timeout=10)
            await consumers[0].shutdown()  # one leaves
            await eventually(lambda: {mq for c in consumers[1:] for mq in c.process_queues if mq.topic == "T"}
                             == {MessageQueue("T", "broker-a", q) for q in range(8)}, timeout=10)
            await asyncio.sleep(0.3)
        finally:
            stop.set()
            await producing
        await eventually(lambda: all(len(set(per_shard(seen)[k])) == n for k, n in sent.items()), timeout=20)
        for c in consumers[1:]:
            await c.shutdown()

        table = per_shard(seen)
        for key, n in sent.items():
            seqs = table[key]
            assert set(seqs) == set(range(n)), key
            assert never_skips_ahead(seqs), (key, seqs)
        # between two redeliveries a shard's messages come strictly in order
        duplicates = len(seen) - sum(sent.values())
        print(f"{sum(sent.values())} sent over {shards} shards, {len(seen)} consumed, {duplicates} duplicates")
        assert duplicates <= 0.1 * sum(sent.values()), duplicates
        # a queue is consumed by one member at a time: its holder on the broker
        assert all(broker.lock_holder("cg", "T", q) is None for q in range(8)), [broker.lock_holder("cg", "T", q) for q in range(8)]

    run(main, topics=["T"], queues=8)


def test_the_blocking_consumer_consumes_orderly_with_a_plain_listener() -> None:
    with LocalBroker.in_thread(topics=["T"]) as broker:
        broker.submit(send_sharded(broker, shards=3, per_shard=10))
        seen: list[tuple[str, int]] = []
        done = threading.Event()

        def listener(msgs: list[MessageExt]) -> ConsumeOrderlyStatus:
            for m in msgs:
                shard, seq = m.keys.split("-")
                seen.append((shard, int(seq)))
            if len(seen) >= 30:
                done.set()
            return ConsumeOrderlyStatus.SUCCESS

        consumer = PushConsumer("cg", namesrv_addr=broker.namesrv_addr, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
        consumer.subscribe("T", "*")
        consumer.register_listener(listener, orderly=True)
        with consumer:
            assert done.wait(10)
        for shard in ("s0", "s1", "s2"):
            assert [seq for s, seq in seen if s == shard] == list(range(10))
        assert broker.lock_holder("cg", "T", 0) is None


def _golden_lock_bodies(code: int) -> list[dict[str, Any]]:
    bodies = []
    for line in GOLDEN.read_text().splitlines():
        frame = json.loads(line)
        if frame.get("code") == code and frame["direction"] == "client->server":
            cmd = decode(bytes.fromhex(frame["frame_hex"]))
            bodies.append((cmd, json.loads(cmd.body)))
    return bodies  # type: ignore[return-value]


@pytest.mark.skipif(not GOLDEN.exists(), reason="golden session not available")
def test_lock_and_unlock_frames_have_the_java_clients_shape() -> None:
    golden_lock = _golden_lock_bodies(RequestCode.LOCK_BATCH_MQ)
    golden_unlock = _golden_lock_bodies(RequestCode.UNLOCK_BATCH_MQ)
    assert golden_lock and golden_unlock

    async def main(broker: LocalBroker) -> None:
        async with orderly(broker, OrderlyCollector([])) as consumer:
            await eventually(lambda: len(consumer.process_queues) == 5)
        for code, golden in ((RequestCode.LOCK_BATCH_MQ, golden_lock), (RequestCode.UNLOCK_BATCH_MQ, golden_unlock)):
            ours = lock_frames(broker, code)
            assert ours
            for cmd in ours:
                body = json.loads(cmd.body)
                (gcmd, gbody) = golden[0]
                assert list(body) == list(gbody) == ["clientId", "consumerGroup", "mqSet"]
                assert all(list(mq) == ["brokerName", "queueId", "topic"] for mq in body["mqSet"])
                assert sorted(gbody["mqSet"][0]) == sorted(body["mqSet"][0])
                assert body["consumerGroup"] == "cg" and body["clientId"] == consumer.client_id
                assert not cmd.ext_fields and not gcmd.ext_fields  # no header fields
                assert cmd.flag == gcmd.flag == 0

    run(main, topics=["T"])
