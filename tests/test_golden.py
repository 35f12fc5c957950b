"""The golden corpus, replayed: ``specs/golden/*.msgpack``.

Every case is run the ways hyperframe and h11 run theirs: decoded whole,
fed to the stream decoder whole, byte at a time and followed by another
frame, re-encoded, and parsed by all three forms of the schema (construct
interpreted, construct compiled, our buffer-mode compilation).  Error cases
must raise exactly the named :class:`~codec.errors.CodecError` subclass.

The real Java sessions (``java-broker-4.9.8*.msgpack``) go through the same
replay; ``test_golden_java.py`` adds what is particular to them.  The real
C++ client's frames are also checked against what its driver asked
it to send (topic, tags, keys, properties, body, delay level, batch), and,
when ``shared/golden/cpp.jsonl`` sits beside the checkout, against the
capture itself.
"""

from __future__ import annotations

import importlib.util
import json
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from golden_support import shared_golden_file

import rmqwire.codec.errors as errors
from rmqwire.codec import FrameDecoder, LanguageCode, RemotingCommand, SerializeType, decode, encode
from rmqwire.codec.errors import CodecError, EncodeError, FrameError, MalformedBodyError
from rmqwire.codec.frame import FRAME, FRAME_CODEC
from rmqwire.codec.trace import (
    EXPECT_KEYS,
    TraceRecord,
    command_from_expect,
    expect_from_command,
    pack_records,
    unpack_records,
)

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "specs" / "golden"
CPP_JSONL = shared_golden_file("cpp.jsonl")
SHARED_GOLDEN = CPP_JSONL.parent
JAVA_FILES = ("java-broker-4.9.8.msgpack", "java-broker-4.9.8-tx-order-ns.msgpack")
FILES = ("cpp.msgpack", "rocketmq-binary.msgpack", "errors.msgpack", *JAVA_FILES)


def _load(name: str) -> list[TraceRecord]:
    return list(unpack_records((GOLDEN / name).read_bytes()))


CPP = _load("cpp.msgpack")
DERIVED = _load("rocketmq-binary.msgpack")
ERRORS = _load("errors.msgpack")
# the real Java sessions (tests/test_golden_java.py checks what is Java-specific)
JAVA = [record for name in JAVA_FILES for record in _load(name)]
VALID = CPP + DERIVED + JAVA
CANONICAL = [r for r in VALID if r.canonical]
CLIENT_CPP = [r for r in CPP if r.direction == "client->server"]
DRIVEN = [r for r in CPP if r.driver_input]

COMPILED = FRAME.compile()


def _ids(records: list[TraceRecord]) -> list[str]:
    return [r.name for r in records]


def _following(records: list[TraceRecord]) -> Iterator[tuple[TraceRecord, TraceRecord]]:
    """Each record with the next one of the same file (the last with the first)."""
    for i, record in enumerate(records):
        yield record, records[(i + 1) % len(records)]


# Known codec bugs: strict xfails flip to failures once fixed (none open).
_XFAIL_DECODE: dict[str, str] = {}
_XFAIL_STREAM: dict[str, str] = {}


def _marked(records: list[TraceRecord], xfails: dict[str, str]) -> list[Any]:
    return [
        pytest.param(r, id=r.name, marks=pytest.mark.xfail(strict=True, reason=xfails[r.name]))
        if r.name in xfails
        else pytest.param(r, id=r.name)
        for r in records
    ]


def _fields(value: Any) -> dict[str, Any]:
    """A parsed FRAME value (Container or dict, any of the three parsers) as
    comparable plain values."""
    header = value["header"]
    return {
        "serialize_type": int(value["serialize_type"]),
        "code": int(header["code"]),
        "language": (int(header["language"]), header["language"].name),
        "version": int(header["version"]),
        "opaque": int(header["opaque"]),
        "flag": int(header["flag"]),
        "remark": header["remark"],
        "ext_fields": list(dict(header["ext_fields"]).items()),
        "body": bytes(value["body"]),
    }


# --------------------------------------------------------------------------- the corpus itself


def test_corpus_shape() -> None:
    assert len(CPP) == 26
    assert len(DERIVED) >= 15
    assert len(ERRORS) >= 30
    for records in (CPP, DERIVED, ERRORS):
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        assert len({r.name for r in records}) == len(records)


