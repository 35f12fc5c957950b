"""Brokers and client drivers as separate processes, for ``test_client_bench.py``.

Three processes per measurement: a broker (``benches/minimal_broker.py`` or
``rmqwire serve``), a client driver (``drive_rmqwire.py`` in this venv, or
``drive_cpp.py`` in ``tests/interop/.venv``), and the bench itself, which
only hands the driver one case at a time and reads the broker's CPU time
from ``/proc`` around it.  So the client's CPU per message is the driver's
own ``time.process_time`` and the broker's is counted apart.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

BENCHES = Path(__file__).resolve().parent
REPO = BENCHES.parent
INTEROP = REPO / "tests" / "interop"
CPP_PYTHON = INTEROP / ".venv" / "bin" / "python"
STARTUP_TIMEOUT = 30.0

#: (case id, what the driver gets); messages are filled in per run.
CASES: list[tuple[str, dict[str, Any]]] = [
    ("sync", {"case": "sync"}),
    ("async-1", {"case": "async", "in_flight": 1}),
    ("async-16", {"case": "async", "in_flight": 16}),
    ("async-64", {"case": "async", "in_flight": 64}),
    ("async-256", {"case": "async", "in_flight": 256}),
    ("oneway", {"case": "oneway"}),
    ("batch-32", {"case": "batch", "batch": 32}),
]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (all its threads), or None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpp_status() -> tuple[bool, str]:
    """Whether the C++ client is installed (``tests/interop/setup.sh``), and why not."""
    try:
        text = (INTEROP / ".status-cpp").read_text().strip()
    except FileNotFoundError:
        return False, "C++ client not installed (run tests/interop/setup.sh)"
    if not text.startswith("ok") or not CPP_PYTHON.exists():
        return False, "C++ client unavailable: " + text.removeprefix("unavailable:").strip()
    return True, text


def _readline(stream: IO[str], proc: subprocess.Popen[str], deadline: float, what: str) -> str:
    # The native client may print its own lines; callers skip what is not theirs.
    line = stream.readline()
    if not line:
        raise RuntimeError(f"{what} exited (status {proc.wait()}) before answering")
    if time.monotonic() > deadline:
        raise RuntimeError(f"{what} took more than {STARTUP_TIMEOUT:.0f} s to answer")
    return line


def _json_line(stream: IO[str], proc: subprocess.Popen[str], deadline: float, what: str) -> dict[str, Any]:
    while True:
        line = _readline(stream, proc, deadline, what)
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value


@dataclass
class BrokerProcess:
    kind: str  # "minimal" or "serve"
    proc: subprocess.Popen[str]
    namesrv_addr: str

    @classmethod
    def start(cls, kind: str) -> BrokerProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if kind == "minimal":
            argv = [sys.executable, "-m", "benches.minimal_broker"]
        elif kind == "serve":
            # BENCH_SERVE_ARGS=-v shows every frame it gets and answers (on stderr).
            extra = os.environ.get("BENCH_SERVE_ARGS", "").split()
            argv = [sys.executable, "-m", "rmqwire", "serve", *extra, "--namesrv-port", "0", "--broker-port", "0"]
        else:
            raise ValueError(kind)
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        try:
            if kind == "minimal":
                addr = _json_line(proc.stdout, proc, deadline, "minimal_broker")["namesrv"]
            else:
                line = _readline(proc.stdout, proc, deadline, "rmqwire serve")
                found = re.search(r"name server (\S+);", line)
                if found is None:
                    raise RuntimeError(f"rmqwire serve said {line!r}, not where it listens")
                addr = found.group(1)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        return cls(kind, proc, addr)

    def cpu(self) -> float | None:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Driver:
    client: str  # "rmqwire" or "cpp"
    proc: subprocess.Popen[str]

    @classmethod
    def start(cls, client: str, namesrv_addr: str) -> Driver:
        if client == "rmqwire":
            argv = [sys.executable, str(BENCHES / "drive_rmqwire.py"), namesrv_addr]
        elif client == "cpp":
            argv = [str(CPP_PYTHON), str(BENCHES / "drive_cpp.py"), namesrv_addr]
        else:
            raise ValueError(client)
        proc = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
        assert proc.stdout is not None
        try:
            ready = _json_line(proc.stdout, proc, time.monotonic() + STARTUP_TIMEOUT, f"{client} driver")
            if ready.get("event") != "ready":
                raise RuntimeError(f"{client} driver said {ready!r}")
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        return cls(client, proc)

    def run(self, case: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(case) + "\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{self.client} driver exited (status {self.proc.wait()}) during {case}")
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict) and ("messages" in value or "error" in value):
                return value

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def measure(driver: Driver, broker: BrokerProcess, case: dict[str, Any]) -> dict[str, Any]:
    """Run one case; the driver's figures plus the broker's CPU seconds over it."""
    before = broker.cpu()
    out = driver.run(case)
    after = broker.cpu()
    if "error" in out:
        raise RuntimeError(f"{driver.client} against {broker.kind}, {case}: {out['error']}")
    out["broker_cpu_s"] = None if before is None or after is None else after - before
    return out
