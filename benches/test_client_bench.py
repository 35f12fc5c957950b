"""The client's cost per message, with the broker in its own process (issue 13 §1).

For each broker, ``minimal`` (``benches/minimal_broker.py``: canned answers,
so the client is what is measured) and ``serve`` (``rmqwire serve``), and
each client, ``rmqwire`` (``drive_rmqwire.py``) and ``cpp`` (the apache C++
client, PyPI ``rocketmq==0.4.4``, ``drive_cpp.py``; skipped with the reason
when ``tests/interop/setup.sh`` could not install it), every case of
``outofprocess.CASES`` runs once: blocking sync sends, async sends with
1/16/64/256 in flight, oneway, and batches of 32; 128 B bodies.

Recorded in ``benchmark.extra_info`` (``op == "client"``): msgs/s, p50/p99
latency per call, the client process's CPU µs per message and the broker
process's.  ``benches/report.py`` prints them as one table.  With
``--benchmark-disable`` (``make test``) each case runs with a few messages
against the minimal broker only, so the drivers stay correct; nothing here
asserts a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from benches.outofprocess import CASES, BrokerProcess, Driver, cpp_status, measure

MESSAGES = 3000
SHORT = 40
BROKERS = ("minimal", "serve")
#: Seen on the wire (``BENCH_SERVE_ARGS=-v``): not a bench problem, so not measured.
CPP_BATCH_ON_SERVE = (
    "the C++ client zlib-compresses a batch body over 4 KiB (32 x 128 B is ~9 KiB) and sends it as "
    "SEND_MESSAGE with batch=1, sysFlag=1; rmqwire serve answers MESSAGE_ILLEGAL (the minimal broker "
    "does not look inside bodies, so there it is measured, compression included)"
)
CLIENTS = ("rmqwire", "cpp")


@pytest.fixture(scope="module", params=BROKERS)
def broker(request: pytest.FixtureRequest) -> Iterator[BrokerProcess]:
    if request.param != "minimal" and request.config.getoption("benchmark_disable", False):
        pytest.skip("with --benchmark-disable only the minimal broker runs")
    running = BrokerProcess.start(request.param)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module", params=CLIENTS)
def driver(request: pytest.FixtureRequest, broker: BrokerProcess) -> Iterator[Driver]:
    if request.param == "cpp":
        ok, reason = cpp_status()
        if not ok:
            pytest.skip(reason)
    running = Driver.start(request.param, broker.namesrv_addr)
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize(("case_id", "case"), CASES, ids=[c for c, _ in CASES])
def test_client_cost(benchmark: Any, broker: BrokerProcess, driver: Driver, case_id: str, case: dict[str, Any]) -> None:
    if (broker.kind, driver.client, case_id) == ("serve", "cpp", "batch-32"):
        pytest.skip(CPP_BATCH_ON_SERVE)
    messages = SHORT if benchmark.disabled else MESSAGES
    if case_id == "batch-32":
        messages *= 2  # 32 messages a call: a few hundred calls
    out = benchmark.pedantic(measure, args=(driver, broker, dict(case, messages=messages, body=128)),
                             rounds=1, iterations=1)
    count = out["messages"]
    benchmark.extra_info.update(
        op="client",
        case=case_id,
        impl=driver.client,
        broker=broker.kind,
        messages=count,
        seconds=out["seconds"],
        msgs_per_s=count / out["seconds"],
        p50_us=out["p50_us"],
        p99_us=out["p99_us"],
        client_cpu_us=out["cpu_s"] * 1e6 / count,
        broker_cpu_us=None if out["broker_cpu_s"] is None else out["broker_cpu_s"] * 1e6 / count,
        # msgs/s and latency depend on what else the machine runs; say how busy it was.
        load_1m=os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    )
