"""End to end on loopback against LocalBroker: messages per second and
p50/p99 latency for

* sequential blocking sends (``client.Producer``), and
* 64 concurrent async sends (``client.AsyncProducer``, ``asyncio.gather``).

The broker runs on its own event-loop thread in the same process, so these
numbers include its work too (and the GIL they share): they are a floor for
the client, not a measure of a real broker.  Each benchmark is one round of
``MESSAGES`` sends; what the report prints is recorded in
``benchmark.extra_info`` (``messages``, ``seconds``, ``p50_us``, ``p99_us``).
With ``--benchmark-disable`` (``make test``) one short round still runs, so
the code stays correct.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest

from rmqwire import AsyncProducer, Message, Producer, SendStatus
from rmqwire.testing import LocalBroker

CONCURRENCY = 64
BODY = b"x" * 128


def _messages(benchmark: Any) -> int:
    return 200 if benchmark.disabled else 3000


def _record(benchmark: Any, case: str, latencies: list[float], seconds: float) -> None:
    latencies.sort()
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    benchmark.extra_info.update(
        case=case,
        op="e2e",
        impl="public",
        messages=len(latencies),
        seconds=seconds,
        msgs_per_s=len(latencies) / seconds,
        p50_us=cuts[49] * 1e6,
        p99_us=cuts[98] * 1e6,
    )


@pytest.fixture(scope="module")
def broker() -> Iterator[LocalBroker]:
    with LocalBroker.in_thread(record_requests=False) as running:
        yield running


def test_sequential_blocking_sends(benchmark: Any, broker: LocalBroker) -> None:
    count = _messages(benchmark)
    with Producer("bench-sync", namesrv_addr=broker.namesrv_addr) as producer:
        producer.send(Message("BenchSync", BODY))  # route lookup and connection outside the timing

        def run() -> tuple[list[float], float]:
            latencies = []
            start = time.perf_counter()
            for _ in range(count):
                t0 = time.perf_counter()
                result = producer.send(Message("BenchSync", BODY))
                latencies.append(time.perf_counter() - t0)
                assert result.status is SendStatus.SEND_OK
            return latencies, time.perf_counter() - start

        latencies, seconds = benchmark.pedantic(run, rounds=1, iterations=1)
    _record(benchmark, "e2e sequential blocking", latencies, seconds)


def test_concurrent_async_sends(benchmark: Any, broker: LocalBroker) -> None:
    count = _messages(benchmark)

    async def run_async() -> tuple[list[float], float]:
        async with AsyncProducer("bench-async", namesrv_addr=broker.namesrv_addr) as producer:
            await producer.send(Message("BenchAsync", BODY))
            latencies: list[float] = []

            async def one() -> None:
                t0 = time.perf_counter()
                result = await producer.send(Message("BenchAsync", BODY))
                latencies.append(time.perf_counter() - t0)
                assert result.status is SendStatus.SEND_OK

            start = time.perf_counter()
            for _ in range(count // CONCURRENCY):
                await asyncio.gather(*(one() for _ in range(CONCURRENCY)))
            return latencies, time.perf_counter() - start

    latencies, seconds = benchmark.pedantic(lambda: asyncio.run(run_async()), rounds=1, iterations=1)
    _record(benchmark, f"e2e {CONCURRENCY} concurrent async", latencies, seconds)
