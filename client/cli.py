"""The ``rmqwire`` command line (also ``python -m rmqwire``).

``demo`` runs the classic producer walkthrough against the embedded broker,
printing each step and every frame exchanged; ``serve`` runs the embedded
broker; ``send`` sends a message (or ``--count`` of them) to any cluster;
``consume`` prints the messages of a topic as a consumer group receives them;
``decode`` pretty-prints frames given as hex, a raw capture, or a msgpack
trace.

Every failure is one ``rmqwire: ...`` line on standard error and a non-zero
exit status (2 for a usage error, 1 otherwise); ``--debug`` adds the
traceback.  ``-v`` logs connections and requests (the ``rmqwire`` loggers at
DEBUG, with timestamps, to standard error).  Logging is configured here and
only for the duration of :func:`main`: the library itself never configures
logging, and nothing in the library imports this module.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, TextIO

from .cli_decode import CliError, decode_input, describe
from .codec.command import decode
from .codec.enums import SerializeType
from .codec.errors import CodecError, RocketMQError
from .codec.message import PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX
from .cli_send import Progress, parse_properties, read_body, send_many

if TYPE_CHECKING:
    from .transport import FrameObserver

__all__ = ["main", "describe", "version"]

#: Java's ``maxMessageSize`` (``DefaultMQProducer``), the producer's default
_MAX_MESSAGE_SIZE = 4 * 1024 * 1024
#: ``serve``: Java's ``serverChannelMaxIdleTimeSeconds``
_IDLE_TIMEOUT = 120.0
#: ``serve``: what each server may hold in unfinished frames across its connections
#: (four maximal frames), so that many half-sent frames cannot exhaust memory
_MAX_BUFFERED_BYTES = 64 * 1024 * 1024
# serve keeps messages in memory only, so it must forget the oldest: per queue,
# like Java's file reservation moving a queue's min offset.
_MAX_QUEUE_MESSAGES = 100_000
_MAX_QUEUE_BYTES = 64 * 1024 * 1024


def version() -> str:
    """The installed distribution's version (the source tree's when not installed)."""
    try:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        return dist_version("rmqwire")
    except PackageNotFoundError:
        from . import __version__

        return __version__


# --------------------------------------------------------------------------- parser


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown for every option that has one (not for plain flags)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "%(default)" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """Usage errors as one ``rmqwire: ...`` line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"rmqwire: {message} (see '{self.prog} --help')\n")


