"""Shared machinery of the ``interop`` group: real third-party RocketMQ
clients producing through rmqwire's embedded :class:`client.testing.LocalBroker`.

Two clients are driven, each as a subprocess, from a JSON *scenario* (where
to connect, what to send) written by the test:

* the apache C++ client (``librocketmq.so`` bundled in PyPI
  ``rocketmq==0.4.4``) through ``drivers/cpp_driver.py``, run with the
  interpreter of ``tests/interop/.venv``;
* the pure-JavaScript ``ali-ons`` through ``drivers/ons_driver.js``, run
  with ``node`` and ``drivers/node_modules``.

``tests/interop/setup.sh`` installs both and leaves ``.status-cpp`` /
``.status-ons`` saying ``ok: ...`` or ``unavailable: <reason>``; a client
that is not installed makes its test skip with that reason, never fail.

Between each client and LocalBroker sits a :class:`FrameTap`, a small TCP
relay that keeps every whole frame in both directions so that a session can
be written as a :mod:`codec.trace` file (``specs/golden/interop-*.msgpack``
when ``RMQWIRE_INTEROP_RECORD=1``).  The name server's route replies are the
one thing it edits: the broker address in their body is replaced by the
tap's own, so the client's broker connection comes through the tap too.
"""

from __future__ import annotations

import json
import os
import re
import select
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

INTEROP_DIR = Path(__file__).resolve().parent
DRIVERS_DIR = INTEROP_DIR / "drivers"
REPO_ROOT = INTEROP_DIR.parent.parent
GOLDEN_DIR = REPO_ROOT / "specs" / "golden"
SETUP_HINT = "run tests/interop/setup.sh"

#: Seconds one driver subprocess may take before it is killed and the test fails.
DRIVER_TIMEOUT = 60.0

#: Property keys the clients or the protocol set themselves; everything else
#: in a stored message's properties is a user property.
SYSTEM_PROPERTY_KEYS = frozenset(
    {
        "TAGS",
        "KEYS",
        "WAIT",
        "UNIQ_KEY",
        "DELAY",
        "__SHARDING_KEY",
        "MSG_REGION",
        "TRACE_ON",
        "CLUSTER",
        "MIN_OFFSET",
        "MAX_OFFSET",
        "REAL_TOPIC",
        "REAL_QID",
        "TRAN_MSG",
        "PGROUP",
        "INSTANCE_ID",
        "CORRELATION_ID",
    }
)


# --------------------------------------------------------------------------
# installation status


def client_status(name: str) -> tuple[bool, str]:
    """(installed, reason) for ``cpp`` or ``ons`` from setup.sh's status file."""
    path = INTEROP_DIR / f".status-{name}"
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return False, f"{name} client not installed ({SETUP_HINT})"
    if text.startswith("ok"):
        return True, text
    reason = text.removeprefix("unavailable:").strip()
    return False, reason or f"{name} client status unknown ({SETUP_HINT})"


# --------------------------------------------------------------------------
# the relay that records frames


@dataclass(frozen=True)
class TappedFrame:
    """One whole frame as it crossed a :class:`FrameTap`."""

    seq: int
    direction: str  # "client->server" or "server->client"
    role: str  # "namesrv" or "broker"
    conn: int
    wire: bytes
    time: float
    rewritten_from: bytes | None = None  # the original, when the tap edited it


