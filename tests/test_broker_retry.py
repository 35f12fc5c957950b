"""Retries, dead letters, delayed delivery and queue locks on the embedded
broker, over raw codec connections.

CONSUMER_SEND_MSG_BACK (36) as ``SendMessageProcessor.asyncConsumerSendMsgBack``
does it (consumer-protocol.md section 7, GOLDEN java-broker-4.9.8 seq 91-104):
the message goes to ``%RETRY%group`` after delay level ``3 + reconsumeTimes``
through ``SCHEDULE_TOPIC_XXXX`` (``ScheduleMessageService``, Java's delay
table scaled by ``delay_scale``), with the properties a 4.9.8 broker adds,
and to ``%DLQ%group`` once it was reconsumed ``maxReconsumeTimes`` times.
LOCK_BATCH_MQ (41) / UNLOCK_BATCH_MQ (42) over ``RebalanceLockManager``'s
table (GOLDEN java-broker-4.9.8-tx-order-ns seq 69-121).
"""

from __future__ import annotations

import asyncio

from broker_consumer_support import (
    SUBSCRIPTION,
    SUSPEND,
    RawConsumer,
    eventually,
    pull_request,
    send_back_request,
    send_request,
    with_broker,
)

from rmqwire.codec import RemotingCommand, RequestCode, ResponseCode, decode_messages
from rmqwire.codec.body import LockBatchRequestBody, LockBatchResponseBody, MessageQueueData, UnlockBatchRequestBody
from rmqwire.testing import LocalBroker

RETRY = "%RETRY%CG"
DLQ = "%DLQ%CG"


@with_broker(topics=("T",), delay_scale=0.01)
async def test_a_message_sent_back_comes_again_from_the_retry_topic_after_its_delay(broker: LocalBroker) -> None:
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    await peer.send("T", b"try again", TAGS="TagA", KEYS="retry-0", UNIQ_KEY="U0")
    (original,) = broker.messages("T")
    # the consumer's heartbeat made its retry topic; it already waits on it
    await peer.heartbeat("c1", "CG", {"T": "*", RETRY: "*"})
    held = peer.start(pull_request(RETRY, 0, 0, sys_flag=SUSPEND | SUBSCRIPTION))
    reply = await peer.call(send_back_request(original.commitlog_offset))
    assert (reply.code, reply.ext_fields, reply.remark, reply.body) == (ResponseCode.SUCCESS, {}, None, b"")
    assert broker.topics()[RETRY] == 1
    config = broker.broker().topics.get("broker-a", RETRY)
    assert config is not None and config.perm == 6
    # it waits in SCHEDULE_TOPIC_XXXX queue 2 (level 3), then the pull is released by its delivery
    waiting = broker.messages("SCHEDULE_TOPIC_XXXX")
    assert [(m.queue_id, m.properties["REAL_TOPIC"], m.properties["REAL_QID"]) for m in waiting] == [(2, RETRY, "0")]
    found = await asyncio.wait_for(held, 5.0)
    assert found.code == ResponseCode.SUCCESS
    (again,) = decode_messages(found.body)
    assert (again.topic, again.queue_id, again.queue_offset, again.reconsume_times) == (RETRY, 0, 0, 1)
    assert again.body == b"try again" and again.born_timestamp == original.born_timestamp
    assert again.born_host == original.born_host and again.sys_flag == original.sys_flag
    assert again.properties == {
        "WAIT": "false",
        "TAGS": "TagA",
        "KEYS": "retry-0",
        "UNIQ_KEY": "U0",
        "CLUSTER": "DefaultCluster",  # the broker's, kept from the original as Java's send-back does
        "RETRY_TOPIC": "T",
        "DELAY": "3",
        "ORIGIN_MESSAGE_ID": original.offset_msg_id,
        "REAL_TOPIC": RETRY,
        "REAL_QID": "0",
    }
    assert again.msg_id == "U0"  # the client's id is unchanged
    assert broker.scheduled() == 0
    await peer.close()


