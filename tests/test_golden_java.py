"""The real Java sessions of the corpus: ``specs/golden/java-broker-4.9.8*.msgpack``.

Built by ``specs/build_corpus.py`` from ``shared/golden/java-broker-4.9.8.jsonl``
and ``java-broker-4.9.8-tx-order-ns.jsonl``: the Apache RocketMQ 4.9.8 Java
client (producer, push and pull consumers, transactions, orderly consumption,
a namespace) talking to a real 4.9.8 name server and broker, both directions
real.  ``test_golden.py`` replays every frame the generic ways (decode, the
stream decoder whole / byte at a time / followed by another frame, re-encode,
the three schema forms); this module checks what is Java-specific: that the
session is what its README says, and that each frame whose code has a typed
header or body parses into it and writes back the same fields (bodies byte
for byte).  The stored-message records of pull bodies are checked elsewhere
(``codec.store``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from rmqwire.codec import (
    BrokerError,
    FrameDecoder,
    GetConsumerListByGroupResponseBody,
    HeartbeatData,
    LockBatchRequestBody,
    LockBatchResponseBody,
    PullSysFlag,
    RemotingCommand,
    SubscriptionNotLatestError,
    TopicNotExistError,
    TopicRouteData,
    UnlockBatchRequestBody,
    decode,
    encode,
)
from rmqwire.codec.headers import (
    CheckTransactionStateRequestHeader,
    ConsumerSendMsgBackRequestHeader,
    CustomHeader,
    EndTransactionRequestHeader,
    GetConsumerListByGroupRequestHeader,
    GetMaxOffsetRequestHeader,
    GetMaxOffsetResponseHeader,
    GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader,
    GetRouteInfoRequestHeader,
    NotifyConsumerIdsChangedRequestHeader,
    PullMessageRequestHeader,
    PullMessageResponseHeader,
    QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader,
    SendMessageRequestHeader,
    SendMessageResponseHeader,
    UnregisterClientRequestHeader,
    UpdateConsumerOffsetRequestHeader,
)
from rmqwire.codec.message import MessageSysFlag
from rmqwire.codec.trace import TraceRecord, command_from_expect, expect_from_command, unpack_records

from golden_support import golden_records

GOLDEN = Path(__file__).resolve().parent.parent / "specs" / "golden"
SESSIONS = {
    "java-broker-4.9.8.msgpack": "java-broker-4.9.8.jsonl",
    "java-broker-4.9.8-tx-order-ns.msgpack": "java-broker-4.9.8-tx-order-ns.jsonl",
}
LOADED = {name: list(unpack_records((GOLDEN / name).read_bytes())) for name in SESSIONS}
ALL = [record for records in LOADED.values() for record in records]
BY_NAME = {(name, r.seq): r for name, records in LOADED.items() for r in records}

REQUEST_HEADERS: dict[int, type[CustomHeader]] = {
    11: PullMessageRequestHeader,
    14: QueryConsumerOffsetRequestHeader,
    15: UpdateConsumerOffsetRequestHeader,
    30: GetMaxOffsetRequestHeader,
    31: GetMinOffsetRequestHeader,
    35: UnregisterClientRequestHeader,
    36: ConsumerSendMsgBackRequestHeader,
    37: EndTransactionRequestHeader,
    38: GetConsumerListByGroupRequestHeader,
    39: CheckTransactionStateRequestHeader,
    40: NotifyConsumerIdsChangedRequestHeader,
    105: GetRouteInfoRequestHeader,
    310: SendMessageRequestHeader,
}
# request code -> (response header, the response codes that carry it)
RESPONSE_HEADERS: dict[int, tuple[type[CustomHeader], frozenset[int]]] = {
    11: (PullMessageResponseHeader, frozenset({0, 19, 20, 21})),
    14: (QueryConsumerOffsetResponseHeader, frozenset({0})),
    30: (GetMaxOffsetResponseHeader, frozenset({0})),
    31: (GetMinOffsetResponseHeader, frozenset({0})),
    310: (SendMessageResponseHeader, frozenset({0})),
}
# keys the 4.9.8 client adds that no header class declares (MixAll.REQ_T)
UNDECLARED_KEYS = {"ReqT"}


def _ids(records: list[TraceRecord]) -> list[str]:
    return [r.name for r in records]


def _request_of(record: TraceRecord) -> TraceRecord | None:
    for name, records in LOADED.items():
        if record in records:
            return None if record.in_reply_to is None else BY_NAME[(name, record.in_reply_to)]
    raise AssertionError(record.name)


def _declared(header: type[CustomHeader], ext_fields: Mapping[str, str], v2: bool) -> dict[str, str]:
    keys = {key for key, _ in (header.WIRE.v2 if v2 else header.WIRE.v1)}
    return {k: v for k, v in ext_fields.items() if k in keys}


# --------------------------------------------------------------------------- the sessions


def test_sessions_are_what_the_readme_says() -> None:
    first, second = LOADED.values()
    assert (len(first), len(second)) == (151, 268)
    for records in LOADED.values():
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        assert len({r.name for r in records}) == len(records)
    codes = lambda records: {decode(r.wire).code for r in records if not decode(r.wire).is_response}  # noqa: E731
    assert codes(first) == {105, 310, 34, 35, 38, 40, 14, 15, 11, 36, 30, 31}
    assert codes(second) == {105, 310, 34, 35, 38, 40, 14, 15, 11, 37, 39, 41, 42}
    replies = lambda records: {decode(r.wire).code for r in records if decode(r.wire).is_response}  # noqa: E731
    assert replies(first) == {0, 17} and replies(second) == {0, 17, 25}


def test_every_record_carries_provenance() -> None:
    for name, records in LOADED.items():
        for record in records:
            source = record.provenance["source"]
            assert source.startswith("captured: ") and "4.9.8" in source, record.name
            assert record.provenance["file"] == f"shared/golden/{SESSIONS[name]}"
            assert record.provenance["line"] == record.seq
            assert record.expect is not None and record.expect["language"] == "JAVA"


def test_only_the_empty_ext_fields_map_is_not_canonical() -> None:
    for record in ALL:
        header = record.wire[8 : 8 + int.from_bytes(record.wire[5:8], "big")]
        assert record.canonical == (b'"extFields":{}' not in header), record.name


def test_replies_answer_their_requests() -> None:
    for record in ALL:
        cmd = decode(record.wire)
        request = _request_of(record)
        if not cmd.is_response:
            assert request is None
            continue
        assert request is not None, record.name
        asked = decode(request.wire)
        assert not asked.is_response and not asked.is_oneway
        assert (asked.opaque, request.provenance["conn"]) == (cmd.opaque, record.provenance["conn"])
        assert request.direction != record.direction and request.seq < record.seq


@pytest.mark.parametrize("corpus", list(SESSIONS))
def test_cross_check_with_the_capture(corpus: str) -> None:
    rows = golden_records(SESSIONS[corpus])
    records = LOADED[corpus]
    assert len(rows) == len(records)
    for row, record in zip(rows, records):
        assert (record.seq, record.direction, record.role) == (row["seq"], row["direction"], row["port_role"])
        assert record.wire == bytes.fromhex(row["frame_hex"])
        cmd = decode(record.wire)
        assert (cmd.code, cmd.opaque, cmd.flag) == (row["code"], row["opaque"], row["flag"])


@pytest.mark.parametrize("record", ALL, ids=_ids(ALL))
def test_every_frame_decodes_and_round_trips(record: TraceRecord) -> None:
    # the same as test_golden.py's replay, kept here so this file stands alone
    cmd = decode(record.wire)
    assert expect_from_command(cmd) == record.expect
    assert cmd == command_from_expect(record.expect)  # type: ignore[arg-type]
    again = encode(cmd)
    assert decode(again) == cmd
    if record.canonical:
        assert again == record.wire
    decoder = FrameDecoder()
    half = len(record.wire) // 2
    assert decoder.feed(record.wire[:half]) + decoder.feed(record.wire[half:]) == [cmd]


# --------------------------------------------------------------------------- typed headers

HEADED = [r for r in ALL if not decode(r.wire).is_response and decode(r.wire).code in REQUEST_HEADERS]
ANSWERS = [
    r for r in ALL
    if decode(r.wire).is_response
    and (req := _request_of(r)) is not None
    and decode(req.wire).code in RESPONSE_HEADERS
    and decode(r.wire).code in RESPONSE_HEADERS[decode(req.wire).code][1]
]


@pytest.mark.parametrize("record", HEADED, ids=_ids(HEADED))
def test_request_header_parses_and_writes_back(record: TraceRecord) -> None:
    cmd = decode(record.wire)
    cls = REQUEST_HEADERS[cmd.code]
    header = cls.from_command(cmd)
    v2 = bool(cls.DECODE_CODES and cls.DECODE_CODES.get(cmd.code))
    written = header.to_ext_fields(v2) if isinstance(header, SendMessageRequestHeader) else header.to_ext_fields()
    assert written == _declared(cls, cmd.ext_fields, v2)
    assert set(cmd.ext_fields) - set(written) <= UNDECLARED_KEYS, record.name
    assert cls.from_ext_fields(written, v2=v2) == header


@pytest.mark.parametrize("record", ANSWERS, ids=_ids(ANSWERS))
def test_response_header_parses_and_writes_back(record: TraceRecord) -> None:
    cmd = decode(record.wire)
    request = _request_of(record)
    assert request is not None
    cls, _ = RESPONSE_HEADERS[decode(request.wire).code]
    header = cls.from_command(cmd)
    assert header.to_ext_fields() == dict(cmd.ext_fields)


def test_every_consumer_and_transaction_code_was_parsed() -> None:
    parsed = {decode(r.wire).code for r in HEADED}
    assert {11, 14, 15, 30, 31, 36, 37, 38, 39, 40} <= parsed
    answered = {decode(_request_of(r).wire).code for r in ANSWERS}  # type: ignore[union-attr]
    assert answered == {11, 14, 30, 31, 310}


def test_pull_requests_of_the_push_and_pull_consumers() -> None:
    pulls = [PullMessageRequestHeader.from_command(decode(r.wire)) for r in HEADED if decode(r.wire).code == 11]
    push = [p for p in pulls if p.consumer_group == "GOLDEN_JAVA_CG"]
    assert push and all(p.sys_flag & PullSysFlag.SUSPEND and p.suspend_timeout_millis == 15000 for p in push)
    assert all(p.max_msg_nums == 32 and p.expression_type == "TAG" and p.broker_name == "broker-a" for p in pulls)


def test_transactions_end_as_the_readme_says() -> None:
    ends = [EndTransactionRequestHeader.from_command(decode(r.wire)) for r in HEADED if decode(r.wire).code == 37]
    kinds = [(e.commit_or_rollback, e.from_transaction_check) for e in ends]
    assert kinds == [
        (MessageSysFlag.TRANSACTION_COMMIT_TYPE, False),
        (MessageSysFlag.TRANSACTION_ROLLBACK_TYPE, False),
        (MessageSysFlag.TRANSACTION_NOT_TYPE, False),
        (MessageSysFlag.TRANSACTION_COMMIT_TYPE, True),  # the checker's answer to the broker's 39
    ]
    assert all(e.producer_group == "GOLDEN_TX_PG" for e in ends)
    checks = [r for r in HEADED if decode(r.wire).code == 39]
    assert len(checks) == 1 and checks[0].direction == "server->client" and decode(checks[0].wire).is_oneway
    check = CheckTransactionStateRequestHeader.from_command(decode(checks[0].wire))
    assert check.transaction_id == ends[2].msg_id == ends[3].msg_id


def test_send_back_is_the_retry_of_the_readme() -> None:
    backs = [ConsumerSendMsgBackRequestHeader.from_command(decode(r.wire)) for r in HEADED if decode(r.wire).code == 36]
    assert len(backs) == 2
    assert all(b.group == "GOLDEN_JAVA_CG" and b.delay_level == 0 and b.max_reconsume_times == 16 for b in backs)


def test_error_replies_map_to_our_errors() -> None:
    codes = {decode(r.wire).code for r in ALL if decode(r.wire).is_response and decode(r.wire).code}
    assert codes == {17, 25}
    assert isinstance(BrokerError.for_code(17), TopicNotExistError)
    assert isinstance(BrokerError.for_code(25), SubscriptionNotLatestError)


# --------------------------------------------------------------------------- bodies


def _bodies(code: int, *, reply: bool) -> list[tuple[TraceRecord, RemotingCommand]]:
    out = []
    for record in ALL:
        cmd = decode(record.wire)
        if reply:
            request = _request_of(record)
            if request is None or decode(request.wire).code != code or cmd.code != 0:
                continue
        elif cmd.is_response or cmd.code != code:
            continue
        out.append((record, cmd))
    return out


def test_heartbeats_with_consumers_round_trip_byte_for_byte() -> None:
    beats = _bodies(34, reply=False)
    with_consumers = 0
    for record, cmd in beats:
        data = HeartbeatData.from_json(cmd.body)
        assert data.to_json() == cmd.body, record.name
        for consumer in data.consumer_data_set:
            with_consumers += 1
            assert consumer.consume_type == "CONSUME_PASSIVELY"
            assert consumer.message_model == "CLUSTERING"
            assert consumer.consume_from_where == "CONSUME_FROM_FIRST_OFFSET"
            for sub in consumer.subscription_data_set:
                assert sub.sub_string == "*" and sub.expression_type == "TAG" and sub.sub_version > 0
    assert len(beats) == 15 and with_consumers == 14


def test_consumer_list_bodies_round_trip_byte_for_byte() -> None:
    answers = _bodies(38, reply=True)
    assert answers
    for record, cmd in answers:
        body = GetConsumerListByGroupResponseBody.from_json(cmd.body)
        assert body.consumer_id_list and body.to_json() == cmd.body, record.name


def test_lock_and_unlock_bodies_round_trip_byte_for_byte() -> None:
    locks, answers, unlocks = _bodies(41, reply=False), _bodies(41, reply=True), _bodies(42, reply=False)
    assert locks and answers and unlocks
    for _, cmd in locks:
        assert LockBatchRequestBody.from_json(cmd.body).to_json() == cmd.body
    for _, cmd in answers:
        assert LockBatchResponseBody.from_json(cmd.body).to_json() == cmd.body
    for _, cmd in unlocks:
        body = UnlockBatchRequestBody.from_json(cmd.body)
        assert body.consumer_group == "GOLDEN_ORDER_CG" and body.to_json() == cmd.body


def test_route_bodies_parse() -> None:
    for record, cmd in _bodies(105, reply=True):
        route = TopicRouteData.from_json(cmd.body)
        assert [b.master_addr for b in route.broker_datas] == ["127.0.0.1:20911"], record.name