def _header(frame: bytes) -> dict[str, Any]:
    """The JSON header of a frame, {} if it is not JSON (these clients speak JSON only)."""
    meta = struct.unpack_from(">i", frame, 4)[0]
    if meta >> 24 != 0:
        return {}
    length = meta & 0xFFFFFF
    try:
        value = json.loads(frame[8 : 8 + length].decode("utf-8"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def frame_code(frame: bytes) -> int | None:
    code = _header(frame).get("code")
    return code if isinstance(code, int) else None


def frame_ext(frame: bytes) -> dict[str, Any]:
    ext = _header(frame).get("extFields")
    return ext if isinstance(ext, dict) else {}


def frame_flag(frame: bytes) -> int | None:
    flag = _header(frame).get("flag")
    return flag if isinstance(flag, int) else None


class FrameTap:
    """A TCP relay in front of one listening address that keeps whole frames.

    ``rewrite`` maps byte strings to replace in the *body* of server->client
    frames (the broker address in a route reply); the frame's total length is
    fixed up.  Used as a context manager; ``addr`` is where clients connect.
    """

    def __init__(
        self,
        role: str,
        target: str,
        frames: list[TappedFrame],
        lock: threading.Lock,
        rewrite: Mapping[bytes, bytes] | None = None,
    ) -> None:
        self.role = role
        host, _, port = target.rpartition(":")
        self._target = (host, int(port))
        self._frames = frames
        self._lock = lock
        self.rewrite = dict(rewrite or {})
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.addr = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._conn_ids = iter(range(1, 1_000_000))

    def __enter__(self) -> FrameTap:
        thread = threading.Thread(target=self._accept_loop, name=f"tap-{self.role}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        for sock in [self._listener, *self._sockets]:
            try:
                sock.close()
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=2)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            conn = next(self._conn_ids)
            self._sockets += [client, server]
            for src, dst, direction in (
                (client, server, "client->server"),
                (server, client, "server->client"),
            ):
                thread = threading.Thread(target=self._pump, args=(src, dst, direction, conn), daemon=True)
                thread.start()
                self._threads.append(thread)

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str, conn: int) -> None:
        buf = bytearray()
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([src], [], [], 0.2)
                if not ready:
                    continue
                data = src.recv(65536)
                if not data:
                    break
                buf += data
                while len(buf) >= 4:
                    total = struct.unpack_from(">i", buf, 0)[0]
                    if total < 0 or len(buf) < 4 + total:
                        break
                    frame = bytes(buf[: 4 + total])
                    del buf[: 4 + total]
                    dst.sendall(self._record(frame, direction, conn))
        except OSError:
            pass
        finally:
            if buf:  # a partial frame: pass it on untouched
                try:
                    dst.sendall(bytes(buf))
                except OSError:
                    pass
            for sock in (dst, src):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _record(self, frame: bytes, direction: str, conn: int) -> bytes:
        original = None
        if direction == "server->client" and self.rewrite:
            header_len = struct.unpack_from(">i", frame, 4)[0] & 0xFFFFFF
            head, body = frame[4 : 8 + header_len], frame[8 + header_len :]
            new_body = body
            for old, new in self.rewrite.items():
                new_body = new_body.replace(old, new)
            if new_body != body:
                original = frame
                frame = struct.pack(">i", len(head) + len(new_body)) + head + new_body
        with self._lock:
            self._frames.append(
                TappedFrame(
                    seq=len(self._frames) + 1,
                    direction=direction,
                    role=self.role,
                    conn=conn,
                    wire=frame,
                    time=time.time(),
                    rewritten_from=original,
                )
            )
        return frame


@dataclass
class TappedBroker:
    """LocalBroker seen through taps: give ``namesrv_addr`` to the client."""

    broker: Any
    namesrv_addr: str
    frames: list[TappedFrame] = field(default_factory=list)

    def client_frames(self, code: int | None = None) -> list[TappedFrame]:
        return [
            f for f in self.frames if f.direction == "client->server" and (code is None or frame_code(f.wire) == code)
        ]


# --------------------------------------------------------------------------
# running a driver


@dataclass
class DriverRun:
    """What a driver subprocess printed and how it ended."""

    argv: list[str]
    returncode: int
    events: list[dict[str, Any]]
    stdout: str
    stderr: str

    def sends(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == "send"]

    def describe(self) -> str:
        return (
            f"driver {self.argv!r} exited {self.returncode}\n"
            f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}"
        )


