#!/usr/bin/env python3
"""Build rmqwire's golden corpus: ``specs/golden/*.msgpack``.

Several files, each an ``rmqwire-trace`` msgpack stream (``codec/trace.py``,
``specs/README.md``):

``cpp.msgpack``
    Every frame of ``shared/golden/cpp.jsonl``: a whole producer session of
    the real rocketmq-client-cpp (PyPI ``rocketmq`` 0.4.4) and the recording
    server's replies, with provenance, the decoded fields and what the client
    was asked to send.
``java-broker-4.9.8.msgpack``, ``java-broker-4.9.8-tx-order-ns.msgpack``
    Every frame of the two ``shared/golden/java-broker-4.9.8*.jsonl``
    sessions: the real Apache RocketMQ 4.9.8 Java client (producer, push and
    pull consumers; transactions, orderly consumption, a namespace) talking
    to a real 4.9.8 name server and broker through a transparent proxy.
    Both directions are the real thing.  Each reply names the request it
    answers (``in_reply_to``: same connection, same opaque).
``rocketmq-binary.msgpack``
    Vectors derived from the Java rules (``RocketMQSerializable.java``,
    ``RemotingSerializable.java``; ``shared/protocol.md`` §2 and §10): ROCKETMQ
    binary headers, which no client we captured sends, and a few JSON twins.
``errors.msgpack``
    Frames that must not decode, each with the error class name.

Nothing here calls rmqwire's encoder or decoder: that is what the corpus
tests.  The wire bytes of derived vectors are written out as hex (the
protocol.md examples verbatim, the others field by field with comments) and
are checked against the hand-written expectations by the small independent
readers below (:func:`read_binary_frame`, :func:`read_json_frame`).  Only the
record layout (``codec.trace``) is shared with the library.

Deterministic: the same inputs always give the same bytes.  Run with
``make corpus``; ``--check`` only verifies the committed files are current.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rmqwire.codec.trace import EXPECT_KEYS, TraceRecord, pack_records  # noqa: E402

DEFAULT_CPP = ROOT.parent / "shared" / "golden" / "cpp.jsonl"
DEFAULT_OUT = ROOT / "specs" / "golden"
DEFAULT_SHARED_GOLDEN = ROOT.parent / "shared" / "golden"
#: The real Java sessions, by capture file name.
JAVA_SESSIONS = ("java-broker-4.9.8.jsonl", "java-broker-4.9.8-tx-order-ns.jsonl")
JAVA_SOURCE = (
    "captured: Apache RocketMQ 4.9.8 Java client talking to a real 4.9.8 name server and broker, "
    "recorded by a transparent proxy"
)
JAVA_REPLY_SOURCE = (
    "captured: a real Apache RocketMQ 4.9.8 name server / broker answering the 4.9.8 Java client, "
    "recorded by a transparent proxy"
)
JAVA_BROKER_REQUEST_SOURCE = (
    "captured: a request a real Apache RocketMQ 4.9.8 broker sent to the 4.9.8 Java client, "
    "recorded by a transparent proxy"
)
JAVA_CLIENT_ANSWER_SOURCE = (
    "captured: the 4.9.8 Java client answering a request of a real 4.9.8 broker, "
    "recorded by a transparent proxy"
)

CPP_SOURCE = "captured: rocketmq-client-cpp via PyPI rocketmq 0.4.4"
CPP_REPLY_SOURCE = (
    "captured: recording server's reply (shaped like a Java 4.9 name server/broker, fastjson style), "
    "accepted by rocketmq-client-cpp via PyPI rocketmq 0.4.4"
)
NO_CLIENT_NOTE = (
    "derived from the Java rules, not captured: no client we captured sends ROCKETMQ binary headers "
    "(CPP and ONS speak JSON only)"
)

#: LanguageCode bytes (protocol.md 2.4), written out here on purpose.
LANGUAGE_NAMES = {
    0: "JAVA", 1: "CPP", 2: "DOTNET", 3: "PYTHON", 4: "DELPHI", 5: "ERLANG", 6: "RUBY",
    7: "OTHER", 8: "HTTP", 9: "GO", 10: "PHP", 11: "OMS", 12: "RUST", 13: "NODE_JS",
}


# --------------------------------------------------------------------------- helpers


def hexbytes(text: str) -> bytes:
    """Bytes from a hex listing: two-digit hex tokens; a leading four-digit
    token is a dump offset and must equal the bytes so far; ``#`` starts a
    comment."""
    out = bytearray()
    for raw_line in text.splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        tokens = line.split()
        if len(tokens[0]) == 4:
            if int(tokens[0], 16) != len(out):
                raise AssertionError(f"dump offset {tokens[0]} but {len(out):#06x} bytes so far: {raw_line!r}")
            tokens = tokens[1:]
        for token in tokens:
            if len(token) != 2:
                raise AssertionError(f"bad hex token {token!r} in {raw_line!r}")
            out.append(int(token, 16))
    return bytes(out)


def expect(
    code: int,
    language: str,
    version: int,
    opaque: int,
    flag: int,
    remark: str | None,
    ext_fields: dict[str, str],
    body: bytes,
    serialize_type: str,
) -> dict[str, Any]:
    """An ``expect`` map in the layout's key order."""
    values = (code, language, version, opaque, flag, remark, ext_fields, body, serialize_type)
    return dict(zip(EXPECT_KEYS, values))


def read_binary_frame(wire: bytes) -> dict[str, Any]:
    """An independent reading of a well-formed ROCKETMQ frame (protocol.md
    1.1 and 2.2), strict about every length; the decoded fields as ``expect``."""
    total, meta = struct.unpack_from(">ii", wire, 0)
    assert total == len(wire) - 4, f"total_length {total} != {len(wire) - 4}"
    assert meta >> 24 == 1, "not a ROCKETMQ frame"
    hlen = meta & 0xFFFFFF
    header = wire[8 : 8 + hlen]
    assert len(header) == hlen
    code, lang, version, opaque, flag, rlen = struct.unpack_from(">hBhiii", header, 0)
    pos = 17
    assert 0 <= rlen <= hlen - pos
    remark = header[pos : pos + rlen].decode("utf-8") if rlen else None
    pos += rlen
    (elen,) = struct.unpack_from(">i", header, pos)
    pos += 4
    assert pos + elen == hlen, f"ext block {elen} does not end the {hlen}-byte header"
    ext: dict[str, str] = {}
    while pos < hlen:
        (klen,) = struct.unpack_from(">h", header, pos)
        key = header[pos + 2 : pos + 2 + klen].decode("utf-8")
        pos += 2 + klen
        (vlen,) = struct.unpack_from(">i", header, pos)
        value = header[pos + 4 : pos + 4 + vlen].decode("utf-8")
        pos += 4 + vlen
        assert pos <= hlen
        ext[key] = value  # a duplicate key: the last value wins (in the first one's place)
    language = LANGUAGE_NAMES.get(lang, f"UNKNOWN_{lang}")
    return expect(code, language, version, opaque, flag, remark, ext, wire[8 + hlen :], "ROCKETMQ")


