"""End-to-end consume throughput and client CPU per consumed message: rmqwire's
push consumer beside the C++ client's, on one out-of-process broker, in one run.

    python -m benches.consume_bench [--messages N] [--profile FILE]

``rmqwire serve`` runs as its own process; this process fills one topic with
N 128 B messages (an ``AsyncProducer``, 64 in flight), then each client
driver, a separate process, consumes all N as a new consumer group from the
first offset (``drive_consume_rmqwire.py``; ``drive_consume_cpp.py`` under
``tests/interop/.venv`` when ``tests/interop/setup.sh`` installed PyPI
``rocketmq==0.4.4``, else that column is skipped with the reason).  Both read
the same stored messages from the same broker, after a warm-up pass by a
throwaway group (so the broker's cache of encoded records favours neither).  Reported per client: msgs/s
and the client's CPU µs per message from the first message's arrival to the
N-th (``time.process_time`` of the driver: all its threads), start-up time,
and the broker's CPU µs per message over the whole run of that driver (from
``/proc``).  ``--profile FILE`` runs the rmqwire driver's measured span under
cProfile and prints the top of it.  ``benches/test_consume_bench.py`` runs
the same from ``make bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import subprocess
import sys
import time
from typing import Any

from benches.outofprocess import BENCHES, CPP_PYTHON, REPO, BrokerProcess, cpp_status

TOPIC = "BenchConsume"
BODY = b"x" * 128
DRIVER_TIMEOUT = 360.0


async def _fill(namesrv: str, topic: str, count: int, in_flight: int = 64) -> None:
    from rmqwire import AsyncProducer, Message

    async with AsyncProducer("bench-consume-fill", namesrv_addr=namesrv) as producer:
        window = asyncio.Semaphore(in_flight)

        async def one() -> None:
            async with window:
                await producer.send(Message(topic, BODY))

        await asyncio.gather(*(one() for _ in range(count)))


def fill(namesrv: str, topic: str, count: int) -> None:
    """Store ``count`` 128 B messages on ``topic`` (a producer in this process)."""
    asyncio.run(_fill(namesrv, topic, count))


def run_driver(client: str, broker: BrokerProcess, topic: str, group: str, count: int,
               profile: str | None = None) -> dict[str, Any]:
    """One driver process consuming ``count`` messages; its JSON answer plus
    the broker's CPU seconds over it."""
    if client == "rmqwire":
        argv = [sys.executable, str(BENCHES / "drive_consume_rmqwire.py")]
    elif client == "cpp":
        argv = [str(CPP_PYTHON), str(BENCHES / "drive_consume_cpp.py")]
    else:
        raise ValueError(client)
    argv += [broker.namesrv_addr, topic, group, str(count)]
    if profile is not None:
        argv.append(profile)
    before = broker.cpu()
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=DRIVER_TIMEOUT,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))
    after = broker.cpu()
    out: dict[str, Any] | None = None
    for line in done.stdout.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            out = value
    if out is None:
        raise RuntimeError(f"{client} consume driver answered nothing (status {done.returncode}): {done.stderr[-2000:]}")
    if "error" in out:
        raise RuntimeError(f"{client} consume driver: {out['error']}")
    out["broker_cpu_s"] = None if before is None or after is None else after - before
    return out


def figures(out: dict[str, Any]) -> dict[str, Any]:
    """msgs/s and µs per message from a driver's answer."""
    count = out["messages"]
    return {
        "messages": count,
        "msgs_per_s": (count - 1) / out["seconds"] if out["seconds"] > 0 else None,
        "client_cpu_us": out["cpu_s"] * 1e6 / (count - 1),
        "startup_s": out["startup_s"],
        "broker_cpu_us": None if out["broker_cpu_s"] is None else out["broker_cpu_s"] * 1e6 / count,
    }


def run_all(count: int, profile: str | None = None, clients: tuple[str, ...] = ("rmqwire", "cpp")) -> dict[str, Any]:
    """The whole bench: {client: figures or {"skipped": reason}}, and the load average."""
    results: dict[str, Any] = {}
    broker = BrokerProcess.start("serve")
    try:
        fill(broker.namesrv_addr, TOPIC, count)
        stamp = time.time_ns()
        # The broker keeps the records it encoded for a pull (RecordCache): a
        # first pass by a throwaway group makes every measured client read
        # them cached alike, whichever goes first.
        run_driver("rmqwire", broker, TOPIC, f"bench-consume-warmup-{stamp}", count)
        for client in clients:
            if client == "cpp":
                ok, reason = cpp_status()
                if not ok:
                    results[client] = {"skipped": reason}
                    continue
            out = run_driver(client, broker, TOPIC, f"bench-consume-{client}-{stamp}", count,
                             profile if client == "rmqwire" else None)
            results[client] = figures(out)
    finally:
        broker.stop()
    results["load_1m"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return results


def _cell(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def markdown(results: dict[str, Any]) -> str:
    """The results as a markdown table (one row per client)."""
    lines = [
        "| push consumer, `rmqwire serve`, 128 B | messages | msgs/s | client CPU µs/msg | broker CPU µs/msg | start-up s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    names = {"rmqwire": "rmqwire `AsyncPushConsumer`", "cpp": "C++ 0.4.4 `PushConsumer`"}
    for client in ("rmqwire", "cpp"):
        row = results.get(client)
        if row is None:
            continue
        if "skipped" in row:
            lines.append(f"| {names[client]} | skipped: {row['skipped']} | | | | |")
            continue
        lines.append(
            f"| {names[client]} | {row['messages']} | {_cell(row['msgs_per_s'], ',.0f')} | "
            f"{_cell(row['client_cpu_us'], '.1f')} | {_cell(row['broker_cpu_us'], '.1f')} | {_cell(row['startup_s'], '.2f')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--profile", metavar="FILE", help="cProfile the rmqwire driver's measured span into FILE")
    parser.add_argument("--only", choices=("rmqwire", "cpp"), help="run one client")
    args = parser.parse_args(argv)
    clients = (args.only,) if args.only else ("rmqwire", "cpp")
    results = run_all(args.messages, args.profile, clients)
    print(markdown(results))
    print(f"\nload average (1 min): {results['load_1m']}")
    if args.profile:
        print()
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
