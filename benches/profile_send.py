"""Profile rmqwire's ``AsyncProducer`` sending against the minimal responder.

    python benches/profile_send.py [--in-flight 64] [--messages 20000] [--out send.prof] [--top 40]
    py-spy record -o send.svg -- python benches/profile_send.py --no-cprofile

Starts ``benches/minimal_broker.py`` as its own process, warms a producer up,
then keeps ``--in-flight`` sends outstanding until ``--messages`` are
acknowledged, under cProfile (unless ``--no-cprofile``, for py-spy, which
samples without cProfile's own overhead).  Prints the client CPU µs per send
(``time.process_time``) and the top functions by own time and by cumulative
time; ``--out`` keeps the raw profile for ``snakeviz`` or ``pstats``.
Not a test: ``make bench`` does not run it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benches.outofprocess import BrokerProcess  # noqa: E402
from rmqwire import AsyncProducer, Message  # noqa: E402

BODY = b"x" * 128


async def sends(namesrv: str, in_flight: int, messages: int, profiler: cProfile.Profile | None) -> tuple[float, float]:
    async with AsyncProducer("bench-profile", namesrv_addr=namesrv) as producer:
        for _ in range(50):
            await producer.send(Message("BenchTopic", BODY))
        left = messages

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await producer.send(Message("BenchTopic", BODY))

        t0 = os.times()
        if profiler is not None:
            profiler.enable()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        if profiler is not None:
            profiler.disable()
        t1 = os.times()
        return t1.user - t0.user, t1.system - t0.system


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--no-cprofile", action="store_true")
    parser.add_argument("--wall", action="store_true",
                        help="profile wall time (cProfile's default) instead of this process's CPU time")
    args = parser.parse_args(argv)
    broker = BrokerProcess.start("minimal")
    try:
        # CPU time by default: on a shared machine wall time charges whoever
        # was running when the scheduler took the core away.
        timer = time.perf_counter if args.wall else time.process_time
        profiler = None if args.no_cprofile else cProfile.Profile(timer)
        user, system = asyncio.run(sends(broker.namesrv_addr, args.in_flight, args.messages, profiler))
    finally:
        broker.stop()
    per = 1e6 / args.messages
    print(f"{args.messages} sends, {args.in_flight} in flight: client CPU {(user + system) * per:.1f} µs/send "
          f"(user {user * per:.1f}, system {system * per:.1f})" + ("" if profiler is None else ", under cProfile"))
    if profiler is not None:
        if args.out:
            profiler.dump_stats(args.out)
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