def java_string(value: Any) -> str:
    """The string a Java ``HashMap<String,String>`` holds for a JSON scalar
    after fastjson's cast (numbers and booleans by their JSON text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    raise AssertionError(f"unexpected extFields value {value!r}")


def read_json_frame(wire: bytes) -> dict[str, Any]:
    """An independent reading of a well-formed JSON frame (protocol.md 1.1
    and 2.1) with the stdlib ``json`` module; the decoded fields as ``expect``."""
    total, meta = struct.unpack_from(">ii", wire, 0)
    assert total == len(wire) - 4, f"total_length {total} != {len(wire) - 4}"
    assert meta >> 24 == 0, "not a JSON frame"
    hlen = meta & 0xFFFFFF
    header = json.loads(wire[8 : 8 + hlen].decode("utf-8"))
    ext = {key: java_string(value) for key, value in (header.get("extFields") or {}).items() if value is not None}
    return expect(
        header.get("code", 0),
        header.get("language", "JAVA"),
        header.get("version", 0),
        header.get("opaque", 0),
        header.get("flag", 0),
        header.get("remark"),
        ext,
        wire[8 + hlen :],
        "JSON",
    )


def read_frame(wire: bytes) -> dict[str, Any]:
    return read_binary_frame(wire) if wire[4] == 1 else read_json_frame(wire)


# --------------------------------------------------------------------------- cpp.msgpack


def cpp_records(path: Path) -> list[TraceRecord]:
    """One record per line of the C++ client's capture."""
    records = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        wire = bytes.fromhex(row["frame_hex"])
        assert len(wire) == row["frame_len"], f"line {lineno}: frame_len"
        decoded = read_json_frame(wire)
        # the recorder's own reading agrees with ours
        assert row["serialize_type"] == decoded["serialize_type"] == "JSON", f"line {lineno}"
        for key in ("code", "opaque", "flag"):
            assert row[key] == decoded[key], f"line {lineno}: {key}"
        client = row["direction"] == "client->server"
        if client:
            assert decoded["language"] == "CPP" and decoded["version"] == 63, f"line {lineno}"
            assert wire.endswith(b"\n") or wire[8 + (struct.unpack_from(">i", wire, 4)[0] & 0xFFFFFF) - 1] == 0x0A
        provenance = {
            "source": CPP_SOURCE if client else CPP_REPLY_SOURCE,
            "file": "shared/golden/cpp.jsonl",
            "line": lineno,
            "client": row["client"],
            "conn": row["conn"],
            "peer": row["peer"],
            "server_port": row["server_port"],
            "driver_context": row["driver_context"],
        }
        note = _cpp_note(row, decoded)
        name = f"cpp-{row['seq']:02d}-{row['code_name'].lower().replace('_', '-')}"
        if row.get("driver_input"):
            name += "-" + row["driver_input"]["case"]
        if not client:
            name += "-reply"
        records.append(
            TraceRecord(
                seq=row["seq"],
                direction=row["direction"],
                role=row["port_role"],
                wire=wire,
                provenance=provenance,
                expect=decoded,
                # the replies are fastjson-style (sorted keys, nulls omitted, no
                # trailing newline): the form rmqwire writes; the client's are not
                canonical=not client,
                name=name,
                in_reply_to=row.get("in_reply_to"),
                driver_input=row.get("driver_input"),
                note=note,
            )
        )
    return records


def _cpp_note(row: dict[str, Any], decoded: dict[str, Any]) -> str | None:
    di = row.get("driver_input") or {}
    if di.get("api") == "send_oneway":
        return "oneway send with flag 0: this client marks the request oneway only after encoding it"
    if di.get("api") == "send_batch":
        return 'batch sent as SEND_MESSAGE (10) with "batch":"1" and a MessageDecoder.encodeMessages body'
    if di.get("case") == "big-compressed":
        return "body zlib-compressed by the client, sysFlag bit 0x1 (0x1, not 4.9.4+ Java's 0x301)"
    if row["direction"] == "server->client" and b"{0:" in decoded["body"]:
        return "route body with fastjson's unquoted integer map keys (not JSON)"
    return None


# --------------------------------------------------------------------------- rocketmq-binary.msgpack

# protocol.md section 10, Example 1 (hex verbatim): SEND_MESSAGE_V2, ROCKETMQ, opaque 7
EXAMPLE_1 = """
    0000  00 00 00 fa 01 00 00 e8 01 36 03 01 df 00 00 00
    0010  07 00 00 00 00 00 00 00 00 00 00 00 d3 00 01 61
    0020  00 00 00 07 50 47 5f 44 45 4d 4f 00 01 62 00 00
    0030  00 09 54 6f 70 69 63 54 65 73 74 00 01 63 00 00
    0040  00 06 54 42 57 31 30 32 00 01 64 00 00 00 01 34
    0050  00 01 65 00 00 00 01 30 00 01 66 00 00 00 01 30
    0060  00 01 67 00 00 00 0d 31 37 30 30 30 30 30 30 30
    0070  30 30 30 30 00 01 68 00 00 00 01 30 00 01 69 00
    0080  00 00 3e 54 41 47 53 01 54 61 67 41 02 57 41 49
    0090  54 01 74 72 75 65 02 55 4e 49 51 5f 4b 45 59 01
    00a0  43 30 41 38 30 31 30 41 33 30 33 39 31 42 36 44
    00b0  33 35 38 36 30 30 31 32 44 36 38 37 30 30 30 30
    00c0  02 00 01 6a 00 00 00 01 30 00 01 6b 00 00 00 05
    00d0  66 61 6c 73 65 00 01 6d 00 00 00 05 66 61 6c 73
    00e0  65 00 01 6e 00 00 00 08 62 72 6f 6b 65 72 2d 61
    00f0  48 65 6c 6c 6f 20 52 6f 63 6b 65 74 4d 51
"""

# protocol.md section 10, Example 3 (hex verbatim): GET_ROUTEINFO_BY_TOPIC, ROCKETMQ, opaque 8
EXAMPLE_3 = """
    0000  00 00 00 2d 01 00 00 29 00 69 03 01 df 00 00 00
    0010  08 00 00 00 00 00 00 00 00 00 00 00 14 00 05 74
    0020  6f 70 69 63 00 00 00 09 54 6f 70 69 63 54 65 73
    0030  74
"""

