"""The frame layer, one rule per test, in the order ``specs/protocol.md`` gives them.

Frames here are written out by hand with ``struct`` so that each test states
the rule it checks; the golden corpus (``test_golden.py``) covers whole
real-world frames.
"""

from __future__ import annotations

import json
import struct

import pytest

from rmqwire.codec import (
    DEFAULT_MAX_FRAME_SIZE,
    FrameDecoder,
    LanguageCode,
    RemotingCommand,
    RemotingFlag,
    SerializeType,
    decode,
    encode,
)
from rmqwire.codec.errors import (
    BadHeaderLengthError,
    CodecError,
    EncodeError,
    FrameError,
    FrameTooLargeError,
    MalformedHeaderError,
    TrailingBytesError,
    TruncatedFrameError,
    UnknownSerializeTypeError,
)

JSON = SerializeType.JSON
ROCKETMQ = SerializeType.ROCKETMQ


def frame(serialize_type: int, header: bytes, body: bytes = b"") -> bytes:
    """int32 total length (not counting itself), type byte, uint24 header length."""
    return struct.pack(">iB", 4 + len(header) + len(body), serialize_type) + len(header).to_bytes(3, "big") + header + body


def json_frame(header: object, body: bytes = b"", *, trailer: bytes = b"") -> bytes:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return frame(0, text + trailer, body)


def binary_header(
    code: int = 105, language: int = 3, version: int = 479, opaque: int = 8, flag: int = 0,
    remark: bytes = b"", ext: bytes = b"",
) -> bytes:
    """The 21-byte fixed part, the remark and the extFields block."""
    return (
        struct.pack(">hBhii", code, language, version, opaque, flag)
        + struct.pack(">i", len(remark)) + remark
        + struct.pack(">i", len(ext)) + ext
    )


def entry(key: bytes, value: bytes) -> bytes:
    """One extFields entry: int16 key length, key, int32 value length, value."""
    return struct.pack(">h", len(key)) + key + struct.pack(">i", len(value)) + value


def header_of(wire: bytes) -> bytes:
    return wire[8 : 8 + int.from_bytes(wire[5:8], "big")]


# --------------------------------------------------------------------------- the 8-byte prelude


@pytest.mark.parametrize("serialize_type", [JSON, ROCKETMQ])
def test_total_length_counts_everything_after_itself(serialize_type: SerializeType) -> None:
    wire = encode(RemotingCommand.request(105, {"topic": "T"}, b"body", serialize_type=serialize_type))
    (total,) = struct.unpack_from(">i", wire)
    assert total == len(wire) - 4


@pytest.mark.parametrize("serialize_type", [JSON, ROCKETMQ])
def test_type_in_the_high_byte_and_a_24_bit_header_length(serialize_type: SerializeType) -> None:
    wire = encode(RemotingCommand.request(105, {"topic": "T"}, b"body", serialize_type=serialize_type))
    (meta,) = struct.unpack_from(">i", wire, 4)
    assert meta >> 24 == wire[4] == int(serialize_type)
    header_length = meta & 0xFFFFFF
    assert wire[8 + header_length :] == b"body"  # the body is what is left; its length is not sent


def test_header_length_uses_all_24_bits() -> None:
    cmd = RemotingCommand(1, remark="x" * 70000, serialize_type=ROCKETMQ)
    wire = encode(cmd)
    assert wire[4] == 1 and wire[5] == 0x01  # 70021 = 0x011185: past 16 bits, the type byte untouched
    assert int.from_bytes(wire[5:8], "big") == 21 + 70000
    assert decode(wire) == cmd


def test_a_header_over_16_mib_cannot_be_encoded() -> None:
    with pytest.raises(EncodeError):
        encode(RemotingCommand(1, ext_fields={"k": "v" * (1 << 24)}))


def test_empty_body_and_big_body() -> None:
    assert decode(encode(RemotingCommand(1))).body == b""
    body = bytes(range(256)) * 1000
    assert decode(encode(RemotingCommand(1, body=body, serialize_type=ROCKETMQ))).body == body


# --------------------------------------------------------------------------- JSON header: what we write


