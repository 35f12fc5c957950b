"""A consumer answers an operator's questions (issue 12, last section):
GET_CONSUMER_RUNNING_INFO (307) and CONSUME_MESSAGE_DIRECTLY (309), as Java's
``ClientRemotingProcessor`` does, asked through the broker as ``mqadmin
consumerStatus`` / ``consumeMessage`` ask (``AdminBrokerProcessor.callConsumer``).

Provenance: the property names, remarks, the ``CMResult`` mapping and the
``ProcessQueueInfo`` fields follow the 4.9.8 Java sources named in
``rmqwire.consumer.admin``'s docstring.
"""

from __future__ import annotations

import asyncio

import pytest

from consumer_helpers import Collector, consumer_for, eventually, produce, run
from rmqwire import AsyncLitePullConsumer, AsyncProducer, ConsumeStatus, Message, MessageExt, PushConsumer
from rmqwire.codec import CMResult, ConsumeMessageDirectlyResult, ConsumerRunningInfo, MessageQueueData, RemotingCommand
from rmqwire.codec.body.running_info import (
    PROP_CLIENT_VERSION,
    PROP_CONSUME_ORDERLY,
    PROP_CONSUME_TYPE,
    PROP_CONSUMER_START_TIMESTAMP,
    PROP_NAMESERVER_ADDR,
    PROP_THREADPOOL_CORE_SIZE,
)
from rmqwire.codec.enums import RequestCode, ResponseCode
from rmqwire.codec.errors import BrokerError, ConnectionClosedError
from rmqwire.consumer.admin import cm_result, thread_dump, version_desc
from rmqwire.consumer.stats import ConsumerStats, StatsWindow
from rmqwire.testing import LocalBroker
from rmqwire.types import ConsumeOrderlyStatus


async def consumed(broker: LocalBroker, count: int, listener: Collector, **kwargs: object) -> None:
    await produce(broker, [Message("T", f"m{i}".encode(), tags="A") for i in range(count)])
    await listener.wait_for(count)


# --------------------------------------------------------------------------- 307


def test_running_info_reports_properties_subscriptions_queues_and_rates() -> None:
    async def main(broker: LocalBroker) -> None:
        failed_once: set[bytes] = set()

        def answer(msg: MessageExt) -> ConsumeStatus:
            if msg.body == b"m0" and msg.body not in failed_once:
                failed_once.add(msg.body)
                return ConsumeStatus.RECONSUME_LATER
            return ConsumeStatus.CONSUME_SUCCESS

        got = Collector(answer)
        async with consumer_for(broker, listener=got, consume_thread_min=7, consume_thread_max=9,
                                pull_interval=0.25) as consumer:
            await produce(broker, [Message("T", f"m{i}".encode(), tags="A") for i in range(6)])
            await got.wait_for(7)  # m0 twice: once failed, once from the retry topic
            await eventually(lambda: sum(broker.consumer_offset("cg", "T", q) for q in range(4)) == 6)
            info = await broker.consumer_running_info("cg", consumer.client_id)
        props = info.properties
        assert props["consumerGroup"] == "cg"
        assert (props["messageModel"], props["consumeFromWhere"]) == ("CLUSTERING", "CONSUME_FROM_FIRST_OFFSET")
        assert (props["consumeThreadMin"], props["consumeThreadMax"], props["pullBatchSize"]) == ("7", "9", "32")
        # Java's units: pullInterval ms, consumeTimeout minutes
        assert (props["pullInterval"], props["consumeTimeout"]) == ("250", "15")
        assert props["allocateMessageQueueStrategy"] == "AllocateMessageQueueAveragely"
        assert props[PROP_CONSUME_ORDERLY] == "false" and props[PROP_THREADPOOL_CORE_SIZE] == "7"
        assert props[PROP_CONSUME_TYPE] == "CONSUME_PASSIVELY"
        assert props[PROP_NAMESERVER_ADDR] == broker.namesrv_addr + ";"
        assert props[PROP_CLIENT_VERSION] == version_desc() == "V5_3_3"
        assert int(props[PROP_CONSUMER_START_TIMESTAMP]) == consumer.start_timestamp > 0
        assert {s.topic for s in info.subscription_set} == {"T", "%RETRY%cg"}
        # every owned queue, with its offset to commit and an empty cache
        queues = {mq for mq in info.mq_table if mq.topic == "T"}
        assert queues == {MessageQueueData("T", "broker-a", q) for q in range(4)}
        assert sum(info.mq_table[mq].commit_offset for mq in queues) == 6
        for pq in info.mq_table.values():
            assert (pq.cached_msg_count, pq.droped, pq.locked) == (0, False, False)
            assert pq.last_pull_timestamp >= consumer.start_timestamp
        status = info.status_table["T"]
        assert status.consume_ok_tps > 0 and status.pull_tps > 0 and status.consume_failed_tps > 0
        assert status.consume_failed_msgs == 1
        assert info.status_table["%RETRY%cg"].consume_ok_tps > 0
        assert info.jstack is None

    run(main, topics=["T"])