# protocol.md section 10, Example 5 (hex verbatim): UNREGISTER_CLIENT, ROCKETMQ, opaque 9
EXAMPLE_5 = """
    0000  00 00 00 5e 01 00 00 5a 00 23 03 01 df 00 00 00
    0010  09 00 00 00 00 00 00 00 00 00 00 00 45 00 0d 70
    0020  72 6f 64 75 63 65 72 47 72 6f 75 70 00 00 00 07
    0030  50 47 5f 44 45 4d 4f 00 08 63 6c 69 65 6e 74 49
    0040  44 00 00 00 1d 31 39 32 2e 31 36 38 2e 31 2e 31
    0050  30 40 31 32 33 34 35 23 31 32 33 34 35 36 37 38
    0060  39 30
"""

PROPERTIES_EX = "TAGS\x01TagA\x02WAIT\x01true\x02UNIQ_KEY\x01C0A8010A30391B6D35860012D6870000\x02"
V2_EXT_EX = {
    "a": "PG_DEMO",
    "b": "TopicTest",
    "c": "TBW102",
    "d": "4",
    "e": "0",
    "f": "0",
    "g": "1700000000000",
    "h": "0",
    "i": PROPERTIES_EX,
    "j": "0",
    "k": "false",
    "m": "false",
    "n": "broker-a",
}
CLIENT_ID_EX = "192.168.1.10@12345#1234567890"
HEARTBEAT_BODY_EX = (
    b'{"clientID":"192.168.1.10@12345#1234567890","consumerDataSet":[],"heartbeatFingerprint":0,'
    b'"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"},{"groupName":"PG_DEMO"}],"withoutSub":false}'
)

# fastjson text of protocol.md Example 2 (Example 1 with a JSON header), 354 bytes
EXAMPLE_2_HEADER = (
    rb'{"code":310,"extFields":{"a":"PG_DEMO","b":"TopicTest","c":"TBW102","d":"4","e":"0","f":"0",'
    rb'"g":"1700000000000","h":"0","i":"TAGS\u0001TagA\u0002WAIT\u0001true\u0002UNIQ_KEY\u0001'
    rb'C0A8010A30391B6D35860012D6870000\u0002","j":"0","k":"false","m":"false","n":"broker-a"},'
    rb'"flag":0,"language":"PYTHON","opaque":7,"serializeTypeCurrentRPC":"JSON","version":479}'
)


def _derived(sections: str) -> dict[str, Any]:
    return {"source": f"derived: {sections}", "file": "shared/protocol.md"}


