"""The stored-message record (the body of a PULL_MESSAGE answer).

Spec: ``consumer-protocol.md`` section 5 and Java ``MessageDecoder``.  The
truth is the golden sessions of a real 4.9.8 Java client against a real 4.9.8
broker (``../shared/golden/java-broker-4.9.8*.jsonl``): every pull body in
them decodes, agrees with its response header, and re-encodes to the same
bytes.  IPv6 hosts and hostile inputs are constructed here.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass

import pytest
from golden_support import shared_golden_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmqwire.codec import MessageExt, decode, decode_messages, encode_message, message_record_length
from rmqwire.codec.errors import CodecError, EncodeError, MalformedBodyError
from rmqwire.codec.message import MessageSysFlag, encode_properties
from rmqwire.codec.store import (
    MESSAGE_MAGIC_CODE,
    MESSAGE_MAGIC_CODE_V2,
    STORED_MESSAGE,
    body_crc,
    decode_message,
)

SHARED = shared_golden_file("java-broker-4.9.8.jsonl").parent
GOLDEN_FILES = ("java-broker-4.9.8.jsonl", "java-broker-4.9.8-tx-order-ns.jsonl")
NO_SHARED = f"the golden Java sessions (../shared/golden beside this checkout, or $RMQWIRE_SHARED/golden) are not at {SHARED}"

V6 = int(MessageSysFlag.BORNHOST_V6_FLAG | MessageSysFlag.STOREHOSTADDRESS_V6_FLAG)


@dataclass(frozen=True)
class Pull:
    """One SUCCESS answer to a PULL_MESSAGE request, with its request."""

    where: str
    request: dict[str, str]
    response: dict[str, str]
    body: bytes


def _pulls() -> list[Pull]:
    pulls: list[Pull] = []
    for name in GOLDEN_FILES:
        path = SHARED / name
        if not path.is_file():
            continue
        pending = {}
        for line in path.read_text().splitlines():
            frame = json.loads(line)
            cmd = decode(bytes.fromhex(frame["frame_hex"]))
            key = (frame["conn"], cmd.opaque)
            if frame["direction"] == "client->server":
                pending[key] = cmd
                continue
            request = pending.pop(key, None)  # responses are matched by connection and opaque
            if request is not None and request.code == 11 and cmd.code == 0 and cmd.body:
                pulls.append(Pull(f"{name} seq {frame['seq']}", request.ext_fields, cmd.ext_fields, cmd.body))
    return pulls


PULLS = _pulls()
needs_golden = pytest.mark.skipif(not PULLS, reason=NO_SHARED)


def _params() -> list[object]:
    if not PULLS:
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_SHARED))]
    return [pytest.param(p, id=p.where) for p in PULLS]


# --------------------------------------------------------------------------- golden


@needs_golden
def test_the_sessions_hold_the_expected_pulls() -> None:
    # README: the first session reads 9 messages back twice (push and pull
    # consumer) plus 2 retries; the second reads 10 across order, ns and tx.
    assert len(PULLS) == 16
    assert sum(len(decode_messages(p.body)) for p in PULLS) == 30


@pytest.mark.parametrize("pull", _params())
def test_every_golden_pull_body_decodes_and_agrees_with_its_headers(pull: Pull) -> None:
    messages = decode_messages(pull.body, broker_name="broker-a")
    request, response = pull.request, pull.response
    start = int(request["queueOffset"])
    # FOUND without a tag filter: the broker returns the queue from the
    # requested offset to nextBeginOffset
    assert len(messages) == int(response["nextBeginOffset"]) - start
    assert int(response["minOffset"]) <= start < int(response["maxOffset"])
    assert [m.queue_offset for m in messages] == list(range(start, start + len(messages)))
    for message in messages:
        assert message.topic == request["topic"]
        assert message.queue_id == int(request["queueId"])
        assert message.broker_name == "broker-a"
        assert message.store_host == "127.0.0.1:10911"
        assert message.born_host.startswith("127.0.0.1:")
        assert message.msg_id == message.properties["UNIQ_KEY"]
        assert message.offset_msg_id == f"7F00000100002A9F{message.commit_log_offset:016X}"
        assert message.properties["CLUSTER"] == "DefaultCluster"
        assert message.tags is not None and message.tags.startswith("Tag")
        assert message.keys
        assert message.store_timestamp >= message.born_timestamp
    assert sum(m.store_size for m in messages) == len(pull.body)


@pytest.mark.parametrize("pull", _params())
def test_every_golden_pull_body_reencodes_byte_for_byte(pull: Pull) -> None:
    messages = decode_messages(pull.body, decompress=False)
    rebuilt = b"".join(
        encode_message(
            topic=m.topic,
            body=m.body,
            properties=m.properties,
            queue_id=m.queue_id,
            queue_offset=m.queue_offset,
            commit_log_offset=m.commit_log_offset,
            sys_flag=m.sys_flag,
            born_timestamp=m.born_timestamp,
            born_host=m.born_host,
            store_timestamp=m.store_timestamp,
            store_host=m.store_host,
            reconsume_times=m.reconsume_times,
            prepared_transaction_offset=m.prepared_transaction_offset,
            flag=m.flag,
        )
        for m in messages
    )
    assert rebuilt == pull.body
    for m in messages:  # the broker's CRC is UtilAll.crc32 of the stored body
        assert m.body_crc == body_crc(m.body) == zlib.crc32(m.body) & 0x7FFFFFFF
        props = encode_properties(m.properties, trailing_separator=False).encode()
        assert m.store_size == message_record_length(m.sys_flag, len(m.body), len(m.topic.encode()), len(props))


def _record_offsets(body: bytes) -> list[int]:
    offsets, pos = [], 0
    while pos < len(body):
        offsets.append(pos)
        pos += int.from_bytes(body[pos : pos + 4], "big")
    return offsets


def _find(key: str, topic_prefix: str = "") -> MessageExt:
    for pull in PULLS:
        for message in decode_messages(pull.body):
            if message.keys == key and message.topic.startswith(topic_prefix):
                return message
    raise AssertionError(f"no golden message with key {key!r}")


@needs_golden
def test_section_5_1_record_field_by_field() -> None:
    # consumer-protocol.md 5.1: GOLDEN seq 77, body offset 0, 236 bytes
    pull = next(p for p in PULLS if p.where == "java-broker-4.9.8.jsonl seq 77")
    assert pull.body[:12].hex() == "000000ecdaa320a7248c774f"
    message, end = decode_message(pull.body, 0)
    assert end == 236
    assert message == MessageExt(
        topic="GoldenJava6027",
        body=b"Hello RocketMQ 0",
        queue_id=3,
        queue_offset=0,
        commit_log_offset=61743,
        sys_flag=0,
        born_timestamp=1796297886177,
        born_host="127.0.0.1:58308",
        store_timestamp=1796297886190,
        store_host="127.0.0.1:10911",
        reconsume_times=0,
        prepared_transaction_offset=0,
        flag=0,
        body_crc=613185359,
        store_size=236,
        properties={
            "KEYS": "ord-0",
            "UNIQ_KEY": "FD00000000000000000000000000000271305FFD2B270CCBD9E00000",
            "CLUSTER": "DefaultCluster",
            "TAGS": "TagA",
            "seq": "0",
        },
    )
    assert message.offset_msg_id == "7F00000100002A9F000000000000F12F"
    assert message.msg_id == "FD00000000000000000000000000000271305FFD2B270CCBD9E00000"
    assert message.tags == "TagA"
    assert message.keys == "ord-0"
    assert message.delay_level == 0
    assert message.user_properties == {"seq": "0"}
    assert message.get_property("seq") == "0"
    assert message.get_property("nope", "x") == "x"
    assert message.with_topic("T").topic == "T"
    assert message.replace(queue_id=9).queue_id == 9


@needs_golden
def test_the_compressed_golden_body_is_inflated() -> None:
    big = _find("big-0")
    assert big.sys_flag == 0x301
    assert big.body == (b"msg-0-" * 1000)[:6000]
    raw = [m for p in PULLS for m in decode_messages(p.body, decompress=False) if m.keys == "big-0"][0]
    assert raw.body != big.body and zlib.decompress(raw.body) == big.body
    assert raw.body_crc == body_crc(raw.body)  # the CRC is of the body as stored


@needs_golden
def test_retry_and_transaction_fields() -> None:
    retry = _find("retry-0", "%RETRY%")
    assert retry.topic == "%RETRY%GOLDEN_JAVA_CG"
    assert retry.reconsume_times == 1
    assert retry.get_property("RETRY_TOPIC") == "GoldenJava6027"
    committed = _find("tx-commit")
    assert committed.sys_flag & 0xC == MessageSysFlag.TRANSACTION_COMMIT_TYPE


@needs_golden
def test_the_interpreted_schema_reads_what_the_compiled_code_reads() -> None:
    body = PULLS[0].body
    for offset in _record_offsets(body):
        message, _ = decode_message(body, offset, decompress=False)
        size = int.from_bytes(body[offset : offset + 4], "big")
        parsed = STORED_MESSAGE.parse(body[offset : offset + size])
        assert parsed.topic == message.topic and parsed.body == message.body
        assert parsed.born_host == message.born_host and dict(parsed.properties) == message.properties
        assert STORED_MESSAGE.build(parsed) == body[offset : offset + size]


# --------------------------------------------------------------------------- constructed records


def _record(**overrides: object) -> bytes:
    fields: dict[str, object] = dict(
        topic="T",
        body=b"hello",
        properties={"TAGS": "a", "UNIQ_KEY": "U1"},
        queue_id=1,
        queue_offset=7,
        commit_log_offset=4096,
        sys_flag=0,
        born_timestamp=1,
        born_host="10.0.0.1:5000",
        store_timestamp=2,
        store_host="10.0.0.2:10911",
    )
    fields.update(overrides)
    return encode_message(**fields)  # type: ignore[arg-type]


def test_ipv6_hosts_take_16_bytes_each_by_their_sysflag_bits() -> None:
    data = _record(sys_flag=V6, born_host="[fd00::2]:5000", store_host="[2001:db8::1]:10911")
    assert len(data) == message_record_length(V6, 5, 1, len(b"TAGS\x01a\x02UNIQ_KEY\x01U1")) == 91 + 24 + 5 + 1 + 18
    (message,) = decode_messages(data)
    assert message.born_host == "[fd00::2]:5000"
    assert message.store_host == "[2001:db8::1]:10911"
    assert message.offset_msg_id == "20010DB8000000000000000000000001" + "00002A9F" + f"{4096:016X}"
    assert message.msg_id == "U1"
    # only the born host is IPv6
    born_only = int(MessageSysFlag.BORNHOST_V6_FLAG)
    (mixed,) = decode_messages(_record(sys_flag=born_only, born_host="[::1]:1"))
    assert (mixed.born_host, mixed.store_host) == ("[::1]:1", "10.0.0.2:10911")
    # unbracketed IPv6 text is accepted on the way in
    assert _record(sys_flag=V6, born_host="fd00::2:5000", store_host="::1:1")[48:52] == bytes.fromhex("fd000000")


def test_host_family_must_match_the_sysflag() -> None:
    with pytest.raises(EncodeError, match="IPv6 but sysFlag says IPv4"):
        _record(born_host="[::1]:1")
    with pytest.raises(EncodeError, match="ip:port"):
        _record(store_host="localhost:1")
    with pytest.raises(EncodeError, match="port"):
        _record(store_host="1.2.3.4:70000")


def test_a_compressed_record_is_inflated_unless_asked_not_to() -> None:
    original = b"x" * 10000
    stored = zlib.compress(original)
    data = _record(body=stored, sys_flag=0x301)
    (message,) = decode_messages(data)
    assert message.body == original and message.body_crc == body_crc(stored)
    assert decode_messages(data, decompress=False)[0].body == stored
    with pytest.raises(MalformedBodyError, match="stored message 0 at byte 0: compressed body"):
        decode_messages(_record(body=b"not zlib", sys_flag=0x1))


def test_v2_magic_has_a_two_byte_topic_length() -> None:
    v1 = _record(topic="Topic", properties={})
    # the V2 form of the same record: the magic and a 2-byte TOPICLEN
    at = len(v1) - 2 - 5 - 1
    v2 = (len(v1) + 1).to_bytes(4, "big") + MESSAGE_MAGIC_CODE_V2.to_bytes(4, "big", signed=True) + v1[8:at]
    v2 += b"\x00\x05" + v1[at + 1 :]
    assert v1[4:8] == MESSAGE_MAGIC_CODE.to_bytes(4, "big", signed=True)
    (message,) = decode_messages(v2)
    assert message.topic == "Topic" and message.store_size == len(v1) + 1


def test_message_record_length_is_calmsglength() -> None:
    for sys_flag in (0, 0x10, 0x20, 0x30):
        props = {"K": "v" * 3}
        host6 = "[::1]:1"
        data = _record(
            sys_flag=sys_flag,
            properties=props,
            born_host=host6 if sys_flag & 0x10 else "1.1.1.1:1",
            store_host=host6 if sys_flag & 0x20 else "1.1.1.1:1",
        )
        assert len(data) == message_record_length(sys_flag, 5, 1, 5)
    from rmqwire.broker.store import record_length

    assert record_length is message_record_length


def test_properties_may_be_given_as_the_raw_string() -> None:
    data = _record(properties="A\x01b\x02C\x01d\x02")
    assert decode_messages(data)[0].properties == {"A": "b", "C": "d"}
    assert _record(properties={})[-2:] == b"\x00\x00"
    assert decode_messages(_record(properties={}))[0].properties == {}


def test_encode_refuses_what_does_not_fit() -> None:
    with pytest.raises(EncodeError, match="over 127"):
        _record(topic="t" * 128)
    with pytest.raises(EncodeError, match="over 32767"):
        _record(properties={"K": "v" * 40000})
    with pytest.raises(EncodeError):
        _record(queue_id=2**31)
    with pytest.raises(TypeError):
        _record(body="text")


def test_an_empty_body_is_no_messages() -> None:
    assert decode_messages(b"") == []
    two = _record() + _record(queue_offset=8)
    assert [m.queue_offset for m in decode_messages(two)] == [7, 8]
    assert [m.queue_offset for m in decode_messages(bytearray(two))] == [7, 8]


# --------------------------------------------------------------------------- hostile input


def _patch(data: bytes, offset: int, value: int, size: int) -> bytes:
    return data[:offset] + value.to_bytes(size, "big", signed=True) + data[offset + size :]


GOOD = _record() + _record(queue_offset=8)
SECOND = len(_record())
BODY_LEN_AT = 84  # IPv4 hosts
TOPIC_LEN_AT = BODY_LEN_AT + 4 + 5


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (GOOD[:-1], "stored message 1 at byte %d: TOTALSIZE: declares %d bytes, %d are left" % (SECOND, SECOND, SECOND - 1)),
        (GOOD + b"\x00\x00", "stored message 2 at byte %d: TOTALSIZE: length field truncated" % (2 * SECOND)),
        (_patch(GOOD, 0, 12, 4), "stored message 0 at byte 0: record truncated in its fixed fields"),
        (_patch(GOOD, 0, 2, 4), "stored message 0 at byte 0: TOTALSIZE: length 2 does not cover its own 4 bytes"),
        (_patch(GOOD, 0, -1, 4), "TOTALSIZE: negative length -1"),
        (_patch(GOOD, 0, 2**31 - 1, 4), "TOTALSIZE: declares 2147483647 bytes"),
        (_patch(GOOD, 4, 0x1234, 4), "stored message 0 at byte 0: unknown MAGICCODE 0x00001234"),
        (_patch(GOOD, SECOND + BODY_LEN_AT, -5, 4), "stored message 1 at byte %d: BODY: negative length -5" % SECOND),
        (_patch(GOOD, BODY_LEN_AT, 2**31 - 1, 4), "BODY: declares 2147483647 bytes"),
        (_patch(GOOD, TOPIC_LEN_AT, -1, 1), "TOPIC: negative length -1"),
        (_patch(GOOD, TOPIC_LEN_AT, 100, 1), "TOPIC: declares 100 bytes"),
        (_patch(GOOD, TOPIC_LEN_AT + 1, -1, 1), "TOPIC: invalid UTF-8"),
        (_patch(GOOD, TOPIC_LEN_AT + 2, -1, 2), "PROPERTIES: negative length -1"),
        (_patch(GOOD, TOPIC_LEN_AT + 2, 3, 2), "stored message 0 at byte 0: TOTALSIZE: 15 bytes left over"),
        (_patch(GOOD, 36, 0x10, 4), "stored message 0 at byte 0: BODY: declares"),  # claims an IPv6 born host
        (_patch(GOOD, 0, SECOND + 1, 4), "stored message 0 at byte 0: TOTALSIZE: 1 bytes left over"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_garbled_records_raise_malformed_body_error_with_index_and_offset(data: bytes, message: str) -> None:
    with pytest.raises(MalformedBodyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_messages(data)


def test_every_truncation_raises_our_error() -> None:
    for cut in range(len(GOOD)):
        if cut in (0, SECOND):
            assert len(decode_messages(GOOD[:cut])) == cut // SECOND
            continue
        with pytest.raises(MalformedBodyError, match=f"stored message {cut // SECOND} at byte {cut // SECOND * SECOND}"):
            decode_messages(GOOD[:cut])


def test_a_truncated_record_inside_its_totalsize_names_the_field() -> None:
    # TOTALSIZE says 91 and 91 bytes are there: the body runs past them
    data = _patch(GOOD[:91], 0, 91, 4)
    with pytest.raises(MalformedBodyError, match="stored message 0 at byte 0: BODY: declares 5 bytes"):
        decode_messages(data)


def test_wrong_input_types_are_type_errors() -> None:
    with pytest.raises(TypeError):
        decode_messages("text")  # type: ignore[arg-type]


FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    max_examples=400,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SEEDS = [p.body for p in PULLS] or [GOOD]


@st.composite
def mutated_bodies(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "length"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del data[at:]
        elif len(data) >= at + 4:
            value = draw(st.sampled_from([0, 1, 91, 127, 128, 0x7FFF, 0x8000, 0xFFFF, 2**31 - 1, -1, -(2**31)]))
            data[at : at + 4] = value.to_bytes(4, "big", signed=True)
    return bytes(data)


@pytest.mark.slow
@FUZZ
@given(mutated_bodies())
def test_mutated_pull_bodies_decode_or_raise_our_error(data: bytes) -> None:
    try:
        messages = decode_messages(data)
    except CodecError:
        return
    assert sum(m.store_size for m in messages) == len(data)


@pytest.mark.slow
@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_decode_or_raise_our_error(data: bytes) -> None:
    try:
        decode_messages(data)
    except CodecError:
        pass


@pytest.mark.slow
@FUZZ
@given(
    topic=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40).filter(
        lambda t: len(t.encode()) <= 127
    ),
    body=st.binary(max_size=64),
    props=st.dictionaries(
        st.text(st.characters(codec="utf-8", exclude_characters="\x01\x02"), min_size=1, max_size=8),
        st.text(st.characters(codec="utf-8", exclude_characters="\x01\x02"), min_size=1, max_size=8),
        max_size=4,
    ),
    queue_offset=st.integers(0, 2**63 - 1),
    sys_flag=st.sampled_from([0, 0x2, 0x4, 0x8, 0x10, 0x20, 0x30, 0x80]),
    port=st.integers(0, 0xFFFF),
)
def test_encoded_records_decode_to_what_was_encoded(
    topic: str, body: bytes, props: dict[str, str], queue_offset: int, sys_flag: int, port: int
) -> None:
    born = f"[fd00::2]:{port}" if sys_flag & 0x10 else f"192.168.0.1:{port}"
    store = f"[::1]:{port}" if sys_flag & 0x20 else f"10.0.0.1:{port}"
    data = encode_message(
        topic=topic, body=body, properties=props, queue_id=3, queue_offset=queue_offset, commit_log_offset=queue_offset,
        sys_flag=sys_flag, born_timestamp=5, born_host=born, store_timestamp=6, store_host=store,
    )
    (message,) = decode_messages(data)
    assert (message.topic, message.body, message.queue_offset, message.sys_flag) == (topic, body, queue_offset, sys_flag)
    assert (message.born_host, message.store_host) == (born, store)
    assert message.properties == props


def test_many_distinct_born_hosts_each_decode_as_their_own_text() -> None:
    # the decoder remembers host texts up to a bound; past it they still come out right
    from rmqwire.codec import constructs

    count = constructs._V4_TEXTS_MAX + 10
    hosts = [f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}:{5000 + i % 7}" for i in range(count)]
    body = b"".join(_record(born_host=h) for h in hosts)
    assert [m.born_host for m in decode_messages(body)] == hosts
    assert len(constructs._V4_TEXTS) <= constructs._V4_TEXTS_MAX
    assert [m.store_host for m in decode_messages(body[: len(body) // count])] == ["10.0.0.2:10911"]
