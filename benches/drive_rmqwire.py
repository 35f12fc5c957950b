"""Drive rmqwire's producers for the out-of-process bench, one case per request.

    python benches/drive_rmqwire.py NAMESRV_ADDR

Started by ``benches/outofprocess.py``; the broker is another process, so
the CPU time this process reports is the client's alone.  Once it can
answer it prints ``{"event": "ready", ...}``; then each line on standard
input is a JSON case, ``{"case": "async", "in_flight": 64, "messages":
3000, "batch": 32, "body": 128}``, and each gets one JSON line back:
``messages``, ``seconds``, ``cpu_s`` (``time.process_time``: every thread of
this process), ``p50_us``, ``p99_us`` (per call: one send, one oneway, one
batch), or ``error``.  End of input ends it.

Each case runs with a fresh producer started and warmed up (route lookup,
connection, a few sends) outside the measured span.  ``oneway`` ends with
one acknowledged send, so that its messages have left the client when the
clock stops.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from typing import Any

from rmqwire import AsyncProducer, Message, Producer, SendStatus

TOPIC = "BenchTopic"
WARMUP = 20


def summary(latencies: list[float], messages: int, seconds: float, cpu_s: float) -> dict[str, Any]:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    return {
        "messages": messages,
        "seconds": seconds,
        "cpu_s": cpu_s,
        "p50_us": cuts[49] * 1e6,
        "p99_us": cuts[98] * 1e6,
    }


def run_sync(namesrv: str, messages: int, body: bytes) -> dict[str, Any]:
    with Producer("bench-rmqwire-sync", namesrv_addr=namesrv) as producer:
        for _ in range(WARMUP):
            producer.send(Message(TOPIC, body))
        latencies = []
        clock, cpu = time.perf_counter, time.process_time
        cpu0, start = cpu(), clock()
        for _ in range(messages):
            t0 = clock()
            result = producer.send(Message(TOPIC, body))
            latencies.append(clock() - t0)
            if result.status is not SendStatus.SEND_OK:
                raise RuntimeError(f"send returned {result.status}")
        seconds, cpu_s = clock() - start, cpu() - cpu0
    return summary(latencies, messages, seconds, cpu_s)


async def run_async(namesrv: str, case: dict[str, Any], body: bytes) -> dict[str, Any]:
    kind, messages = case["case"], int(case["messages"])
    batch = int(case.get("batch", 32))
    in_flight = int(case.get("in_flight", 1))
    async with AsyncProducer(f"bench-rmqwire-{kind}", namesrv_addr=namesrv) as producer:
        for _ in range(WARMUP):
            await producer.send(Message(TOPIC, body))
        latencies: list[float] = []
        clock, cpu = time.perf_counter, time.process_time
        if kind == "async":
            left = messages

            async def worker() -> None:
                nonlocal left
                while left > 0:
                    left -= 1
                    t0 = clock()
                    result = await producer.send(Message(TOPIC, body))
                    latencies.append(clock() - t0)
                    if result.status is not SendStatus.SEND_OK:
                        raise RuntimeError(f"send returned {result.status}")

            cpu0, start = cpu(), clock()
            await asyncio.gather(*(worker() for _ in range(in_flight)))
        elif kind == "oneway":
            cpu0, start = cpu(), clock()
            for _ in range(messages):
                t0 = clock()
                await producer.send_oneway(Message(TOPIC, body))
                latencies.append(clock() - t0)
            await producer.send(Message(TOPIC, body))
        elif kind == "batch":
            calls = max(1, messages // batch)
            messages = calls * batch
            cpu0, start = cpu(), clock()
            for _ in range(calls):
                t0 = clock()
                result = await producer.send_batch([Message(TOPIC, body) for _ in range(batch)])
                latencies.append(clock() - t0)
                if result.status is not SendStatus.SEND_OK:
                    raise RuntimeError(f"send_batch returned {result.status}")
        else:
            raise ValueError(f"unknown case {kind!r}")
        seconds, cpu_s = clock() - start, cpu() - cpu0
    return summary(latencies, messages, seconds, cpu_s)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write(__doc__ or "")
        return 2
    namesrv = argv[1]
    import rmqwire

    print(json.dumps({"event": "ready", "client": "rmqwire", "version": rmqwire.__version__}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        body = b"x" * int(case.get("body", 128))
        try:
            if case["case"] == "sync":
                out = run_sync(namesrv, int(case["messages"]), body)
            else:
                out = asyncio.run(run_async(namesrv, case, body))
        except Exception as exc:  # report it: the bench decides what a failure means
            out = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