@with_broker(topics=("T",), delay_scale=0.01)
async def test_each_send_back_delays_one_level_more_and_keeps_the_first_origin(broker: LocalBroker) -> None:
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    await peer.send("T", b"x", UNIQ_KEY="U0")
    (original,) = broker.messages("T")
    await peer.call(send_back_request(original.commitlog_offset))
    assert await eventually(lambda: len(broker.messages(RETRY)) == 1)
    first = broker.messages(RETRY)[0]
    await peer.call(send_back_request(first.commitlog_offset))
    assert broker.messages("SCHEDULE_TOPIC_XXXX")[-1].queue_id == 3  # level 4 = 3 + reconsume times 1
    assert await eventually(lambda: len(broker.messages(RETRY)) == 2)
    second = broker.messages(RETRY)[1]
    assert (second.reconsume_times, second.properties["DELAY"]) == (2, "4")
    assert second.properties["ORIGIN_MESSAGE_ID"] == original.offset_msg_id
    assert second.properties["RETRY_TOPIC"] == "T"
    # an explicit level is taken as asked
    await peer.call(send_back_request(original.commitlog_offset, delay_level=1))
    assert broker.messages("SCHEDULE_TOPIC_XXXX")[-1].queue_id == 0
    await peer.close()


@with_broker(topics=("T",), delay_scale=0.01)
async def test_after_max_reconsume_times_or_a_negative_level_it_goes_to_the_dead_letter_queue(broker: LocalBroker) -> None:
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    await peer.send("T", b"poison", UNIQ_KEY="U0")
    (original,) = broker.messages("T")
    await peer.call(send_back_request(original.commitlog_offset, max_reconsume_times=1))
    assert await eventually(lambda: len(broker.messages(RETRY)) == 1)
    retried = broker.messages(RETRY)[0]
    reply = await peer.call(send_back_request(retried.commitlog_offset, max_reconsume_times=1))
    assert reply.code == ResponseCode.SUCCESS
    (dead,) = broker.messages(DLQ)  # at once: a dead letter is not delayed
    assert (dead.queue_id, dead.reconsume_times, dead.properties["DELAY"]) == (0, 2, "0")
    assert dead.properties["ORIGIN_MESSAGE_ID"] == original.offset_msg_id and dead.payload == b"poison"
    config = broker.broker().topics.get("broker-a", DLQ)
    assert config is not None and (config.read_queue_nums, config.perm) == (1, 6)
    await peer.call(send_back_request(original.commitlog_offset, delay_level=-1))
    assert len(broker.messages(DLQ)) == 2 and broker.scheduled() == 0
    await peer.close()


@with_broker(topics=("T",))
async def test_a_version_before_3_4_9_gets_the_groups_16_retries(broker: LocalBroker) -> None:
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    await peer.send("T", b"old client")
    (original,) = broker.messages("T")
    old = send_back_request(original.commitlog_offset, max_reconsume_times=0)
    reply = await peer.call(RemotingCommand.request(old.code, old.ext_fields, version=63))
    assert reply.code == ResponseCode.SUCCESS
    assert broker.messages(DLQ) == [] and broker.scheduled() == 1  # its maxReconsumeTimes 0 is ignored
    await peer.close()


@with_broker(topics=("T",))
async def test_sending_back_an_unknown_offset_fails(broker: LocalBroker) -> None:
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    reply = await peer.call(send_back_request(123456))
    assert (reply.code, reply.remark) == (ResponseCode.SYSTEM_ERROR, "look message by offset failed, 123456")
    await peer.close()


@with_broker(topics=("T",), delay_scale=0.01)
async def test_a_send_with_a_delay_level_is_delivered_to_its_topic_when_due(broker: LocalBroker) -> None:
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    reply = await peer.call(send_request("T", b"later", queue_id=1, DELAY="2"))
    assert reply.code == ResponseCode.SUCCESS and (reply.ext_fields["queueId"], reply.ext_fields["queueOffset"]) == ("1", "0")
    assert broker.messages("T") == [] and broker.scheduled() == 1
    assert await eventually(lambda: len(broker.messages("T")) == 1)
    (delivered,) = broker.messages("T")
    assert (delivered.queue_id, delivered.queue_offset, delivered.delay_level) == (1, 0, 2)
    assert (delivered.properties["REAL_TOPIC"], delivered.properties["REAL_QID"]) == ("T", "1")
    await peer.close()


# --------------------------------------------------------------------------- locks


def mq(queue_id: int) -> MessageQueueData:
    return MessageQueueData("T", "broker-a", queue_id)