def _int_in(low: int, high: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an integer, not {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be {low}..{high}, not {value}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seconds must be a number, not {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"seconds must be positive and finite, not {text}")
    return value


def _idle_seconds(text: str) -> float:
    """Seconds, or 0 for never."""
    if text.strip() == "0":
        return 0.0
    return _seconds(text)


def _add_common(parser: argparse.ArgumentParser, default: Any) -> None:
    # Accepted before and after the subcommand; after it the default is
    # SUPPRESS, so that `rmqwire -v send ...` is not undone by the subparser.
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="log connections and requests (every frame, bodies cut to 200 bytes, "
                             "security tokens masked) to standard error, with timestamps")
    parser.add_argument("--debug", action="store_true", default=default,
                        help="like -v, and a failure also prints its traceback")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rmqwire",
        description="Tools for the Apache RocketMQ remoting protocol: an embedded broker, a sender, a consumer, a frame decoder.",
        epilog="Run 'rmqwire COMMAND --help' for the options of one command.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"rmqwire {version()}",
                        help="print the version and exit")
    _add_common(parser, False)
    common = _Parser(add_help=False)
    _add_common(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=description, parents=[common], formatter_class=_Formatter)

    demo = command("demo", "run the producer walkthrough against the embedded broker",
                   "Start an embedded name server and broker, run a producer through its whole "
                   "workflow against them and print each step and every frame exchanged.")
    demo.add_argument("--quiet", action="store_true", help="print the steps only, not the frames")
    demo.add_argument("--record", metavar="FILE", help="also record every frame to a msgpack trace "
                      "(read it back with 'rmqwire decode FILE')")

    serve = command("serve", "run the embedded name server and broker until Ctrl-C or SIGTERM",
                    "Run rmqwire's embedded name server and one broker (broker-a, cluster DefaultCluster; "
                    "topics are created on first send) until Ctrl-C or SIGTERM. For tests and demos: "
                    "messages are kept in memory only.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for every interface)")
    serve.add_argument("--namesrv-port", type=_int_in(0, 65535, "port"), default=9876, metavar="PORT",
                       help="the name server's port (0 picks a free one)")
    serve.add_argument("--broker-port", type=_int_in(0, 65535, "port"), default=10911, metavar="PORT",
                       help="the broker's port (0 picks a free one)")
    serve.add_argument("--record-requests", action="store_true",
                       help="keep every request received in memory, as the test fixtures do "
                            "(off by default: it grows without bound)")
    serve.add_argument("--idle-timeout", type=_idle_seconds, default=_IDLE_TIMEOUT, metavar="SECONDS",
                       help="close a connection that sends no complete frame for this long, as Java's "
                            "serverChannelMaxIdleTimeSeconds does (0: never)")
    serve.add_argument("--max-buffered-bytes", type=_int_in(1, 2**62, "size"), default=_MAX_BUFFERED_BYTES,
                       metavar="BYTES", help="the most bytes of unfinished frames each server holds across all "
                                             "its connections; the connection that would exceed it is closed")
    serve.add_argument("--max-queue-messages", type=_int_in(0, 2**62, "count"), default=_MAX_QUEUE_MESSAGES,
                       metavar="N", help="messages kept per queue; beyond it the oldest are dropped and the "
                                         "queue's min offset moves (0: keep all)")
    serve.add_argument("--max-queue-bytes", type=_int_in(0, 2**62, "size"), default=_MAX_QUEUE_BYTES,
                       metavar="BYTES", help="body bytes kept per queue, dropping the oldest beyond it (0: keep all)")

    send = command("send", "send a message (or --count of them) to any cluster",
                   "Send one message, or the same message --count times, through a name server. "
                   "The body is the BODY argument (as bytes, exactly as given), '-' for standard "
                   "input, or --body-file PATH. Prints the send result, or with --count a summary; "
                   "exits 0 only if every send was stored.")
    send.add_argument("body", nargs="?", metavar="BODY", help="the message body; '-' reads it from standard input")
    send.add_argument("--body-file", metavar="PATH", help="read the body from this file ('-' = standard input)")
    send.add_argument("--namesrv", metavar="HOST:PORT[;HOST:PORT]",
                      help="name server addresses (default: the NAMESRV_ADDR environment variable)")
    send.add_argument("--topic", required=True, help="the topic to send to (required)")
    send.add_argument("--group", default="rmqwire-cli", help="the producer group")
    send.add_argument("--tags", help="the message's tag (none by default)")
    send.add_argument("--keys", help="the message's keys, separated by spaces (none by default)")
    send.add_argument("--property", action="append", metavar="KEY=VALUE",
                      help="a user property; repeat for more (none by default)")
    send.add_argument("--delay-level", type=_int_in(1, 18, "delay level"), metavar="1..18",
                      help="deliver after the broker's delay level: 1=1s 2=5s 3=10s 4=30s 5=1m ... 18=2h "
                           "(no delay by default)")
    send.add_argument("--timeout", type=_seconds, default=3.0, metavar="SECONDS",
                      help="time allowed for each send, retries included, and for each name server request")
    send.add_argument("--serialize-type", type=str.upper, choices=[t.name for t in SerializeType],
                      default=SerializeType.JSON.name, help="the header serialisation (Java's default is JSON)")
    send.add_argument("--max-message-size", type=_int_in(1, 2**31 - 1, "size"), default=_MAX_MESSAGE_SIZE,
                      metavar="BYTES", help="the largest body the producer accepts (Java's maxMessageSize); "
                                            "the broker has its own limit")
    send.add_argument("--count", type=_int_in(1, 2**31 - 1, "count"), default=1, metavar="N",
                      help="send the message N times; a progress bar on a terminal, then a summary "
                           "(msgs/s, p50/p99 latency); failed sends are counted, not fatal")
    send.add_argument("--in-flight", type=_int_in(1, 10000, "in-flight"), default=1, metavar="K",
                      help="with --count: sends awaited at once")
    send.add_argument("--record", metavar="FILE", help="record every frame to a msgpack trace "
                      "(read it back with 'rmqwire decode FILE')")

    consume = command("consume", "print a topic's messages as a consumer group receives them",
                      "Consume TOPIC as a member of --group (a push consumer: rebalance, long polling, "
                      "offsets committed on the broker) and print each message as it arrives: queue, offset, "
                      "ids, tags, keys, user properties, body. Stops after --count messages, after "
                      "--idle-timeout seconds without one, or at Ctrl-C, then prints a summary. A group "
                      "resumes from its committed offsets; --from-beginning only decides where a group "
                      "with none starts.")
    consume.add_argument("--namesrv", metavar="HOST:PORT[;HOST:PORT]",
                         help="name server addresses (default: the NAMESRV_ADDR environment variable)")
    consume.add_argument("--topic", required=True, help="the topic to consume (required)")
    consume.add_argument("--group", default="rmqwire-cli", help="the consumer group")
    consume.add_argument("--expression", default="*", metavar="TAGS",
                         help="tag expression: '*' for every message, or 'TagA || TagB'")
    consume.add_argument("--from-beginning", action="store_true",
                         help="a group with no committed offset starts at each queue's first message "
                              "(default: only messages that arrive from now on)")
    consume.add_argument("--count", type=_int_in(1, 2**31 - 1, "count"), metavar="N",
                         help="stop after N messages (default: run until Ctrl-C)")
    consume.add_argument("--idle-timeout", type=_seconds, metavar="SECONDS",
                         help="stop after this long without a message (default: wait for ever)")
    consume.add_argument("--timeout", type=_seconds, default=3.0, metavar="SECONDS",
                         help="time allowed for each request to a name server or broker")
    consume.add_argument("--broadcasting", action="store_true",
                         help="every consumer gets every message (offsets kept in ~/.rocketmq_offsets) "
                              "instead of the group sharing the queues")

    dec = command("decode", "pretty-print frames: hex, a raw capture file, or a msgpack trace",
                  "Print every record of each INPUT, numbered from 1. A record that does not decode is "
                  "reported (number, error class, message) and decoding goes on with the next one; "
                  "the exit status is 1 if any record was bad.")
    dec.add_argument("inputs", nargs="+", metavar="INPUT",
                     help="hex (whitespace allowed), a file of frames back to back, a hex text file, "
                          "a msgpack trace, or '-' for standard input")
    return parser