def test_json_header_is_fastjson_shaped() -> None:
    cmd = RemotingCommand(
        code=105, language=LanguageCode.PYTHON, version=479, opaque=8, flag=0,
        remark="oops", ext_fields={"topic": "TopicTest", "acceptStandardJsonOnly": "true"},
    )
    assert header_of(encode(cmd)) == (
        b'{"code":105,"extFields":{"topic":"TopicTest","acceptStandardJsonOnly":"true"},"flag":0,'
        b'"language":"PYTHON","opaque":8,"remark":"oops","serializeTypeCurrentRPC":"JSON","version":479}'
    )  # top-level keys sorted; extFields in insertion order, as Java's HashMap is unordered anyway


def test_json_omits_null_remark_and_empty_ext_fields() -> None:
    text = header_of(encode(RemotingCommand(34)))
    assert b'"remark"' not in text
    assert b'"extFields"' not in text
    assert header_of(encode(RemotingCommand(34, remark=""))).count(b'"remark":""') == 1  # "" is not null


def test_json_language_by_name() -> None:
    assert b'"language":"JAVA"' in header_of(encode(RemotingCommand(1, language=LanguageCode.JAVA)))
    assert b'"language":"NODE_JS"' in header_of(encode(RemotingCommand(1, language=LanguageCode.NODE_JS)))


def test_json_escapes_control_characters_and_keeps_utf8_raw() -> None:
    props = "TAGS\x01TagA\x02WAIT\x01true\x02"
    text = header_of(encode(RemotingCommand(310, ext_fields={"i": props}, remark="杭州 \"q\" \\")))
    assert b'"i":"TAGS\\u0001TagA\\u0002WAIT\\u0001true\\u0002"' in text
    assert '"remark":"杭州 \\"q\\" \\\\"'.encode() in text
    assert decode(encode(RemotingCommand(310, ext_fields={"i": props}))).ext_fields == {"i": props}


def test_json_serialize_type_word_is_informational() -> None:
    wire = json_frame({"code": 3, "serializeTypeCurrentRPC": "ROCKETMQ"})
    assert decode(wire).serialize_type is JSON  # the type byte decides


# --------------------------------------------------------------------------- JSON header: what we accept


def test_json_scalar_ext_values_become_java_strings() -> None:
    wire = json_frame({"code": 10, "extFields": {"d": 4, "k": False, "m": True, "s": "x", "n": None, "neg": -7}})
    assert decode(wire).ext_fields == {"d": "4", "k": "false", "m": "true", "s": "x", "neg": "-7"}


def test_json_trailing_newline_and_whitespace() -> None:
    assert decode(json_frame({"code": 105}, trailer=b"\n")).code == 105  # the C++ client's jsoncpp
    assert decode(json_frame(b'  {"code" : 105}\r\n\t ')).code == 105


def test_json_missing_fields_take_java_defaults() -> None:
    cmd = decode(json_frame({"code": 17}))
    assert cmd == RemotingCommand(17, LanguageCode.JAVA, 0, 0, 0, None, {}, b"", JSON)
    assert decode(json_frame({})).code == 0
    assert decode(json_frame({"code": 1, "remark": None, "extFields": None})).ext_fields == {}


def test_json_unknown_language_name_and_codes_decode() -> None:
    cmd = decode(json_frame({"code": 54321, "language": "COBOL", "version": 9999}))
    assert cmd.code == 54321 and cmd.version == 9999
    assert cmd.language.name == "COBOL"
    assert int(cmd.language) == int(LanguageCode.OTHER)


def test_json_unknown_language_name_survives_other() -> None:
    encode(RemotingCommand(1, language=LanguageCode.OTHER))
    cmd = decode(json_frame({"code": 1, "language": "COBOL"}))
    assert b'"language":"COBOL"' in header_of(encode(cmd))  # written back by name, as it came


def test_json_numeric_strings_cast_like_fastjson() -> None:
    assert decode(json_frame({"code": "12", "opaque": "-3"})).opaque == -3


def test_json_duplicate_keys_last_wins() -> None:
    wire = json_frame(b'{"code":1,"code":2,"extFields":{"a":"1","a":"2"}}')
    cmd = decode(wire)
    assert cmd.code == 2 and cmd.ext_fields == {"a": "2"}


def test_json_unknown_keys_are_ignored() -> None:
    assert decode(json_frame({"code": 1, "customHeader": {"x": 1}, "suspended": True})).code == 1