async def lock(peer: RawConsumer, client_id: str, *queue_ids: int) -> list[int]:
    body = LockBatchRequestBody("CG", client_id, tuple(mq(q) for q in queue_ids)).to_json()
    reply = await peer.call(RemotingCommand.request(RequestCode.LOCK_BATCH_MQ, body=body))
    assert (reply.code, reply.ext_fields, reply.remark) == (ResponseCode.SUCCESS, {}, None)
    return [q.queue_id for q in LockBatchResponseBody.from_json(reply.body).lock_ok_mq_set]


async def unlock(peer: RawConsumer, client_id: str, *queue_ids: int) -> None:
    body = UnlockBatchRequestBody("CG", client_id, tuple(mq(q) for q in queue_ids)).to_json()
    reply = await peer.call(RemotingCommand.request(RequestCode.UNLOCK_BATCH_MQ, body=body))
    assert (reply.code, reply.ext_fields, reply.body) == (ResponseCode.SUCCESS, {}, b"")


@with_broker(topics=("T",))
async def test_queue_locks_are_reentrant_and_refused_to_other_clients(broker: LocalBroker) -> None:
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    assert await lock(peer, "c1", 0, 1) == [0, 1]
    assert await lock(peer, "c1", 0, 1) == [0, 1]
    assert await lock(peer, "c2", 1, 2, 2) == [2]
    assert broker.lock_holder("CG", "T", 1) == "c1" and broker.lock_holder("CG", "T", 2) == "c2"
    await unlock(peer, "c2", 0, 1)  # not its locks: nothing changes
    assert broker.lock_holder("CG", "T", 0) == "c1"
    await unlock(peer, "c1", 0, 1)
    assert broker.lock_holder("CG", "T", 0) is None
    assert await lock(peer, "c2", 0, 1) == [0, 1]
    await peer.close()


@with_broker(topics=("T",), lock_expiry=0.05)
async def test_a_lock_not_renewed_within_the_expiry_goes_to_another_client(broker: LocalBroker) -> None:
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    assert await lock(peer, "c1", 0) == [0]
    assert await eventually(lambda: broker.lock_holder("CG", "T", 0) is None)
    assert await lock(peer, "c2", 0) == [0]
    assert broker.lock_holder("CG", "T", 0) == "c2"
    await peer.close()


def resend_request(body: bytes, reconsume_times: int, max_reconsume_times: int, **props: str) -> RemotingCommand:
    """The client's fallback when the send-back failed: its inner producer
    sends the message to ``%RETRY%group`` itself (``DefaultMQPushConsumerImpl.sendMessageBack``)."""
    from rmqwire.codec.headers import SendMessageRequestHeader
    from rmqwire.codec.message import encode_properties

    header = SendMessageRequestHeader(
        producer_group="CLIENT_INNER_PRODUCER", topic=RETRY, queue_id=0, sys_flag=0, born_timestamp=1, flag=0,
        properties=encode_properties({"RETRY_TOPIC": "T", **props}), reconsume_times=reconsume_times,
        max_reconsume_times=max_reconsume_times,
    )
    return header.to_request(body, v2=True)


@with_broker(topics=("T",), delay_scale=0.01)
async def test_a_consumers_own_resend_to_the_retry_topic_goes_to_the_dlq_after_max_reconsume_times(broker: LocalBroker) -> None:
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    await peer.heartbeat("c1", "CG", {"T": "*"})  # the retry topic exists from the heartbeat
    again = await peer.call(resend_request(b"again", 1, 16, DELAY="4"))
    assert again.code == ResponseCode.SUCCESS
    assert broker.messages("SCHEDULE_TOPIC_XXXX")[-1].queue_id == 3  # delayed as asked, then to the retry topic
    assert await eventually(lambda: len(broker.messages(RETRY)) == 1)
    dead = await peer.call(resend_request(b"dead", 16, 16, DELAY="19"))
    assert (dead.code, dead.ext_fields["queueId"]) == (ResponseCode.SUCCESS, "0")
    (letter,) = broker.messages(DLQ)
    assert (letter.payload, letter.reconsume_times, letter.properties["DELAY"]) == (b"dead", 16, "0")
    await peer.close()
