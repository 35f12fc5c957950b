"""The ``rmqwire`` command line as a user meets it: demo, serve, send, decode.

What a send put on the wire is read back from its own ``--record`` trace
(the frames exactly as sent, and the broker's answers), so these tests use
no more of LocalBroker than its constructor, ``start``/``stop`` and
addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import msgpack
import pytest

import rmqwire.testing
from rmqwire import cli
from rmqwire.cli import main
from rmqwire.cli_send import Progress, percentile
from rmqwire.codec import (
    MessageSysFlag,
    RemotingCommand,
    RequestCode,
    ResponseCode,
    SerializeType,
    decode,
    decode_properties,
    decompress_body,
    encode,
)
from rmqwire.codec.trace import TraceRecord, expect_from_command, pack_records, unpack_records
from rmqwire.testing import LocalBroker

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
ROUTE_REQUEST = RemotingCommand.request(
    RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "TopicTest"}, opaque=1, serialize_type=SerializeType.ROCKETMQ
)
TIMESTAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}"


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_cli(*argv: str, stdin: bytes | None = None, err: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), err if err is not None else io.StringIO()
    code = main(list(argv), out=out, err=err, stdin=io.BytesIO(stdin) if stdin is not None else None)
    return code, out.getvalue(), err.getvalue()


def run_process(*argv: str | bytes, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "rmqwire", *argv], input=input, capture_output=True,
                          env=ENV, cwd=ROOT, timeout=timeout)


def assert_one_failure_line(err: str, *fragments: str) -> None:
    """A failure is exactly one ``rmqwire: ...`` line naming what went wrong."""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rmqwire: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@contextlib.contextmanager
def running_broker(**kwargs: Any) -> Iterator[LocalBroker]:
    """A LocalBroker on its own event loop in a daemon thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    broker = LocalBroker(**kwargs)
    try:
        asyncio.run_coroutine_threadsafe(broker.start(), loop).result(10)
        yield broker
    finally:
        asyncio.run_coroutine_threadsafe(broker.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="module")
def broker() -> Iterator[LocalBroker]:
    with running_broker() as b:
        yield b


def sends_in(trace: Path) -> list[tuple[RemotingCommand, RemotingCommand | None]]:
    """(SEND_MESSAGE_V2 request, its response) pairs from a recorded trace."""
    commands = [decode(r.wire) for r in unpack_records(trace.read_bytes())]
    responses = {c.opaque: c for c in commands if c.is_response}
    return [(c, responses.get(c.opaque)) for c in commands
            if not c.is_response and c.code == RequestCode.SEND_MESSAGE_V2]


