"""The ``rmqwire`` command line: demo, serve, send, decode."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

from rmqwire.cli import main
from rmqwire.testing import LocalBroker
from rmqwire.codec import RemotingCommand, RequestCode, encode

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_demo_walks_through_the_whole_producer_workflow() -> None:
    code, text = run_cli("demo")
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
    code, text = run_cli("demo", "--quiet", "--record", str(record))
    assert code == 0 and "->" not in text
    code, text = run_cli("decode", str(record))
    assert code == 0 and "UNREGISTER_CLIENT (35) request" in text


def test_decode_pretty_prints_hex_frames() -> None:
    frame = encode(RemotingCommand.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "TopicTest"}, opaque=8))
    code, text = run_cli("decode", frame.hex())
    assert code == 0
    assert "GET_ROUTEINFO_BY_TOPIC (105) request, opaque 8" in text and "topic: TopicTest" in text


def test_decode_reads_a_msgpack_trace() -> None:
    code, text = run_cli("decode", str(ROOT / "specs" / "golden" / "interop-cpp.msgpack"))
    assert code == 0
    assert "SEND_MESSAGE (10) request" in text and "CPP v63" in text


def test_decode_rejects_garbage_with_our_error() -> None:
    code, _ = run_cli("decode", "00000004ff")
    assert code == 1


def test_send_to_a_cluster_and_record_the_frames(tmp_path: Path) -> None:
    record = tmp_path / "send.msgpack"
    with LocalBroker.in_thread() as broker:
        code, text = run_cli("send", "--namesrv", broker.namesrv_addr, "--topic", "CliTopic", "--tags", "T1",
                             "--property", "k=v", "--record", str(record), "hello from the cli")
        assert code == 0 and text.startswith("SEND_OK")
        [stored] = broker.messages("CliTopic")
        assert stored.payload == b"hello from the cli" and stored.tags == "T1" and stored.properties["k"] == "v"
    code, text = run_cli("decode", str(record))
    assert code == 0 and "SEND_MESSAGE_V2 (310) request" in text


def test_serve_runs_until_sigterm_and_exits_zero() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "rmqwire", "serve", "--namesrv-port", "0", "--broker-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "name server 127.0.0.1:" in line
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
