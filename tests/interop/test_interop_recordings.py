"""The committed recordings of real client sessions decode as they did.

``specs/golden/interop-cpp.msgpack`` and ``interop-ons.msgpack`` were written
by ``test_cpp_client.py`` / ``test_ons_client.py`` with
``RMQWIRE_INTEROP_RECORD=1`` (the C++ client and ali-ons producing through
LocalBroker behind the capture relay).  These checks need neither client
installed: they replay the real clients' frames through the codec, so a codec
change that would reject them fails here, everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from interop_support import GOLDEN_DIR

from rmqwire.codec.command import decode
from rmqwire.codec.message import decode_properties
from rmqwire.codec.trace import TraceRecord, expect_from_command, unpack_records

RECORDINGS = {
    "interop-cpp.msgpack": {"language": "CPP", "version": 63, "send_codes": {10}, "client": "rocketmq-client-cpp"},
    "interop-ons.msgpack": {"language": "JAVA", "version": 121, "send_codes": {310}, "client": "ali-ons"},
}


def _load(name: str) -> list[TraceRecord]:
    path = GOLDEN_DIR / name
    if not path.is_file():
        pytest.skip(f"{path} not recorded (RMQWIRE_INTEROP_RECORD=1 pytest -m interop)")
    return list(unpack_records(Path(path).read_bytes()))


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_recording_replays(name: str) -> None:
    facts = RECORDINGS[name]
    records = _load(name)
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    client_frames = [r for r in records if r.direction == "client->server"]
    assert client_frames and len(client_frames) < len(records)
    for record in records:
        assert record.expect is not None, (record.seq, record.error)
        assert expect_from_command(decode(record.wire)) == record.expect, record.seq
        if record.direction == "client->server":
            assert record.provenance["source"].startswith("captured: "), record.seq
            assert facts["client"] in record.provenance["source"]
            assert record.expect["language"] == facts["language"]
            assert record.expect["version"] == facts["version"]
        else:
            assert record.provenance["source"].startswith("recorded: rmqwire LocalBroker")
            assert record.in_reply_to is not None
            assert records[record.in_reply_to - 1].expect["opaque"] == record.expect["opaque"]
    codes = [r.expect["code"] for r in client_frames]
    assert {105, 34, 35} <= set(codes)
    assert facts["send_codes"] <= set(codes)


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_recorded_sends_carry_what_the_driver_asked(name: str) -> None:
    sends = [
        r
        for r in _load(name)
        if r.direction == "client->server" and r.expect is not None and r.expect["code"] in (10, 310, 320)
    ]
    assert sends
    for record in sends:
        assert record.driver_input is not None, record.seq
        spec = record.driver_input["spec"]
        ext = record.expect["ext_fields"]
        if spec["api"] == "send_batch":
            assert ext.get("batch", ext.get("m")) in ("1", "true")
            continue
        props = decode_properties(ext.get("properties", ext.get("i", "")))
        assert props.get("case") == spec["case"]
        assert props.get("TAGS") == spec.get("tags")
        assert props.get("KEYS") == (" ".join(spec["keys"]) if spec.get("keys") else None)
        for key, value in spec["properties"].items():
            assert props[key] == value
        if spec.get("delay_level"):
            assert props["DELAY"] == str(spec["delay_level"])
        body = spec["body"].encode()
        sys_flag = int(ext.get("sysFlag", ext.get("f", "0")))
        if sys_flag & 1:
            import zlib

            assert zlib.decompress(record.expect["body"]) == body
        else:
            assert record.expect["body"] == body
