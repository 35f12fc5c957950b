"""codec.message against protocol.md section 6, Example 4 of section 10, and
the real frames of the C++ client (/work/shared/golden/cpp.jsonl).

Provenance of the vectors:
* "Example 4": protocol.md section 10, derived by its author from
  ``MessageDecoder.encodeMessage`` and checked against C++ batch bodies;
* "seq N": frame N of cpp.jsonl, captured from rocketmq-client-cpp
  (PyPI rocketmq 0.4.4); ``driver_input`` says what the client was asked to send.
"""

from __future__ import annotations

import re
import threading
import time
import zlib
from typing import Any

import pytest
from golden_support import GoldenFrames
from hypothesis import given, settings
from hypothesis import strategies as st

import rmqwire.codec as codec
from rmqwire.codec.errors import CodecError, ConfigError, EncodeError, InvalidMessageError, MalformedBodyError
from rmqwire.codec.message import (
    BATCH_RECORD,
    COMPRESS_LEVEL_DEFAULT,
    COMPRESS_OVER_DEFAULT,
    KEY_SEPARATOR,
    NAME_VALUE_SEPARATOR,
    NOT_ALLOWED_SEND_TOPICS,
    PROPERTY_DELAY_TIME_LEVEL,
    PROPERTY_KEYS,
    PROPERTY_SEPARATOR,
    PROPERTY_TAGS,
    PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX,
    PROPERTY_WAIT_STORE_MSG_OK,
    RESERVED_PROPERTY_NAMES,
    BatchEntry,
    MessageSysFlag,
    UniqueIdGenerator,
    compress_body,
    create_offset_msg_id,
    decode_batch,
    decode_properties,
    decompress_body,
    encode_batch,
    encode_batch_record,
    encode_properties,
    new_message_id,
    parse_offset_msg_id,
    parse_unique_id,
    validate_group,
    validate_topic,
    validate_user_property,
)

FRAMES = GoldenFrames("cpp.jsonl")  # read at first use; its tests skip without ../shared
SEND_SEQS = [3, 5, 7, 9, 11, 13]


def command(seq: int) -> codec.RemotingCommand:
    return codec.decode(bytes.fromhex(FRAMES[seq]["frame_hex"]))


def hexdump(text: str) -> bytes:
    """Bytes of a protocol.md hex dump: offset column first, '…' comments after."""
    out = bytearray()
    for line in text.strip().splitlines():
        fields = line.split()[1:]
        for item in fields:
            if not re.fullmatch(r"[0-9a-f]{2}", item):
                break
            out.append(int(item, 16))
    return bytes(out)


# --------------------------------------------------------------------------- 6.1 properties string

EXAMPLE_PROPS = "TAGS\x01TagA\x02WAIT\x01true\x02UNIQ_KEY\x01C0A8010A30391B6D35860012D6870000\x02"


def test_separators_are_the_java_ones() -> None:
    assert (NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR, KEY_SEPARATOR) == ("\x01", "\x02", " ")


def test_encode_properties_writes_name_01_value_02_with_trailing_02() -> None:
    props = {"TAGS": "TagA", "WAIT": "true", "UNIQ_KEY": "C0A8010A30391B6D35860012D6870000"}
    text = encode_properties(props)
    assert text == EXAMPLE_PROPS
    assert len(text.encode("utf-8")) == 62  # the section 10 "common inputs" size


def test_encode_properties_without_trailing_separator_is_the_4_9_1_form() -> None:
    assert encode_properties({"a": "1", "b": "2"}, trailing_separator=False) == "a\x011\x02b\x012"
    assert encode_properties({}, trailing_separator=True) == ""


def test_encode_properties_drops_empty_values_as_java_parsers_would() -> None:
    assert encode_properties({"a": "", "b": "2"}) == "b\x012\x02"
    assert encode_properties({"a": ""}) == ""


