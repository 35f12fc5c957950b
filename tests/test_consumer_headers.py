"""The consumer, offset, transaction and reply headers, and the lock and
consumer-list bodies, against the Java 4.9.8 classes and the real Java
client's frames.

Provenance: the key tables are read from the Java classes in
``org.apache.rocketmq.common.protocol.header`` at tag rocketmq-all-4.9.8
(field order, type, ``@CFNotNull``; ``bname`` from ``RpcRequestHeader``).
The literal ext-field examples are copied from golden
``java-broker-4.9.8.jsonl`` / ``java-broker-4.9.8-tx-order-ns.jsonl``
(real 4.9.8 Java client and broker), seq numbers given in each test.
None of these headers has a V2 (one-letter) form in Java.
"""

from __future__ import annotations

import pytest

from rmqwire.codec import (
    BrokerError,
    ConsumerNotOnlineError,
    EncodeError,
    MalformedBodyError,
    MalformedHeaderError,
    MessageSysFlag,
    MissingHeaderFieldError,
    PullSysFlag,
    QueryNotFoundError,
    RequestCode,
    ResponseCode,
    SubscriptionError,
    SubscriptionNotLatestError,
    decode,
    encode,
)
from rmqwire.codec.body import (
    GetConsumerListByGroupResponseBody,
    LockBatchRequestBody,
    LockBatchResponseBody,
    MessageQueueData,
    UnlockBatchRequestBody,
)
from rmqwire.codec.headers import (
    CheckTransactionStateRequestHeader,
    ConsumeMessageDirectlyResultRequestHeader,
    ConsumerSendMsgBackRequestHeader,
    CustomHeader,
    EndTransactionRequestHeader,
    GetConsumerListByGroupRequestHeader,
    GetConsumerRunningInfoRequestHeader,
    GetEarliestMsgStoretimeRequestHeader,
    GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader,
    GetMaxOffsetResponseHeader,
    GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader,
    NotifyConsumerIdsChangedRequestHeader,
    PullMessageRequestHeader,
    PullMessageResponseHeader,
    QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader,
    ReplyMessageRequestHeader,
    SearchOffsetRequestHeader,
    SearchOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
)

# --------------------------------------------------------------------------- spec tables

