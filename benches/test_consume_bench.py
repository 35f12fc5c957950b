"""Consume throughput and client CPU per consumed message (issue 11 Evidence,
issue 13 §1: "client CPU per consumed message ≤ 30 µs, throughput ≥ the C++
push consumer"), the broker (``rmqwire serve``) in its own process.

One run: the broker is filled with :data:`MESSAGES` 128 B messages, then
rmqwire's ``AsyncPushConsumer`` and, when ``tests/interop/setup.sh``
installed it, the C++ client's ``PushConsumer`` each consume all of them as
a new group, each from its own driver process (``benches/consume_bench.py``
has the machinery and a command line).  Recorded in
``benchmark.extra_info`` (``op == "consume"``); ``benches/report.py`` prints
the table.  With ``--benchmark-disable`` (``make test``) rmqwire alone
consumes a few hundred messages, so the drivers stay correct; nothing here
asserts a time.
"""

from __future__ import annotations

from typing import Any

import pytest

from benches.consume_bench import run_all

MESSAGES = 100000  # 20,000 drains in ~1 s: too short to be steady on a shared machine
SHORT = 300


@pytest.fixture(scope="module")
def consume_results(request: pytest.FixtureRequest) -> dict[str, Any]:
    short = request.config.getoption("benchmark_disable", False)
    return run_all(SHORT if short else MESSAGES, clients=("rmqwire",) if short else ("rmqwire", "cpp"))


@pytest.mark.parametrize("client", ["rmqwire", "cpp"])
def test_consume_cost(benchmark: Any, consume_results: dict[str, Any], client: str) -> None:
    row = consume_results.get(client)
    if row is None:
        pytest.skip("with --benchmark-disable only rmqwire runs")
    if "skipped" in row:
        pytest.skip(row["skipped"])
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)  # measured in the driver; recorded below
    assert row["messages"] > 0
    benchmark.extra_info.update(op="consume", impl=client, broker="serve", load_1m=consume_results["load_1m"], **row)