@pytest.mark.parametrize(
    "props",
    [
        {"": "v"},
        {"k\x01": "v"},
        {"k\x02": "v"},
        {"k": "v\x01"},
        {"k": "v\x02w"},
        {1: "v"},
        {"k": 1},
        {"k": None},
        {"k": "\ud800"},
    ],
)
def test_encode_properties_rejects_what_cannot_round_trip(props: dict[Any, Any]) -> None:
    with pytest.raises(EncodeError):
        encode_properties(props)


@pytest.mark.parametrize("text", [EXAMPLE_PROPS, EXAMPLE_PROPS[:-1]])
def test_decode_properties_with_or_without_trailing_separator(text: str) -> None:
    assert decode_properties(text) == {
        "TAGS": "TagA",
        "WAIT": "true",
        "UNIQ_KEY": "C0A8010A30391B6D35860012D6870000",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("\x02\x02\x02", {}),
        ("a\x01", {}),  # chunk shorter than 3
        ("\x01bc\x02", {}),  # empty name
        ("ab\x01\x02", {}),  # empty value
        ("abc\x02d\x01e", {"d": "e"}),  # no separator in the first chunk
        ("k\x01v\x01w", {"k": "v\x01w"}),  # split at the first \x01 only
        ("k\x011\x02k\x012", {"k": "2"}),  # HashMap.put: last wins
        ("城市\x01杭州", {"城市": "杭州"}),
    ],
)
def test_decode_properties_follows_the_4_9_1_parse_rules(text: str, expected: dict[str, str]) -> None:
    assert decode_properties(text) == expected


def test_decode_properties_accepts_utf8_bytes_and_rejects_invalid_utf8() -> None:
    assert decode_properties("k\x01杭州".encode()) == {"k": "杭州"}
    with pytest.raises(MalformedBodyError):
        decode_properties(b"k\x01\xff")


def test_reserved_names_cover_what_protocol_md_6_2_names() -> None:
    named = {"TAGS", "KEYS", "WAIT", "UNIQ_KEY", "DELAY", "TIMER_DELAY_SEC", "TIMER_DELAY_MS", "TIMER_DELIVER_MS",
             "TRAN_MSG", "PGROUP", "INSTANCE_ID", "RECONSUME_TIME", "MAX_RECONSUME_TIMES", "MSG_TYPE", "CLUSTER",
             "MSG_REGION", "TRACE_ON", "REAL_TOPIC", "REAL_QID", "RETRY_TOPIC", "CORRELATION_ID", "REPLY_TO_CLIENT",
             "TTL", "__CRC32#"}  # fmt: skip
    assert named <= RESERVED_PROPERTY_NAMES
    assert "color" not in RESERVED_PROPERTY_NAMES


def test_user_properties_may_not_use_system_names_or_be_blank() -> None:
    validate_user_property("color", "red")
    for name, value in [("TAGS", "x"), ("UNIQ_KEY", "x"), (" ", "x"), ("k", " "), ("k\x02", "v")]:
        with pytest.raises(InvalidMessageError):
            validate_user_property(name, value)


property_text = st.text(st.characters(blacklist_characters="\x01\x02", blacklist_categories=("Cs",)), min_size=1)


@settings(max_examples=300)
@given(st.dictionaries(property_text, property_text), st.booleans())
def test_properties_round_trip(props: dict[str, str], trailing: bool) -> None:
    assert decode_properties(encode_properties(props, trailing_separator=trailing)) == props


@settings(max_examples=300)
@given(st.text(st.sampled_from("\x01\x02ab杭")) | st.text())
def test_decode_properties_never_fails_on_text(text: str) -> None:
    decoded = decode_properties(text)
    assert all(key and value for key, value in decoded.items())


@settings(max_examples=300)
@given(st.binary())
def test_decode_properties_on_bytes_raises_only_codec_errors(data: bytes) -> None:
    try:
        decode_properties(data)
    except CodecError:
        pass