# (Java field, attribute, Java type, @CFNotNull), in Java declaration order;
# "bname" last where the class extends RpcRequestHeader.
S, I, L, B = str, "int32", "int64", bool
TABLES: dict[type[CustomHeader], tuple[int | None, list[tuple[str, str, object, bool]]]] = {
    PullMessageRequestHeader: (11, [
        ("consumerGroup", "consumer_group", S, True),
        ("topic", "topic", S, True),
        ("queueId", "queue_id", I, True),
        ("queueOffset", "queue_offset", L, True),
        ("maxMsgNums", "max_msg_nums", I, True),
        ("sysFlag", "sys_flag", I, True),
        ("commitOffset", "commit_offset", L, True),
        ("suspendTimeoutMillis", "suspend_timeout_millis", L, True),
        ("subscription", "subscription", S, False),
        ("subVersion", "sub_version", L, True),
        ("expressionType", "expression_type", S, False),
        ("bname", "broker_name", S, False),
    ]),
    PullMessageResponseHeader: (None, [
        ("suggestWhichBrokerId", "suggest_which_broker_id", L, True),
        ("nextBeginOffset", "next_begin_offset", L, True),
        ("minOffset", "min_offset", L, True),
        ("maxOffset", "max_offset", L, True),
    ]),
    QueryConsumerOffsetRequestHeader: (14, [
        ("consumerGroup", "consumer_group", S, True),
        ("topic", "topic", S, True),
        ("queueId", "queue_id", I, True),
        ("bname", "broker_name", S, False),
    ]),
    QueryConsumerOffsetResponseHeader: (None, [("offset", "offset", L, True)]),
    UpdateConsumerOffsetRequestHeader: (15, [
        ("consumerGroup", "consumer_group", S, True),
        ("topic", "topic", S, True),
        ("queueId", "queue_id", I, True),
        ("commitOffset", "commit_offset", L, True),
        ("bname", "broker_name", S, False),
    ]),
    SearchOffsetRequestHeader: (29, [
        ("topic", "topic", S, True),
        ("queueId", "queue_id", I, True),
        ("timestamp", "timestamp", L, True),
        ("bname", "broker_name", S, False),
    ]),
    SearchOffsetResponseHeader: (None, [("offset", "offset", L, True)]),
    GetMaxOffsetRequestHeader: (30, [
        ("topic", "topic", S, True),
        ("queueId", "queue_id", I, True),
        ("bname", "broker_name", S, False),
    ]),
    GetMaxOffsetResponseHeader: (None, [("offset", "offset", L, True)]),
    GetMinOffsetRequestHeader: (31, [
        ("topic", "topic", S, True),
        ("queueId", "queue_id", I, True),
        ("bname", "broker_name", S, False),
    ]),
    GetMinOffsetResponseHeader: (None, [("offset", "offset", L, True)]),
    GetEarliestMsgStoretimeRequestHeader: (32, [
        ("topic", "topic", S, True),
        ("queueId", "queue_id", I, True),
        ("bname", "broker_name", S, False),
    ]),
    GetEarliestMsgStoretimeResponseHeader: (None, [("timestamp", "timestamp", L, True)]),
    ConsumerSendMsgBackRequestHeader: (36, [
        ("offset", "offset", L, True),
        ("group", "group", S, True),
        ("delayLevel", "delay_level", I, True),
        ("originMsgId", "origin_msg_id", S, False),
        ("originTopic", "origin_topic", S, False),
        ("unitMode", "unit_mode", B, False),
        ("maxReconsumeTimes", "max_reconsume_times", I, False),
        ("bname", "broker_name", S, False),
    ]),
    EndTransactionRequestHeader: (37, [
        ("producerGroup", "producer_group", S, True),
        ("tranStateTableOffset", "tran_state_table_offset", L, True),
        ("commitLogOffset", "commit_log_offset", L, True),
        ("commitOrRollback", "commit_or_rollback", I, True),
        ("fromTransactionCheck", "from_transaction_check", B, False),
        ("msgId", "msg_id", S, True),
        ("transactionId", "transaction_id", S, False),
        ("bname", "broker_name", S, False),
    ]),
    GetConsumerListByGroupRequestHeader: (38, [("consumerGroup", "consumer_group", S, True)]),
    CheckTransactionStateRequestHeader: (39, [
        ("tranStateTableOffset", "tran_state_table_offset", L, True),
        ("commitLogOffset", "commit_log_offset", L, True),
        ("msgId", "msg_id", S, False),
        ("transactionId", "transaction_id", S, False),
        ("offsetMsgId", "offset_msg_id", S, False),
        ("bname", "broker_name", S, False),
    ]),
    NotifyConsumerIdsChangedRequestHeader: (40, [("consumerGroup", "consumer_group", S, True)]),
    GetConsumerRunningInfoRequestHeader: (307, [
        ("consumerGroup", "consumer_group", S, True),
        ("clientId", "client_id", S, True),
        ("jstackEnable", "jstack_enable", B, False),
    ]),
    ConsumeMessageDirectlyResultRequestHeader: (309, [
        ("consumerGroup", "consumer_group", S, True),
        ("clientId", "client_id", S, False),
        ("msgId", "msg_id", S, False),
        ("brokerName", "broker_name", S, False),
    ]),
    ReplyMessageRequestHeader: (326, [
        ("producerGroup", "producer_group", S, True),
        ("topic", "topic", S, True),
        ("defaultTopic", "default_topic", S, True),
        ("defaultTopicQueueNums", "default_topic_queue_nums", I, True),
        ("queueId", "queue_id", I, True),
        ("sysFlag", "sys_flag", I, True),
        ("bornTimestamp", "born_timestamp", L, True),
        ("flag", "flag", I, True),
        ("properties", "properties", S, False),
        ("reconsumeTimes", "reconsume_times", I, False),
        ("unitMode", "unit_mode", B, False),
        ("bornHost", "born_host", S, True),
        ("storeHost", "store_host", S, True),
        ("storeTimestamp", "store_timestamp", L, True),
    ]),
}