def test_every_vector_carries_provenance() -> None:
    for record in CPP:
        assert record.provenance["source"].startswith("captured: "), record.name
        assert "rocketmq-client-cpp via PyPI rocketmq 0.4.4" in record.provenance["source"]
        assert record.provenance["file"] == "shared/golden/cpp.jsonl"
    for record in DERIVED + ERRORS:
        assert record.provenance["source"].startswith("derived: "), record.name
        assert "protocol.md" in record.provenance["source"]
        assert ".java" in record.provenance["source"] or "Java" in record.provenance["source"], record.name
    for record in DERIVED:
        if record.expect is not None and record.expect["serialize_type"] == "ROCKETMQ":
            assert record.note and "no client we captured sends" in record.note, record.name


def test_derived_vectors_cover_the_brief() -> None:
    names = {r.name for r in DERIVED}
    assert {"ex1-send-message-v2-binary", "ex3-get-routeinfo-binary", "ex5-unregister-client-binary"} <= names
    assert any(r.expect and r.expect["flag"] == 1 and r.expect["serialize_type"] == "ROCKETMQ" for r in DERIVED)
    assert any(r.expect and r.expect["remark"] and not r.expect["remark"].isascii() for r in DERIVED)
    assert any(r.expect and r.expect["ext_fields"] == {} and r.expect["serialize_type"] == "ROCKETMQ" for r in DERIVED)
    assert any(r.expect and r.expect["code"] > 32767 and r.expect["serialize_type"] == "JSON" for r in DERIVED)
    binary = [r for r in DERIVED if r.expect and r.expect["serialize_type"] == "ROCKETMQ"]
    assert len(binary) >= 12


def test_error_cases_name_real_codec_errors() -> None:
    for record in ERRORS:
        for name in (record.error, record.stream_error):
            if name is not None:
                cls = getattr(errors, name)
                assert issubclass(cls, CodecError), name


def test_trace_repacks_byte_for_byte() -> None:
    for name in FILES:
        data = (GOLDEN / name).read_bytes()
        assert pack_records(unpack_records(data)) == data