def binary_vectors() -> list[dict[str, Any]]:
    """The derived vectors: wire hex written out, expectation written out."""
    java_binary = "RocketMQSerializable.java (rocketMQProtocolEncode/Decode), RemotingCommand.java"
    java_json = "RemotingSerializable.java (fastjson defaults: sorted keys, nulls omitted, enums by name)"
    return [
        dict(
            name="ex1-send-message-v2-binary",
            direction="client->server", role="broker", canonical=True,
            provenance=_derived(f"protocol.md §2.2, §4.3, §10 Example 1 / {java_binary}, SendMessageRequestHeaderV2.java"),
            wire=hexbytes(EXAMPLE_1),
            expect=expect(310, "PYTHON", 479, 7, 0, None, V2_EXT_EX, b"Hello RocketMQ", "ROCKETMQ"),
            note=NO_CLIENT_NOTE,
        ),
        dict(
            name="ex2-send-message-v2-json",
            direction="client->server", role="broker", canonical=True,
            provenance=_derived(f"protocol.md §2.1, §10 Example 2 / {java_json}"),
            wire=hexbytes("00 00 01 74  00 00 01 62  # total 372, JSON, header 354") + EXAMPLE_2_HEADER + b"Hello RocketMQ",
            expect=expect(310, "PYTHON", 479, 7, 0, None, V2_EXT_EX, b"Hello RocketMQ", "JSON"),
            note="the JSON twin of Example 1; \\u0001/\\u0002 escaped as fastjson writes them",
        ),
        dict(
            name="ex3-get-routeinfo-binary",
            direction="client->server", role="namesrv", canonical=True,
            provenance=_derived(f"protocol.md §2.2, §4.5, §10 Example 3 / {java_binary}"),
            wire=hexbytes(EXAMPLE_3),
            expect=expect(105, "PYTHON", 479, 8, 0, None, {"topic": "TopicTest"}, b"", "ROCKETMQ"),
            note=NO_CLIENT_NOTE,
        ),
        dict(
            name="ex3-get-routeinfo-json",
            direction="client->server", role="namesrv", canonical=True,
            provenance=_derived(f"protocol.md §2.1, §10 Example 3 / {java_json}"),
            wire=hexbytes("00 00 00 89  00 00 00 85  # total 137, JSON, header 133")
            + b'{"code":105,"extFields":{"topic":"TopicTest"},"flag":0,"language":"PYTHON","opaque":8,'
            b'"serializeTypeCurrentRPC":"JSON","version":479}',
            expect=expect(105, "PYTHON", 479, 8, 0, None, {"topic": "TopicTest"}, b"", "JSON"),
        ),
        dict(
            name="ex5-unregister-client-binary",
            direction="client->server", role="broker", canonical=True,
            provenance=_derived(f"protocol.md §2.2, §4.6, §10 Example 5 / {java_binary}"),
            wire=hexbytes(EXAMPLE_5),
            expect=expect(35, "PYTHON", 479, 9, 0, None, {"producerGroup": "PG_DEMO", "clientID": CLIENT_ID_EX}, b"", "ROCKETMQ"),
            note=NO_CLIENT_NOTE + "; entries in Java's HashMap order",
        ),
        dict(
            name="ex5-unregister-client-oneway-binary",
            direction="client->server", role="broker", canonical=True,
            provenance=_derived(f"protocol.md §3, §10 Example 5 (oneway variant) / {java_binary}"),
            wire=hexbytes(EXAMPLE_5.replace("0010  09 00 00 00 00", "0010  09 00 00 00 02")),
            expect=expect(35, "PYTHON", 479, 9, 2, None, {"producerGroup": "PG_DEMO", "clientID": CLIENT_ID_EX}, b"", "ROCKETMQ"),
            note=NO_CLIENT_NOTE + "; Example 5 with flag 2 (RPC_ONEWAY), the only difference of a oneway request",
        ),
        dict(
            name="send-response-binary",
            direction="server->client", role="broker", canonical=True,
            provenance=_derived(f"protocol.md §2.2, §4.4 / {java_binary}, SendMessageResponseHeader.java, SendMessageProcessor.java"),
            wire=hexbytes(
                """
                00 00 00 93                          # total_length 147
                01 00 00 8f                          # ROCKETMQ, header_length 143 = 21 + 122
                00 00                                # code 0 SUCCESS
                00                                   # language JAVA
                01 df                                # version 479
                00 00 00 07                          # opaque 7 (the request's)
                00 00 00 01                          # flag 1: response
                00 00 00 00                          # remark length 0: null
                00 00 00 7a                          # ext block 122 = 43 + 14 + 18 + 29 + 18
                00 05 6d 73 67 49 64                 # key "msgId"
                00 00 00 20                          # value length 32
                43 30 41 38 30 31 30 41 30 30 30 30 32 41 39 46   # "C0A8010A00002A9F"
                30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30   # "0000000000000000"
                00 07 71 75 65 75 65 49 64           # key "queueId"
                00 00 00 01 30                       # value "0"
                00 0b 71 75 65 75 65 4f 66 66 73 65 74   # key "queueOffset"
                00 00 00 01 30                       # value "0"
                00 0a 4d 53 47 5f 52 45 47 49 4f 4e  # key "MSG_REGION"
                00 00 00 0d 44 65 66 61 75 6c 74 52 65 67 69 6f 6e   # value "DefaultRegion"
                00 08 54 52 41 43 45 5f 4f 4e        # key "TRACE_ON"
                00 00 00 04 74 72 75 65              # value "true"
                """
            ),
            expect=expect(
                0, "JAVA", 479, 7, 1, None,
                {
                    "msgId": "C0A8010A00002A9F0000000000000000",
                    "queueId": "0",
                    "queueOffset": "0",
                    "MSG_REGION": "DefaultRegion",
                    "TRACE_ON": "true",
                },
                b"", "ROCKETMQ",
            ),
            note=NO_CLIENT_NOTE + "; entries in the FastCodesHeader order, then the plain extFields",
        ),
        dict(
            name="send-response-json",
            direction="server->client", role="broker", canonical=True,
            provenance=_derived(f"protocol.md §4.4, §10 Example 6 / {java_json}"),
            wire=hexbytes("00 00 00 eb  00 00 00 e7  # total 235, JSON, header 231")
            + b'{"code":0,"extFields":{"MSG_REGION":"DefaultRegion","TRACE_ON":"true",'
            b'"msgId":"C0A8010A00002A9F0000000000000000","queueId":"0","queueOffset":"0"},"flag":1,'
            b'"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":479}',
            expect=expect(
                0, "JAVA", 479, 7, 1, None,
                {
                    "MSG_REGION": "DefaultRegion",
                    "TRACE_ON": "true",
                    "msgId": "C0A8010A00002A9F0000000000000000",
                    "queueId": "0",
                    "queueOffset": "0",
                },
                b"", "JSON",
            ),
            note="extFields sorted for readability; a Java broker writes HashMap order",
        ),
        dict(
            name="route-not-found-response-binary",
            direction="server->client", role="namesrv", canonical=True,
            provenance=_derived(f"protocol.md §2.2, §10 Example 3 (unknown topic) / {java_binary}"),
            wire=hexbytes(
                """
                00 00 00 54                          # total_length 84
                01 00 00 50                          # ROCKETMQ, header_length 80 = 21 + 59
                00 11                                # code 17 TOPIC_NOT_EXIST
                00                                   # language JAVA
                01 df                                # version 479
                00 00 00 08                          # opaque 8
                00 00 00 01                          # flag 1: response
                00 00 00 3b                          # remark length 59
                4e 6f 20 74 6f 70 69 63 20 72 6f 75 74 65 20 69   # "No topic route i"
                6e 66 6f 20 69 6e 20 6e 61 6d 65 20 73 65 72 76   # "nfo in name serv"
                65 72 20 66 6f 72 20 74 68 65 20 74 6f 70 69 63   # "er for the topic"
                3a 20 54 6f 70 69 63 54 65 73 74                  # ": TopicTest"
                00 00 00 00                          # ext block 0 bytes
                """
            ),
            expect=expect(17, "JAVA", 479, 8, 1, "No topic route info in name server for the topic: TopicTest", {}, b"", "ROCKETMQ"),
            note=NO_CLIENT_NOTE + "; an error response: remark set, no extFields, no body",
        ),
        dict(
            name="remark-non-ascii-binary",
            direction="server->client", role="broker", canonical=True,
            provenance=_derived(f"protocol.md §0 (UTF-8 everywhere), §2.2 / {java_binary}"),
            wire=hexbytes(
                """
                00 00 00 39                          # total_length 57
                01 00 00 35                          # ROCKETMQ, header_length 53 = 21 + 32
                00 01                                # code 1 SYSTEM_ERROR
                00                                   # language JAVA
                01 df                                # version 479
                00 00 00 09                          # opaque 9
                00 00 00 01                          # flag 1: response
                00 00 00 20                          # remark length 32 (UTF-8 bytes, not characters)
                c3 a9 63 72 69 74 75 72 65 20        # "écriture "
                72 65 66 75 73 c3 a9 65 3a 20        # "refusée: "
                e7 a3 81 e7 9b 98 e5 b7 b2 e6 bb a1  # "磁盘已满"
                00 00 00 00                          # ext block 0 bytes
                """
            ),
            expect=expect(1, "JAVA", 479, 9, 1, "écriture refusée: 磁盘已满", {}, b"", "ROCKETMQ"),
            note=NO_CLIENT_NOTE + "; the remark length counts UTF-8 bytes (32) not characters (23)",
        ),
        dict(
            name="heart-beat-empty-ext-binary",
            direction="client->server", role="broker", canonical=True,
            provenance=_derived(f"protocol.md §4.7, §10 Example 6 / {java_binary}, HeartbeatRequestHeader.java, HeartbeatData.java"),
            wire=hexbytes(
                """
                00 00 00 d8                          # total_length 216 = 4 + 21 + 191
                01 00 00 15                          # ROCKETMQ, header_length 21: the fixed part only
                00 22                                # code 34 HEART_BEAT
                03                                   # language PYTHON
                01 df                                # version 479
                00 00 00 0a                          # opaque 10
                00 00 00 00                          # flag 0
                00 00 00 00                          # remark length 0: null
                00 00 00 00                          # ext block 0 bytes (5.2.0+: empty HeartbeatRequestHeader)
                """
            )
            + HEARTBEAT_BODY_EX,
            expect=expect(34, "PYTHON", 479, 10, 0, None, {}, HEARTBEAT_BODY_EX, "ROCKETMQ"),
            note=NO_CLIENT_NOTE + "; body = the 191-byte 5.1.3+ producer heartbeat of Example 6",
        ),
        dict(
            name="heart-beat-empty-extfields-json",
            direction="client->server", role="broker", canonical=False,
            provenance=_derived(f"protocol.md §2.1 (makeCustomHeaderToNet always creates the map), §4.7 / {java_json}"),
            wire=hexbytes("00 00 01 33  00 00 00 70  # total 307 = 4 + 112 + 191, JSON, header 112")
            + b'{"code":34,"extFields":{},"flag":0,"language":"JAVA","opaque":15,'
            b'"serializeTypeCurrentRPC":"JSON","version":453}'
            + HEARTBEAT_BODY_EX,
            expect=expect(34, "JAVA", 453, 15, 0, None, {}, HEARTBEAT_BODY_EX, "JSON"),
            note='a 5.2.0+ Java heartbeat: "extFields":{} decodes to no fields; rmqwire omits the key when it writes one',
        ),
        dict(
            name="unknown-language-byte-binary",
            direction="client->server", role="namesrv", canonical=True,
            provenance=_derived(f"protocol.md §2.2 (LanguageCode.valueOf returns null, no failure), §2.4 / {java_binary}"),
            wire=hexbytes(
                """
                00 00 00 2d                          # total_length 45
                01 00 00 29                          # ROCKETMQ, header_length 41 = 21 + 20
                00 69                                # code 105 GET_ROUTEINFO_BY_TOPIC
                2a                                   # language 42: no such LanguageCode
                01 df                                # version 479
                00 00 00 0b                          # opaque 11
                00 00 00 00                          # flag 0
                00 00 00 00                          # remark length 0: null
                00 00 00 14                          # ext block 20 bytes
                00 05 74 6f 70 69 63                 # key "topic"
                00 00 00 09 54 6f 70 69 63 54 65 73 74   # value "TopicTest"
                """
            ),
            expect=expect(105, "UNKNOWN_42", 479, 11, 0, None, {"topic": "TopicTest"}, b"", "ROCKETMQ"),
            note=NO_CLIENT_NOTE + "; an unknown language byte decodes (as UNKNOWN_42) and re-encodes unchanged",
        ),
        dict(
            name="empty-ext-value-binary",
            direction="client->server", role="broker", canonical=True,
            provenance=_derived(f"protocol.md §2.2 (readStr: length 0), §4.6 / {java_binary}"),
            wire=hexbytes(
                """
                00 00 00 71                          # total_length 113
                01 00 00 6d                          # ROCKETMQ, header_length 109 = 21 + 88
                00 23                                # code 35 UNREGISTER_CLIENT
                03                                   # language PYTHON
                01 df                                # version 479
                00 00 00 0c                          # opaque 12
                00 00 00 00                          # flag 0
                00 00 00 00                          # remark length 0: null
                00 00 00 58                          # ext block 88 = 26 + 19 + 43
                00 0d 70 72 6f 64 75 63 65 72 47 72 6f 75 70   # key "producerGroup"
                00 00 00 07 50 47 5f 44 45 4d 4f     # value "PG_DEMO"
                00 0d 63 6f 6e 73 75 6d 65 72 47 72 6f 75 70   # key "consumerGroup"
                00 00 00 00                          # value length 0
                00 08 63 6c 69 65 6e 74 49 44        # key "clientID"
                00 00 00 1d                          # value length 29
                31 39 32 2e 31 36 38 2e 31 2e 31 30  # "192.168.1.10"
                40 31 32 33 34 35 23                 # "@12345#"
                31 32 33 34 35 36 37 38 39 30        # "1234567890"
                """
            ),
            expect=expect(
                35, "PYTHON", 479, 12, 0, None,
                {"producerGroup": "PG_DEMO", "consumerGroup": "", "clientID": CLIENT_ID_EX},
                b"", "ROCKETMQ",
            ),
            note=(
                NO_CLIENT_NOTE + "; deliberate difference: Java 4.9.4+ reads a 0-length value as null, "
                'rmqwire keeps "" (as Java <= 4.9.3 did) so the entry round-trips'
            ),
        ),
        dict(
            name="duplicate-ext-keys-binary",
            direction="client->server", role="broker", canonical=False,
            provenance=_derived(f"protocol.md §2.2 (FastCodesHeader + ACL hook write keys twice), §9.18 / {java_binary}"),
            wire=hexbytes(
                """
                00 00 00 49                          # total_length 73
                01 00 00 45                          # ROCKETMQ, header_length 69 = 21 + 48
                01 36                                # code 310 SEND_MESSAGE_V2
                00                                   # language JAVA
                01 99                                # version 409
                00 00 00 0d                          # opaque 13
                00 00 00 00                          # flag 0
                00 00 00 00                          # remark length 0: null
                00 00 00 30                          # ext block 48 = 14 + 17 + 17
                00 01 62                             # key "b"
                00 00 00 08 54 6f 70 69 63 4f 6c 64  # value "TopicOld"
                00 09 41 63 63 65 73 73 4b 65 79     # key "AccessKey"
                00 00 00 02 61 6b                    # value "ak"
                00 01 62                             # key "b" again
                00 00 00 09 54 6f 70 69 63 54 65 73 74   # value "TopicTest": the last one wins
                """
            ),
            expect=expect(310, "JAVA", 409, 13, 0, None, {"b": "TopicTest", "AccessKey": "ak"}, b"", "ROCKETMQ"),
            note=(
                NO_CLIENT_NOTE + "; a duplicate key keeps the last value (HashMap.put); the values differ "
                "here only to show which one wins (Java repeats the same value); not canonical"
            ),
        ),
        dict(
            name="negative-opaque-binary",
            direction="client->server", role="namesrv", canonical=True,
            provenance=_derived(f"protocol.md §3 (the opaque counter wraps to Integer.MIN_VALUE) / {java_binary}"),
            wire=hexbytes(
                """
                00 00 00 2d                          # total_length 45
                01 00 00 29                          # ROCKETMQ, header_length 41
                00 69                                # code 105
                03                                   # language PYTHON
                01 df                                # version 479
                80 00 00 00                          # opaque -2147483648
                00 00 00 00                          # flag 0
                00 00 00 00                          # remark length 0: null
                00 00 00 14                          # ext block 20 bytes
                00 05 74 6f 70 69 63                 # key "topic"
                00 00 00 09 54 6f 70 69 63 54 65 73 74   # value "TopicTest"
                """
            ),
            expect=expect(105, "PYTHON", 479, -(2**31), 0, None, {"topic": "TopicTest"}, b"", "ROCKETMQ"),
            note=NO_CLIENT_NOTE,
        ),
        dict(
            name="int16-code-limit-binary",
            direction="client->server", role="broker", canonical=True,
            provenance=_derived(f"protocol.md §2.2 (code is int16), §9.4 / {java_binary}"),
            wire=hexbytes(
                """
                00 00 00 19                          # total_length 25
                01 00 00 15                          # ROCKETMQ, header_length 21
                7f ff                                # code 32767: the largest a binary header carries
                03                                   # language PYTHON
                01 df                                # version 479
                7f ff ff ff                          # opaque 2147483647
                00 00 00 02                          # flag 2: oneway
                00 00 00 00                          # remark length 0: null
                00 00 00 00                          # ext block 0 bytes
                """
            ),
            expect=expect(32767, "PYTHON", 479, 2**31 - 1, 2, None, {}, b"", "ROCKETMQ"),
            note=NO_CLIENT_NOTE,
        ),
        dict(
            name="big-code-json-only",
            direction="client->server", role="broker", canonical=True,
            provenance=_derived(f"protocol.md §2.2, §9.4 (codes > 32767 cannot travel in a binary header) / {java_json}"),
            wire=hexbytes("00 00 00 6b  00 00 00 67  # total 107, JSON, header 103")
            + b'{"code":200052,"flag":0,"language":"PYTHON","opaque":14,"serializeTypeCurrentRPC":"JSON","version":479}',
            expect=expect(200052, "PYTHON", 479, 14, 0, None, {}, b"", "JSON"),
            note="a code outside int16 (5.x has codes in the 200000 range): JSON only; no extFields key when there are none",
        ),
    ]


