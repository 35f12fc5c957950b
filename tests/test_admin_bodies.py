"""The bodies a client answers operators' requests with:
GET_CONSUMER_RUNNING_INFO (307) -> ``ConsumerRunningInfo`` and
CONSUME_MESSAGE_DIRECTLY (309) -> ``ConsumeMessageDirectlyResult``.

Provenance: the shapes are derived from the 4.9.8 Java classes
(``common/protocol/body/ConsumerRunningInfo.java``, ``ProcessQueueInfo.java``,
``ConsumeStatus.java``, ``ConsumeMessageDirectlyResult.java``, ``CMResult.java``)
as fastjson serialises getters (sorted keys, nulls omitted); the object-keyed
``mqTable`` is fastjson's way with non-String map keys, the same form as the
``offsetTable`` quoted in apache/rocketmq issue #3389.  The double format is
Java's ``Double.toString``.  No golden session holds these bodies.
"""

from __future__ import annotations

import pytest

from rmqwire.codec import (
    CMResult,
    ConsumeMessageDirectlyResult,
    ConsumerRunningInfo,
    ConsumeStatus,
    EncodeError,
    MalformedBodyError,
    MessageQueueData,
    ProcessQueueInfo,
    build_subscription,
)
from rmqwire.codec.body.running_info import PROP_CONSUME_ORDERLY, java_double

FASTJSON_TEXT = (
    b'{"mqTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"cachedMsgCount":2,"cachedMsgMaxOffset":9,'
    b'"cachedMsgMinOffset":8,"cachedMsgSizeInMiB":0,"commitOffset":8,"droped":false,"lastConsumeTimestamp":1700000000000,'
    b'"lastLockTimestamp":0,"lastPullTimestamp":1700000000001,"locked":true,"transactionMsgCount":0,'
    b'"transactionMsgMaxOffset":0,"transactionMsgMinOffset":0,"tryUnlockTimes":0}},'
    b'"properties":{"PROP_CONSUMEORDERLY":"true","PROP_CONSUME_TYPE":"CONSUME_PASSIVELY"},'
    b'"statusTable":{"T":{"consumeFailedMsgs":0,"consumeFailedTPS":0.0,"consumeOKTPS":1.5E-4,"consumeRT":12.25,'
    b'"pullRT":1.0E7,"pullTPS":0.0}},'
    b'"subscriptionSet":[{"classFilterMode":false,"codeSet":[2598919],"expressionType":"TAG","subString":"TagA",'
    b'"subVersion":1700000000000,"tagsSet":["TagA"],"topic":"T"}]}'
)


def test_running_info_reads_and_writes_fastjson_object_keys() -> None:
    info = ConsumerRunningInfo.from_json(FASTJSON_TEXT)
    mq = MessageQueueData("T", "broker-a", 0)
    assert list(info.mq_table) == [mq]
    pq = info.mq_table[mq]
    assert (pq.cached_msg_count, pq.commit_offset, pq.locked, pq.droped) == (2, 8, True, False)
    assert info.properties[PROP_CONSUME_ORDERLY] == "true"
    assert info.status_table["T"] == ConsumeStatus(consume_ok_tps=1.5e-4, consume_rt=12.25, pull_rt=1e7)
    assert info.subscription_set == (build_subscription("T", "TagA", sub_version=1700000000000),)
    assert info.jstack is None
    assert info.to_json() == FASTJSON_TEXT


def test_mq_table_is_written_in_message_queue_order() -> None:
    table = {MessageQueueData("b", "x", 1): ProcessQueueInfo(), MessageQueueData("a", "y", 3): ProcessQueueInfo(),
             MessageQueueData("a", "y", 2): ProcessQueueInfo()}
    text = ConsumerRunningInfo(mq_table=table, jstack="dump").to_json()
    assert text.startswith(b'{"jstack":"dump","mqTable":{{"brokerName":"y","queueId":2,"topic":"a"}:')
    back = ConsumerRunningInfo.from_json(text)
    assert list(back.mq_table) == sorted(table, key=lambda m: (m.topic, m.broker_name, m.queue_id))
    assert back.jstack == "dump"


@pytest.mark.parametrize(
    ("value", "java"),
    [(0.0, "0.0"), (-0.0, "-0.0"), (1.0, "1.0"), (0.001, "0.001"), (1e-4, "1.0E-4"), (123.456, "123.456"),
     (9999999.0, "9999999.0"), (1e7, "1.0E7"), (12345678.9, "1.23456789E7"), (-2.5e-9, "-2.5E-9"),
     (float("nan"), "null"), (float("inf"), "null")],
)
def test_doubles_as_java_writes_them(value: float, java: str) -> None:
    assert java_double(value) == java


@pytest.mark.parametrize(
    "data",
    [b"", b"[]", b'{"mqTable":{"x":{}}}', b'{"mqTable":{{"topic":"t"}:{}}}', b'{"mqTable":{{"a":[1]}:{}}}',
     b'{"statusTable":{"T":{"pullRT":"fast"}}}', b'{"properties":{"a":[1]}}', b'{"mqTable":{', b"{}x",
     b'{"subscriptionSet":[1]}', b"\xff", b"{" * 100 + b"}" * 100],
)
def test_bad_running_info_is_our_error(data: bytes) -> None:
    with pytest.raises(MalformedBodyError):
        ConsumerRunningInfo.from_json(data)


def test_running_info_of_wrong_types_is_an_encode_error() -> None:
    with pytest.raises(EncodeError):
        ConsumerRunningInfo(mq_table={("t", "b", 0): ProcessQueueInfo()}).to_json()  # type: ignore[dict-item]
    with pytest.raises(EncodeError):
        ConsumerRunningInfo(status_table={"T": ConsumeStatus(pull_rt="x")}).to_json()  # type: ignore[arg-type]
    with pytest.raises(EncodeError):
        ConsumerRunningInfo(mq_table={MessageQueueData("t", "b", 0): ProcessQueueInfo(commit_offset=2**63)}).to_json()


def test_consume_message_directly_result() -> None:
    result = ConsumeMessageDirectlyResult(CMResult.CR_SUCCESS, spent_time_mills=5)
    assert result.to_json() == b'{"autoCommit":true,"consumeResult":"CR_SUCCESS","order":false,"spentTimeMills":5}'
    assert ConsumeMessageDirectlyResult.from_json(result.to_json()) == result
    later = ConsumeMessageDirectlyResult(CMResult.CR_THROW_EXCEPTION, order=True, auto_commit=False, remark="boom")
    assert ConsumeMessageDirectlyResult.from_json(later.to_json()) == later
    assert ConsumeMessageDirectlyResult.from_json(b"{}") == ConsumeMessageDirectlyResult()


@pytest.mark.parametrize("data", [b'{"consumeResult":"CR_MAYBE"}', b'{"order":"perhaps"}', b"[", b'{"spentTimeMills":1.5}'])
def test_bad_consume_directly_result_is_our_error(data: bytes) -> None:
    with pytest.raises(MalformedBodyError):
        ConsumeMessageDirectlyResult.from_json(data)
