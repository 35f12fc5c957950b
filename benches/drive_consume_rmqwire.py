"""Drive rmqwire's push consumer for the consume bench (issue 11 Evidence, issue 13 §1).

    python benches/drive_consume_rmqwire.py NAMESRV_ADDR TOPIC GROUP COUNT [PROFILE_OUT]

Started by ``benches/consume_bench.py`` after the broker (its own process)
was filled with COUNT messages on TOPIC.  An ``AsyncPushConsumer`` of GROUP
(a new group: it starts from the first offset) consumes them with an async
listener that only counts; when COUNT have arrived it prints one JSON line:
``messages``, ``seconds`` and ``cpu_s`` from the first message's arrival to
the last (``time.process_time``, every thread of this process), and
``startup_s`` (start() to the first message).  With PROFILE_OUT the measured
span runs under cProfile and the stats are dumped there.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import sys
import time
from typing import Any

from rmqwire import AsyncPushConsumer, ConsumeFromWhere, ConsumeStatus, MessageExt


async def consume(namesrv: str, topic: str, group: str, count: int, profile: cProfile.Profile | None) -> dict[str, Any]:
    clock, cpu = time.perf_counter, time.process_time
    done = asyncio.Event()
    seen = 0
    marks: dict[str, float] = {}

    async def listener(msgs: list[MessageExt]) -> ConsumeStatus:
        nonlocal seen
        if seen == 0:
            marks["first"], marks["first_cpu"] = clock(), cpu()
            if profile is not None:
                profile.enable()
        seen += len(msgs)
        if seen >= count and not done.is_set():
            marks["last"], marks["last_cpu"] = clock(), cpu()
            if profile is not None:
                profile.disable()
            done.set()
        return ConsumeStatus.CONSUME_SUCCESS

    consumer = AsyncPushConsumer(group, namesrv_addr=namesrv, consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET)
    consumer.subscribe(topic, "*")
    consumer.register_listener(listener)
    start = clock()
    async with consumer:
        await asyncio.wait_for(done.wait(), 300)
    return {
        "messages": count,
        "seconds": marks["last"] - marks["first"],
        "cpu_s": marks["last_cpu"] - marks["first_cpu"],
        "startup_s": marks["first"] - start,
        "client": "rmqwire",
    }


def main(argv: list[str]) -> int:
    if len(argv) not in (5, 6):
        sys.stderr.write(__doc__ or "")
        return 2
    namesrv, topic, group, count = argv[1], argv[2], argv[3], int(argv[4])
    # CPU time, not wall: on a shared machine the wall clock counts waits for a core
    profile = cProfile.Profile(time.process_time) if len(argv) == 6 else None
    try:
        out = asyncio.run(consume(namesrv, topic, group, count, profile))
    except Exception as exc:  # report it: the bench decides what a failure means
        out = {"error": f"{type(exc).__name__}: {exc}"}
    if profile is not None:
        profile.dump_stats(argv[5])
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