HEADERS = list(TABLES)


def _sample(kind: object) -> str:
    return {S: "x", I: "-7", L: "9000000000", B: "true"}[kind]  # type: ignore[index]


def _full_fields(cls: type[CustomHeader]) -> dict[str, str]:
    return {name: _sample(kind) for name, _, kind, _ in TABLES[cls][1]}


@pytest.mark.parametrize("cls", HEADERS, ids=lambda c: c.__name__)
def test_wire_table_is_the_java_class(cls: type[CustomHeader]) -> None:
    code, table = TABLES[cls]
    rows = cls.WIRE.rows
    assert [(r.name, r.attr, r.required) for r in rows] == [(n, a, req) for n, a, _, req in table]
    for row, (_, _, kind, _) in zip(rows, table):
        expected = {S: (str, 32), I: (int, 32), L: (int, 64), B: (bool, 32)}[kind]  # type: ignore[index]
        assert (row.type, row.bits if row.type is int else 32) == expected, row
    assert all(row.letter is None for row in rows)  # no V2 form in Java
    assert cls.REQUEST_CODE == code
    if code is not None:
        assert dict(cls.DECODE_CODES or {}) == {code: False}


@pytest.mark.parametrize("cls", HEADERS, ids=lambda c: c.__name__)
def test_every_field_round_trips(cls: type[CustomHeader]) -> None:
    fields = _full_fields(cls)
    header = cls.from_ext_fields(fields)
    assert header.to_ext_fields() == fields
    assert list(header.to_ext_fields()) == [name for name, *_ in TABLES[cls][1]]


@pytest.mark.parametrize(
    ("cls", "missing"),
    [(cls, name) for cls in HEADERS for name, _, _, required in TABLES[cls][1] if required],
    ids=lambda v: v.__name__ if isinstance(v, type) else v,
)
def test_a_missing_required_field_is_our_error(cls: type[CustomHeader], missing: str) -> None:
    fields = _full_fields(cls)
    del fields[missing]
    with pytest.raises(MissingHeaderFieldError) as info:
        cls.from_ext_fields(fields)
    assert info.value.field == missing and info.value.header == cls.__name__


@pytest.mark.parametrize("cls", HEADERS, ids=lambda c: c.__name__)
def test_optional_fields_missing_decode_to_none_and_stay_absent(cls: type[CustomHeader]) -> None:
    fields = {name: _sample(kind) for name, _, kind, required in TABLES[cls][1] if required}
    header = cls.from_ext_fields(fields)
    for name, attr, _, required in TABLES[cls][1]:
        if not required:
            assert getattr(header, attr) is None, name
    assert header.to_ext_fields() == fields


@pytest.mark.parametrize("cls", HEADERS, ids=lambda c: c.__name__)
def test_no_v2_form(cls: type[CustomHeader]) -> None:
    with pytest.raises(TypeError):
        cls.from_ext_fields(_full_fields(cls), v2=True)


def test_integer_fields_are_range_checked_both_ways() -> None:
    fields = _full_fields(PullMessageRequestHeader)
    with pytest.raises(MissingHeaderFieldError):
        PullMessageRequestHeader.from_ext_fields({**fields, "queueId": str(2**31)})
    with pytest.raises(MissingHeaderFieldError):
        PullMessageRequestHeader.from_ext_fields({**fields, "queueOffset": "12a"})
    header = PullMessageRequestHeader.from_ext_fields(fields)
    with pytest.raises(EncodeError):
        type(header)(**{**{a: getattr(header, a) for a in (r.attr for r in header.WIRE.rows)}, "queue_id": 2**31}).to_ext_fields()


def test_from_command_refuses_another_code() -> None:
    cmd = GetMaxOffsetRequestHeader(topic="t", queue_id=0).to_request()
    with pytest.raises(MalformedHeaderError):
        GetMinOffsetRequestHeader.from_command(cmd)