def binary_records() -> list[TraceRecord]:
    records = []
    for seq, vec in enumerate(binary_vectors(), 1):
        checked = read_frame(vec["wire"])
        assert checked == vec["expect"], f"{vec['name']}: hex and expectation disagree:\n{checked}\n{vec['expect']}"
        assert list(checked["ext_fields"]) == list(vec["expect"]["ext_fields"]), f"{vec['name']}: ext order"
        records.append(TraceRecord(seq=seq, **vec))
    return records


# --------------------------------------------------------------------------- errors.msgpack


def _json_frame(header: bytes, prelude: str) -> bytes:
    """A JSON-typed frame: the hand-written prelude hex, then ``header``;
    the prelude must describe exactly that header."""
    wire = hexbytes(prelude) + header
    total, meta = struct.unpack_from(">ii", wire, 0)
    assert total == len(wire) - 4 and meta == len(header), f"prelude of {header[:40]!r}"
    return wire


_ERR_FRAMING = "protocol.md §1.1, §1.3 / NettyDecoder.java (LengthFieldBasedFrameDecoder), RemotingCommand.java (decode)"
_ERR_BINARY = "protocol.md §2.2 / RocketMQSerializable.java (rocketMQProtocolDecode)"
_ERR_JSON = "protocol.md §2.1 / RemotingSerializable.java (decode: fastjson parseObject into RemotingCommand)"