@pytest.mark.parametrize("seq", SEND_SEQS)
def test_every_cpp_send_carries_the_properties_its_driver_asked_for(seq: int) -> None:
    cmd = command(seq)
    asked = FRAMES[seq]["driver_input"]
    props = decode_properties(cmd.ext_fields["properties"])
    assert props[PROPERTY_TAGS] == asked["tags"]
    assert props[PROPERTY_KEYS] == asked["keys"]
    assert props[PROPERTY_KEYS].split(KEY_SEPARATOR) == asked["keys"].split(" ")
    assert props[PROPERTY_WAIT_STORE_MSG_OK] == "true"
    assert re.fullmatch(r"[0-9A-F]{32}", props[PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX])
    for name, value in asked["properties"].items():
        assert props[name] == value
    if "delay_level" in asked:
        assert props[PROPERTY_DELAY_TIME_LEVEL] == str(asked["delay_level"])
    else:
        assert PROPERTY_DELAY_TIME_LEVEL not in props
    # The C++ client writes the trailing \x02; re-encoding in its order gives its bytes.
    assert encode_properties(props) == cmd.ext_fields["properties"]


# --------------------------------------------------------------------------- 6.3 sysFlag and compression


def test_sys_flag_values_are_java_message_sys_flag() -> None:
    assert MessageSysFlag.COMPRESSED_FLAG == 0x1
    assert MessageSysFlag.MULTI_TAGS_FLAG == 0x2
    assert MessageSysFlag.TRANSACTION_NOT_TYPE == 0
    assert MessageSysFlag.TRANSACTION_PREPARED_TYPE == 0x4
    assert MessageSysFlag.TRANSACTION_COMMIT_TYPE == 0x8
    assert MessageSysFlag.TRANSACTION_ROLLBACK_TYPE == 0xC
    assert MessageSysFlag.BORNHOST_V6_FLAG == 0x10
    assert MessageSysFlag.STOREHOSTADDRESS_V6_FLAG == 0x20
    assert MessageSysFlag.NEED_UNWRAP_FLAG == 0x40
    assert MessageSysFlag.INNER_BATCH_FLAG == 0x80
    assert MessageSysFlag.COMPRESSION_LZ4_TYPE == 0x100
    assert MessageSysFlag.COMPRESSION_ZSTD_TYPE == 0x200
    assert MessageSysFlag.COMPRESSION_ZLIB_TYPE == 0x300
    assert MessageSysFlag.COMPRESSION_TYPE_MASK == 0x700
    assert MessageSysFlag.COMPRESSED_FLAG | MessageSysFlag.COMPRESSION_ZLIB_TYPE == 769


def test_compression_starts_at_4096_bytes_inclusive_and_is_zlib_wrapped() -> None:
    assert (COMPRESS_OVER_DEFAULT, COMPRESS_LEVEL_DEFAULT) == (4096, 5)
    small = b"x" * 4095
    assert compress_body(small) == (small, 0)
    big = b"x" * 4096
    wire, bits = compress_body(big)
    assert bits == 0x301
    assert wire == zlib.compress(big, 5)
    assert wire[0] == 0x78  # RFC 1950 header: zlib, not raw deflate or gzip
    assert decompress_body(wire, bits) == big


def test_compression_threshold_and_level_are_arguments() -> None:
    wire, bits = compress_body(b"abc", compress_over=3, level=9)
    assert bits == 0x301 and zlib.decompress(wire) == b"abc"
    with pytest.raises(EncodeError):
        compress_body(b"abc", compress_over=0, level=42)


def test_cpp_big_body_is_sent_zlib_compressed_with_sys_flag_1() -> None:
    cmd = command(7)
    asked = FRAMES[7]["driver_input"]
    assert cmd.ext_fields["sysFlag"] == "1"  # the pre-4.9.4 flag: type 0 means ZLIB
    body = decompress_body(cmd.body, int(cmd.ext_fields["sysFlag"]))
    assert len(body) == asked["body_len"] == 6000
    assert body == bytes.fromhex(asked["body_hex"])