# --------------------------------------------------------------------------- the real Java client


def test_pull_request_as_the_java_push_consumer_sends_it() -> None:
    # java-broker-4.9.8.jsonl seq 69 (sysFlag 2 = SUSPEND: long polling, no commit, no subscription)
    ext = {
        "queueId": "1", "maxMsgNums": "32", "sysFlag": "2", "suspendTimeoutMillis": "15000",
        "commitOffset": "0", "bname": "broker-a", "topic": "GoldenJava6027", "queueOffset": "0",
        "expressionType": "TAG", "subVersion": "1796297902414", "consumerGroup": "GOLDEN_JAVA_CG",
    }
    header = PullMessageRequestHeader.from_ext_fields(ext)
    assert header == PullMessageRequestHeader(
        consumer_group="GOLDEN_JAVA_CG", topic="GoldenJava6027", queue_id=1, queue_offset=0,
        max_msg_nums=32, sys_flag=PullSysFlag.SUSPEND, commit_offset=0, suspend_timeout_millis=15000,
        subscription=None, sub_version=1796297902414, expression_type="TAG", broker_name="broker-a",
    )
    assert header.to_ext_fields() == ext
    assert header.to_request().code == RequestCode.PULL_MESSAGE == 11


def test_pull_response_header_as_the_java_broker_sends_it() -> None:
    # java-broker-4.9.8.jsonl, the answer to seq 69 (remark "FOUND")
    ext = {"suggestWhichBrokerId": "0", "nextBeginOffset": "3", "maxOffset": "3", "minOffset": "0"}
    header = PullMessageResponseHeader.from_ext_fields(ext)
    assert (header.suggest_which_broker_id, header.next_begin_offset, header.min_offset, header.max_offset) == (0, 3, 0, 3)
    assert header.to_ext_fields() == ext


def test_offset_headers_as_the_java_client_sends_them() -> None:
    # seq 58 (14), seq 97 (15, oneway), seq 124 (31, with the client's extra "ReqT" key)
    q = QueryConsumerOffsetRequestHeader.from_ext_fields(
        {"queueId": "1", "bname": "broker-a", "topic": "GoldenJava6027", "consumerGroup": "GOLDEN_JAVA_CG"}
    )
    assert (q.consumer_group, q.topic, q.queue_id, q.broker_name) == ("GOLDEN_JAVA_CG", "GoldenJava6027", 1, "broker-a")
    u = UpdateConsumerOffsetRequestHeader.from_ext_fields(
        {"queueId": "1", "bname": "broker-a", "commitOffset": "3", "topic": "GoldenJava6027", "consumerGroup": "GOLDEN_JAVA_CG"}
    )
    assert u.commit_offset == 3
    m = GetMinOffsetRequestHeader.from_ext_fields({"ReqT": "0", "queueId": "0", "bname": "broker-a", "topic": "GoldenJava6027"})
    assert m.to_ext_fields() == {"topic": "GoldenJava6027", "queueId": "0", "bname": "broker-a"}
    assert QueryConsumerOffsetResponseHeader.from_ext_fields({"offset": "0"}).offset == 0
    assert GetMaxOffsetResponseHeader.from_ext_fields({"offset": "3"}).offset == 3


def test_send_back_as_the_java_consumer_sends_it() -> None:
    # java-broker-4.9.8.jsonl seq 91: delay level 0 lets the broker pick 3 + reconsumeTimes
    ext = {
        "maxReconsumeTimes": "16", "offset": "1781710", "bname": "broker-a", "delayLevel": "0",
        "originTopic": "GoldenJava6027", "originMsgId": "FD00000000000000000000000000000272435FFD2B270CCBFE9B0000",
        "unitMode": "false", "group": "GOLDEN_JAVA_CG",
    }
    header = ConsumerSendMsgBackRequestHeader.from_ext_fields(ext)
    assert header.offset == 1781710 and header.delay_level == 0 and header.unit_mode is False
    assert header.max_reconsume_times == 16 and header.origin_topic == "GoldenJava6027"
    assert header.to_ext_fields() == ext