# a well-formed binary header up to the remark length: code 105, PYTHON, 479, opaque 8, flag 0
_FIXED_13 = "00 69  03  01 df  00 00 00 08  00 00 00 00  # code 105, PYTHON, version 479, opaque 8, flag 0"


def error_vectors() -> list[dict[str, Any]]:
    ex3 = hexbytes(EXAMPLE_3)
    deep = 20000
    deep_header = b'{"code":1,"extFields":{"a":' + b"[" * deep + b"]" * deep + b"}}"
    return [
        # ---- framing
        dict(name="empty-input", wire=b"", error="TruncatedFrameError", stream_error=None,
             provenance=_derived(_ERR_FRAMING), note="no length field at all; a stream decoder just waits"),
        dict(name="truncated-length-field", wire=hexbytes("00 00 00"), error="TruncatedFrameError", stream_error=None,
             provenance=_derived(_ERR_FRAMING), note="3 of the 4 length bytes"),
        dict(name="truncated-frame", wire=ex3[:-1], error="TruncatedFrameError", stream_error=None,
             provenance=_derived(_ERR_FRAMING), note="Example 3 without its last byte: the frame declares 45 bytes, 44 follow"),
        dict(name="trailing-bytes", wire=ex3 + hexbytes("00"), error="TrailingBytesError", stream_error=None,
             provenance=_derived(_ERR_FRAMING),
             note="Example 3 and one more byte: decode() takes exactly one frame; a stream decoder yields the frame "
             "and keeps the byte as the start of the next"),
        dict(name="negative-total-length", wire=hexbytes("ff ff ff ff  00 00 00 00"),
             error="FrameError", stream_error="FrameError",
             provenance=_derived(_ERR_FRAMING + " (Netty: CorruptedFrameException)"),
             note="total_length -1: no specific subclass, the FrameError base"),
        dict(name="total-length-over-frame-limit", wire=hexbytes("00 ff ff fd  00 00 00 00"),
             error="TruncatedFrameError", stream_error="FrameTooLargeError",
             provenance=_derived(_ERR_FRAMING + " (frameMaxLength 16777216 counts the 4 length bytes)"),
             note="total_length 16777213 > 16777212: the stream decoder refuses it from the length alone; "
             "decode() has no limit and finds the bytes missing"),
        dict(name="total-length-2gib", wire=hexbytes("7f ff ff ff  00 00 00 00"),
             error="TruncatedFrameError", stream_error="FrameTooLargeError",
             provenance=_derived(_ERR_FRAMING), note="total_length 2147483647"),
        dict(name="total-length-zero", wire=hexbytes("00 00 00 00"),
             error="BadHeaderLengthError", stream_error="BadHeaderLengthError",
             provenance=_derived(_ERR_FRAMING), note="a frame too short for the header-length word"),
        dict(name="total-length-one", wire=hexbytes("00 00 00 01  00"),
             error="BadHeaderLengthError", stream_error="BadHeaderLengthError",
             provenance=_derived(_ERR_FRAMING), note="a frame too short for the header-length word"),
        dict(name="total-length-three", wire=hexbytes("00 00 00 03  00 00 00"),
             error="BadHeaderLengthError", stream_error="BadHeaderLengthError",
             provenance=_derived(_ERR_FRAMING), note="a frame too short for the header-length word"),
        dict(name="header-length-past-frame", wire=hexbytes("00 00 00 08  00 00 00 10  7b 7d 20 20"),
             error="BadHeaderLengthError", stream_error="BadHeaderLengthError",
             provenance=_derived(_ERR_FRAMING + ' ("decode error, bad header length")'),
             note="header_length 16 in a frame with 4 bytes after the header-length word"),
        dict(name="unknown-serialize-type-5", wire=hexbytes("00 00 00 06  05 00 00 02  7b 7d"),
             error="UnknownSerializeTypeError", stream_error="UnknownSerializeTypeError",
             provenance=_derived(_ERR_FRAMING + ", SerializeType.java (valueOf returns null)"),
             note="type byte 5 (only 0 JSON and 1 ROCKETMQ exist)"),
        dict(name="unknown-serialize-type-255", wire=hexbytes("00 00 00 06  ff 00 00 02  7b 7d"),
             error="UnknownSerializeTypeError", stream_error="UnknownSerializeTypeError",
             provenance=_derived(_ERR_FRAMING), note="type byte 0xff"),
        # ---- ROCKETMQ binary header
        dict(name="binary-header-shorter-than-fixed-part",
             wire=hexbytes("00 00 00 0e  01 00 00 0a  00 69 03 01 df 00 00 00 08 00"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_BINARY), note="a 10-byte header; the fixed part is 21"),
        dict(name="binary-remark-length-past-header",
             wire=hexbytes(f"00 00 00 18  01 00 00 14  {_FIXED_13}\n 00 00 00 64  # remark length 100\n 61 62 63  # abc"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_BINARY), note="remark length 100 with 3 bytes left in the header"),
        dict(name="binary-remark-length-negative",
             wire=hexbytes(f"00 00 00 18  01 00 00 14  {_FIXED_13}\n ff ff ff ff  # remark length -1\n 61 62 63"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_BINARY), note="remark length -1"),
        dict(name="binary-remark-invalid-utf8",
             wire=hexbytes(f"00 00 00 1b  01 00 00 17  {_FIXED_13}\n 00 00 00 02  ff fe  # not UTF-8\n 00 00 00 00"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_BINARY + " (UTF-8)"), note="remark bytes ff fe"),
        dict(name="binary-ext-key-invalid-utf8",
             wire=hexbytes(f"00 00 00 21  01 00 00 1d  {_FIXED_13}\n 00 00 00 00\n 00 00 00 08"
                           "\n 00 01 c3  # key: a lone UTF-8 lead byte\n 00 00 00 01 76"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_BINARY + " (UTF-8)"), note="ext key byte c3 without its continuation"),
        dict(name="binary-ext-value-invalid-utf8",
             wire=hexbytes(f"00 00 00 23  01 00 00 1f  {_FIXED_13}\n 00 00 00 00\n 00 00 00 0a"
                           "\n 00 01 6b\n 00 00 00 03 ed a0 80  # value: an encoded surrogate"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_BINARY + " (UTF-8)"), note="ext value ed a0 80 (U+D800 encoded: not UTF-8)"),
        dict(name="binary-ext-block-past-header",
             wire=hexbytes(f"00 00 00 21  01 00 00 1d  {_FIXED_13}\n 00 00 00 00\n 00 00 00 32  # ext block 50"
                           "\n 00 01 6b 00 00 00 01 76"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_BINARY + " (ext_len larger than the header throws)"),
             note="ext block length 50 with 8 bytes left in the header"),
        dict(name="binary-ext-block-negative",
             wire=hexbytes(f"00 00 00 19  01 00 00 15  {_FIXED_13}\n 00 00 00 00\n ff ff ff fb  # ext block -5"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_BINARY), note="ext block length -5"),
        dict(name="binary-ext-length-missing",
             wire=hexbytes(f"00 00 00 15  01 00 00 11  {_FIXED_13}\n 00 00 00 00  # remark, then the header ends"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_BINARY), note="a 17-byte header: no ext block length"),
        dict(name="binary-ext-key-length-negative",
             wire=hexbytes(f"00 00 00 21  01 00 00 1d  {_FIXED_13}\n 00 00 00 00\n 00 00 00 08"
                           "\n ff ff 6b 00 00 00 01 76  # key length -1"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_BINARY), note="ext key length -1"),
        dict(name="binary-ext-value-past-block",
             wire=hexbytes(f"00 00 00 21  01 00 00 1d  {_FIXED_13}\n 00 00 00 00\n 00 00 00 08"
                           "\n 00 01 6b 00 00 00 09 76  # value length 9, 1 byte left"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_BINARY), note="ext value length 9 with 1 byte left in the block"),
        dict(name="binary-ext-entry-truncated",
             wire=hexbytes(f"00 00 00 1a  01 00 00 16  {_FIXED_13}\n 00 00 00 00\n 00 00 00 01\n 00  # half a key length"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_BINARY), note="a 1-byte ext block"),
        dict(name="binary-header-bytes-left-over",
             wire=hexbytes(f"00 00 00 1a  01 00 00 16  {_FIXED_13}\n 00 00 00 00\n 00 00 00 00\n 00  # past the ext block"),
             error="BadHeaderLengthError", stream_error="BadHeaderLengthError",
             provenance=_derived(_ERR_BINARY),
             note="header_length 22, the header ends after 21: rmqwire refuses (Java would misplace the body by one byte)"),
        # ---- JSON header
        dict(name="json-empty-header", wire=hexbytes("00 00 00 04  00 00 00 00"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_JSON), note="a JSON frame with a 0-byte header"),
        dict(name="json-not-json", wire=_json_frame(b'{"code":', "00 00 00 0c  00 00 00 08"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_JSON), note="cut-off JSON text"),
        dict(name="json-array", wire=_json_frame(b"[1,2]", "00 00 00 09  00 00 00 05"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_JSON), note="JSON, but not an object"),
        dict(name="json-string", wire=_json_frame(b'"code"', "00 00 00 0a  00 00 00 06"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_JSON), note="JSON, but not an object"),
        dict(name="json-number", wire=_json_frame(b"42", "00 00 00 06  00 00 00 02"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_JSON), note="JSON, but not an object"),
        dict(name="json-nested-too-deeply",
             wire=_json_frame(deep_header, "00 00 9c 61  00 00 9c 5d  # header 40029 bytes"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_JSON), note=f"an extFields value nested {deep} arrays deep"),
        dict(name="json-extfields-array", wire=_json_frame(b'{"code":10,"extFields":[1]}', "00 00 00 1f  00 00 00 1b"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_JSON), note="extFields must be an object"),
        dict(name="json-extfields-string", wire=_json_frame(b'{"code":10,"extFields":"a"}', "00 00 00 1f  00 00 00 1b"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_JSON), note="extFields must be an object"),
        dict(name="json-remark-number", wire=_json_frame(b'{"code":1,"remark":5}', "00 00 00 19  00 00 00 15"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_JSON), note="remark must be a string"),
        dict(name="json-code-not-a-number", wire=_json_frame(b'{"code":"abc"}', "00 00 00 12  00 00 00 0e"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_JSON), note="code must be an int (fastjson casts only numeric strings)"),
        dict(name="json-code-fraction", wire=_json_frame(b'{"code":1.5}', "00 00 00 10  00 00 00 0c"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_JSON), note="code must be an int"),
        dict(name="json-code-out-of-int32", wire=_json_frame(b'{"code":2147483648}', "00 00 00 17  00 00 00 13"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_JSON), note="code 2^31 does not fit Java's int"),
        dict(name="json-code-boolean", wire=_json_frame(b'{"code":true}', "00 00 00 11  00 00 00 0d"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_JSON), note="code must be an int"),
        dict(name="json-language-array", wire=_json_frame(b'{"code":1,"language":[1]}', "00 00 00 1d  00 00 00 19"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_JSON), note="language must be a name"),
        dict(name="json-language-out-of-byte-range", wire=_json_frame(b'{"code":1,"language":300}', "00 00 00 1d  00 00 00 19"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_JSON), note="a numeric language must fit the binary header's byte"),
        dict(name="json-invalid-utf8", wire=_json_frame(b'{"code":1,"remark":"\xff"}', "00 00 00 1b  00 00 00 17"),
             error="MalformedHeaderError", stream_error="MalformedHeaderError",
             provenance=_derived(_ERR_JSON + " (UTF-8)"), note="byte ff inside the remark"),
    ]



