"""Fixtures of the ``interop`` group (see ``interop_support.py`` for the
machinery): which real clients are installed, and a LocalBroker behind frame
taps."""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

if str(Path(__file__).resolve().parent) not in sys.path:  # for --import-mode=importlib
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from interop_support import (  # noqa: E402
    DRIVERS_DIR,
    INTEROP_DIR,
    SETUP_HINT,
    FrameTap,
    TappedBroker,
    TappedFrame,
    client_status,
)


@pytest.fixture(scope="session")
def cpp_python() -> str:
    """The interpreter that can import ``rocketmq`` (PyPI rocketmq==0.4.4)."""
    ok, reason = client_status("cpp")
    python = INTEROP_DIR / ".venv" / "bin" / "python"
    if not ok:
        pytest.skip(f"C++ client unavailable: {reason}")
    if not python.exists():
        pytest.skip(f"C++ client unavailable: {python} is missing ({SETUP_HINT})")
    return str(python)


@pytest.fixture(scope="session")
def node_binary() -> str:
    """``node``, when ali-ons is installed under drivers/node_modules."""
    ok, reason = client_status("ons")
    if not ok:
        pytest.skip(f"ali-ons unavailable: {reason}")
    node = shutil.which("node")
    if node is None:
        pytest.skip("ali-ons unavailable: no node on PATH")
    if not (DRIVERS_DIR / "node_modules" / "ali-ons" / "package.json").exists():
        pytest.skip(f"ali-ons unavailable: drivers/node_modules/ali-ons is missing ({SETUP_HINT})")
    return node


@pytest.fixture
def tapped_broker() -> Iterator[TappedBroker]:
    """A LocalBroker (one broker, 4 queues) in a background thread, behind
    frame taps on its name server and broker ports."""
    from rmqwire.testing import LocalBroker

    # delayed sends come out of SCHEDULE_TOPIC_XXXX 0.1 s later (level 3 is 10 s on a real broker)
    with LocalBroker.in_thread(host="127.0.0.1", queues=4, delay_scale=0.01) as broker:
        frames: list[TappedFrame] = []
        lock = threading.Lock()
        broker_addrs = list(broker.broker_addrs.values())
        broker_taps = [FrameTap("broker", addr, frames, lock).__enter__() for addr in broker_addrs]
        rewrite = {addr.encode(): tap.addr.encode() for addr, tap in zip(broker_addrs, broker_taps, strict=True)}
        try:
            with FrameTap("namesrv", broker.namesrv_addr, frames, lock, rewrite=rewrite) as ns_tap:
                yield TappedBroker(broker=broker, namesrv_addr=ns_tap.addr, frames=frames)
        finally:
            for tap in broker_taps:
                tap.close()