def test_uncompressed_bodies_pass_through() -> None:
    assert decompress_body(b"\x00not zlib", 0) == b"\x00not zlib"
    assert decompress_body(b"abc", int(MessageSysFlag.TRANSACTION_PREPARED_TYPE)) == b"abc"


@pytest.mark.parametrize(("flag", "name"), [(0x101, "LZ4"), (0x201, "ZSTD")])
def test_lz4_and_zstd_are_reported_unsupported(flag: int, name: str) -> None:
    with pytest.raises(MalformedBodyError, match=f"unsupported.*{name}"):
        decompress_body(zlib.compress(b"abc"), flag)


def test_unknown_compression_type_is_malformed() -> None:
    with pytest.raises(MalformedBodyError, match="unknown"):
        decompress_body(zlib.compress(b"abc"), 0x401)


def test_decompression_is_bounded_so_a_zip_bomb_fails_cheaply() -> None:
    bomb = zlib.compress(bytes(64 * 1024 * 1024), 9)
    assert len(bomb) < 100_000
    with pytest.raises(MalformedBodyError, match="more than 1048576"):
        decompress_body(bomb, 0x301, max_size=1024 * 1024)
    exact = zlib.compress(bytes(1000))
    assert decompress_body(exact, 1, max_size=1000) == bytes(1000)
    with pytest.raises(MalformedBodyError):
        decompress_body(exact, 1, max_size=999)
    assert decompress_body(exact, 1, max_size=2**80) == bytes(1000)


@pytest.mark.parametrize(
    "wire",
    [
        zlib.compress(b"hello world" * 10)[:-3],  # truncated
        zlib.compress(b"hello") + b"junk",  # trailing bytes
        b"not zlib at all",
        b"",
        zlib.compressobj(wbits=-15).compress(b"raw") + b"",  # raw deflate, no zlib header
    ],
)
def test_bad_compressed_bodies_are_malformed(wire: bytes) -> None:
    with pytest.raises(MalformedBodyError):
        decompress_body(wire, 0x301)


@settings(max_examples=300)
@given(st.binary(max_size=300), st.sampled_from([0x1, 0x301, 0x101, 0x201, 0x701, 0x0]))
def test_decompress_body_raises_only_codec_errors(data: bytes, flag: int) -> None:
    try:
        decompress_body(data, flag)
    except CodecError:
        pass


# --------------------------------------------------------------------------- 6.5 message ids

HEX32 = re.compile(r"[0-9A-F]{32}")


def test_unique_id_of_section_10_reads_back() -> None:
    info = parse_unique_id("C0A8010A30391B6D35860012D6870000")
    assert info.ip == "192.168.1.10"
    assert info.pid == 12345
    assert info.loader_hash == 0x1B6D3586
    assert info.elapsed_ms == 1234567
    assert info.counter == 0


def month_start_ms(now_ms: int) -> int:
    t = time.localtime(now_ms / 1000)
    return int(time.mktime((t.tm_year, t.tm_mon, 1, 0, 0, 0, 0, 0, -1)) * 1000)


def test_generated_ids_carry_ip_pid_month_offset_and_counter() -> None:
    gen = UniqueIdGenerator(ip=bytes([192, 168, 1, 10]), pid=12345)
    now = 1_700_000_000_000
    first, second = gen.next_id(now), gen.next_id(now)
    assert HEX32.fullmatch(first) and HEX32.fullmatch(second) and first != second
    a, b = parse_unique_id(first), parse_unique_id(second)
    assert (a.ip, a.pid, a.elapsed_ms, a.counter) == ("192.168.1.10", 12345, now - month_start_ms(now), 0)
    assert (b.counter, b.loader_hash) == (1, a.loader_hash)
    assert first[:20] == second[:20]  # Java's FIX_STRING: ip + pid + loader hash