def test_running_info_with_jstack_dumps_threads_and_tasks() -> None:
    async def main(broker: LocalBroker) -> None:
        async with consumer_for(broker, listener=Collector()) as consumer:
            await eventually(lambda: len(consumer.process_queues) >= 4)
            info = await broker.consumer_running_info("cg", consumer.client_id, jstack=True)
        assert info.jstack is not None
        assert "MainThread" in info.jstack and "TID: " in info.jstack
        # the consumer's pull loops are asyncio tasks waiting on the broker
        assert "_pull_loop(" in info.jstack

    run(main, topics=["T"])


def test_an_admin_asks_through_the_broker_as_mqadmin_does() -> None:
    async def main(broker: LocalBroker) -> None:
        got = Collector()
        async with consumer_for(broker, listener=got) as consumer, AsyncProducer(
            "admin", namesrv_addr=broker.namesrv_addr
        ) as admin:
            addr = broker.broker_addrs["broker-a"]
            ask = RemotingCommand.request(
                RequestCode.GET_CONSUMER_RUNNING_INFO,
                {"consumerGroup": "cg", "clientId": consumer.client_id, "jstackEnable": "false"},
            )
            answer = await admin.instance.invoke(addr, ask, 5)
            assert answer.code == ResponseCode.SUCCESS
            info = ConsumerRunningInfo.from_json(answer.body)
            assert info.properties["consumerGroup"] == "cg"
            # someone who is not online
            ask = RemotingCommand.request(RequestCode.GET_CONSUMER_RUNNING_INFO, {"consumerGroup": "cg", "clientId": "nobody"})
            answer = await admin.instance.invoke(addr, ask, 5)
            assert (answer.code, answer.remark) == (ResponseCode.SYSTEM_ERROR, "The Consumer <cg> <nobody> not online")
            # consume one stored message directly, named by its broker message id
            sent = await admin.send(Message("T", b"direct", tags="A"))
            await got.wait_for(1)
            ask = RemotingCommand.request(
                RequestCode.CONSUME_MESSAGE_DIRECTLY,
                {"consumerGroup": "cg", "clientId": consumer.client_id, "msgId": sent.offset_msg_id},
            )
            answer = await admin.instance.invoke(addr, ask, 5)
            assert answer.code == ResponseCode.SUCCESS
            assert ConsumeMessageDirectlyResult.from_json(answer.body).consume_result is CMResult.CR_SUCCESS
            assert got.bodies() == [b"direct", b"direct"]
            assert got.msgs[1].broker_name == "broker-a" and got.msgs[1].msg_id == sent.msg_id

    run(main, topics=["T"])


def test_a_group_the_client_does_not_host_is_a_system_error() -> None:
    async def main(broker: LocalBroker) -> None:
        async with consumer_for(broker, listener=Collector()) as consumer:
            for code in (RequestCode.GET_CONSUMER_RUNNING_INFO, RequestCode.CONSUME_MESSAGE_DIRECTLY):
                ask = RemotingCommand.request(code, {"consumerGroup": "other", "clientId": consumer.client_id})
                answer = await broker.request_client(consumer.client_id, ask)
                assert (answer.code, answer.remark) == (
                    ResponseCode.SYSTEM_ERROR, "The Consumer Group <other> not exist in this consumer"
                )
        with pytest.raises(ConnectionClosedError):
            await broker.consumer_running_info("cg", consumer.client_id)

    run(main, topics=["T"])