def test_end_and_check_transaction_as_the_java_peers_send_them() -> None:
    # java-broker-4.9.8-tx-order-ns.jsonl seq 11 (producer, oneway) and seq 20 (broker, oneway)
    end = EndTransactionRequestHeader.from_ext_fields({
        "producerGroup": "GOLDEN_TX_PG", "bname": "broker-a", "commitLogOffset": "36343457",
        "msgId": "FD0000000000000000000000000000022FFE5FFD2B270CF31B090000", "tranStateTableOffset": "0",
        "commitOrRollback": "8", "fromTransactionCheck": "false",
    })
    assert end.commit_or_rollback == MessageSysFlag.TRANSACTION_COMMIT_TYPE
    assert end.from_transaction_check is False and end.transaction_id is None
    check = CheckTransactionStateRequestHeader.from_ext_fields({
        "commitLogOffset": "36545660", "msgId": "FD0000000000000000000000000000022FFE5FFD2B270CF31B1F0002",
        "tranStateTableOffset": "3", "offsetMsgId": "7F00000100002A9F00000000022DA47C",
        "transactionId": "FD0000000000000000000000000000022FFE5FFD2B270CF31B1F0002",
    })
    assert check.commit_log_offset == 36545660 and check.broker_name is None
    assert check.offset_msg_id == "7F00000100002A9F00000000022DA47C"


def test_notify_consumer_ids_changed_is_a_oneway_broker_request() -> None:
    # java-broker-4.9.8.jsonl seq 55: flag 2 (oneway), broker to client
    cmd = NotifyConsumerIdsChangedRequestHeader(consumer_group="GOLDEN_JAVA_CG").to_request(oneway=True)
    back = decode(encode(cmd))
    assert back.code == 40 and back.is_oneway
    assert NotifyConsumerIdsChangedRequestHeader.from_command(back).consumer_group == "GOLDEN_JAVA_CG"


# --------------------------------------------------------------------------- bodies

LOCK_BODY = (  # java-broker-4.9.8-tx-order-ns.jsonl seq 69
    b'{"clientId":"192.0.2.2@oc-27376335733158","consumerGroup":"GOLDEN_ORDER_CG",'
    b'"mqSet":[{"brokerName":"broker-a","queueId":0,"topic":"GoldenOrder13498"}]}'
)
LOCK_ANSWER = b'{"lockOKMQSet":[{"brokerName":"broker-a","queueId":0,"topic":"GoldenOrder13498"}]}'


def test_lock_batch_bodies_byte_for_byte() -> None:
    request = LockBatchRequestBody.from_json(LOCK_BODY)
    mq = MessageQueueData("GoldenOrder13498", "broker-a", 0)
    assert request == LockBatchRequestBody("GOLDEN_ORDER_CG", "192.0.2.2@oc-27376335733158", (mq,))
    assert request.only_this_broker is None  # 4.9.8 has no such field
    assert request.to_json() == LOCK_BODY
    answer = LockBatchResponseBody.from_json(LOCK_ANSWER)
    assert answer.lock_ok_mq_set == (mq,) and answer.to_json() == LOCK_ANSWER
    unlock = UnlockBatchRequestBody.from_json(LOCK_BODY)
    assert unlock.to_json() == LOCK_BODY


def test_lock_batch_request_keeps_the_5x_only_this_broker() -> None:
    body = LockBatchRequestBody("g", "c", (), only_this_broker=True)
    assert b'"onlyThisBroker":true' in body.to_json()
    assert LockBatchRequestBody.from_json(body.to_json()) == body


def test_consumer_list_body_byte_for_byte() -> None:
    data = b'{"consumerIdList":["192.0.2.2@pc-24805419260002"]}'  # java-broker-4.9.8.jsonl, answer to seq 54
    body = GetConsumerListByGroupResponseBody.from_json(data)
    assert body.consumer_id_list == ("192.0.2.2@pc-24805419260002",)
    assert body.to_json() == data
    assert GetConsumerListByGroupResponseBody.from_json(b"{}").consumer_id_list == ()