def test_pid_is_masked_to_16_bits_and_the_counter_wraps_at_65536() -> None:
    gen = UniqueIdGenerator(ip=bytes(4), pid=0x12345)
    ids = [gen.next_id(1_700_000_000_000) for _ in range(65537)]
    assert parse_unique_id(ids[0]).pid == 0x2345
    assert [parse_unique_id(i).counter for i in (ids[0], ids[65535], ids[65536])] == [0, 65535, 0]


def test_month_offset_restarts_with_each_local_month() -> None:
    gen = UniqueIdGenerator(ip=bytes(4), pid=1)
    start = month_start_ms(1_700_000_000_000)
    assert parse_unique_id(gen.next_id(start)).elapsed_ms == 0
    t = time.localtime(start / 1000)
    next_month = int(time.mktime((t.tm_year, t.tm_mon + 1, 1, 0, 0, 0, 0, 0, -1)) * 1000)
    assert parse_unique_id(gen.next_id(next_month + 5)).elapsed_ms == 5
    assert parse_unique_id(gen.next_id(next_month - 1)).elapsed_ms == next_month - 1 - start


def test_ids_are_unique_across_threads() -> None:
    gen = UniqueIdGenerator()
    results: list[list[str]] = [[] for _ in range(4)]

    def work(out: list[str]) -> None:
        out.extend(gen.next_id() for _ in range(5000))

    threads = [threading.Thread(target=work, args=(out,)) for out in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for out in results for i in out]
    assert len(set(every)) == len(every) == 20000
    assert all(HEX32.fullmatch(i) for i in every)


def test_default_generator_uses_this_host() -> None:
    import os

    ids = {new_message_id() for _ in range(1000)}
    assert len(ids) == 1000
    info = parse_unique_id(next(iter(ids)))
    assert info.pid == os.getpid() & 0xFFFF
    assert not info.ip.startswith("0.")


def test_ipv6_ids_are_56_hex_characters() -> None:
    gen = UniqueIdGenerator(ip=bytes.fromhex("20010db8000000000000000000000001"), pid=7)
    msg_id = gen.next_id(1_700_000_000_000)
    assert re.fullmatch(r"[0-9A-F]{56}", msg_id)
    assert parse_unique_id(msg_id).ip == "2001:db8::1"


def test_generator_rejects_an_address_of_the_wrong_size() -> None:
    with pytest.raises(EncodeError):
        UniqueIdGenerator(ip=b"\x01\x02\x03")


@pytest.mark.parametrize(
    "bad", ["", "C0A8010A", "C0A8010A30391B6D35860012D687000", "G0A8010A30391B6D35860012D6870000",
            " C0A8010A30391B6D35860012D687000", "C0A8010A30391B6D35860012D6870000\n", None, 42]
)  # fmt: skip
def test_malformed_ids_are_rejected(bad: Any) -> None:
    with pytest.raises(MalformedBodyError):
        parse_unique_id(bad)
    with pytest.raises(MalformedBodyError):
        parse_offset_msg_id(bad)


def test_offset_msg_id_of_section_6_5() -> None:
    assert parse_offset_msg_id("C0A8010A00002A9F0000000000000000") == ("192.168.1.10", 10911, 0)
    assert create_offset_msg_id("192.168.1.10", 10911, 0) == "C0A8010A00002A9F0000000000000000"


def test_offset_msg_ids_of_the_recording_broker_read_back() -> None:
    assert parse_offset_msg_id(command(4).ext_fields["msgId"]) == ("127.0.0.1", 10911, 0)
    batch_ids = command(16).ext_fields["msgId"].split(",")  # a batch answers with one id per message
    assert [parse_offset_msg_id(i) for i in batch_ids] == [("127.0.0.1", 10911, 0x165), ("127.0.0.1", 10911, 0x176)]


def test_offset_msg_id_for_ipv6_and_large_offsets() -> None:
    msg_id = create_offset_msg_id("::1", 10911, 2**40)
    assert len(msg_id) == 56
    assert parse_offset_msg_id(msg_id) == ("::1", 10911, 2**40)
    for host, port, offset in [("nohost", 1, 0), (3232235786, 1, 0), ("1.2.3.4", 70000, 0), ("1.2.3.4", 1, 2**63)]:
        with pytest.raises(EncodeError):
            create_offset_msg_id(host, port, offset)