def sent_body(request: RemotingCommand) -> bytes:
    return decompress_body(request.body, int(request.ext_fields["f"]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- help, version, usage


def test_every_option_of_every_command_has_help_and_its_default_shown() -> None:
    parser = cli._parser()
    subparsers = next(a for a in parser._actions if isinstance(a, cli.argparse._SubParsersAction))
    assert set(subparsers.choices) == {"demo", "serve", "send", "consume", "decode"}
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            assert action.help, f"{name} {action.dest} has no help"
        code, text, _ = run_cli(name, "--help")
        assert code == 0
        flat = " ".join(text.split())
        for action in sub._actions:
            if action.option_strings and action.default not in (None, False, cli.argparse.SUPPRESS):
                assert f"(default: {action.default})" in flat, f"{name} {action.option_strings[0]}"
    _, serve_help, _ = run_cli("serve", "--help")
    flat = " ".join(serve_help.split())
    assert "(default: 9876)" in flat and "(default: 10911)" in flat and "(default: 127.0.0.1)" in flat
    assert "--record-requests" in flat and "off by default" in flat
    _, send_help, _ = run_cli("send", "--help")
    flat = " ".join(send_help.split())
    for shown in ("(default: 3.0)", "(default: JSON)", "(default: rmqwire-cli)", "(default: 1)", "(default: 4194304)"):
        assert shown in flat


def test_version_is_the_installed_distributions() -> None:
    code, text, _ = run_cli("--version")
    assert code == 0 and text.strip() == f"rmqwire {dist_version('rmqwire')}"
    proc = run_process("--version")
    assert proc.returncode == 0 and proc.stdout.decode().strip() == f"rmqwire {dist_version('rmqwire')}"


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["send", "--namesrv", "127.0.0.1:1", "--topic", "T", "--delay-level", "19", "x"], "delay level must be 1..18"),
        (["send", "--namesrv", "127.0.0.1:1", "--topic", "T", "--delay-level", "0", "x"], "delay level must be 1..18"),
        (["send", "--namesrv", "127.0.0.1:1", "--topic", "T", "--timeout", "-1", "x"], "positive"),
        (["send", "--namesrv", "127.0.0.1:1", "--topic", "T", "--serialize-type", "XML", "x"], "--serialize-type"),
        (["send", "--namesrv", "127.0.0.1:1", "x"], "--topic"),
        (["send", "--namesrv", "127.0.0.1:1", "--topic", "T", "--property", "novalue", "x"], "KEY=VALUE"),
        (["send", "--namesrv", "127.0.0.1:1", "--topic", "T"], "no body"),
        (["send", "--namesrv", "127.0.0.1:1", "--topic", "T", "--body-file", "f", "x"], "not both"),
        (["serve", "--namesrv-port", "70000"], "0..65535"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_usage_is_one_line_and_exit_status_2(argv: list[str], fragment: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NAMESRV_ADDR", raising=False)
    code, out, err = run_cli(*argv)
    assert code == 2 and out == ""
    assert_one_failure_line(err, fragment)


def test_send_without_any_name_server_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NAMESRV_ADDR", raising=False)
    code, _, err = run_cli("send", "--topic", "T", "x")
    assert code == 2
    assert_one_failure_line(err, "--namesrv", "NAMESRV_ADDR")


def test_an_os_error_is_one_line_and_debug_adds_the_traceback(broker: LocalBroker, tmp_path: Path) -> None:
    record = tmp_path / "no" / "such" / "dir.msgpack"
    argv = ["send", "--namesrv", broker.namesrv_addr, "--topic", "T", "--record", str(record), "x"]
    code, out, err = run_cli(*argv)
    assert code == 1 and out == ""
    assert_one_failure_line(err, "rmqwire: send: No such file or directory", str(record))
    code, _, err = run_cli("--debug", *argv)
    assert code == 1
    assert err.startswith("Traceback") and "FileNotFoundError" in err
    assert err.splitlines()[-1].startswith("rmqwire: send: No such file or directory")


def test_main_leaves_logging_as_it_found_it() -> None:
    logger = logging.getLogger("rmqwire")
    before = (logger.level, logger.propagate, list(logger.handlers))
    code, _, _ = run_cli("-v", "decode", encode(ROUTE_REQUEST).hex())
    assert code == 0
    assert (logger.level, logger.propagate, list(logger.handlers)) == before


# --------------------------------------------------------------------------- serve


def test_serve_on_a_port_in_use_is_one_line_naming_the_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for option, what in (("--namesrv-port", "name server"), ("--broker-port", "broker")):
            other = "--broker-port" if option == "--namesrv-port" else "--namesrv-port"
            proc = run_process("serve", option, str(port), other, "0")
            err = proc.stderr.decode()
            assert proc.returncode == 1 and proc.stdout == b""
            assert_one_failure_line(err, f"127.0.0.1:{port}", f"the {what} port", "already in use", option)
            assert "Traceback" not in err


def test_serve_runs_until_sigterm_and_logs_requests_with_timestamps_under_v() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rmqwire", "serve", "-v", "--namesrv-port", "0", "--broker-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"name server (127\.0\.0\.1:\d+)", line)
        assert match, line
        assert "request recording off" in line
        code, text, _ = run_cli("send", "--namesrv", match[1], "--topic", "ServeTopic", "hello serve")
        assert code == 0 and text.startswith("SEND_OK")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0 and out.strip() == "stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # requests as the broker saw them (code by name, opaque, the client id the
    # connection heartbeats as), each line stamped, from the rmqwire loggers
    lines = err.splitlines()
    request_lines = [ln for ln in lines if "SEND_MESSAGE_V2(310) request opaque=" in ln]
    assert request_lines, err
    assert all(re.match(rf"{TIMESTAMP} DEBUG +rmqwire\.", ln) for ln in request_lines)
    assert any(re.search(r"broker-a <- 127\.0\.0\.1:\d+ client \S+@\S+: SEND_MESSAGE_V2", ln) for ln in request_lines)
    # connections, opened and closed, with the peer's address
    for event in (r"connection \d+ from 127\.0\.0\.1:\d+$", r"connection \d+ from 127\.0\.0\.1:\d+ closed"):
        for server in ("namesrv", "broker-a"):
            assert any(re.match(rf"{TIMESTAMP} INFO +rmqwire\.broker\.server: {server}: {event}", ln) for ln in lines), err


class _SpyBroker(LocalBroker):
    """Records how ``serve`` built it, and stops the serve loop once started."""

    made: list[dict[str, Any]] = []

    def __init__(self, **kwargs: Any) -> None:
        type(self).made.append(kwargs)
        super().__init__(**kwargs)

    async def start(self) -> LocalBroker:
        started = await super().start()
        # fires only while serve's loop (and so its SIGTERM handler) runs
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
        return started


@pytest.mark.parametrize("flag, recording", [((), False), (("--record-requests",), True)])
def test_serve_does_not_record_requests_unless_asked(flag: tuple[str, ...], recording: bool,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("serve installs its signal handlers only in the main thread")
    _SpyBroker.made = []
    monkeypatch.setattr(rmqwire.testing, "LocalBroker", _SpyBroker)
    code, out, _ = run_cli("serve", "--namesrv-port", "0", "--broker-port", "0", *flag)
    assert code == 0 and out.splitlines()[-1] == "stopped"
    assert [kw["record_requests"] for kw in _SpyBroker.made] == [recording]
    assert f"request recording {'on' if recording else 'off'}" in out


@pytest.mark.parametrize("flags, idle, budget", [
    ((), 120.0, 64 * 1024 * 1024),
    (("--idle-timeout", "0"), None, 64 * 1024 * 1024),
    (("--idle-timeout", "2.5", "--max-buffered-bytes", "1000000"), 2.5, 1_000_000),
])
def test_serve_closes_idle_connections_and_caps_unfinished_frames_by_default(
        flags: tuple[str, ...], idle: float | None, budget: int, monkeypatch: pytest.MonkeyPatch) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("serve installs its signal handlers only in the main thread")
    _SpyBroker.made = []
    monkeypatch.setattr(rmqwire.testing, "LocalBroker", _SpyBroker)
    code, out, _ = run_cli("serve", "--namesrv-port", "0", "--broker-port", "0", *flags)
    assert code == 0 and out.splitlines()[-1] == "stopped"
    [made] = _SpyBroker.made
    assert (made["idle_timeout"], made["max_buffered_bytes"]) == (idle, budget)
    assert f"idle timeout {f'{idle:g} s' if idle else 'off'}" in out


@pytest.mark.parametrize("flags, messages, size", [
    ((), 100_000, 64 * 1024 * 1024),
    (("--max-queue-messages", "10", "--max-queue-bytes", "4096"), 10, 4096),
    (("--max-queue-messages", "0", "--max-queue-bytes", "0"), None, None),
])
def test_serve_retains_a_bounded_number_of_messages_per_queue_by_default(
        flags: tuple[str, ...], messages: int | None, size: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("serve installs its signal handlers only in the main thread")
    _SpyBroker.made = []
    monkeypatch.setattr(rmqwire.testing, "LocalBroker", _SpyBroker)
    code, out, _ = run_cli("serve", "--namesrv-port", "0", "--broker-port", "0", *flags)
    assert code == 0 and out.splitlines()[-1] == "stopped"
    [made] = _SpyBroker.made
    assert (made["max_queue_messages"], made["max_queue_bytes"]) == (messages, size)


@pytest.mark.parametrize("flags, fragment", [
    (("--idle-timeout", "-1"), "seconds must be positive"),
    (("--idle-timeout", "soon"), "seconds must be a number"),
    (("--max-buffered-bytes", "0"), "size must be 1.."),
])
def test_serve_rejects_bad_limits_in_one_line(flags: tuple[str, ...], fragment: str) -> None:
    code, out, err = run_cli("serve", *flags)
    assert (code, out) == (2, "")
    assert_one_failure_line(err, fragment)


def test_v_logs_frames_with_bodies_cut_to_a_preview_and_their_length(broker: LocalBroker, tmp_path: Path) -> None:
    body = bytes(range(256)) * 40  # 10240 bytes, compressed on the wire
    path = tmp_path / "body.bin"
    path.write_bytes(body)
    code, _, err = run_cli("-v", "send", "--namesrv", broker.namesrv_addr, "--topic", "CliTopic",
                           "--body-file", str(path))
    assert code == 0
    lines = err.splitlines()
    sends = [ln for ln in lines if "rmqwire.transport: -> broker" in ln and "SEND_MESSAGE_V2(310) request" in ln]
    assert len(sends) == 1, err
    assert re.search(r"body=b'.*'\.\.\. \(\d+ bytes\)$", sends[0]), sends[0]
    # no line carries a whole body: at most 200 bytes of one, as a repr
    assert max(len(ln) for ln in lines) < 2000, max(lines, key=len)[:300]
    # the broker's side of the same request, under the client id it heartbeats as
    assert any(re.search(r"rmqwire\.broker\.dispatch: broker-a <- 127\.0\.0\.1:\d+ client \S+: SEND_MESSAGE_V2", ln)
               for ln in lines), err


# --------------------------------------------------------------------------- send


def test_send_one_message_with_its_options(broker: LocalBroker, tmp_path: Path) -> None:
    record = tmp_path / "send.msgpack"
    code, text, err = run_cli(
        "send", "--namesrv", broker.namesrv_addr, "--topic", "CliTopic", "--tags", "T1", "--keys", "k1 k2",
        "--property", "k=v", "--delay-level", "3", "--timeout", "5", "--serialize-type", "rocketmq",
        "--record", str(record), "hello from the cli",
    )
    assert (code, err) == (0, "")
    assert re.fullmatch(r"SEND_OK msg_id=[0-9A-F]{32} offset_msg_id=[0-9A-F]{32} queue=broker-a:\d offset=\d+\n", text)
    [(request, response)] = sends_in(record)
    assert response is not None and response.code == ResponseCode.SUCCESS
    assert request.serialize_type is SerializeType.ROCKETMQ
    assert request.ext_fields["b"] == "CliTopic" and sent_body(request) == b"hello from the cli"
    props = decode_properties(request.ext_fields["i"])
    assert (props["TAGS"], props["KEYS"], props["k"], props["DELAY"]) == ("T1", "k1 k2", "v", "3")
    code, text, _ = run_cli("decode", str(record))
    assert code == 0 and "SEND_MESSAGE_V2 (310) request" in text and "ROCKETMQ header" in text


def test_send_takes_non_utf8_argv_byte_for_byte(broker: LocalBroker, tmp_path: Path) -> None:
    record = tmp_path / "argv.msgpack"
    body = b"caf\xe9 \xff\xfe latin-1"
    proc = run_process("send", "--namesrv", broker.namesrv_addr, "--topic", "CliTopic", "--record", str(record), body)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"SEND_OK") and proc.stderr == b""
    [(request, response)] = sends_in(record)
    assert sent_body(request) == body and response is not None and response.code == ResponseCode.SUCCESS


def test_send_reads_a_binary_body_from_stdin(broker: LocalBroker, tmp_path: Path) -> None:
    record = tmp_path / "stdin.msgpack"
    body = bytes(range(256)) + b"\r\n\x00\n" * 3
    proc = run_process("send", "--namesrv", broker.namesrv_addr, "--topic", "CliTopic", "--record", str(record), "-",
                       input=body)
    assert proc.returncode == 0, proc.stderr
    [(request, _)] = sends_in(record)
    assert sent_body(request) == body
    # the same through --body-file -
    record2 = tmp_path / "stdin2.msgpack"
    code, _, err = run_cli("send", "--namesrv", broker.namesrv_addr, "--topic", "CliTopic", "--record", str(record2),
                           "--body-file", "-", stdin=body)
    assert (code, err) == (0, "")
    [(request, _)] = sends_in(record2)
    assert sent_body(request) == body


def test_send_a_5_mib_body_from_a_file(broker: LocalBroker, tmp_path: Path) -> None:
    body = bytes(range(256)) * (5 * 1024 * 4)  # 5 MiB, compressible: the broker's own 4 MiB limit is on the record
    path = tmp_path / "big.bin"
    path.write_bytes(body)
    code, _, err = run_cli("send", "--namesrv", broker.namesrv_addr, "--topic", "CliTopic", "--body-file", str(path))
    assert code == 1
    assert_one_failure_line(err, "5242880 bytes", "--max-message-size 4194304")
    record = tmp_path / "big.msgpack"
    code, text, err = run_cli("send", "--namesrv", broker.namesrv_addr, "--topic", "CliTopic", "--body-file", str(path),
                              "--max-message-size", str(6 * 1024 * 1024), "--record", str(record))
    assert (code, err) == (0, "") and text.startswith("SEND_OK")
    [(request, response)] = sends_in(record)
    assert int(request.ext_fields["f"]) & MessageSysFlag.COMPRESSED_FLAG
    assert sent_body(request) == body and response is not None and response.code == ResponseCode.SUCCESS


@pytest.mark.parametrize("target", ["missing", "directory"])
def test_send_with_an_unreadable_body_file_is_one_line(target: str, tmp_path: Path) -> None:
    path = tmp_path / "nope" if target == "missing" else tmp_path
    code, out, err = run_cli("send", "--namesrv", "127.0.0.1:1", "--topic", "T", "--body-file", str(path))
    assert code == 1 and out == ""
    assert_one_failure_line(err, str(path), "No such file" if target == "missing" else "is a directory")


def test_send_to_a_dead_name_server_is_one_line() -> None:
    code, out, err = run_cli("send", "--namesrv", f"127.0.0.1:{free_port()}", "--topic", "T", "--timeout", "1", "x")
    assert code == 1 and out == ""
    assert_one_failure_line(err, "rmqwire: send: ", "Error: ")


def test_send_count_summarises_rate_and_latency(broker: LocalBroker, tmp_path: Path) -> None:
    record = tmp_path / "count.msgpack"
    code, text, err = run_cli("send", "--namesrv", broker.namesrv_addr, "--topic", "CountTopic", "--count", "25",
                              "--in-flight", "4", "--record", str(record), "m")
    assert code == 0
    assert err == ""  # stderr is not a terminal and the run is short: no progress lines
    assert re.fullmatch(r"25 of 25 messages sent in \d+\.\d\d s: \d+ msgs/s; latency p50 \d+\.\d\d ms, "
                        r"p99 \d+\.\d\d ms\n", text), text
    pairs = sends_in(record)
    assert len(pairs) == 25 and all(r is not None and r.code == ResponseCode.SUCCESS for _, r in pairs)
    assert len({decode_properties(q.ext_fields["i"])["UNIQ_KEY"] for q, _ in pairs}) == 25


def test_send_count_draws_a_progress_bar_on_a_terminal(broker: LocalBroker) -> None:
    tty = TtyStream()
    code, text, err = run_cli("send", "--namesrv", broker.namesrv_addr, "--topic", "CountTopic", "--count", "30",
                              "m", err=tty)
    assert code == 0 and text.startswith("30 of 30 messages sent")
    assert err.startswith("\r[") and err.endswith("\n")
    last = err.rstrip("\n").split("\r")[-1]
    assert re.match(r"\[#{30}\] 30/30 100% +\d+ msgs/s 0 failed", last), last


def test_send_count_counts_failed_sends_and_exits_1(broker: LocalBroker) -> None:
    # incompressible and over the broker's 4 MiB record limit: every send is refused (MESSAGE_ILLEGAL)
    body = os.urandom(4 * 1024 * 1024 + 4096)
    code, text, err = run_cli("send", "--namesrv", broker.namesrv_addr, "--topic", "CountTopic", "--count", "3",
                              "--max-message-size", str(8 * 1024 * 1024), "-", stdin=body)
    assert code == 1
    assert text.startswith("0 of 3 messages sent") and "3 failed" in text and "latency" not in text
    assert_one_failure_line(err, "send: 3 of 3 sends failed: MessageIllegalError x3", "(first: ")


def test_send_count_interrupted_by_ctrl_c_still_summarises(broker: LocalBroker) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rmqwire", "send", "-v", "--namesrv", broker.namesrv_addr, "--topic", "CountTopic",
         "--count", "100000000", "m"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # -v: wait for the sends to be under way
            if "SEND_MESSAGE_V2(310) request" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-2000:]
    assert re.fullmatch(r"(\d+) of 100000000 messages sent in .*; interrupted after \1\n", out), out
    assert "Traceback" not in err


def test_progress_without_a_terminal_prints_a_plain_line_now_and_then() -> None:
    now = [0.0]
    stream = io.StringIO()
    progress = Progress(100, stream, plain_interval=5.0, clock=lambda: now[0])
    for done in range(1, 101):
        now[0] = done * 0.2  # 20 s in all: a line at 5, 10, 15 and 20 s
        progress.update(done, 0)
    progress.close(100, 0)
    lines = stream.getvalue().splitlines()
    assert lines == [f"rmqwire send: {n}/100 done, 5 msgs/s, 0 failed" for n in (25, 50, 75, 100)]


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)
    assert percentile([7.0], 99) == 7.0


# --------------------------------------------------------------------------- decode


def test_decode_pretty_prints_hex_with_whitespace_and_newlines() -> None:
    hexed = encode(ROUTE_REQUEST).hex()
    spaced = " ".join(hexed[i:i + 8] for i in range(0, len(hexed), 8))
    code, text, err = run_cli("decode", spaced[:40] + "\n" + spaced[40:] + "\n")
    assert (code, err) == (0, "")
    assert text == ("#1: GET_ROUTEINFO_BY_TOPIC (105) request, opaque 1, flag 0, ROCKETMQ header, PYTHON v479\n"
                    "    topic: TopicTest\n")


def test_decode_numbers_records_reports_a_bad_one_and_goes_on(tmp_path: Path) -> None:
    good = encode(ROUTE_REQUEST)
    bad = b"\x00\x00\x00\x04\xff\xff\xff\xff"  # header length 16 MiB in a 4-byte frame
    capture = tmp_path / "capture.bin"
    capture.write_bytes(good + bad + encode(RemotingCommand.request(RequestCode.HEART_BEAT, opaque=2)))
    code, text, err = run_cli("decode", str(capture))
    assert code == 1
    lines = [ln for ln in text.splitlines() if ln.startswith("#")]
    assert lines[0].startswith("#1: GET_ROUTEINFO_BY_TOPIC (105) request")
    assert lines[1] == (f"#2: bad record (8 bytes at byte {len(good)}): BadHeaderLengthError: "
                        "header: declares 16777215 bytes, 0 are left")
    assert lines[2].startswith("#3: HEART_BEAT (34) request, opaque 2")
    assert_one_failure_line(err, str(capture), "1 of 3 records bad (#2)")


def test_decode_reports_a_truncated_last_frame() -> None:
    good = encode(ROUTE_REQUEST)
    code, text, err = run_cli("decode", (good + good[:10]).hex())
    assert code == 1
    assert text.splitlines()[-1] == (f"#2 (at byte {len(good)}): bad record: TruncatedFrameError: the length field "
                                     f"says {len(good) - 4} bytes follow, only 6 do")
    assert_one_failure_line(err, "1 of 2 records bad (#2)")


def test_decode_reads_a_hex_text_file_and_stdin(tmp_path: Path) -> None:
    frame = encode(ROUTE_REQUEST)
    text_file = tmp_path / "frames.hex"
    text_file.write_text(frame.hex()[:50] + "\n" + frame.hex()[50:] + "\n" + frame.hex() + "\n")
    code, text, _ = run_cli("decode", str(text_file))
    assert code == 0 and [ln[:3] for ln in text.splitlines() if ln.startswith("#")] == ["#1:", "#2:"]
    code, text, _ = run_cli("decode", "-", stdin=frame)
    assert code == 0 and text.startswith("#1: GET_ROUTEINFO_BY_TOPIC")


def test_decode_reads_a_msgpack_trace() -> None:
    code, text, _ = run_cli("decode", str(ROOT / "specs" / "golden" / "interop-cpp.msgpack"))
    assert code == 0
    assert "SEND_MESSAGE (10) request" in text and "CPP v63" in text
    assert text.startswith("#1 client->server namesrv: ")


def test_decode_of_the_error_corpus_shows_each_declared_error() -> None:
    path = ROOT / "specs" / "golden" / "errors.msgpack"
    records = list(unpack_records(path.read_bytes()))
    code, text, err = run_cli("decode", str(path))
    assert (code, err) == (0, "")
    lines = text.splitlines()
    assert len(lines) == len(records)
    for n, (line, rec) in enumerate(zip(lines, records), 1):
        assert line.startswith(f"#{n} ") and f"as the record declares: {rec.error}: " in line


def test_decode_goes_on_after_a_bad_trace_record(tmp_path: Path) -> None:
    good = encode(ROUTE_REQUEST)
    corrupt = good[:4] + b"\x7f" + good[5:]  # serialize type 127: neither JSON nor ROCKETMQ
    source = {"source": "derived: test"}

    def record(seq: int, wire: bytes) -> TraceRecord:
        return TraceRecord(seq=seq, direction="client->server", role="namesrv", wire=wire, provenance=source,
                           expect=expect_from_command(ROUTE_REQUEST))

    packed = pack_records([record(1, good), record(2, corrupt), record(3, good)])
    # a record that is not a valid trace record at all, spliced in as the 4th
    packed += msgpack.packb({"seq": 4, "direction": "sideways", "role": "namesrv", "wire": good,
                             "provenance": source, "expect": expect_from_command(ROUTE_REQUEST)}, use_bin_type=True)
    packed += pack_records([record(5, good)])[len(pack_records([])):]
    trace = tmp_path / "t.msgpack"
    trace.write_bytes(packed + b"\x85")  # and a truncated tail
    code, text, err = run_cli("decode", str(trace))
    assert code == 1
    lines = [ln for ln in text.splitlines() if ln.startswith("#")]
    assert lines[0].startswith("#1 client->server namesrv: GET_ROUTEINFO_BY_TOPIC")
    assert lines[1].startswith("#2 client->server namesrv: bad record (") and "Error: " in lines[1]
    assert lines[2].startswith("#3 client->server namesrv: GET_ROUTEINFO_BY_TOPIC")
    assert lines[3].startswith("#4: bad record: MalformedBodyError: ") and "direction" in lines[3]
    assert lines[4].startswith("#5 client->server namesrv: GET_ROUTEINFO_BY_TOPIC")
    assert lines[5] == "#6: bad record: MalformedBodyError: trace truncated: 1 bytes after the last whole record"
    assert_one_failure_line(err, "3 of 6 records bad (#2, #4, #6)")


@pytest.mark.parametrize(
    "arg, fragment",
    [
        ("{tmp}", "is a directory"),
        ("{tmp}/missing.msgpack", "no such file or directory, and not hex either"),
        ("abc", "odd number of digits (3)"),
        ("{tmp}/empty", "is empty"),
    ],
)
def test_decode_of_an_unusable_input_is_one_line(arg: str, fragment: str, tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    code, out, err = run_cli("decode", arg.format(tmp=tmp_path))
    assert code == 1 and out == ""
    assert_one_failure_line(err, "rmqwire: decode: ", fragment)


def test_decode_of_several_inputs_goes_on_past_an_unusable_one(tmp_path: Path) -> None:
    code, text, err = run_cli("decode", str(tmp_path / "missing"), encode(ROUTE_REQUEST).hex())
    assert code == 1
    assert "#1: GET_ROUTEINFO_BY_TOPIC" in text
    assert_one_failure_line(err, "missing: no such file")


def test_the_readme_decode_example_runs_as_written() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```console\n(.*?)```", readme, re.S)
    examples = [b for b in blocks if b.startswith("$ rmqwire decode ")]
    assert examples, "README.md lost its `$ rmqwire decode <hex>` example"
    for block in examples:
        command, _, expected = block.partition("\n")
        argv = command.split()[1:]
        assert argv[:2] == ["rmqwire", "decode"] and len(argv) == 3
        # it is the frame the README says it is
        assert decode(bytes.fromhex(argv[2])) == ROUTE_REQUEST and encode(ROUTE_REQUEST).hex() == argv[2]
        script = Path(sys.executable).with_name("rmqwire")
        run = [str(script), *argv[1:]] if script.exists() else [sys.executable, "-m", "rmqwire", *argv[1:]]
        proc = subprocess.run(run, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=60)
        assert proc.returncode == 0 and proc.stderr == ""
        assert proc.stdout == expected


# --------------------------------------------------------------------------- demo


def test_demo_walks_through_the_whole_producer_workflow() -> None:
    code, text, _ = run_cli("demo")
    assert code == 0
    for step in ("== start:", "== send a small message", "== send_oneway", "== send_batch", "== heartbeat", "== shutdown"):
        assert step in text
    for frame in ("GET_ROUTEINFO_BY_TOPIC (105) request", "HEART_BEAT (34) request", "SEND_MESSAGE_V2 (310) request",
                  "SEND_BATCH_MESSAGE (320) request", "UNREGISTER_CLIENT (35) request", "oneway request"):
        assert frame in text
    assert "the broker holds 8 messages of DemoTopic" in text
    assert "state SHUTDOWN_ALREADY" in text


def test_demo_can_record_its_frames(tmp_path: Path) -> None:
    record = tmp_path / "demo.msgpack"
    code, text, _ = run_cli("demo", "--quiet", "--record", str(record))
    assert code == 0 and "->" not in text
    code, text, _ = run_cli("decode", str(record))
    assert code == 0 and "UNREGISTER_CLIENT (35) request" in text


# --------------------------------------------------------------------------- the library knows no command line


def test_nothing_in_the_library_imports_the_command_line() -> None:
    import ast

    cli_modules = {"cli", "cli_decode", "cli_send"}
    for folder in ("client", "codec"):
        for path in (ROOT / folder).rglob("*.py"):
            if folder == "client" and path.parent == ROOT / "client" and (path.stem in cli_modules
                                                                          or path.stem == "__main__"):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom):
                    names = [node.module or ""] + [f"{node.module or ''}.{a.name}" for a in node.names]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    continue
                for name in names:
                    assert not set(name.split(".")) & cli_modules, f"{path.relative_to(ROOT)} imports {name}"


def test_every_rmqwire_logger_reaches_a_null_handler_on_the_top_logger() -> None:
    # Every module of both folders is imported, so every logger the library
    # makes exists; each is under ``rmqwire``, which alone has a handler, a
    # NullHandler, so that an application without logging set up does not
    # see our warnings through Python's last-resort handler.
    script = (
        "import importlib, logging, pkgutil, sys, rmqwire\n"
        "for info in pkgutil.walk_packages(rmqwire.__path__, 'rmqwire.'):\n"
        "    if info.name not in ('rmqwire.__main__', 'rmqwire.pytest_plugin'):\n"
        "        importlib.import_module(info.name)\n"
        "names = sorted(n for n in logging.Logger.manager.loggerDict if n.split('.')[0] == 'rmqwire')\n"
        "assert len(names) > 5, names\n"
        "top = logging.getLogger('rmqwire')\n"
        "assert [type(h) for h in top.handlers] == [logging.NullHandler], top.handlers\n"
        "for name in names:\n"
        "    logger = logging.getLogger(name)\n"
        "    if logger is not top:\n"
        "        assert logger.handlers == [] and logger.propagate, name\n"
        "        parent = logger.parent\n"
        "        while parent is not None and parent is not top:\n"
        "            parent = parent.parent\n"
        "        assert parent is top, name\n"
        "logging.getLogger('rmqwire.broker.server').warning('must not reach stderr')\n"
        "print(len(names))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_the_library_configures_no_logging() -> None:
    script = (
        "import logging, rmqwire, rmqwire.codec, rmqwire.producer, rmqwire.sync, rmqwire.testing, rmqwire.trace\n"
        "assert logging.getLogger().handlers == [], logging.getLogger().handlers\n"
        "for name in ('rmqwire', 'rmqwire.transport', 'rmqwire.producer', 'rmqwire.testing'):\n"
        "    handlers = logging.getLogger(name).handlers\n"
        "    assert all(type(h) is logging.NullHandler for h in handlers), (name, handlers)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
