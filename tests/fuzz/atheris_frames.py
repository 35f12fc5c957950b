"""Coverage-guided fuzzing of the codec's parsers with atheris (libFuzzer).

What it checks: whatever the bytes, every parser answers with a value or a
:class:`~codec.errors.CodecError` subclass.  Any other exception (``KeyError``,
``struct.error``, ``UnicodeDecodeError``, ``RecursionError``, ``MemoryError``,
``OverflowError`` ...) or a failed invariant is a crash, which libFuzzer
reports with the input that caused it; a slow input is reported by
``-timeout``, a memory blow-up by ``-rss_limit_mb``.

One input drives one target.  Its first byte picks the target (``byte %
len(TARGETS)``) and a small parameter (``byte // len(TARGETS)``: the chunk
size for the stream decoder and the session, the sysFlag for decompression);
the rest is the data:

==============  ==============================================================
``decode``      :func:`codec.decode` of one whole frame
``stream``      :meth:`codec.FrameDecoder.feed`, fed in chunks of the parameter
                (+1) bytes; ``buffered`` must stay under ``max_frame_size``
``headers``     :func:`codec.decode`, then every typed header's ``from_command``
``session``     :meth:`codec.session.ClientSession.receive_data` with two
                requests pending, fed in chunks
``route``       :meth:`codec.body.TopicRouteData.from_json` (and the publish
                queues derived from what it accepts)
``heartbeat``   :meth:`codec.body.HeartbeatData.from_json`
``batch``       :func:`codec.message.decode_batch`
``decompress``  :func:`codec.message.decompress_body` (output at most 64 KiB)
``properties``  :func:`codec.message.decode_properties` of bytes
``trace``       :func:`codec.trace.unpack_records`
==============  ==============================================================

The seed corpus is made at run time, never committed: the golden frames of
``specs/golden/*.msgpack`` (and ``shared/golden/cpp.jsonl`` when present),
the route and heartbeat bodies and batch bodies found in them, a compressed
body and the golden trace files themselves, each prefixed with its target's
selector byte.  Any corpus directory named on the command line that is empty
gets these seeds; with no directory a temporary one is made.

Run it (``pip install atheris``; Linux x86-64 wheels for CPython 3.11+)::

    python tests/fuzz/atheris_frames.py -runs=200000 -max_len=4096
    python tests/fuzz/atheris_frames.py -max_total_time=600 corpus/

``tests/test_hostile.py`` runs it bounded in CI when atheris is installed,
and replays the seeds through :func:`one_input` without atheris otherwise.
The module imports nothing from :mod:`codec` at import time, so that
:func:`main` can import the codec under atheris' instrumentation.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGETS = (
    "decode",
    "stream",
    "headers",
    "session",
    "route",
    "heartbeat",
    "batch",
    "decompress",
    "properties",
    "trace",
)

#: The frame size limit of the ``stream`` and ``session`` targets: small, so
#: that the fuzzer reaches "too large" as easily as "fits".
MAX_FRAME_SIZE = 4096
#: The output limit of the ``decompress`` target.
MAX_INFLATED = 64 * 1024
#: sysFlag values the ``decompress`` parameter picks from.
SYS_FLAGS = (0x0, 0x1, 0x301, 0x101, 0x201, 0x701, 0x3)
#: Seeds larger than this are left out (libFuzzer's default ``-max_len`` is 4096).
MAX_SEED = 4096

_codec: dict[str, Any] = {}


def _load() -> dict[str, Any]:
    """Import what the targets call (under instrumentation when :func:`main` runs)."""
    if not _codec:
        from rmqwire.codec import FrameDecoder, RemotingCommand, decode
        from rmqwire.codec.body import HeartbeatData, TopicRouteData, topic_route_to_publish_queues
        from rmqwire.codec.errors import CodecError
        from rmqwire.codec.headers import (
            GetRouteInfoRequestHeader,
            SendMessageRequestHeader,
            SendMessageResponseHeader,
            UnregisterClientRequestHeader,
        )
        from rmqwire.codec.message import decode_batch, decode_properties, decompress_body
        from rmqwire.codec.session import ClientSession
        from rmqwire.codec.trace import unpack_records

        _codec.update(
            FrameDecoder=FrameDecoder,
            RemotingCommand=RemotingCommand,
            decode=decode,
            HeartbeatData=HeartbeatData,
            TopicRouteData=TopicRouteData,
            topic_route_to_publish_queues=topic_route_to_publish_queues,
            CodecError=CodecError,
            headers=(
                SendMessageRequestHeader,
                SendMessageResponseHeader,
                GetRouteInfoRequestHeader,
                UnregisterClientRequestHeader,
            ),
            decode_batch=decode_batch,
            decode_properties=decode_properties,
            decompress_body=decompress_body,
            ClientSession=ClientSession,
            unpack_records=unpack_records,
        )
    return _codec


# --------------------------------------------------------------------------- targets


def _decode(c: dict[str, Any], data: bytes, param: int) -> None:
    c["decode"](data)


def _stream(c: dict[str, Any], data: bytes, param: int) -> None:
    decoder = c["FrameDecoder"](MAX_FRAME_SIZE)
    step = param + 1
    for start in range(0, len(data), step):
        decoder.feed(data[start : start + step])
        if decoder.buffered >= MAX_FRAME_SIZE:
            raise AssertionError(f"FrameDecoder holds {decoder.buffered} bytes, limit {MAX_FRAME_SIZE}")


def _headers(c: dict[str, Any], data: bytes, param: int) -> None:
    cmd = c["decode"](data)
    for header in c["headers"]:
        try:
            header.from_command(cmd)
        except c["CodecError"]:
            pass


def _session(c: dict[str, Any], data: bytes, param: int) -> None:
    session = c["ClientSession"](MAX_FRAME_SIZE)
    request = c["RemotingCommand"].request
    session.send_request(request(105, {"topic": "T"}), now=0.0, timeout=3.0)
    session.send_request(request(34, body=b"{}"), now=0.0, timeout=3.0)
    step = param + 1
    for start in range(0, len(data), step):
        session.receive_data(data[start : start + step])
    session.handle_timer(10.0)
    session.connection_lost()


def _route(c: dict[str, Any], data: bytes, param: int) -> None:
    route = c["TopicRouteData"].from_json(data)
    c["topic_route_to_publish_queues"]("T", route)


def _heartbeat(c: dict[str, Any], data: bytes, param: int) -> None:
    c["HeartbeatData"].from_json(data)


def _batch(c: dict[str, Any], data: bytes, param: int) -> None:
    entries = c["decode_batch"](data)
    if len(entries) * 22 > len(data):
        raise AssertionError(f"{len(entries)} batch records from {len(data)} bytes")


def _decompress(c: dict[str, Any], data: bytes, param: int) -> None:
    out = c["decompress_body"](data, SYS_FLAGS[param % len(SYS_FLAGS)], max_size=MAX_INFLATED)
    if len(out) > max(MAX_INFLATED, len(data)):
        raise AssertionError(f"decompress_body returned {len(out)} bytes, limit {MAX_INFLATED}")


def _properties(c: dict[str, Any], data: bytes, param: int) -> None:
    c["decode_properties"](data)


def _trace(c: dict[str, Any], data: bytes, param: int) -> None:
    for _ in c["unpack_records"](data):
        pass


_RUN: dict[str, Callable[[dict[str, Any], bytes, int], None]] = {
    "decode": _decode,
    "stream": _stream,
    "headers": _headers,
    "session": _session,
    "route": _route,
    "heartbeat": _heartbeat,
    "batch": _batch,
    "decompress": _decompress,
    "properties": _properties,
    "trace": _trace,
}
assert tuple(_RUN) == TARGETS


def one_input(data: bytes) -> None:
    """The fuzz target: run the target the first byte picks; let anything
    but a :class:`~codec.errors.CodecError` propagate (a crash)."""
    if not data:
        return
    c = _load()
    selector = data[0]
    target = TARGETS[selector % len(TARGETS)]
    try:
        _RUN[target](c, data[1:], selector // len(TARGETS))
    except c["CodecError"]:
        pass


def selector(target: str, param: int = 0) -> bytes:
    """The first byte that picks ``target`` with parameter ``param``."""
    value = param * len(TARGETS) + TARGETS.index(target)
    if not 0 <= value <= 255:
        raise ValueError(f"parameter {param} out of range for {target}")
    return bytes([value])


# --------------------------------------------------------------------------- seeds


def _golden_records() -> list[Any]:
    from rmqwire.codec.trace import unpack_records

    records: list[Any] = []
    for path in sorted((ROOT / "specs" / "golden").glob("*.msgpack")):
        records.extend(unpack_records(path.read_bytes()))
    return records


def _captured_frames() -> list[bytes]:
    path = Path(os.environ.get("RMQWIRE_SHARED") or ROOT.parent / "shared") / "golden" / "cpp.jsonl"
    if not path.is_file():
        return []
    frames = []
    for line in path.read_text().splitlines():
        if line.strip():
            frames.append(bytes.fromhex(json.loads(line)["frame_hex"]))
    return frames


def seed_inputs() -> list[bytes]:
    """The seed corpus: golden frames and the bodies inside them, each with
    the selector byte of every target it suits."""
    from rmqwire.codec import decode
    from rmqwire.codec.errors import CodecError
    from rmqwire.codec.message import compress_body, decode_batch

    records = _golden_records()
    frames = [record.wire for record in records] + _captured_frames()
    seeds: list[bytes] = []
    for wire in dict.fromkeys(frames):
        for target, param in (("decode", 0), ("stream", 0), ("stream", 6), ("headers", 0), ("session", 2)):
            seeds.append(selector(target, param) + wire)
        try:
            cmd = decode(wire)
        except CodecError:
            continue
        body = cmd.body
        if not body:
            continue
        if cmd.code == 0 and body.startswith(b"{") and b"brokerDatas" in body:
            seeds.append(selector("route") + body)
        if cmd.code == 34:
            seeds.append(selector("heartbeat") + body)
        if cmd.code in (10, 310, 320):
            seeds.append(selector("properties") + cmd.ext_fields.get("properties", cmd.ext_fields.get("i", "")).encode())
            try:
                if decode_batch(body):
                    seeds.append(selector("batch") + body)
            except CodecError:
                pass
    packed, flag = compress_body(b"rocketmq " * 600, compress_over=0)
    seeds.append(selector("decompress", SYS_FLAGS.index(flag)) + packed)
    seeds.append(selector("decompress", SYS_FLAGS.index(0x1)) + zlib.compress(b"\x00" * 200_000, 9))
    for path in sorted((ROOT / "specs" / "golden").glob("*.msgpack")):
        seeds.append(selector("trace") + path.read_bytes()[: MAX_SEED - 1])
    return [seed for seed in dict.fromkeys(seeds) if len(seed) <= MAX_SEED]


def write_seeds(directory: str | os.PathLike[str]) -> int:
    """Write :func:`seed_inputs` into ``directory`` (one file each); return how many."""
    seeds = seed_inputs()
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(seeds):
        (folder / f"seed-{index:04d}").write_bytes(seed)
    return len(seeds)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    import atheris

    args = list(sys.argv if argv is None else argv)
    corpora = [arg for arg in args[1:] if not arg.startswith("-")]
    if not corpora:
        corpora = [tempfile.mkdtemp(prefix="rmqwire-atheris-")]
        args.append(corpora[0])
    with atheris.instrument_imports(include=["rmqwire.codec"]):
        _load()
    for corpus in corpora:
        folder = Path(corpus)
        if not folder.exists() or not any(folder.iterdir()):
            count = write_seeds(folder)
            print(f"atheris_frames: wrote {count} seeds to {folder}", file=sys.stderr)
    atheris.Setup(args, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