def test_two_groups_of_one_client_instance_answer_for_themselves() -> None:
    async def main(broker: LocalBroker) -> None:
        one = consumer_for(broker, group="g1", listener=Collector(), instance_name="shared", consume_thread_min=3,
                           consume_thread_max=3)
        two = consumer_for(broker, group="g2", topic="U", listener=Collector(), instance_name="shared")
        async with one, two:
            assert one.instance is two.instance
            first = await broker.consumer_running_info("g1", one.client_id)
            second = await broker.consumer_running_info("g2", two.client_id)
        assert (first.properties["consumerGroup"], first.properties[PROP_THREADPOOL_CORE_SIZE]) == ("g1", "3")
        assert {s.topic for s in first.subscription_set} == {"T", "%RETRY%g1"}
        assert {s.topic for s in second.subscription_set} == {"U", "%RETRY%g2"}
        assert {mq.topic for mq in second.mq_table} <= {"U", "%RETRY%g2"}

    run(main, topics=["T", "U"])


def test_a_lite_pull_consumer_reports_what_it_has_and_does_not_consume_directly() -> None:
    async def main(broker: LocalBroker) -> None:
        consumer = AsyncLitePullConsumer("lite", namesrv_addr=broker.namesrv_addr, pull_batch_size=8)
        consumer.subscribe("T", "*")
        ids = await produce(broker, [Message("T", b"x")])
        async with consumer:
            info = await broker.consumer_running_info("lite", consumer.client_id)
            with pytest.raises(BrokerError, match="not a running push consumer"):
                await broker.consume_message_directly("lite", consumer.client_id, ids[0])
        props = info.properties
        assert (props["consumerGroup"], props["pullBatchSize"], props[PROP_CONSUME_TYPE]) == ("lite", "8", "CONSUME_ACTIVELY")
        assert PROP_CONSUME_ORDERLY not in props  # only a push consumer says
        assert {s.topic for s in info.subscription_set} >= {"T"}

    run(main, topics=["T"])


# --------------------------------------------------------------------------- 309


def test_consume_message_directly_reports_the_listeners_answer() -> None:
    async def main(broker: LocalBroker) -> None:
        answers = {b"ok": ConsumeStatus.CONSUME_SUCCESS, b"later": ConsumeStatus.RECONSUME_LATER}
        seen: list[MessageExt] = []

        async def listener(msgs: list[MessageExt]) -> object:
            seen.extend(msgs)
            body = msgs[0].body
            if body == b"boom":
                raise ValueError("the listener broke")
            if body == b"none":
                return None
            return answers.get(body, ConsumeStatus.CONSUME_SUCCESS)

        # messages of a topic the group does not subscribe to: only the direct calls see them
        ids = await produce(broker, [Message("X", b) for b in (b"ok", b"later", b"boom", b"none")])
        async with consumer_for(broker, listener=listener) as consumer:
            results = [await broker.consume_message_directly("cg", consumer.client_id, msg_id) for msg_id in ids]
            offsets = broker.consumer_offsets("cg", "X")
        assert [r.consume_result for r in results] == [
            CMResult.CR_SUCCESS, CMResult.CR_LATER, CMResult.CR_THROW_EXCEPTION, CMResult.CR_RETURN_NULL
        ]
        assert [m.body for m in seen] == [b"ok", b"later", b"boom", b"none"]
        assert results[2].remark is not None and "ValueError: the listener broke" in results[2].remark
        assert all(r.remark is None for r in results if r is not results[2])
        assert all((r.order, r.auto_commit) == (False, True) and r.spent_time_mills >= 0 for r in results)
        assert all(m.topic == "X" and m.broker_name == "broker-a" for m in seen)
        # consumed outside the queues: no offset moved, nothing was sent back
        assert offsets == {} and broker.messages("%RETRY%cg") == []

    run(main, topics=["T", "X"])


def test_consume_directly_a_message_of_the_retry_topic_shows_its_first_topic() -> None:
    async def main(broker: LocalBroker) -> None:
        later = Collector(lambda m: ConsumeStatus.RECONSUME_LATER if m.reconsume_times == 0 else ConsumeStatus.CONSUME_SUCCESS)
        async with consumer_for(broker, listener=later) as consumer:
            await produce(broker, [Message("T", b"again")])
            await later.wait_for(2)
            retried = broker.messages("%RETRY%cg")[0]
            result = await broker.consume_message_directly("cg", consumer.client_id, retried.offset_msg_id)
            await later.wait_for(3)
        assert result.consume_result is CMResult.CR_SUCCESS
        direct = later.msgs[2]
        assert (direct.topic, direct.body, direct.reconsume_times) == ("T", b"again", 1)

    run(main, topics=["T"])