def error_records() -> list[TraceRecord]:
    records = []
    for seq, vec in enumerate(error_vectors(), 1):
        wire = vec["wire"]
        if vec["name"].startswith(("binary-", "json-")):
            # the fault is inside a whole frame whose lengths are right
            total, meta = struct.unpack_from(">ii", wire, 0)
            assert total == len(wire) - 4, f"{vec['name']}: total_length {total} != {len(wire) - 4}"
            assert meta & 0xFFFFFF == len(wire) - 8, f"{vec['name']}: header_length"
            assert meta >> 24 == (1 if vec["name"].startswith("binary-") else 0), f"{vec['name']}: type"
        records.append(TraceRecord(seq=seq, direction="server->client", role="broker", **vec))
    return records


# --------------------------------------------------------------------------- java-broker-4.9.8*.msgpack

#: Request codes of the Java sessions (RequestCode.java), for record names only.
JAVA_REQUEST_NAMES = {
    10: "send-message", 11: "pull-message", 14: "query-consumer-offset", 15: "update-consumer-offset",
    29: "search-offset-by-timestamp", 30: "get-max-offset", 31: "get-min-offset", 34: "heart-beat",
    35: "unregister-client", 36: "consumer-send-msg-back", 37: "end-transaction",
    38: "get-consumer-list-by-group", 39: "check-transaction-state", 40: "notify-consumer-ids-changed",
    41: "lock-batch-mq", 42: "unlock-batch-mq", 105: "get-routeinfo-by-topic", 310: "send-message-v2",
    320: "send-batch-message",
}
#: Response codes (ResponseCode.java / RemotingSysResponseCode.java), likewise.
JAVA_RESPONSE_NAMES = {
    0: "success", 1: "system-error", 17: "topic-not-exist", 19: "pull-not-found", 20: "pull-retry-immediately",
    21: "pull-offset-moved", 22: "query-not-found", 25: "subscription-not-latest",
}