# --------------------------------------------------------------------------- logging


@contextlib.contextmanager
def _logging(verbose: bool, quiet_level: int, stream: TextIO) -> Iterator[None]:
    """Route the ``rmqwire`` loggers to ``stream`` for the duration of one
    command (restored afterwards: ``main`` may run inside another program)."""
    logger = logging.getLogger("rmqwire")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s",
                                           "%Y-%m-%d %H:%M:%S"))
    saved = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG if verbose else quiet_level)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


# --------------------------------------------------------------------------- decode


def _decode(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: BinaryIO | None) -> int:
    bad_inputs: list[str] = []
    bad_records = total = 0
    for arg in args.inputs:
        if len(args.inputs) > 1:
            print(f"== {arg}", file=out)
        try:
            tally = decode_input(arg, out, stdin)
        except CliError as exc:
            if len(args.inputs) == 1:
                raise
            print(f"rmqwire: {exc}", file=err)
            bad_inputs.append(arg)
            continue
        total += tally.records
        bad_records += len(tally.bad)
        if tally.bad:
            numbers = ", ".join(f"#{n}" for n in tally.bad[:10]) + (", ..." if len(tally.bad) > 10 else "")
            print(f"rmqwire: decode: {tally.name}: {len(tally.bad)} of "
                  f"{tally.records} records bad ({numbers})", file=err)
    return 1 if bad_records or bad_inputs else 0


# --------------------------------------------------------------------------- demo


def _printer(out: TextIO) -> FrameObserver:
    def observe(direction: str, role: str, addr: str, frame: bytes) -> None:
        arrow = "->" if direction == "out" else "<-"
        try:
            text = describe(decode(frame), indent="        ")
        except CodecError as exc:
            text = f"undecodable frame: {exc}"
        print(f"   {arrow} {role} {addr}: {text}", file=out)

    return observe


async def _demo(out: TextIO, verbose: bool, record: str | None = None) -> int:
    from . import AsyncProducer, Message
    from .testing import LocalBroker

    def step(text: str) -> None:
        print(f"\n== {text}", file=out)

    step("starting the embedded name server and broker (LocalBroker)")
    broker = LocalBroker(delay_scale=0.01)  # delay level 3 is 10 s on a real broker, 0.1 s here
    await broker.start()
    try:
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
            ("a delayed message (level 3: 10 s, scaled to 0.1 s here)", Message(topic, b"later", delay_level=3)),
        ]
        for label, msg in sends:
            step(f"send {label}")
            result = await producer.send(msg)
            print(f"   {result.status.value}: msg id {result.msg_id}, queue {result.message_queue.queue_id}, "
                  f"offset {result.queue_offset}", file=out)
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
    finally:
        await broker.stop()
    step("done")
    return 0