def run_driver(
    argv: Sequence[str], scenario: Mapping[str, Any], workdir: Path, timeout: float = DRIVER_TIMEOUT
) -> DriverRun:
    """Write ``scenario`` to ``workdir`` and run ``argv + [scenario.json]``.

    HOME points into ``workdir``: the C++ client writes its log under
    ``$HOME/logs/rocketmq-cpp``.  Fails the test (with the output) on timeout.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    scenario_path = workdir / "scenario.json"
    scenario_path.write_text(json.dumps(scenario, ensure_ascii=False, indent=1), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "NODE_OPTIONS"))}
    env.update(HOME=str(home), PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8", LC_ALL="C.UTF-8")
    cmd = [*argv, str(scenario_path)]
    try:
        proc = subprocess.run(
            cmd,
            cwd=str(workdir),
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode("utf-8", "replace")
        err = (exc.stderr or b"").decode("utf-8", "replace")
        pytest.fail(f"driver {cmd!r} timed out after {timeout}s\n--- stdout ---\n{out}\n--- stderr ---\n{err}")
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    events = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and "event" in value:
            events.append(value)
    return DriverRun(list(cmd), proc.returncode, events, stdout, stderr)


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned), or time runs out (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# --------------------------------------------------------------------------
# scenarios and the checks against LocalBroker


def big_text(size: int) -> str:
    """``size`` bytes of compressible ASCII text, lines numbered."""
    lines = []
    i = 0
    while sum(len(x) for x in lines) < size:
        lines.append(f"rmqwire interop line {i:05d}: the quick brown fox jumps over the lazy dog.\n")
        i += 1
    return "".join(lines)[:size]


def expected_messages(scenario: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every message the scenario asks for, batches flattened, each with its
    ``case`` (also sent as the user property ``case``) and the send spec."""
    out = []
    for spec in scenario["messages"]:
        if spec["api"] == "send_batch":
            for member in spec["batch"]:
                out.append({**member, "api": "send_batch", "parent": spec["case"]})
        else:
            out.append(dict(spec))
    return out


def user_properties(props: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in props.items() if k not in SYSTEM_PROPERTY_KEYS}


def stored_by_case(stored: Sequence[Any]) -> dict[str, Any]:
    """Stored messages keyed by their ``case`` user property (unique per scenario)."""
    out: dict[str, Any] = {}
    for msg in stored:
        case = (msg.properties or {}).get("case")
        assert case is not None, f"stored message without a case property: {msg!r}"
        assert case not in out, f"case {case!r} stored twice"
        out[case] = msg
    return out


def check_stored_message(msg: Any, spec: Mapping[str, Any], topic: str, group: str) -> None:
    """LocalBroker's StoredMessage ``msg`` holds exactly what ``spec`` asked for."""
    case = spec["case"]
    body = spec["body"].encode("utf-8")
    assert msg.topic == topic, case
    assert msg.payload == body, f"{case}: payload differs ({len(msg.payload)} vs {len(body)} bytes)"
    if msg.sys_flag & 0x1:  # compressed by the client: the stored body is the zlib stream
        import zlib

        assert zlib.decompress(msg.body) == body, case
        assert msg.body != body, case
    else:
        assert msg.body == body, case
    assert (msg.tags or None) == (spec.get("tags") or None), case
    assert (msg.keys or None) == (" ".join(spec["keys"]) if spec.get("keys") else None), case
    assert user_properties(msg.properties) == dict(spec.get("properties", {})), case
    assert int(msg.delay_level or 0) == int(spec.get("delay_level") or 0), case
    if msg.producer_group is not None:
        assert msg.producer_group == group, case


def heartbeat_groups(broker: Any) -> set[str]:
    """Every producer group named in a heartbeat LocalBroker received."""
    return {p.group_name for _, data, *_ in broker.heartbeats for p in data.producer_data_set}


def unregistered_groups(broker: Any) -> set[str]:
    """Every producer group named in an UNREGISTER_CLIENT LocalBroker received."""
    return {group for _, _, group, _ in broker.unregistered if group}


# --------------------------------------------------------------------------
# writing a session as a codec.trace file


_CASE_RE = re.compile("case\x01([^\x01\x02]+)")


def _case_of(frame: bytes) -> str | None:
    ext = frame_ext(frame)
    props = ext.get("properties", ext.get("i"))
    if not isinstance(props, str):
        return None
    match = _CASE_RE.search(props)
    return match.group(1) if match else None