@pytest.mark.parametrize(
    "header",
    [
        b'{"code":',
        b"[]",
        b"null",
        b'{"code":10,"extFields":[]}',
        b'{"code":1,"remark":5}',
        b'{"code":"ten"}',
        b'{"code":2147483648}',
        b'{"opaque":-2147483649}',
        b'{"code":1,"language":{}}',
        b'{"code":1,"remark":"\xc3"}',
    ],
)
def test_json_header_that_does_not_fit_raises_malformed_header(header: bytes) -> None:
    with pytest.raises(MalformedHeaderError):
        decode(json_frame(header))


# --------------------------------------------------------------------------- ROCKETMQ binary header


def test_binary_fixed_part_is_21_bytes() -> None:
    cmd = RemotingCommand(code=105, language=LanguageCode.PYTHON, version=479, opaque=8, flag=2, serialize_type=ROCKETMQ)
    header = header_of(encode(cmd))
    assert header == binary_header(flag=2)
    assert len(header) == 21
    assert struct.unpack(">hBhiiii", header) == (105, 3, 479, 8, 2, 0, 0)


def test_binary_ext_entries_have_int16_keys_and_int32_values() -> None:
    cmd = RemotingCommand(105, ext_fields={"topic": "TopicTest", "k": "é"}, serialize_type=ROCKETMQ)
    ext = entry(b"topic", b"TopicTest") + entry(b"k", "é".encode())
    assert header_of(encode(cmd)) == binary_header(language=3, opaque=0, ext=ext)


def test_binary_remark_length_zero_is_null() -> None:
    assert decode(frame(1, binary_header())).remark is None
    assert decode(frame(1, binary_header(remark=b"bad"))).remark == "bad"
    # "" and None both go out as length 0 (Java writes both that way) and come back None
    for remark in ("", None):
        wire = encode(RemotingCommand(1, remark=remark, serialize_type=ROCKETMQ))
        assert header_of(wire)[13:17] == b"\x00\x00\x00\x00"
        assert decode(wire).remark is None


def test_binary_empty_ext_value_decodes_to_empty_string() -> None:
    # Java 4.9.4+ reads null here; we keep "" so that the entry round-trips
    wire = frame(1, binary_header(ext=entry(b"consumerGroup", b"")))
    assert decode(wire).ext_fields == {"consumerGroup": ""}
    assert encode(decode(wire)) == wire


def test_binary_duplicate_keys_last_wins() -> None:
    wire = frame(1, binary_header(ext=entry(b"b", b"old") + entry(b"a", b"x") + entry(b"b", b"new")))
    assert decode(wire).ext_fields == {"b": "new", "a": "x"}


def test_binary_unknown_language_byte_and_code_decode() -> None:
    wire = frame(1, binary_header(code=30000, language=42))
    cmd = decode(wire)
    assert cmd.code == 30000 and int(cmd.language) == 42 and cmd.language.name == "UNKNOWN_42"
    assert encode(cmd) == wire


def test_binary_code_is_int16() -> None:
    with pytest.raises(EncodeError):
        encode(RemotingCommand(40000, serialize_type=ROCKETMQ))
    assert decode(encode(RemotingCommand(40000, serialize_type=JSON))).code == 40000
    assert decode(encode(RemotingCommand(-32768, serialize_type=ROCKETMQ))).code == -32768
    with pytest.raises(EncodeError):
        encode(RemotingCommand(1, version=40000, serialize_type=ROCKETMQ))


def test_binary_key_length_is_int16() -> None:
    with pytest.raises(EncodeError):
        encode(RemotingCommand(1, ext_fields={"k" * 32768: "v"}, serialize_type=ROCKETMQ))
    key = "k" * 32767
    assert decode(encode(RemotingCommand(1, ext_fields={key: "v"}, serialize_type=ROCKETMQ))).ext_fields == {key: "v"}


@pytest.mark.parametrize(
    "header",
    [
        binary_header()[:20],
        binary_header(remark=b"abc")[:-6],
        struct.pack(">hBhiii", 1, 3, 479, 0, 0, -1) + b"\x00\x00\x00\x00",
        binary_header(remark=b"\xff"),
        binary_header(ext=entry(b"\xff", b"v")),
        binary_header(ext=entry(b"k", b"\xc3")),
        binary_header(ext=b"\x00\x05ab"),
        binary_header(ext=b"\xff\xff" + b"\x00" * 6),
    ],
)
def test_binary_header_that_does_not_fit_raises_malformed_header(header: bytes) -> None:
    with pytest.raises(MalformedHeaderError):
        decode(frame(1, header))