def java_records(path: Path) -> list[TraceRecord]:
    """One record per line of a Java session capture."""
    records = []
    prefix = "java-tx" if "tx-order-ns" in path.name else "java"
    pending: dict[tuple[int, int, str], tuple[int, int]] = {}  # (conn, opaque, direction) -> (seq, code)
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        wire = bytes.fromhex(row["frame_hex"])
        assert len(wire) == row["frame_len"], f"line {lineno}: frame_len"
        assert row["seq"] == len(records) + 1, f"line {lineno}: seq"
        decoded = read_json_frame(wire)
        assert row["serialize_type"] == decoded["serialize_type"] == "JSON", f"line {lineno}"
        for key in ("code", "opaque", "flag"):
            assert row[key] == decoded[key], f"line {lineno}: {key}"
        assert decoded["language"] == "JAVA", f"line {lineno}"
        from_client = row["direction"] == "client->server"
        is_reply = bool(decoded["flag"] & 1)
        in_reply_to = None
        if is_reply:
            # the request came the other way on the same connection, same opaque
            other = "server->client" if from_client else "client->server"
            in_reply_to, request_code = pending.pop((row["conn"], decoded["opaque"], other))
            name = (
                f"{prefix}-{row['seq']:03d}-{JAVA_REQUEST_NAMES[request_code]}-reply-"
                f"{JAVA_RESPONSE_NAMES.get(decoded['code'], str(decoded['code']))}"
            )
            source = JAVA_CLIENT_ANSWER_SOURCE if from_client else JAVA_REPLY_SOURCE
        else:
            if not decoded["flag"] & 2:  # a oneway request gets no reply
                pending[(row["conn"], decoded["opaque"], row["direction"])] = (row["seq"], decoded["code"])
            name = f"{prefix}-{row['seq']:03d}-{JAVA_REQUEST_NAMES[decoded['code']]}"
            source = JAVA_SOURCE if from_client else JAVA_BROKER_REQUEST_SOURCE
        provenance = {
            "source": source,
            "file": f"shared/golden/{path.name}",
            "line": lineno,
            "client": row["client"],
            "label": row["label"],
            "conn": row["conn"],
            "peer": row["peer"],
            "server_port": row["server_port"],
            "ts": row["ts"],
        }
        header_length = struct.unpack_from(">i", wire, 4)[0] & 0xFFFFFF
        # Java writes an empty extFields map as {}; rmqwire leaves the key out.
        canonical = b'"extFields":{}' not in wire[8 : 8 + header_length]
        note = None
        if not canonical:
            note = 'header carries "extFields":{} (Java keeps an empty map; rmqwire omits the key)'
        elif is_reply and request_code == 105 and b"127.0.0.1:20911" in decoded["body"]:
            note = "route body: the proxy rewrote the broker address 127.0.0.1:10911 to :20911 (same length)"
        records.append(
            TraceRecord(
                seq=row["seq"],
                direction=row["direction"],
                role=row["port_role"],
                wire=wire,
                provenance=provenance,
                expect=decoded,
                canonical=canonical,
                name=name,
                in_reply_to=in_reply_to,
                note=note,
            )
        )
    return records


# --------------------------------------------------------------------------- main


def build(cpp_path: Path | None, java_dir: Path | None = None) -> dict[str, bytes]:
    """The corpus files' contents by file name (the captured ones only when
    their capture is available: ``cpp_path``, and the Java sessions in
    ``java_dir``)."""
    out = {
        "rocketmq-binary.msgpack": pack_records(binary_records()),
        "errors.msgpack": pack_records(error_records()),
    }
    if cpp_path is not None:
        out["cpp.msgpack"] = pack_records(cpp_records(cpp_path))
    if java_dir is not None:
        for session in JAVA_SESSIONS:
            capture = java_dir / session
            if capture.is_file():
                out[session.replace(".jsonl", ".msgpack")] = pack_records(java_records(capture))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpp", type=Path, default=DEFAULT_CPP, help=f"the C++ capture (default {DEFAULT_CPP})")
    parser.add_argument(
        "--java-dir", type=Path, default=DEFAULT_SHARED_GOLDEN,
        help=f"where the Java sessions {', '.join(JAVA_SESSIONS)} are (default {DEFAULT_SHARED_GOLDEN})",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    parser.add_argument("--check", action="store_true", help="only check that the files are up to date")
    args = parser.parse_args(argv)
    cpp: Path | None = args.cpp
    if cpp is not None and not cpp.is_file():
        print(f"build_corpus: {cpp} not found; leaving cpp.msgpack as it is", file=sys.stderr)
        cpp = None
    java_dir: Path | None = args.java_dir
    for session in JAVA_SESSIONS:
        if java_dir is None or not (java_dir / session).is_file():
            print(f"build_corpus: {session} not found in {java_dir}; leaving its msgpack as it is", file=sys.stderr)
    files = build(cpp, java_dir)
    stale = []
    for name, data in sorted(files.items()):
        target = args.out / name
        current = target.read_bytes() if target.is_file() else None
        if current == data:
            print(f"{target}: up to date ({len(data)} bytes)")
            continue
        stale.append(name)
        if args.check:
            print(f"{target}: OUT OF DATE", file=sys.stderr)
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            print(f"{target}: written ({len(data)} bytes)")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
