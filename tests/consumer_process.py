"""A push consumer run as its own process by tests/test_consumer_faults.py.

    python consumer_process.py NAMESRV GROUP TOPIC OUT [PAUSE_SECONDS]

It consumes TOPIC as GROUP from the first offset and appends each message's
body to OUT, one line per message, *before* acknowledging it, through an
unbuffered ``O_APPEND`` descriptor: whatever the process consumed is on
disk even if it is SIGKILLed the next instant.  It prints ``ready`` once
started and runs until SIGTERM.  Short intervals (heartbeat, rebalance,
offset commits) keep the fault tests short.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from rmqwire import AsyncPushConsumer, ConsumeFromWhere, ConsumeStatus, MessageExt


async def main(namesrv: str, group: str, topic: str, out: str, pause: float) -> None:
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    consumer = AsyncPushConsumer(
        group,
        namesrv_addr=namesrv,
        consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
        consume_thread_min=1,
        consume_thread_max=1,
        consume_message_batch_max_size=8,
        # a small cache: it keeps pulling while it consumes, so a fault hits pulls
        pull_threshold_for_queue=16,
        pull_batch_size=8,
        heartbeat_interval=0.5,
        rebalance_interval=0.5,
        persist_consumer_offset_interval=0.2,
        poll_name_server_interval=0.5,
    )
    consumer.subscribe(topic, "*")

    @consumer.register_listener
    async def record(msgs: list[MessageExt]) -> ConsumeStatus:
        for msg in msgs:
            os.write(fd, msg.body + b"\n")
            if pause:
                await asyncio.sleep(pause)
        return ConsumeStatus.CONSUME_SUCCESS

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await consumer.start()
    print("ready", flush=True)
    await stop.wait()
    await consumer.shutdown()
    os.close(fd)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]) if len(sys.argv) > 5 else 0.0))