def test_binary_header_bytes_past_the_ext_block() -> None:
    with pytest.raises(BadHeaderLengthError):
        decode(frame(1, binary_header() + b"\x00"))


# --------------------------------------------------------------------------- flags and opaque


def test_flags() -> None:
    request = RemotingCommand.request(105, opaque=7)
    oneway = RemotingCommand.request(35, oneway=True)
    response = request.reply(0)
    assert (request.flag, oneway.flag, response.flag) == (0, int(RemotingFlag.ONEWAY), int(RemotingFlag.RESPONSE))
    assert not request.is_response and not request.is_oneway
    assert oneway.is_oneway and response.is_response and response.opaque == 7
    assert decode(encode(response)).is_response


@pytest.mark.parametrize("serialize_type", [JSON, ROCKETMQ])
def test_opaque_is_a_signed_int32(serialize_type: SerializeType) -> None:
    for opaque in (-(2**31), -1, 0, 2**31 - 1):
        assert decode(encode(RemotingCommand(1, opaque=opaque, serialize_type=serialize_type))).opaque == opaque
    with pytest.raises(EncodeError):
        encode(RemotingCommand(1, opaque=2**31, serialize_type=serialize_type))


# --------------------------------------------------------------------------- whole-frame decode


def test_decode_takes_exactly_one_frame() -> None:
    wire = encode(RemotingCommand(1))
    with pytest.raises(TruncatedFrameError):
        decode(wire[:-1])
    with pytest.raises(TruncatedFrameError):
        decode(wire[:3])
    with pytest.raises(TrailingBytesError):
        decode(wire + b"\x00")
    with pytest.raises(TrailingBytesError):
        decode(wire + wire)


def test_decode_rejects_bad_lengths_and_types() -> None:
    with pytest.raises(BadHeaderLengthError):
        decode(struct.pack(">ii", 8, 16) + b"{}{}")
    with pytest.raises(UnknownSerializeTypeError) as info:
        decode(frame(5, b"{}"))
    assert info.value.value == 5


@pytest.mark.parametrize("make", [bytes, bytearray, memoryview])
def test_decode_accepts_bytes_like(make: type) -> None:
    cmd = RemotingCommand.request(105, {"topic": "T"}, b"b", serialize_type=ROCKETMQ)
    assert decode(make(encode(cmd))) == cmd
    assert FrameDecoder().feed(make(encode(cmd))) == [cmd]


# --------------------------------------------------------------------------- encode errors


@pytest.mark.parametrize("serialize_type", [JSON, ROCKETMQ])
@pytest.mark.parametrize(
    "fields",
    [
        {"ext_fields": {"a": 1}},
        {"ext_fields": {1: "a"}},
        {"ext_fields": {"a": None}},
        {"ext_fields": {"a": b"bytes"}},
        {"ext_fields": {"a": "\ud800"}},
        {"ext_fields": {"\udfff": "a"}},
        {"remark": "\ud800"},
        {"remark": 5},
        {"flag": 2**31},
        {"opaque": 1.5},
    ],
)
def test_values_that_cannot_go_on_the_wire(serialize_type: SerializeType, fields: dict[str, object]) -> None:
    cmd = RemotingCommand(1, serialize_type=serialize_type, **fields)  # type: ignore[arg-type]
    with pytest.raises(EncodeError):
        encode(cmd)


@pytest.mark.parametrize("field", ["code", "opaque", "flag", "version"])
def test_json_encode_of_int_subclasses(field: str) -> None:
    import enum

    class Mixed(int, enum.Enum):
        FIVE = 5

    for value in (True, Mixed.FIVE):
        cmd = RemotingCommand(**{"code": 1, field: value})  # type: ignore[arg-type]
        try:
            wire = encode(cmd)
        except EncodeError:
            continue  # refusing it is fine too
        assert getattr(decode(wire), field) == int(value)


def test_language_must_fit_a_byte_in_binary() -> None:
    with pytest.raises(EncodeError):
        encode(RemotingCommand(1, language=LanguageCode(300), serialize_type=ROCKETMQ))


def test_unknown_serialize_type_cannot_be_encoded() -> None:
    with pytest.raises(CodecError):
        encode(RemotingCommand(1, serialize_type=5))  # type: ignore[arg-type]