def test_a_blocking_push_consumer_answers_too() -> None:
    with LocalBroker.in_thread(topics=["T"]) as broker:
        consumer = PushConsumer("cg", namesrv_addr=broker.namesrv_addr, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
        consumer.subscribe("T", "*")
        seen: list[bytes] = []

        @consumer.register_listener
        def on_messages(msgs: list[MessageExt]) -> ConsumeStatus:
            seen.extend(m.body for m in msgs)
            return ConsumeStatus.CONSUME_SUCCESS

        with consumer:
            ids = broker.submit(produce(broker, [Message("T", b"x")]))
            result = broker.submit(broker.consume_message_directly("cg", consumer.client_id, ids[0]))
            info = broker.submit(broker.consumer_running_info("cg", consumer.client_id))
        assert result.consume_result is CMResult.CR_SUCCESS and b"x" in seen
        assert info.properties["consumerGroup"] == "cg"


def test_an_unknown_message_or_consumer_is_refused() -> None:
    async def main(broker: LocalBroker) -> None:
        async with consumer_for(broker, listener=Collector()) as consumer:
            with pytest.raises(Exception, match="holds message"):
                await broker.consume_message_directly("cg", consumer.client_id, "00" * 16)
            with pytest.raises(ConnectionClosedError, match="connected to no broker"):
                await broker.consume_message_directly("cg", "nobody", "00" * 16)
            # a 309 with no message record: the client's decode fails, answered as an error
            ask = RemotingCommand.request(RequestCode.CONSUME_MESSAGE_DIRECTLY, {"consumerGroup": "cg"})
            answer = await broker.request_client(consumer.client_id, ask)
            assert answer.code == ResponseCode.SYSTEM_ERROR

    run(main, topics=["T"])


def test_a_slow_client_is_consume_msg_timeout() -> None:
    async def main(broker: LocalBroker) -> None:
        release = asyncio.Event()

        async def slow(msgs: list[MessageExt]) -> ConsumeStatus:
            if msgs[0].body == b"slow":
                await release.wait()
            return ConsumeStatus.CONSUME_SUCCESS

        ids = await produce(broker, [Message("X", b"slow")])
        async with consumer_for(broker, listener=slow) as consumer:
            with pytest.raises(BrokerError) as caught:
                await broker.consume_message_directly("cg", consumer.client_id, ids[0], timeout=0.2)
            release.set()
        assert caught.value.code == ResponseCode.CONSUME_MSG_TIMEOUT

    run(main, topics=["T", "X"])


# --------------------------------------------------------------------------- pieces


def test_listener_answers_map_to_cm_results_as_java_maps_them() -> None:
    assert cm_result(ConsumeStatus.CONSUME_SUCCESS) is CMResult.CR_SUCCESS
    assert cm_result(ConsumeStatus.RECONSUME_LATER) is CMResult.CR_LATER
    assert cm_result(ConsumeOrderlyStatus.SUCCESS) is CMResult.CR_SUCCESS
    assert cm_result(ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT) is CMResult.CR_LATER
    assert cm_result(None) is CMResult.CR_RETURN_NULL
    assert cm_result("whatever") is None


def test_stats_windows_report_the_last_minute_and_hour() -> None:
    stats = ConsumerStats()
    stats.pulled("T", 10.0, 32, now=0.0)
    stats.pulled("T", 30.0, 0, now=1.0)
    stats.consumed("T", 4.0, 1, 0, now=2.0)
    stats.consumed("T", 6.0, 0, 1, now=3.0)
    status = stats.consume_status("T", now=4.0)
    assert (status.pull_rt, status.pull_tps) == (20.0, 8.0)  # 32 messages over the 4 s covered
    assert (status.consume_rt, status.consume_ok_tps, status.consume_failed_tps) == (5.0, 0.25, 0.25)
    assert status.consume_failed_msgs == 1
    later = stats.consume_status("T", now=120.0)  # the minute has passed, the hour not
    assert (later.pull_tps, later.consume_rt, later.consume_failed_msgs) == (0.0, 0.0, 1)
    assert stats.consume_status("U", now=4.0).pull_tps == 0.0
    window = StatsWindow(span=60.0, now=0.0)
    window.add(120, now=59.5)
    assert window.tps(now=60.0) == 2.0 and window.avg(now=60.0) == 120.0


def test_thread_dump_lists_this_thread() -> None:
    dump = thread_dump()
    assert "MainThread" in dump and "test_thread_dump_lists_this_thread(" in dump