def _build_corpus_module() -> Any:
    spec = importlib.util.spec_from_file_location("build_corpus", ROOT / "specs" / "build_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_corpus_is_what_the_script_builds() -> None:
    """Deterministic, and the committed files are current (``make corpus``)."""
    builder = _build_corpus_module()
    cpp = CPP_JSONL if CPP_JSONL.is_file() else None
    java_dir = SHARED_GOLDEN if SHARED_GOLDEN.is_dir() else None
    first = builder.build(cpp, java_dir)
    second = builder.build(cpp, java_dir)
    assert first == second
    for name, data in first.items():
        assert (GOLDEN / name).read_bytes() == data, f"{name} is stale: run make corpus"


def test_cross_check_with_the_capture() -> None:
    if not CPP_JSONL.is_file():
        pytest.skip(f"{CPP_JSONL} not present (the shared/ directory is not beside this checkout)")
    rows = [json.loads(line) for line in CPP_JSONL.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) == len(CPP)
    for row, record in zip(rows, CPP):
        assert record.seq == row["seq"]
        assert record.wire == bytes.fromhex(row["frame_hex"])
        assert record.direction == row["direction"]
        assert record.role == row["port_role"]
        assert record.driver_input == row["driver_input"]
        assert record.in_reply_to == row.get("in_reply_to")
        cmd = decode(record.wire)
        assert (cmd.code, cmd.opaque, cmd.flag, cmd.serialize_type.name) == (
            row["code"], row["opaque"], row["flag"], row["serialize_type"],
        )


# --------------------------------------------------------------------------- valid frames


@pytest.mark.parametrize("record", VALID, ids=_ids(VALID))
def test_decode_equals_expect(record: TraceRecord) -> None:
    cmd = decode(record.wire)
    assert expect_from_command(cmd) == record.expect
    assert list(cmd.ext_fields) == list(record.expect["ext_fields"])  # wire order kept
    assert cmd == command_from_expect(record.expect)


@pytest.mark.parametrize("record", VALID, ids=_ids(VALID))
def test_decode_accepts_bytearray_and_memoryview(record: TraceRecord) -> None:
    expected = decode(record.wire)
    assert decode(bytearray(record.wire)) == expected
    assert decode(memoryview(record.wire)) == expected
    assert decode(memoryview(b"\xff" + record.wire + b"\xff")[1:-1]) == expected


@pytest.mark.parametrize("record", VALID, ids=_ids(VALID))
def test_reencode_then_decode_gives_an_equal_command(record: TraceRecord) -> None:
    cmd = decode(record.wire)
    again = decode(encode(cmd))
    assert again == cmd
    assert expect_from_command(again) == expect_from_command(cmd)
    # and in the other serialisation (a ROCKETMQ header cannot carry a code over 32767)
    other = SerializeType.JSON if cmd.serialize_type is SerializeType.ROCKETMQ else SerializeType.ROCKETMQ
    if other is SerializeType.ROCKETMQ and not -32768 <= cmd.code <= 32767:
        return
    if cmd.language.name not in LanguageCode.__members__:
        return  # an unknown byte has no JSON name (UNKNOWN_42 reads back as a name, OTHER's value)
    crossed = decode(encode(replace(cmd, serialize_type=other)))
    remark = None if other is SerializeType.ROCKETMQ and cmd.remark == "" else cmd.remark  # length 0 is null
    assert crossed == replace(cmd, serialize_type=other, remark=remark)


@pytest.mark.parametrize("record", CANONICAL, ids=_ids(CANONICAL))
def test_canonical_vectors_reencode_byte_for_byte(record: TraceRecord) -> None:
    assert record.expect is not None
    assert encode(command_from_expect(record.expect)) == record.wire
    assert encode(decode(record.wire)) == record.wire


def test_every_binary_vector_but_duplicates_is_canonical() -> None:
    binary = [r for r in DERIVED if r.expect and r.expect["serialize_type"] == "ROCKETMQ"]
    assert [r.name for r in binary if not r.canonical] == ["duplicate-ext-keys-binary"]


@pytest.mark.parametrize("record", VALID, ids=_ids(VALID))
def test_stream_decoder_whole_and_byte_at_a_time(record: TraceRecord) -> None:
    expected = decode(record.wire)
    decoder = FrameDecoder()
    assert decoder.feed(record.wire) == [expected]
    assert decoder.buffered == 0

    decoder = FrameDecoder()
    got: list[RemotingCommand] = []
    for i in range(len(record.wire)):
        out = decoder.feed(record.wire[i : i + 1])
        if i < len(record.wire) - 1:
            assert out == []
        got += out
    assert got == [expected]
    assert decoder.buffered == 0

    decoder = FrameDecoder()
    assert decoder.feed(memoryview(record.wire)) == [expected]


@pytest.mark.parametrize(
    "record,following",
    list(_following(VALID)),
    ids=[f"{a.name}+{b.name}" for a, b in _following(VALID)],
)
def test_stream_decoder_frame_followed_by_the_next(record: TraceRecord, following: TraceRecord) -> None:
    first, second = decode(record.wire), decode(following.wire)
    data = record.wire + following.wire
    assert FrameDecoder().feed(data) == [first, second]
    # the same, split at every point of the first frame and into the second
    for cut in range(0, len(data) + 1, max(1, len(data) // 37)):
        decoder = FrameDecoder()
        assert decoder.feed(data[:cut]) + decoder.feed(data[cut:]) == [first, second]
        assert decoder.buffered == 0
    # a frame and the start of the next: one command, the rest kept
    decoder = FrameDecoder()
    assert decoder.feed(record.wire + following.wire[:5]) == [first]
    assert decoder.buffered == 5
    assert decoder.feed(following.wire[5:]) == [second]


@pytest.mark.parametrize("record", VALID, ids=_ids(VALID))
def test_interpreted_compiled_and_buffer_schemas_agree(record: TraceRecord) -> None:
    wire = record.wire
    buffered, end = FRAME_CODEC.parse_at(wire, 0, len(wire), None)
    assert end == len(wire)
    interpreted = FRAME.parse(wire)
    compiled = COMPILED.parse(wire)
    assert _fields(interpreted) == _fields(compiled) == _fields(buffered)
    cmd = decode(wire)
    assert _fields(buffered)["ext_fields"] == list(cmd.ext_fields.items())
    # and they build the same bytes
    built = FRAME_CODEC.build_bytes(buffered, None)
    assert FRAME.build(buffered) == COMPILED.build(buffered) == built
    if record.canonical:
        assert built == wire


# --------------------------------------------------------------------------- the real client's frames


@pytest.mark.parametrize("record", CLIENT_CPP, ids=_ids(CLIENT_CPP))
def test_cpp_client_frames_look_like_the_cpp_client(record: TraceRecord) -> None:
    cmd = decode(record.wire)
    assert cmd.serialize_type is SerializeType.JSON
    assert cmd.language is LanguageCode.CPP
    assert cmd.version == 63  # MQVersion V3_1_8
    assert cmd.remark == ""
    assert cmd.flag == 0  # requests; even the oneway send (the client's known bug)
    header_length = int.from_bytes(record.wire[5:8], "big")
    assert record.wire[8 + header_length - 1 : 8 + header_length] == b"\n"  # jsoncpp's trailing newline
    assert cmd.ext_fields["AccessKey"] == ""
    assert cmd.ext_fields["OnsChannel"] == "ALIYUN"
    assert cmd.ext_fields["Signature"]
    # every value is a str, even those the client wrote as JSON numbers
    assert all(type(v) is str for v in cmd.ext_fields.values())


def test_cpp_numbers_in_ext_fields_become_java_strings() -> None:
    send = next(r for r in CPP if r.name.startswith("cpp-03-"))
    header = send.wire[8 : 8 + int.from_bytes(send.wire[5:8], "big")]
    assert b'"defaultTopicQueueNums":4' in header and b'"queueId":0' in header
    cmd = decode(send.wire)
    assert cmd.ext_fields["defaultTopicQueueNums"] == "4"
    assert cmd.ext_fields["queueId"] == "0"
    assert cmd.ext_fields["sysFlag"] == "0"


def test_replies_answer_their_requests() -> None:
    by_seq = {r.seq: r for r in CPP}
    replies = [r for r in CPP if r.direction == "server->client"]
    assert len(replies) == 13
    for reply in replies:
        assert reply.in_reply_to is not None
        request = by_seq[reply.in_reply_to]
        req, resp = decode(request.wire), decode(reply.wire)
        assert resp.opaque == req.opaque
        assert resp.is_response and not req.is_response
        assert reply.role == request.role


def _properties(text: str) -> dict[str, str]:
    """MessageDecoder.string2messageProperties, written out independently."""
    out = {}
    for chunk in text.split("\x02"):
        key, sep, value = chunk.partition("\x01")
        if sep and key and value:
            out[key] = value
    return out


def _check_message(ext_props: dict[str, str], given: dict[str, Any]) -> None:
    if given.get("tags"):
        assert ext_props["TAGS"] == given["tags"]
    if given.get("keys"):
        assert ext_props["KEYS"] == given["keys"]
    for key, value in given["properties"].items():
        assert ext_props[key] == value
    assert ext_props["UNIQ_KEY"]


@pytest.mark.parametrize("record", DRIVEN, ids=_ids(DRIVEN))
def test_driver_input_facts_hold(record: TraceRecord) -> None:
    message = pytest.importorskip("rmqwire.codec.message")
    given = record.driver_input
    assert given is not None
    cmd = decode(record.wire)
    ext = cmd.ext_fields
    assert cmd.code == 10  # this client sends every message as SEND_MESSAGE, batches too
    assert ext["topic"] == given["topic"] == record.provenance["driver_context"]["topic"]
    assert ext["producerGroup"] == record.provenance["driver_context"]["group"]
    props = _properties(ext["properties"])
    assert message.decode_properties(ext["properties"]) == props
    assert props["WAIT"] == "true"
    if given["api"] == "send_batch":
        assert ext["batch"] == "1"  # a jsoncpp bool written as a number
        assert ext["sysFlag"] == "0"  # never compressed
        entries = message.decode_batch(cmd.body)
        assert len(entries) == len(given["batch"])
        for entry, member in zip(entries, given["batch"]):
            assert entry.body == bytes.fromhex(member["body_hex"])
            assert len(entry.body) == member["body_len"]
            assert member["topic"] == given["topic"]
            _check_message(entry.properties, member)
        return
    assert ext["batch"] == "0"
    _check_message(props, given)
    if given["result"].get("msg_id"):
        assert props["UNIQ_KEY"] == given["result"]["msg_id"]
    if "delay_level" in given:
        assert props["DELAY"] == str(given["delay_level"])
    else:
        assert "DELAY" not in props
    if "orderly_arg" in given:
        assert ext["queueId"] == str(given["orderly_arg"])
    sent = bytes.fromhex(given["body_hex"])
    assert len(sent) == given["body_len"]
    sys_flag = int(ext["sysFlag"])
    if given["case"] == "big-compressed":
        assert sys_flag & 0x1 and len(cmd.body) < len(sent)
        assert zlib.decompress(cmd.body) == sent
    else:
        assert sys_flag == 0
        assert cmd.body == sent
    assert message.decompress_body(cmd.body, sys_flag) == sent


def test_cpp_typed_headers_and_bodies() -> None:
    """The typed layer reads what the real client sent (its leniencies included)."""
    send_mod = pytest.importorskip("rmqwire.codec.headers.send")
    client_mod = pytest.importorskip("rmqwire.codec.headers.client")
    route_mod = pytest.importorskip("rmqwire.codec.body.route")
    heartbeat_mod = pytest.importorskip("rmqwire.codec.body.heartbeat")
    for record in CPP:
        cmd = decode(record.wire)
        if record.direction == "client->server" and cmd.code == 10:
            header = send_mod.SendMessageRequestHeader.from_command(cmd)
            assert header.topic == "GoldenTopic"
            assert record.driver_input is not None
            assert header.batch is (record.driver_input["api"] == "send_batch")  # "1" reads as true
        elif record.direction == "client->server" and cmd.code == 35:
            header = client_mod.UnregisterClientRequestHeader.from_command(cmd)
            assert header.producer_group == "golden-group" and header.consumer_group == ""
        elif record.direction == "client->server" and cmd.code == 34:
            heartbeat = heartbeat_mod.HeartbeatData.from_json(cmd.body)
            assert [p.group_name for p in heartbeat.producer_data_set] == ["golden-group"]
        elif record.direction == "server->client" and cmd.body.startswith(b'{"brokerDatas"'):
            route = route_mod.TopicRouteData.from_json(cmd.body)  # fastjson's {0:"..."} keys
            assert route.broker_datas[0].broker_addrs == {0: "127.0.0.1:10911"}


# --------------------------------------------------------------------------- error cases


def _error_class(name: str) -> type[CodecError]:
    cls = getattr(errors, name)
    assert issubclass(cls, CodecError)
    return cls  # type: ignore[no-any-return]


@pytest.mark.parametrize("record", _marked(ERRORS, _XFAIL_DECODE))
def test_error_case_decode_raises_exactly(record: TraceRecord) -> None:
    assert record.error is not None
    with pytest.raises(CodecError) as info:
        decode(record.wire)
    assert type(info.value) is _error_class(record.error), str(info.value)
    with pytest.raises(CodecError) as again:
        decode(memoryview(record.wire))
    assert type(again.value) is type(info.value)


@pytest.mark.parametrize("record", _marked(ERRORS, _XFAIL_STREAM))
def test_error_case_stream_decoder(record: TraceRecord) -> None:
    decoder = FrameDecoder()
    if record.stream_error is None:
        # truncated: the decoder waits; trailing bytes: they start the next frame
        out = decoder.feed(record.wire)
        if record.error == "TrailingBytesError":
            assert len(out) == 1 and decoder.buffered > 0
        else:
            assert out == [] and decoder.buffered == len(record.wire)
        return
    cls = _error_class(record.stream_error)
    with pytest.raises(CodecError) as info:
        decoder.feed(record.wire)
    assert type(info.value) is cls, str(info.value)
    with pytest.raises(FrameError):  # the stream is out of sync: the decoder refuses more
        decoder.feed(b"")
    # the same byte at a time: the error comes, once, at some byte
    decoder = FrameDecoder()
    raised = None
    for i in range(len(record.wire)):
        try:
            decoder.feed(record.wire[i : i + 1])
        except CodecError as exc:
            raised = exc
            break
    assert type(raised) is cls


@pytest.mark.parametrize("record", ERRORS, ids=_ids(ERRORS))
def test_error_case_schemas_agree(record: TraceRecord) -> None:
    """The buffer codec and construct's compiled parser fail alike; the
    interpreted parser fails too (possibly with a construct error)."""
    wire = record.wire
    with pytest.raises(CodecError) as decoded:
        decode(wire)
    actual = type(decoded.value)
    for parse in (COMPILED.parse, FRAME.parse):
        if actual is errors.TrailingBytesError:
            parse(wire)  # a whole-stream parser reads the frame and ignores the rest
            continue
        with pytest.raises(Exception) as info:
            parse(wire)
        if isinstance(info.value, CodecError):
            assert type(info.value) is actual


# --------------------------------------------------------------------------- the trace layout


def _sample() -> TraceRecord:
    return DERIVED[2]


def test_trace_record_roundtrip_keeps_unknown_keys() -> None:
    record = _sample()
    data = pack_records([record])
    assert list(unpack_records(data)) == [record]
    import msgpack

    extended = msgpack.packb({**record.to_map(), "future_key": [1, 2]}, use_bin_type=True)
    header = pack_records([])
    (back,) = unpack_records(header + extended)
    assert back == record
    assert pack_records([back]) == header + extended


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        b"\x80",  # an empty map: no format
        b"\x92\x01\x02",
        pack_records([])[:-1],
        b"\x82\xa6format\xadrmqwire-trace\xa7version\x02",  # version 2
        b"\x82\xa6format\xa3xyz\xa7version\x01",
        pack_records([]) + b"\x01",  # a record that is not a map
        pack_records([]) + b"\x81\xa3seq\x01",  # a record without its keys
        pack_records([]) + b"\xdf\xff\xff\xff\xff",  # a map claiming 4 billion entries
        pack_records([]) + b"\x91" * 100000,  # nested too deeply
        pack_records([]) + b"\x81\x01\x02",  # an int map key
        pack_records([]) + b"\xa2\xff\xfe",  # not UTF-8
    ],
)
def test_unpack_records_raises_malformed_body_error_only(data: bytes) -> None:
    with pytest.raises(MalformedBodyError):
        list(unpack_records(data))


def test_unpack_records_truncated_mid_record() -> None:
    data = pack_records([_sample(), _sample()])
    header = len(pack_records([]))
    one = len(pack_records([_sample()]))
    for cut in range(len(data)):
        if cut in (header, one):
            assert len(list(unpack_records(data[:cut]))) == (cut > header)
            continue
        with pytest.raises(MalformedBodyError):
            list(unpack_records(data[:cut]))


@pytest.mark.parametrize(
    "change",
    [
        {"direction": "sideways"},
        {"role": "proxy"},
        {"seq": "1"},
        {"provenance": {}},
        {"expect": None},
        {"error": "TruncatedFrameError"},  # both expect and error
        {"expect": {"code": 1}},
        {"expect": {**_sample().to_map()["expect"], "body": "text"}},
        {"expect": {**_sample().to_map()["expect"], "ext_fields": {"a": 1}}},
        {"expect": {**_sample().to_map()["expect"], "serialize_type": "XML"}},
        {"canonical": 1},
        {"wire": "not bytes"},
    ],
)
def test_unpack_records_rejects_bad_records(change: dict[str, Any]) -> None:
    import msgpack

    value = {**_sample().to_map(), **change}
    data = pack_records([]) + msgpack.packb(value, use_bin_type=True)
    with pytest.raises(MalformedBodyError):
        list(unpack_records(data))


def test_pack_records_refuses_text_msgpack_cannot_hold() -> None:
    # a JSON "\\ud800" escape decodes to a lone surrogate, which has no UTF-8 form
    header = b'{"code":1,"remark":"\\ud800"}'
    wire = len(header).to_bytes(4, "big")
    wire = (4 + len(header)).to_bytes(4, "big") + wire + header
    cmd = decode(wire)
    assert cmd.remark == "\ud800"
    record = TraceRecord(1, "server->client", "broker", wire, {"source": "recorded: test"}, expect=expect_from_command(cmd))
    with pytest.raises(EncodeError):
        pack_records([record])


def test_expect_keys_and_helpers() -> None:
    cmd = RemotingCommand.request(105, {"topic": "T"}, b"x", opaque=3, language=LanguageCode(42))
    expect = expect_from_command(cmd)
    assert tuple(expect) == EXPECT_KEYS
    assert expect["language"] == "UNKNOWN_42" and expect["serialize_type"] == "JSON"
    back = command_from_expect(expect)
    assert back == cmd and int(back.language) == 42
    named = command_from_expect({**expect, "language": "COBOL"})
    assert named.language.name == "COBOL"
    with pytest.raises(MalformedBodyError):
        command_from_expect({**expect, "code": "1"})