def test_encode_takes_a_command() -> None:
    with pytest.raises(TypeError):
        encode(b"bytes")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- FrameDecoder


def test_stream_decoder_limit_is_checked_on_the_length_alone() -> None:
    decoder = FrameDecoder(max_frame_size=64)
    assert decoder.feed(b"\x00\x00\x00") == []
    assert decoder.buffered == 3
    with pytest.raises(FrameTooLargeError) as info:
        decoder.feed(b"\x3d")  # 61 + 4 = 65 > 64: refused before any of it arrives
    assert (info.value.length, info.value.limit) == (65, 64)


def test_stream_decoder_limit_counts_the_length_field() -> None:
    cmd = RemotingCommand(1, body=b"x")
    wire = encode(cmd)
    assert FrameDecoder(max_frame_size=len(wire)).feed(wire) == [cmd]
    with pytest.raises(FrameTooLargeError):
        FrameDecoder(max_frame_size=len(wire) - 1).feed(wire[:4])


def test_stream_decoder_default_limit_is_nettys() -> None:
    assert DEFAULT_MAX_FRAME_SIZE == 16 * 1024 * 1024
    with pytest.raises(FrameTooLargeError):
        FrameDecoder().feed(struct.pack(">i", 16 * 1024 * 1024 - 3))
    decoder = FrameDecoder()
    assert decoder.feed(struct.pack(">i", 16 * 1024 * 1024 - 4)) == []  # the largest accepted: waits


def test_stream_decoder_2gib_length_fails_after_4_bytes() -> None:
    decoder = FrameDecoder()
    for byte in b"\x7f\xff\xff":
        assert decoder.feed(bytes([byte])) == []
    with pytest.raises(FrameTooLargeError):
        decoder.feed(b"\xff" + b"\x00" * 100)
    assert decoder.buffered == 0


def test_stream_decoder_negative_length() -> None:
    with pytest.raises(FrameError) as info:
        FrameDecoder().feed(b"\xff\xff\xff\xfe\x00\x00\x00\x00")
    assert type(info.value) is FrameError


def test_stream_decoder_is_unusable_after_an_error() -> None:
    decoder = FrameDecoder()
    with pytest.raises(CodecError):
        decoder.feed(frame(7, b"{}"))
    good = encode(RemotingCommand(1))
    with pytest.raises(FrameError):
        decoder.feed(good)
    with pytest.raises(FrameError):
        decoder.feed(b"")


def test_stream_decoder_many_frames_in_one_feed() -> None:
    commands = [
        RemotingCommand.request(i, {"i": str(i)}, bytes([i % 256]) * i, opaque=i, serialize_type=(JSON, ROCKETMQ)[i % 2])
        for i in range(100)
    ]
    data = b"".join(encode(c) for c in commands)
    decoder = FrameDecoder()
    assert decoder.feed(data) == commands
    assert decoder.buffered == 0


def test_stream_decoder_byte_at_a_time() -> None:
    commands = [RemotingCommand.request(105, {"topic": "T"}, b"abc", opaque=i) for i in range(3)]
    data = b"".join(encode(c) for c in commands)
    decoder = FrameDecoder()
    got = []
    for i in range(len(data)):
        got += decoder.feed(data[i : i + 1])
        assert decoder.buffered == (i + 1) - sum(len(encode(c)) for c in got)
    assert got == commands


def test_stream_decoder_empty_feed_and_partial_length() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\x00\x00") == []
    assert decoder.buffered == 2


def test_stream_decoder_rejects_tiny_limits() -> None:
    with pytest.raises(ValueError):
        FrameDecoder(max_frame_size=7)


def test_stream_decoder_does_not_keep_references_to_the_input() -> None:
    wire = bytearray(encode(RemotingCommand(1, body=b"abc")))
    (cmd,) = FrameDecoder().feed(wire)
    wire[-1] = 0
    assert cmd.body == b"abc"


def test_an_unknown_language_byte_survives_a_json_round_trip() -> None:
    binary = RemotingCommand(1, language=LanguageCode(42), serialize_type=SerializeType.ROCKETMQ)
    as_json = RemotingCommand(1, language=decode(encode(binary)).language, serialize_type=SerializeType.JSON)
    back = decode(encode(as_json))
    assert back.language.name == "UNKNOWN_42" and int(back.language) == 42