# --------------------------------------------------------------------------- 6.4 batch body (Example 4)

EXAMPLE4_RECORD1 = hexdump(
    """
0000  00 00 00 4c 00 00 00 00 00 00 00 00 00 00 00 00    size 76, magic 0, crc 0, flag 0
0010  00 00 00 02 6d 31 00 34 57 41 49 54 01 74 72 75    bodylen 2, "m1", proplen 0x34=52, "WAIT␁tru…
0020  65 02 55 4e 49 51 5f 4b 45 59 01 43 30 41 38 30
0030  31 30 41 33 30 33 39 31 42 36 44 33 35 38 36 30
0040  30 31 32 44 36 38 37 30 30 30 31 02
"""
)
EXAMPLE4_RECORD2 = hexdump(
    """
0000  00 00 00 54 00 00 00 00 00 00 00 00 00 00 00 00    size 84, magic 0, crc 0, flag 0
0010  00 00 00 02 6d 32 00 3c 4b 45 59 53 01 6b 32 02    bodylen 2, "m2", proplen 0x3c=60, "KEYS␁k2␂"
0020  57 41 49 54 01 74 72 75 65 02 55 4e 49 51 5f 4b
0030  45 59 01 43 30 41 38 30 31 30 41 33 30 33 39 31
0040  42 36 44 33 35 38 36 30 30 31 32 44 36 38 37 30
0050  30 30 32 02
"""
)
EXAMPLE4_BODY = EXAMPLE4_RECORD1 + EXAMPLE4_RECORD2
EXAMPLE4_ENTRIES = [
    BatchEntry(b"m1", {"WAIT": "true", "UNIQ_KEY": "C0A8010A30391B6D35860012D6870001"}),
    BatchEntry(b"m2", {"KEYS": "k2", "WAIT": "true", "UNIQ_KEY": "C0A8010A30391B6D35860012D6870002"}),
]


def test_example4_record_sizes_add_up() -> None:
    assert (len(EXAMPLE4_RECORD1), len(EXAMPLE4_RECORD2), len(EXAMPLE4_BODY)) == (76, 84, 160)


def test_example4_encodes_byte_for_byte() -> None:
    assert encode_batch(EXAMPLE4_ENTRIES) == EXAMPLE4_BODY


def test_example4_decodes_to_its_two_messages() -> None:
    assert decode_batch(EXAMPLE4_BODY) == EXAMPLE4_ENTRIES


@pytest.mark.parametrize("schema", ["interpreted", "compiled"])
def test_batch_record_schema_interpreted_and_compiled_agree_on_example4(schema: str) -> None:
    record = BATCH_RECORD if schema == "interpreted" else BATCH_RECORD.compile()
    parsed = record.parse(EXAMPLE4_RECORD2)
    assert (parsed.total_size, parsed.magic_code, parsed.body_crc, parsed.flag) == (84, 0, 0, 0)
    assert (parsed.body, len(parsed.properties)) == (b"m2", 60)
    assert record.build({"flag": 0, "body": b"m2", "properties": parsed.properties}) == EXAMPLE4_RECORD2


def test_cpp_batch_body_decodes_to_the_two_messages_its_driver_sent() -> None:
    cmd = command(15)
    assert cmd.ext_fields["batch"] == "1"
    asked = FRAMES[15]["driver_input"]["batch"]
    entries = decode_batch(cmd.body)
    assert len(entries) == len(asked) == 2
    for entry, want in zip(entries, asked):
        assert entry.body == bytes.fromhex(want["body_hex"])
        assert entry.flag == 0
        assert entry.properties[PROPERTY_TAGS] == want["tags"]
        assert entry.properties[PROPERTY_KEYS] == want["keys"]
        assert entry.properties[PROPERTY_WAIT_STORE_MSG_OK] == "true"
        assert HEX32.fullmatch(entry.properties[PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX])
        for name, value in want["properties"].items():
            assert entry.properties[name] == value
    assert entries[0].properties[PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX] != entries[1].properties["UNIQ_KEY"]
    # Same records back, byte for byte (the C++ client also writes the trailing \x02).
    assert encode_batch(entries) == cmd.body