@pytest.mark.parametrize(
    "data",
    [b"", b"[]", b'{"consumerIdList":"x"}', b'{"consumerIdList":[1]}', b"\xff"],
)
def test_bad_consumer_list_body_is_our_error(data: bytes) -> None:
    with pytest.raises(MalformedBodyError):
        GetConsumerListByGroupResponseBody.from_json(data)


@pytest.mark.parametrize(
    "data", [b'{"mqSet":[{"brokerName":"b","topic":"t"}]}', b'{"mqSet":[3]}', b'{"mqSet":{}}', b"{", b"[]"]
)
def test_bad_lock_request_body_is_our_error(data: bytes) -> None:
    with pytest.raises(MalformedBodyError):
        LockBatchRequestBody.from_json(data)
    with pytest.raises(MalformedBodyError):
        UnlockBatchRequestBody.from_json(data)


@pytest.mark.parametrize(
    "data", [b'{"lockOKMQSet":[{"brokerName":"b","queueId":"x","topic":"t"}]}', b'{"lockOKMQSet":{}}', b"\xff"]
)
def test_bad_lock_response_body_is_our_error(data: bytes) -> None:
    with pytest.raises(MalformedBodyError):
        LockBatchResponseBody.from_json(data)


def test_lock_body_with_wrong_types_is_an_encode_error() -> None:
    with pytest.raises(EncodeError):
        LockBatchRequestBody("g", "c", (("t", "b", 0),)).to_json()  # type: ignore[arg-type]


# --------------------------------------------------------------------------- codes and errors


def test_codes_match_java() -> None:
    assert {m.name: m.value for m in RequestCode if m.value in (14, 15, 29, 31, 32, 33, 41, 42)} == {
        "QUERY_CONSUMER_OFFSET": 14, "UPDATE_CONSUMER_OFFSET": 15, "SEARCH_OFFSET_BY_TIMESTAMP": 29,
        "GET_MIN_OFFSET": 31, "GET_EARLIEST_MSG_STORETIME": 32, "VIEW_MESSAGE_BY_ID": 33,
        "LOCK_BATCH_MQ": 41, "UNLOCK_BATCH_MQ": 42,
    }
    assert [ResponseCode(v).name for v in range(19, 29)] == [
        "PULL_NOT_FOUND", "PULL_RETRY_IMMEDIATELY", "PULL_OFFSET_MOVED", "QUERY_NOT_FOUND",
        "SUBSCRIPTION_PARSE_FAILED", "SUBSCRIPTION_NOT_EXIST", "SUBSCRIPTION_NOT_LATEST",
        "SUBSCRIPTION_GROUP_NOT_EXIST", "FILTER_DATA_NOT_EXIST", "FILTER_DATA_NOT_LATEST",
    ]
    assert [ResponseCode(v).name for v in range(200, 208)] == [
        "TRANSACTION_SHOULD_COMMIT", "TRANSACTION_SHOULD_ROLLBACK", "TRANSACTION_STATE_UNKNOW",
        "TRANSACTION_STATE_GROUP_WRONG", "NO_BUYER_ID", "NOT_IN_CURRENT_UNIT", "CONSUMER_NOT_ONLINE",
        "CONSUME_MSG_TIMEOUT",
    ]
    assert [int(f) for f in PullSysFlag] == [0x1, 0x2, 0x4, 0x8, 0x10]


def test_consumer_codes_map_to_errors() -> None:
    assert type(BrokerError.for_code(22, "no offset")) is QueryNotFoundError
    err = BrokerError.for_code(25, "not latest")
    assert isinstance(err, SubscriptionNotLatestError) and isinstance(err, SubscriptionError) and err.retriable
    assert type(BrokerError.for_code(206)) is ConsumerNotOnlineError
    # pull statuses are not failures: no class, the fallback keeps the code
    status = BrokerError.for_code(ResponseCode.PULL_NOT_FOUND)
    assert type(status) is BrokerError and status.code == 19