# --------------------------------------------------------------------------- serve


def _port_in_use(host: str, port: int) -> bool:
    """Whether binding ``host:port`` fails with EADDRINUSE (asked only after
    a failed start, to say which port it was)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return False
    for family, kind, proto, _, addr in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's create_server does
            try:
                probe.bind(addr)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return True
    return False


def _listen_failure(exc: OSError, args: argparse.Namespace) -> CliError:
    host = args.host
    if isinstance(exc, socket.gaierror):
        return CliError(f"serve: cannot resolve --host {host}: {exc.strerror or exc}")
    if exc.errno == errno.EADDRINUSE:
        ports = [(what, option, port) for what, option, port in (
            ("name server", "--namesrv-port", args.namesrv_port), ("broker", "--broker-port", args.broker_port))
            if port and _port_in_use(host, port)]
        if not ports:  # it went free since: name both
            ports = [("name server", "--namesrv-port", args.namesrv_port), ("broker", "--broker-port", args.broker_port)]
        where = " and ".join(f"{host}:{port} (the {what} port)" for what, _, port in ports)
        options = " / ".join(option for _, option, _ in ports)
        return CliError(f"serve: cannot listen on {where}: address already in use; stop whatever listens there "
                        f"(another 'rmqwire serve' or a RocketMQ server?) or choose another port with {options} "
                        f"(0 picks a free one)")
    if exc.errno == errno.EACCES:
        return CliError(f"serve: cannot listen on {host}: permission denied (ports below 1024 need privileges; "
                        f"choose another with --namesrv-port / --broker-port)")
    if exc.errno == errno.EADDRNOTAVAIL:
        return CliError(f"serve: cannot listen on {host}: not an address of this machine (--host)")
    return CliError(f"serve: cannot listen on {host} (ports {args.namesrv_port}, {args.broker_port}): "
                    f"{exc.strerror or exc}")


async def _serve(args: argparse.Namespace, out: TextIO) -> int:
    from .testing import LocalBroker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread / Windows
            loop.add_signal_handler(sig, stop.set)
    broker = LocalBroker(host=args.host, namesrv_port=args.namesrv_port, broker_port=args.broker_port,
                         record_requests=args.record_requests, idle_timeout=args.idle_timeout or None,
                         max_buffered_bytes=args.max_buffered_bytes,
                         max_queue_messages=args.max_queue_messages or None,
                         max_queue_bytes=args.max_queue_bytes or None)
    try:
        await broker.start()
    except OSError as exc:
        raise _listen_failure(exc, args) from None
    try:
        brokers = ", ".join(f"{name} {addr}" for name, addr in broker.broker_addrs.items())
        recording = "on" if args.record_requests else "off"
        idle = f"{args.idle_timeout:g} s" if args.idle_timeout else "off"
        print(f"name server {broker.namesrv_addr}; broker {brokers}; request recording {recording}; "
              f"idle timeout {idle}; Ctrl-C or SIGTERM stops", file=out, flush=True)
        await stop.wait()
    finally:
        await broker.stop()
    print("stopped", file=out, flush=True)
    return 0


# --------------------------------------------------------------------------- send


async def _send(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: BinaryIO | None) -> int:
    from . import AsyncProducer, Message

    namesrv = args.namesrv or os.environ.get("NAMESRV_ADDR")
    if not namesrv:
        raise CliError("send: no name server: give --namesrv HOST:PORT or set NAMESRV_ADDR", 2)
    body = read_body(args.body, args.body_file, stdin)
    if len(body) > args.max_message_size:
        raise CliError(f"send: the body is {len(body)} bytes, over --max-message-size {args.max_message_size} "
                       f"(Java's default limit; raise it if the broker takes larger messages)")
    msg = Message(args.topic, body, tags=args.tags, keys=args.keys,
                  properties=parse_properties(args.property) or None, delay_level=args.delay_level)
    producer = AsyncProducer(
        args.group, namesrv_addr=namesrv, send_timeout=args.timeout, request_timeout=args.timeout,
        serialize_type=SerializeType[args.serialize_type], max_message_size=args.max_message_size,
        trace=args.record,
    )
    async with producer:
        if args.count == 1:
            result = await producer.send(msg)
            print(f"{result.status.value} msg_id={result.msg_id} offset_msg_id={result.offset_msg_id} "
                  f"queue={result.message_queue.broker_name}:{result.message_queue.queue_id} "
                  f"offset={result.queue_offset}", file=out)
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, stop.set)  # Ctrl-C: finish what is in flight, then summarise
        try:
            stats = await send_many(producer, msg, args.count, in_flight=args.in_flight,
                                    progress=Progress(args.count, err), stop=stop)
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGINT)
    print(stats.summary(), file=out, flush=True)
    if stats.failed:
        print(f"rmqwire: {stats.failure_line()}", file=err)
    if stats.interrupted:
        return 130
    return 0 if stats.all_sent else 1


# --------------------------------------------------------------------------- consume


async def _consume(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from . import AsyncPushConsumer, ConsumeFromWhere, MessageModel
    from .cli_consume import Printer, install_stop_signals

    namesrv = args.namesrv or os.environ.get("NAMESRV_ADDR")
    if not namesrv:
        raise CliError("consume: no name server: give --namesrv HOST:PORT or set NAMESRV_ADDR", 2)
    printer = Printer(out, args.count, args.idle_timeout)
    consumer = AsyncPushConsumer(
        args.group,
        namesrv_addr=namesrv,
        request_timeout=args.timeout,
        consume_from_where=(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET if args.from_beginning
                            else ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET),
        message_model=MessageModel.BROADCASTING if args.broadcasting else MessageModel.CLUSTERING,
        # one message printed at a time: the count is exact and lines never interleave
        consume_thread_min=1,
        consume_thread_max=1,
    )
    consumer.subscribe(args.topic, args.expression)
    consumer.register_listener(printer)
    stop = asyncio.Event()
    undo = install_stop_signals(asyncio.get_running_loop(), stop.set)
    try:
        async with consumer:
            interrupted = await printer.wait(stop)
    finally:
        undo()
    print(printer.stats.summary(), file=out, flush=True)
    if interrupted and args.count is not None and printer.stats.count < args.count:
        return 130
    return 0


# --------------------------------------------------------------------------- main


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: BinaryIO | None = None,
) -> int:
    """Entry point of the ``rmqwire`` command; returns the exit status.

    ``out``/``err``/``stdin`` default to the process's standard streams
    (``stdin`` read as bytes).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    if stdin is None:
        stdin = getattr(sys.stdin, "buffer", None)
    try:
        # argparse writes --help/--version and usage errors to sys.stdout/stderr
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    debug = bool(args.debug)
    verbose = bool(args.verbose) or debug
    command = args.command
    # A server's warnings are its log; a one-shot command's failure is its one line.
    quiet_level = logging.WARNING if command == "serve" else logging.CRITICAL + 1
    failure: BaseException
    with _logging(verbose, quiet_level, err):
        try:
            if command == "decode":
                return _decode(args, out, err, stdin)
            if command == "demo":
                return asyncio.run(_demo(out, not args.quiet, args.record))
            if command == "serve":
                return asyncio.run(_serve(args, out))
            if command == "send":
                return asyncio.run(_send(args, out, err, stdin))
            if command == "consume":
                return asyncio.run(_consume(args, out, err))
            raise CliError(f"unknown command {command!r}", 2)  # pragma: no cover - argparse checks choices
        except KeyboardInterrupt:
            print("rmqwire: interrupted", file=err)
            return 130
        except BrokenPipeError:
            # The reader went away (`rmqwire decode x | head`): nothing to say
            # to it, and nothing left to flush into the closed pipe at exit.
            if out is sys.stdout:
                with contextlib.suppress(OSError, ValueError):
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        except CliError as exc:
            failure, message, code = exc, str(exc), exc.exit_code
        except RocketMQError as exc:
            failure, message, code = exc, f"{command}: {type(exc).__name__}: {_one_line(exc)}", 1
        except OSError as exc:
            failure, message, code = exc, f"{command}: {exc.strerror or _one_line(exc)}" + (
                f": {exc.filename}" if exc.filename else ""), 1
        except Exception as exc:  # deliberate: even a bug is one line, and --debug shows where
            failure, message, code = exc, (f"{command}: unexpected {type(exc).__name__}: {_one_line(exc)} "
                                           f"(a bug in rmqwire; --debug prints the traceback)"), 1
        if debug:
            traceback.print_exception(type(failure), failure, failure.__traceback__, file=err)
        print(f"rmqwire: {message}", file=err)
        return code