def build_trace(
    frames: Sequence[TappedFrame],
    *,
    client_source: str,
    context: Mapping[str, Any],
    scenario: Mapping[str, Any],
    run: DriverRun,
) -> bytes:
    """The session as :mod:`codec.trace` bytes, one record per frame.

    Client frames carry ``provenance.source = "captured: <client>"``; replies
    are LocalBroker's (``"recorded: rmqwire LocalBroker ..."``); a route reply
    whose broker address the tap rewrote says so in ``note``.  SEND frames get
    the scenario entry they carry as ``driver_input`` (with the driver's
    result).
    """
    from rmqwire.codec.command import decode
    from rmqwire.codec.errors import CodecError
    from rmqwire.codec.trace import TraceRecord, expect_from_command, pack_records

    specs = {spec["case"]: spec for spec in scenario["messages"]}
    results = {e["case"]: e for e in run.sends()}
    batch_cases = [spec["case"] for spec in scenario["messages"] if spec["api"] == "send_batch"]
    seq_of_request: dict[tuple[str, int, int], int] = {}
    records = []
    for index, tapped in enumerate(frames, start=1):
        header = _header(tapped.wire)
        opaque = header.get("opaque")
        in_reply_to = None
        if tapped.direction == "client->server":
            seq_of_request[(tapped.role, tapped.conn, opaque)] = index
            source = f"captured: {client_source}"
        else:
            in_reply_to = seq_of_request.get((tapped.role, tapped.conn, opaque))
            source = f"recorded: rmqwire LocalBroker (client/testing.py), reply to {client_source}"
        started = next((e for e in run.events if e.get("event") == "started"), {})
        provenance = {
            "source": source,
            "client": {k: v for k, v in started.items() if k != "event"},
            "role": tapped.role,
            "conn": tapped.conn,
            "time": round(tapped.time, 3),
            "context": dict(context),
            "recorded_by": "tests/interop FrameTap",
        }
        driver_input = None
        if tapped.direction == "client->server" and frame_code(tapped.wire) in (10, 310, 320):
            case = _case_of(tapped.wire)
            if case is None and str(frame_ext(tapped.wire).get("batch")) in ("1", "true"):
                case = batch_cases[0] if batch_cases else None
            if case in specs:
                driver_input = {"spec": specs[case], "result": results.get(case)}
        note = None
        if tapped.rewritten_from is not None:
            note = (
                "route reply edited by the capture relay: LocalBroker's broker address "
                "replaced by the relay's (body and total length); original wire in "
                "'original_wire'"
            )
        try:
            expect = expect_from_command(decode(tapped.wire))
            error = None
        except CodecError as exc:
            expect, error = None, type(exc).__name__
        extra: dict[str, Any] = {}
        if tapped.rewritten_from is not None:
            extra["original_wire"] = tapped.rewritten_from
        records.append(
            TraceRecord(
                seq=index,
                direction=tapped.direction,
                role=tapped.role,
                wire=tapped.wire,
                provenance=provenance,
                expect=expect,
                error=error,
                name=f"{context.get('label', 'interop')}-{index:03d}",
                in_reply_to=in_reply_to,
                driver_input=driver_input,
                note=note,
                _extra=extra,
            )
        )
    return pack_records(records)


def save_trace(data: bytes, name: str, tmp_path: Path) -> Path:
    """Write the trace to ``tmp_path``; also to ``specs/golden/<name>`` when
    ``RMQWIRE_INTEROP_RECORD=1`` (how the committed recordings were made)."""
    out = tmp_path / name
    out.write_bytes(data)
    if os.environ.get("RMQWIRE_INTEROP_RECORD") == "1":
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        (GOLDEN_DIR / name).write_bytes(data)
    return out


__all__ = [
    "DRIVERS_DIR",
    "DriverRun",
    "FrameTap",
    "TappedBroker",
    "big_text",
    "build_trace",
    "check_stored_message",
    "client_status",
    "expected_messages",
    "frame_code",
    "frame_ext",
    "frame_flag",
    "heartbeat_groups",
    "run_driver",
    "save_trace",
    "stored_by_case",
    "unregistered_groups",
    "user_properties",
    "wait_for",
]
