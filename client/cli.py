"""The ``rmqwire`` command line (also ``python -m client``).

``demo`` runs the classic producer walkthrough against the embedded broker,
printing each step and every frame exchanged; ``serve`` runs the embedded
broker; ``send`` sends one message to any cluster; ``decode`` pretty-prints
frames given as hex, a raw capture, or a msgpack trace.
"""

from __future__ import annotations

import argparse
import asyncio
import binascii
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

from .codec.command import RemotingCommand, decode
from .codec.enums import RequestCode, ResponseCode
from .codec.errors import CodecError, RocketMQError
from .codec.message import PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, decode_properties
from .codec.stream import FrameDecoder
from .codec.trace import unpack_records

__all__ = ["main", "describe"]

_V2_NAMES = {
    "a": "producerGroup", "b": "topic", "c": "defaultTopic", "d": "defaultTopicQueueNums", "e": "queueId",
    "f": "sysFlag", "g": "bornTimestamp", "h": "flag", "i": "properties", "j": "reconsumeTimes",
    "k": "unitMode", "l": "maxReconsumeTimes", "m": "batch", "n": "brokerName",
}
_SEND_CODES = {RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_BATCH_MESSAGE}


def _code_name(cmd: RemotingCommand) -> str:
    try:
        return ResponseCode(cmd.code).name if cmd.is_response else RequestCode(cmd.code).name
    except ValueError:
        return f"code {cmd.code}"


