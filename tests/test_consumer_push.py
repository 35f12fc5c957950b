"""The push consumer end to end on LocalBroker: what the producer sent
arrives as sent, filtered by tag, acknowledged, retried, resumed."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest

from consumer_helpers import Collector, consumer_for, eventually, produce, run
from rmqwire import (
    AsyncPushConsumer,
    ConsumeFromWhere,
    ConsumeStatus,
    Message,
    MessageExt,
    MessageModel,
    PushConsumer,
    ServiceState,
)
from rmqwire.codec.errors import ConfigError, ConsumerError, ServiceStateError
from rmqwire.testing import LocalBroker


def test_messages_arrive_with_the_bodies_tags_keys_and_properties_sent() -> None:
    async def main(broker: LocalBroker) -> None:
        sent = [
            Message("T", f"body {i}".encode(), tags=f"Tag{i % 3}", keys=[f"k{i}", "order"], properties={"i": str(i), "城市": "杭州"})
            for i in range(12)
        ]
        ids = await produce(broker, sent)
        got = Collector()
        async with consumer_for(broker, listener=got) as consumer:
            await got.wait_for(12)
            assert consumer.state is ServiceState.RUNNING
        by_body = {m.body: m for m in got.msgs}
        assert sorted(by_body) == sorted(m.body for m in sent) and len(got.msgs) == 12
        for msg, msg_id in zip(sent, ids):
            m = by_body[msg.body]
            assert (m.topic, m.tags, m.keys) == ("T", msg.tags, " ".join(msg.keys or ()))
            assert m.user_properties == msg.properties
            assert m.msg_id == msg_id and m.reconsume_times == 0 and m.broker_name == "broker-a"
            assert len(m.offset_msg_id) == 32 and m.store_timestamp >= m.born_timestamp > 0
        # every queue's offset was committed past what was consumed (shutdown persists)
        # the last commit is a oneway request: give the broker a moment to apply it
        await eventually(lambda: sum(broker.consumer_offsets("cg", "T").values()) == 12, timeout=5)

    run(main, topics=["T"])


def test_only_the_subscribed_tags_arrive() -> None:
    async def main(broker: LocalBroker) -> None:
        await produce(broker, [Message("T", f"{tag}-{i}".encode(), tags=tag) for i in range(5) for tag in ("A", "B", "C")]
                      + [Message("T", b"untagged")])
        got = Collector()
        async with consumer_for(broker, expression="A || C", listener=got):
            await got.wait_for(10)
            # the rest (B, untagged) is filtered out; the offsets still move
            # past it once a held pull comes back empty (max_suspend 0.3 s)
            await eventually(lambda: sum(broker.consumer_offsets("cg", "T").values()) == 16)
        assert sorted(m.tags or "" for m in got.msgs) == ["A"] * 5 + ["C"] * 5

    run(main, topics=["T"], max_suspend=0.3)


def test_new_messages_arrive_through_long_polling() -> None:
    async def main(broker: LocalBroker) -> None:
        got = Collector()
        async with consumer_for(broker, listener=got) as consumer:
            await eventually(lambda: len(consumer.process_queues) == 5)  # T's four and the retry queue
            await eventually(lambda: broker.held_pulls() == 5)  # every queue's pull is held
            await produce(broker, [Message("T", b"late")])
            await got.wait_for(1, timeout=5)
        assert got.bodies() == [b"late"]

    run(main, topics=["T"])


def test_a_reconsume_later_message_comes_back_from_the_retry_topic() -> None:
    async def main(broker: LocalBroker) -> None:
        [msg_id] = await produce(broker, [Message("T", b"retry me", tags="A")])
        got = Collector(lambda m: ConsumeStatus.RECONSUME_LATER if m.reconsume_times == 0 else ConsumeStatus.CONSUME_SUCCESS)
        async with consumer_for(broker, listener=got):
            await eventually(lambda: any(m.reconsume_times >= 1 for m in got.msgs), timeout=15)
        first, again = got.msgs[0], next(m for m in got.msgs if m.reconsume_times >= 1)
        assert first.reconsume_times == 0
        # the listener sees the original topic, body and id again
        assert (again.topic, again.body, again.tags, again.msg_id) == ("T", b"retry me", "A", msg_id)
        assert again.properties["RETRY_TOPIC"] == "T"

    run(main, topics=["T"])


def test_a_raising_listener_is_reconsume_later_and_the_consumer_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    async def main(broker: LocalBroker) -> None:
        await produce(broker, [Message("T", b"bad"), Message("T", b"good")])
        seen: list[tuple[bytes, int]] = []

        async def listener(msgs: list[MessageExt]) -> ConsumeStatus:
            seen.extend((m.body, m.reconsume_times) for m in msgs)
            if msgs[0].body == b"bad" and msgs[0].reconsume_times == 0:
                raise ValueError("cannot handle this one")
            return ConsumeStatus.CONSUME_SUCCESS

        async with consumer_for(broker, listener=listener):
            await eventually(lambda: (b"bad", 1) in seen and (b"good", 0) in seen, timeout=15)
            await produce(broker, [Message("T", b"after")])
            await eventually(lambda: (b"after", 0) in seen)

    with caplog.at_level(logging.ERROR, logger="rmqwire.consumer.consume"):
        run(main, topics=["T"])
    assert any("cannot handle this one" in (r.exc_text or "") for r in caplog.records)


def test_a_restarted_consumer_resumes_after_the_last_committed_offset() -> None:
    async def main(broker: LocalBroker) -> None:
        await produce(broker, [Message("T", f"first {i}".encode()) for i in range(8)])
        got = Collector()
        async with consumer_for(broker, listener=got):
            await got.wait_for(8)
        # the last commit is a oneway request: give the broker a moment to apply it
        await eventually(lambda: sum(broker.consumer_offsets("cg", "T").values()) == 8, timeout=5)
        await produce(broker, [Message("T", f"second {i}".encode()) for i in range(5)])
        again = Collector()
        # LAST_OFFSET would skip nothing either: the committed offsets decide
        async with consumer_for(broker, listener=again, consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET):
            await again.wait_for(5)
            await asyncio.sleep(0.2)  # nothing older comes
        assert sorted(again.bodies()) == sorted(f"second {i}".encode() for i in range(5))

    run(main, topics=["T"])


def test_last_offset_on_a_fresh_queue_starts_at_zero_as_the_broker_says() -> None:
    # QUERY_CONSUMER_OFFSET answers 0 for a young queue (consumer-protocol.md 6.1)
    async def main(broker: LocalBroker) -> None:
        await produce(broker, [Message("T", b"old")])
        got = Collector()
        async with consumer_for(broker, listener=got, consume_from_where=ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET):
            await got.wait_for(1)
        assert got.bodies() == [b"old"]

    run(main, topics=["T"])


def test_flow_control_keeps_a_slow_listeners_buffer_under_the_threshold() -> None:
    async def main(broker: LocalBroker) -> None:
        await produce(broker, [Message("T", f"{i}".encode()) for i in range(300)])
        release = asyncio.Event()
        peak = 0
        consumer: AsyncPushConsumer

        async def slow(msgs: list[MessageExt]) -> ConsumeStatus:
            nonlocal peak
            peak = max(peak, max(pq.msg_count for pq in consumer.process_queues.values()))
            await release.wait()
            return ConsumeStatus.CONSUME_SUCCESS

        consumer = consumer_for(broker, listener=slow, pull_threshold_for_queue=20, pull_batch_size=8,
                                consume_thread_min=2, consume_thread_max=2)
        async with consumer:
            await eventually(lambda: sum(pq.msg_count for pq in consumer.process_queues.values()) > 0)
            await asyncio.sleep(0.5)  # the pull loops had time to overfill, if they would
            counts = [pq.msg_count for pq in consumer.process_queues.values()]
            # a pull is made only while at most 20 are cached; one more batch may land
            assert counts and max(counts) <= 20 + 8
            assert sum(counts) < 300
            release.set()
            await eventually(lambda: sum(broker.consumer_offsets("cg", "T").values()) == 300 or
                             consumer.consume_service is not None and consumer.consume_service.consumed_ok == 300)
        assert peak <= 28

    run(main, topics=["T"])


def test_broadcasting_gives_every_consumer_every_message(tmp_path: Path) -> None:
    async def main(broker: LocalBroker) -> None:
        await produce(broker, [Message("T", f"{i}".encode()) for i in range(6)])
        a, b = Collector(), Collector()
        ca = consumer_for(broker, listener=a, message_model=MessageModel.BROADCASTING, offset_store_dir=str(tmp_path),
                          instance_name="a")
        cb = consumer_for(broker, listener=b, message_model=MessageModel.BROADCASTING, offset_store_dir=str(tmp_path),
                          instance_name="b")
        async with ca, cb:
            await a.wait_for(6)
            await b.wait_for(6)
        assert sorted(a.bodies()) == sorted(b.bodies()) == sorted(f"{i}".encode() for i in range(6))
        # each kept its offsets in its own file
        files = sorted(p.relative_to(tmp_path).parts[1:] for p in tmp_path.rglob("offsets.json"))
        assert files == [("cg", "offsets.json"), ("cg", "offsets.json")]

    run(main, topics=["T"])


def test_a_restarted_broadcasting_consumer_resumes_from_its_offset_file(tmp_path: Path) -> None:
    async def main(broker: LocalBroker) -> None:
        await produce(broker, [Message("T", f"old{i}".encode()) for i in range(6)])
        first = Collector()
        async with consumer_for(broker, listener=first, message_model=MessageModel.BROADCASTING,
                                offset_store_dir=str(tmp_path), instance_name="a"):
            await first.wait_for(6)
        # shutdown wrote the file; the broker keeps nothing for a broadcasting group
        assert broker.consumer_offsets("cg", "T") == {}
        [path] = tmp_path.rglob("offsets.json")
        assert '"offsetTable"' in path.read_text()
        await produce(broker, [Message("T", f"new{i}".encode()) for i in range(4)])
        again = Collector()
        async with consumer_for(broker, listener=again, message_model=MessageModel.BROADCASTING,
                                offset_store_dir=str(tmp_path), instance_name="a"):
            await again.wait_for(4)
            await asyncio.sleep(0.3)  # room for anything wrongly consumed twice to show up
        assert sorted(again.bodies()) == sorted(f"new{i}".encode() for i in range(4))

    run(main, topics=["T"])


def test_start_checks_and_idempotent_shutdown() -> None:
    async def main(broker: LocalBroker) -> None:
        c = AsyncPushConsumer("cg", namesrv_addr=broker.namesrv_addr)
        with pytest.raises(ConsumerError):
            await c.start()  # nothing subscribed, no listener
        c = AsyncPushConsumer("cg", namesrv_addr=broker.namesrv_addr)
        c.subscribe("T", "*")
        with pytest.raises(ConsumerError):
            await c.start()  # no listener
        with pytest.raises(ConfigError):
            c.register_listener(lambda msgs: ConsumeStatus.CONSUME_SUCCESS)  # not async
        with pytest.raises(ConfigError):
            AsyncPushConsumer("cg", namesrv_addr=broker.namesrv_addr, consume_thread_min=30, consume_thread_max=20,
                              ).options.check()
        c = consumer_for(broker, listener=Collector())
        await c.start()
        with pytest.raises(ServiceStateError):
            await c.start()
        twin = consumer_for(broker, listener=Collector(), instance_name=c._client.instance_name)
        with pytest.raises(ConfigError):
            await twin.start()  # the group is registered on that instance already
        await c.shutdown()
        await c.shutdown()
        assert c.state is ServiceState.SHUTDOWN_ALREADY
        assert "cg" in {g for _, _, _, g in broker.unregistered}

    run(main, topics=["T"])


def test_the_blocking_push_consumer_runs_a_plain_listener_in_worker_threads() -> None:
    with LocalBroker.in_thread(topics=["T"], delay_scale=0.01) as broker:
        from rmqwire import Producer

        with Producer("pg", namesrv_addr=broker.namesrv_addr) as producer:
            for i in range(5):
                producer.send(Message("T", f"{i}".encode()))
        got: list[bytes] = []
        threads: set[str] = set()
        done = threading.Event()
        consumer = PushConsumer("cg", namesrv_addr=broker.namesrv_addr,
                                consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET)
        consumer.subscribe("T", "*")

        @consumer.register_listener
        def on_messages(msgs: list[MessageExt]) -> ConsumeStatus:
            got.extend(m.body for m in msgs)
            threads.add(threading.current_thread().name)
            if len(got) >= 5:
                done.set()
            return ConsumeStatus.CONSUME_SUCCESS

        assert callable(on_messages) and on_messages.__name__ == "on_messages"
        with consumer:
            assert done.wait(10)
        assert sorted(got) == [f"{i}".encode() for i in range(5)]
        assert all(name.startswith("ConsumeMessageThread_cg") for name in threads)
        assert consumer.state is ServiceState.SHUTDOWN_ALREADY


def test_when_send_back_fails_the_consumer_resends_to_the_retry_topic_itself() -> None:
    from rmqwire.codec.enums import RequestCode
    from rmqwire.testing import Fault

    async def main(broker: LocalBroker) -> None:
        broker.inject(Fault.error(1, "lookMessageByOffset failed", code=RequestCode.CONSUMER_SEND_MSG_BACK, times=1))
        [msg_id] = await produce(broker, [Message("T", b"resend me", tags="A", keys="k")])
        got = Collector(lambda m: ConsumeStatus.RECONSUME_LATER if m.reconsume_times == 0 else ConsumeStatus.CONSUME_SUCCESS)
        async with consumer_for(broker, listener=got):
            await eventually(lambda: any(m.reconsume_times >= 1 for m in got.msgs), timeout=15)
        again = next(m for m in got.msgs if m.reconsume_times >= 1)
        assert (again.topic, again.body, again.tags, again.keys, again.msg_id) == ("T", b"resend me", "A", "k", msg_id)
        # it came through the retry topic, sent by the client's inner producer
        stored = broker.messages("%RETRY%cg")
        assert len(stored) == 1 and stored[0].properties["RETRY_TOPIC"] == "T"

    run(main, topics=["T"])


def test_a_tag_whose_hash_collides_is_filtered_out_on_the_client() -> None:
    from rmqwire.codec.filter import tag_hash_code

    assert tag_hash_code("Aa") == tag_hash_code("BB")  # the broker filters by this hash only

    async def main(broker: LocalBroker) -> None:
        await produce(broker, [Message("T", f"{tag}{i}".encode(), tags=tag) for i in range(4) for tag in ("Aa", "BB")])
        got = Collector()
        async with consumer_for(broker, expression="Aa", listener=got) as consumer:
            await got.wait_for(4)
            await eventually(lambda: consumer.consume_service is not None and consumer.consume_service.pending == 0)
            await asyncio.sleep(0.2)
        assert sorted(got.bodies()) == [f"Aa{i}".encode() for i in range(4)]

    run(main, topics=["T"])


def test_the_consumer_goes_on_after_the_broker_restarts() -> None:
    async def main(broker: LocalBroker) -> None:
        got = Collector()
        async with consumer_for(broker, listener=got):
            await produce(broker, [Message("T", b"before")])
            await got.wait_for(1)
            await broker.restart_broker("broker-a")  # every held pull fails with its connection
            await produce(broker, [Message("T", b"after")])
            await got.wait_for(2, timeout=15)  # pulls are retried 3 s after a failure, as Java's
        assert got.bodies() == [b"before", b"after"]

    run(main, topics=["T"])


def test_an_illegal_offset_is_corrected_and_the_queue_taken_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import rmqwire.consumer.push as push
    from rmqwire import MessageQueue

    monkeypatch.setattr(push, "OFFSET_MOVED_DROP_DELAY", 0.1)  # Java waits 10 s

    async def main(broker: LocalBroker) -> None:
        await produce(broker, [Message("T", f"{i}".encode()) for i in range(8)])
        mq = MessageQueue("T", "broker-a", 0)
        first = consumer_for(broker, listener=Collector())
        async with first:
            await eventually(lambda: mq in first.process_queues)
            await eventually(lambda: sum(broker.consumer_offsets("cg", "T").values()) == 8)
            first.offset_store.update_offset(mq, 1000, False)  # far past the queue's end
            await first.offset_store.persist(mq)
            await eventually(lambda: broker.consumer_offset("cg", "T", 0) == 1000)
        # the next member starts there: the broker answers PULL_OFFSET_MOVED with the max offset
        got = Collector()
        async with consumer_for(broker, listener=got, rebalance_interval=0.2) as second:
            await eventually(lambda: broker.consumer_offset("cg", "T", 0) == 2, timeout=10)
            await eventually(lambda: mq in second.process_queues)
            await produce(broker, [Message("T", b"new", tags="n")])
            await eventually(lambda: any(m.body == b"new" for m in got.msgs))
        assert [m.body for m in got.msgs] == [b"new"]

    run(main, topics=["T"])


def test_subscribing_while_running_and_suspend_resume() -> None:
    async def main(broker: LocalBroker) -> None:
        broker.create_topic("U")
        got = Collector()
        consumer = consumer_for(broker, listener=got)
        async with consumer:
            consumer.subscribe("U", "*")  # taken by the next heartbeat and rebalance
            await eventually(lambda: any(mq.topic == "U" for mq in consumer.process_queues))
            await produce(broker, [Message("U", b"u1")])
            await got.wait_for(1)
            consumer.suspend()
            await asyncio.sleep(0.1)
            await produce(broker, [Message("U", b"u2")])
            await asyncio.sleep(0.3)
            # a pull already held by the broker may still deliver; none is made after suspend
            consumer.resume()
            await got.wait_for(2)
        assert sorted(got.bodies()) == [b"u1", b"u2"]

    run(main, topics=["T"])