def test_empty_batch_is_empty_body() -> None:
    assert encode_batch([]) == b""
    assert decode_batch(b"") == []


def test_flag_and_binary_bodies_survive() -> None:
    entries = [BatchEntry(bytes(range(256)), {}, flag=-1), BatchEntry(b"", {"a": "b"}, flag=2**31 - 1)]
    assert decode_batch(encode_batch(entries)) == entries


@pytest.mark.parametrize("cut", [1, 3, 4, 21, 22, 75, 77, 100, 159])
def test_every_truncation_off_a_record_boundary_is_malformed(cut: int) -> None:
    with pytest.raises(MalformedBodyError):
        decode_batch(EXAMPLE4_BODY[:cut])


def test_truncation_on_a_record_boundary_is_the_shorter_batch() -> None:
    assert decode_batch(EXAMPLE4_BODY[:76]) == EXAMPLE4_ENTRIES[:1]


def with_int(data: bytes, offset: int, value: int, size: int = 4) -> bytes:
    return data[:offset] + value.to_bytes(size, "big", signed=True) + data[offset + size :]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (with_int(EXAMPLE4_RECORD1, 0, 21), "under 22"),
        (with_int(EXAMPLE4_RECORD1, 0, -1), "under 22"),
        (with_int(EXAMPLE4_RECORD1, 0, 77), "exceeds"),
        (with_int(EXAMPLE4_RECORD1, 0, 75) + b"\x00" * 0, "TOTALSIZE 75 != 22"),
        (with_int(EXAMPLE4_RECORD1, 16, 3), "!= 22"),  # BODYLEN 3 leaves PROPLEN misread
        (with_int(EXAMPLE4_RECORD1, 16, -2), "BODYLEN -2"),
        (with_int(EXAMPLE4_RECORD1, 16, 60), "BODYLEN 60"),
        (with_int(EXAMPLE4_RECORD1, 22, -1, 2), "PROPLEN -1"),
        (with_int(EXAMPLE4_RECORD1, 22, 51, 2), "PROPLEN 51"),
        (with_int(EXAMPLE4_RECORD1, 0, 77) + b"\x00", "PROPLEN 52"),
    ],
)
def test_sizes_that_do_not_add_up_are_malformed(body: bytes, message: str) -> None:
    with pytest.raises(MalformedBodyError, match=message):
        decode_batch(body)


def test_properties_must_be_utf8() -> None:
    bad = EXAMPLE4_RECORD1[:24] + b"\xff" + EXAMPLE4_RECORD1[25:]
    with pytest.raises(MalformedBodyError, match="UTF-8"):
        decode_batch(bad)


def test_magic_and_crc_are_read_and_ignored_as_the_broker_does() -> None:
    odd = with_int(with_int(EXAMPLE4_RECORD1, 4, 0xDAA320A7 - 2**32), 8, 12345)
    assert decode_batch(odd) == EXAMPLE4_ENTRIES[:1]


def test_encode_rejects_what_the_record_cannot_hold() -> None:
    with pytest.raises(EncodeError, match="32767"):
        encode_batch([BatchEntry(b"x", {"k": "v" * 32766})])
    encode_batch([BatchEntry(b"x", {"k": "v" * 32763})])  # exactly 32767 bytes with k, \x01, \x02
    with pytest.raises(EncodeError):
        encode_batch([BatchEntry(b"x", {}, flag=2**31)])
    with pytest.raises(EncodeError):
        encode_batch([BatchEntry(b"x", {"k\x01": "v"})])