def describe(cmd: RemotingCommand, indent: str = "    ") -> str:
    """A readable multi-line rendering of one command."""
    kind = "response" if cmd.is_response else ("oneway request" if cmd.is_oneway else "request")
    lines = [
        f"{_code_name(cmd)} ({cmd.code}) {kind}, opaque {cmd.opaque}, flag {cmd.flag}, "
        f"{cmd.serialize_type.name} header, {cmd.language.name} v{cmd.version}"
    ]
    if cmd.remark:
        lines.append(f"{indent}remark: {cmd.remark}")
    for key, value in cmd.ext_fields.items():
        label = f"{key} ({_V2_NAMES[key]})" if cmd.code in _SEND_CODES and key in _V2_NAMES else key
        if key in ("i", "properties") and ("\x01" in value):
            try:
                value = ", ".join(f"{k}={v}" for k, v in decode_properties(value).items())
            except CodecError:
                pass
        lines.append(f"{indent}{label}: {value}")
    if cmd.body:
        preview = cmd.body[:96]
        text = preview.decode("utf-8", "replace") if all(b >= 0x20 or b in b"\t\n\r" for b in preview) else preview.hex()
        more = f" ... ({len(cmd.body)} bytes)" if len(cmd.body) > len(preview) else f" ({len(cmd.body)} bytes)"
        lines.append(f"{indent}body: {text}{more}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- decode


def _frames_from_input(arg: str) -> list[tuple[str, RemotingCommand]]:
    if os.path.exists(arg):
        with open(arg, "rb") as fh:
            data = fh.read()
        if data[:1] in (b"\x81", b"\x82", b"\x83", b"\x84", b"\x85") and b"rmqwire-trace" in data[:40]:
            return [(f"#{r.seq} {r.direction} {r.role}", decode(r.wire)) for r in unpack_records(data)]
        try:
            text = data.decode("ascii").strip()
            if text and all(c in "0123456789abcdefABCDEF \n\r\t" for c in text):
                data = binascii.unhexlify("".join(text.split()))
        except (UnicodeDecodeError, binascii.Error):
            pass
    else:
        try:
            data = binascii.unhexlify("".join(arg.split()))
        except binascii.Error:
            raise CodecError(f"{arg!r} is neither a file nor hex") from None
    decoder = FrameDecoder()
    frames = [(f"#{i}", cmd) for i, cmd in enumerate(decoder.feed(data), 1)]
    if decoder.buffered:
        raise CodecError(f"{decoder.buffered} bytes after the last whole frame")
    return frames


def cmd_decode(args: argparse.Namespace, out: TextIO) -> int:
    for label, cmd in _frames_from_input(args.input):
        print(f"{label}: {describe(cmd)}", file=out)
    return 0


# --------------------------------------------------------------------------- demo / serve / send


def _printer(out: TextIO):  # type: ignore[no-untyped-def]
    def observe(direction: str, role: str, addr: str, frame: bytes) -> None:
        arrow = "->" if direction == "out" else "<-"
        try:
            text = describe(decode(frame), indent="        ")
        except CodecError as exc:
            text = f"undecodable frame: {exc}"
        print(f"   {arrow} {role} {addr}: {text}", file=out)

    return observe


async def _demo(out: TextIO, verbose: bool, record: str | None = None) -> int:
    from .producer import AsyncProducer, Message
    from .testing import LocalBroker

    def step(text: str) -> None:
        print(f"\n== {text}", file=out)

    step("starting the embedded name server and broker (LocalBroker)")
    async with LocalBroker() as broker:
        print(f"   name server {broker.namesrv_addr}, brokers {broker.broker_addrs}", file=out)
        printer = _printer(out) if verbose else None
        recorder = None
        if record:
            from .trace import FrameRecorder

            recorder = FrameRecorder(record, source="recorded: rmqwire demo")
        observers = [o for o in (printer, recorder.observe if recorder else None) if o is not None]

        def observe(direction: str, role: str, addr: str, frame: bytes) -> None:
            for observer in observers:
                observer(direction, role, addr, frame)

        producer = AsyncProducer(
            "demo-producer-group", namesrv_addr=broker.namesrv_addr, trace=observe if observers else None
        )
        step("start: config checks, client id, client-instance registry, producer registration, TBW102, heartbeat")
        await producer.start()
        print(f"   client id {producer.client_id}, state {producer.state.value}", file=out)
        topic = "DemoTopic"
        sends = [
            ("a small message", Message(topic, b"hello rocketmq", tags="TagA", keys="order-1")),
            ("a UTF-8 body and property", Message(topic, "你好，RocketMQ".encode(), tags="TagB", properties={"city": "杭州"})),
            ("a 6000-byte body (zlib-compressed on the wire)", Message(topic, b"x" * 6000, tags="TagC")),
            ("a delayed message (level 3 = 10 s)", Message(topic, b"later", delay_level=3)),
        ]
        for label, msg in sends:
            step(f"send {label}")
            result = await producer.send(msg)
            print(f"   {result.status.value}: msg id {result.msg_id}, queue {result.message_queue.queue_id}, offset {result.queue_offset}", file=out)
        step("send_oneway (flag bit 1: the broker does not answer)")
        await producer.send_oneway(Message(topic, b"fire and forget"))
        step("send_batch of three messages (SEND_BATCH_MESSAGE)")
        result = await producer.send_batch([Message(topic, f"batch {i}".encode()) for i in range(3)])
        print(f"   {result.status.value}: msg ids {result.msg_id}", file=out)
        step("heartbeat to every master broker")
        sent = await producer.instance.send_heartbeat_to_all_brokers()
        print(f"   {sent} broker(s) answered", file=out)
        step("shutdown: UNREGISTER_CLIENT for the group and CLIENT_INNER_PRODUCER, connections closed")
        await producer.shutdown()
        print(f"   state {producer.state.value}", file=out)
        if recorder is not None:
            recorder.close()
            print(f"   frames recorded to {record} (rmqwire decode {record})", file=out)
        expected = len(sends) + 1 + 3
        for _ in range(100):  # the oneway send has no answer: give it time to land
            if len(broker.messages(topic)) >= expected:
                break
            await asyncio.sleep(0.01)
        stored = broker.messages(topic)
        step(f"the broker holds {len(stored)} messages of {topic}")
        for m in stored:
            try:
                body = repr(m.payload[:40].decode("utf-8"))
            except UnicodeDecodeError:
                body = repr(m.payload[:40])
            print(f"   queue {m.queue_id} offset {m.queue_offset}: {body}{'...' if len(m.payload) > 40 else ''} "
                  f"uniq {m.properties.get(PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)}", file=out)
    step("done")
    return 0


async def _serve(args: argparse.Namespace, out: TextIO) -> int:
    from .testing import LocalBroker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with LocalBroker(host=args.host, namesrv_port=args.namesrv_port, broker_port=args.broker_port) as broker:
        print(f"name server {broker.namesrv_addr}; brokers {broker.broker_addrs}; Ctrl-C or SIGTERM stops", file=out, flush=True)
        await stop.wait()
    print("stopped", file=out)
    return 0


async def _send(args: argparse.Namespace, out: TextIO) -> int:
    from .producer import AsyncProducer, Message

    props = {}
    for item in args.property or ():
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--property wants KEY=VALUE, not {item!r}")
        props[key] = value
    async with AsyncProducer(args.group, namesrv_addr=args.namesrv, trace=args.record) as producer:
        msg = Message(args.topic, args.body.encode("utf-8"), tags=args.tags, keys=args.keys, properties=props or None)
        result = await producer.send(msg)
    print(f"{result.status.value} msg_id={result.msg_id} offset_msg_id={result.offset_msg_id} "
          f"queue={result.message_queue.broker_name}:{result.message_queue.queue_id} offset={result.queue_offset}", file=out)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rmqwire", description="RocketMQ remoting protocol tools")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the producer walkthrough against the embedded broker")
    demo.add_argument("--quiet", action="store_true", help="steps only, no frames")
    demo.add_argument("--record", metavar="FILE", help="also record every frame to a msgpack trace")
    serve = sub.add_parser("serve", help="run the embedded name server and broker until SIGTERM/SIGINT")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--namesrv-port", type=int, default=9876)
    serve.add_argument("--broker-port", type=int, default=10911)
    send = sub.add_parser("send", help="send one message to any cluster")
    send.add_argument("--namesrv", required=True, help="host:port[;host:port]")
    send.add_argument("--topic", required=True)
    send.add_argument("--group", default="rmqwire-cli")
    send.add_argument("--tags")
    send.add_argument("--keys")
    send.add_argument("--property", action="append", metavar="KEY=VALUE")
    send.add_argument("--record", metavar="FILE", help="record every frame to a msgpack trace")
    send.add_argument("body")
    dec = sub.add_parser("decode", help="pretty-print frames: hex, a raw capture file, or a msgpack trace")
    dec.add_argument("input", help="hex string or file")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of the ``rmqwire`` command."""
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    try:
        if args.command == "decode":
            return cmd_decode(args, out)
        if args.command == "demo":
            return asyncio.run(_demo(out, not args.quiet, args.record))
        if args.command == "serve":
            return asyncio.run(_serve(args, out))
        if args.command == "send":
            return asyncio.run(_send(args, out))
    except RocketMQError as exc:
        print(f"rmqwire: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 2