def test_a_record_from_encoded_properties_is_the_entry_record() -> None:
    # encode_batch_record is what the producer writes a batch with: the same bytes
    # as encode_batch on the entries, record by record
    assert b"".join(
        encode_batch_record(e.body, encode_properties(e.properties), e.flag, index=i) for i, e in enumerate(EXAMPLE4_ENTRIES)
    ) == EXAMPLE4_BODY
    assert encode_batch_record(bytearray(b"ab"), "") == encode_batch([BatchEntry(b"ab", {})])


def test_a_record_from_encoded_properties_rejects_what_encode_batch_rejects() -> None:
    with pytest.raises(EncodeError, match="batch entry 3: properties are 32768 bytes"):
        encode_batch_record(b"x", "k\x01" + "v" * 32765 + "\x02", index=3)
    encode_batch_record(b"x", "k\x01" + "v" * 32764 + "\x02")
    with pytest.raises(EncodeError, match="batch entry 0: flag must be a 32-bit integer"):
        encode_batch_record(b"x", "", 2**31)
    with pytest.raises(EncodeError, match="UTF-8"):
        encode_batch_record(b"x", "k\x01\ud800\x02")
    with pytest.raises(TypeError, match="batch entry 2 body must be bytes"):
        encode_batch_record("x", "", index=2)  # type: ignore[arg-type]

batch_entries = st.lists(
    st.builds(
        BatchEntry,
        st.binary(max_size=64),
        st.dictionaries(property_text, property_text, max_size=4),
        st.integers(-(2**31), 2**31 - 1),
    ),
    max_size=5,
)


@settings(max_examples=300)
@given(batch_entries)
def test_batch_round_trip(entries: list[BatchEntry]) -> None:
    assert decode_batch(encode_batch(entries)) == entries


@settings(max_examples=500)
@given(st.binary(max_size=200) | st.builds(lambda b, i: EXAMPLE4_BODY[:i] + b, st.binary(max_size=8), st.integers(0, 160)))
def test_decode_batch_raises_only_codec_errors(data: bytes) -> None:
    try:
        decode_batch(data)
    except CodecError:
        pass


@settings(max_examples=200)
@given(batch_entries)
def test_compiled_and_interpreted_batch_records_build_the_same_bytes(entries: list[BatchEntry]) -> None:
    compiled = BATCH_RECORD.compile()
    for entry in entries:
        value = {"flag": entry.flag, "body": entry.body, "properties": encode_properties(entry.properties).encode()}
        built = BATCH_RECORD.build(value)
        assert compiled.build(value) == built
        assert compiled.parse(built) == BATCH_RECORD.parse(built)


# --------------------------------------------------------------------------- 6.6 names


@pytest.mark.parametrize("topic", ["TopicTest", "a", "%RETRY%group", "a|b", "A-Z_0-9", "t" * 127])
def test_valid_topics(topic: str) -> None:
    validate_topic(topic)


@pytest.mark.parametrize(
    "topic", ["", "   ", "t" * 128, "a b", "a.b", "topic\n", "tópico", "主题", "a/b", None, *sorted(NOT_ALLOWED_SEND_TOPICS)]
)
def test_invalid_topics(topic: Any) -> None:
    with pytest.raises(InvalidMessageError):
        validate_topic(topic)


def test_topic_errors_are_value_errors_of_our_tree() -> None:
    with pytest.raises(ValueError, match="forbidden"):
        validate_topic("SCHEDULE_TOPIC_XXXX")


@pytest.mark.parametrize("group", ["PG_DEMO", "golden-group", "CLIENT_INNER_PRODUCER", "g" * 255])
def test_valid_groups(group: str) -> None:
    validate_group(group)


@pytest.mark.parametrize("group", ["", " ", "g" * 256, "a b", "a.b", "grupo\n", "组", None])
def test_invalid_groups(group: Any) -> None:
    with pytest.raises(ConfigError):
        validate_group(group)
