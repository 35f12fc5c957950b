"""Consumers under faults (issue 13 §4): every sent message is consumed.

Each test breaks something while a push consumer is consuming (its own
process SIGKILLed mid-batch, the broker restarted or frozen, the
connection dropped, pulls answered SYSTEM_BUSY, a listener slower than the
pulls) and checks that the union of what was consumed is what was sent.
Delivery is at least once: a message may come twice only when it was
consumed and not yet acknowledged (its offset not committed) when the
fault hit; duplicates are counted and shown in the assertion messages.

The embedded broker keeps its store in memory, so a broker *process*
that is SIGKILLed loses it; the restart tests restart the broker inside
its LocalBroker (``restart_broker``: listener and every connection closed,
store and committed offsets kept, as a real broker keeps them on disk),
and the SIGSTOP test freezes a real ``rmqwire serve`` process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rmqwire import AsyncLitePullConsumer, AsyncPushConsumer, ConsumeFromWhere, ConsumeStatus, Message, MessageExt, Producer
from rmqwire.codec import RequestCode, ResponseCode
from rmqwire.testing import Fault, LocalBroker
from consumer_helpers import produce

TOPIC = "ConsumeFaultTopic"
WORKER = Path(__file__).with_name("consumer_process.py")
#: short client intervals so that a fault is noticed and healed within seconds
FAST: dict[str, Any] = {
    "heartbeat_interval": 0.5,
    "rebalance_interval": 0.5,
    "persist_consumer_offset_interval": 0.2,
    "poll_name_server_interval": 0.5,
}

#: a cache of a few small batches, so that a consumer keeps pulling as it consumes
PULLING: dict[str, Any] = {"pull_threshold_for_queue": 16, "pull_batch_size": 8}


def bodies(n: int, prefix: str = "m") -> list[bytes]:
    return [f"{prefix}{i:05d}".encode() for i in range(n)]


def check_union(sent: list[bytes], consumed: dict[str, list[bytes]], *, may_repeat: Collection[str] = ()) -> int:
    """Assert that what the consumers got is what was sent, each message
    once per consumer, and more than once overall only through a consumer
    in ``may_repeat``; returns the number of duplicates."""
    total = Counter(b for got in consumed.values() for b in got)
    duplicates = sum(total.values()) - len(total)
    report = f"sent {len(sent)}, consumed {sum(total.values())} ({duplicates} duplicates), " + ", ".join(
        f"{name}: {len(got)}" for name, got in consumed.items()
    )
    missing = set(sent) - set(total)
    assert not missing, f"{len(missing)} never consumed, e.g. {sorted(missing)[:5]}; {report}"
    assert set(total) == set(sent), f"consumed what was never sent; {report}"
    for name, got in consumed.items():
        repeated = [b for b, n in Counter(got).items() if n > 1]
        assert not repeated, f"{name} consumed {len(repeated)} messages twice, e.g. {repeated[:5]}; {report}"
    if duplicates:
        assert may_repeat, f"no fault that allows a repeat, yet {report}"
        faulted = {b for name in may_repeat for b in consumed[name]}
        for body, n in total.items():
            if n > 1:
                assert n <= 1 + len(may_repeat), f"{body!r} consumed {n} times; {report}"
                assert body in faulted, f"{body!r} repeated, never taken by {sorted(may_repeat)}; {report}"
    return duplicates


class Recorder:
    """An async listener recording each body up to its first ``.`` (not
    the whole body: a list of every body would be the memory a slow
    listener test measures); ``pause`` seconds per message."""

    def __init__(self, pause: float = 0.0) -> None:
        self.got: list[bytes] = []
        self.pause = pause

    async def __call__(self, msgs: list[MessageExt]) -> ConsumeStatus:
        for msg in msgs:
            self.got.append(msg.body.split(b".", 1)[0])
            if self.pause:
                await asyncio.sleep(self.pause)
        return ConsumeStatus.CONSUME_SUCCESS


def consumer_on(broker: LocalBroker, listener: Recorder, group: str = "fault-cg", **kwargs: Any) -> AsyncPushConsumer:
    options = {**FAST, "consume_from_where": ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET}
    options.update(kwargs)
    consumer = AsyncPushConsumer(group, namesrv_addr=broker.namesrv_addr, **options)
    consumer.subscribe(TOPIC, "*")
    consumer.register_listener(listener)
    return consumer


async def until(predicate: Callable[[], bool], timeout: float, what: Callable[[], str] | str) -> None:
    """Poll every 10 ms; fail after ``timeout`` seconds, saying ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what() if callable(what) else what}")
        await asyncio.sleep(0.01)


def wait_until(predicate: Callable[[], bool], timeout: float, what: Callable[[], str] | str) -> None:
    """:func:`until` for blocking code."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what() if callable(what) else what}")
        time.sleep(0.01)


def run(scenario: Callable[[LocalBroker], Any], timeout: float = 30.0, **broker_kwargs: Any) -> None:
    async def main() -> None:
        broker_kwargs.setdefault("topics", (TOPIC,))
        async with LocalBroker(record_requests=False, **broker_kwargs) as broker:
            await asyncio.wait_for(scenario(broker), timeout)

    asyncio.run(main())


# --------------------------------------------------------------------------- consumer processes


def read_lines(path: Path) -> list[bytes]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    # a SIGKILL may cut the last line short: a partial line is not a message
    return data.split(b"\n")[:-1]


@contextmanager
def worker(namesrv: str, group: str, out: Path, pause: float) -> Iterator[subprocess.Popen[bytes]]:
    """A consumer process (tests/consumer_process.py) recording into ``out``."""
    log = out.with_suffix(".log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), namesrv, group, TOPIC, str(out), str(pause)],
        stdout=subprocess.DEVNULL, stderr=log,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()


@pytest.mark.slow
def test_a_consumer_process_killed_mid_batch_is_taken_over_and_nothing_is_lost(tmp_path: Path) -> None:
    """Two consumer processes of one group share 8 queues; one is SIGKILLed
    while consuming.  The broker sees its connection close, tells the other,
    which takes the dead one's queues from their committed offsets: the
    union is what was sent, and only the dead one's unacknowledged tail is
    consumed again."""
    group = "killed-cg"
    sent = bodies(1600)
    a_out, b_out = tmp_path / "a.txt", tmp_path / "b.txt"
    with LocalBroker.in_thread(topics=(TOPIC,), queues=8, record_requests=False) as broker:
        with worker(broker.namesrv_addr, group, a_out, 0.005) as a, worker(broker.namesrv_addr, group, b_out, 0.001):
            wait_until(lambda: len(broker.consumer_ids(group)) == 2, 15, "both consumers registered")
            with Producer("killed-pg", namesrv_addr=broker.namesrv_addr) as producer:
                for body in sent:
                    producer.send(Message(TOPIC, body))
            wait_until(lambda: len(read_lines(a_out)) >= 100, 15, "the first consumer consumed 100")
            a.send_signal(signal.SIGKILL)
            a.wait(5)
            a_got = read_lines(a_out)
            assert len(a_got) < len(sent), "killed after it had consumed everything: not mid-run"
            wait_until(lambda: len(broker.consumer_ids(group)) == 1, 10, "the killed consumer left the group")
            wait_until(
                lambda: set(read_lines(b_out)) | set(a_got) >= set(sent), 15,
                lambda: f"{len(set(sent) - set(read_lines(b_out)) - set(a_got))} not consumed yet",
            )
        duplicates = check_union(sent, {"killed": a_got, "survivor": read_lines(b_out)}, may_repeat={"killed"})
        print(f"killed after {len(a_got)}; {duplicates} consumed again by the survivor")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_a_frozen_broker_process_sigstopped_mid_consumption_resumes_and_nothing_is_lost(tmp_path: Path) -> None:
    """``rmqwire serve`` in its own process, a consumer process on it; the
    broker is SIGSTOPped while messages are being consumed, then continued.
    The consumer's requests wait or time out, and it goes on."""
    namesrv_port, broker_port = free_port(), free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "rmqwire", "serve", "--namesrv-port", str(namesrv_port), "--broker-port", str(broker_port)],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "serve.log").open("wb"),
    )
    namesrv = f"127.0.0.1:{namesrv_port}"
    out = tmp_path / "c.txt"
    sent = bodies(800)
    try:
        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", broker_port)) == 0

        wait_until(listening, 15, "rmqwire serve listening")
        with Producer("frozen-pg", namesrv_addr=namesrv) as producer:
            for body in sent:
                producer.send(Message(TOPIC, body))
        with worker(namesrv, "frozen-cg", out, 0.002) as consumer:
            wait_until(lambda: len(read_lines(out)) >= 50, 15, "50 consumed")
            serve.send_signal(signal.SIGSTOP)
            time.sleep(1.0)  # the fault's length, not an assertion
            before_continue = len(read_lines(out))
            serve.send_signal(signal.SIGCONT)
            wait_until(
                lambda: set(read_lines(out)) >= set(sent), 18,
                lambda: f"{len(set(sent) - set(read_lines(out)))} not consumed yet",
            )
            assert consumer.poll() is None
        assert before_continue < len(sent), "consumed everything before the broker froze: not mid-run"
        check_union(sent, {"consumer": read_lines(out)})
    finally:
        if serve.poll() is None:
            serve.send_signal(signal.SIGCONT)
            serve.terminate()
            try:
                serve.wait(5)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait(5)


# --------------------------------------------------------------------------- in-process faults


@pytest.mark.slow
@pytest.mark.parametrize("heartbeat_interval", [0.5, 30.0])
def test_a_broker_restarted_mid_consumption_is_reconnected_and_consumption_resumes(heartbeat_interval: float) -> None:
    """Every connection closes and the port refuses for a moment; the
    store and the committed offsets survive (``restart_broker``).  Pulls in
    flight fail, the consumer reconnects, heartbeats again and goes on
    from its offsets; only what was consumed and not yet committed may come
    again.  With Java's 30 s heartbeat interval the restarted broker first
    answers SUBSCRIPTION_NOT_EXIST (it forgot the closed connection's
    subscription), which makes the consumer heartbeat at once."""
    sent = bodies(1200)

    async def scenario(broker: LocalBroker) -> None:
        await produce(broker, [Message(TOPIC, b) for b in sent])
        listener = Recorder(pause=0.001)
        async with consumer_on(broker, listener, consume_thread_min=1, consume_thread_max=1,
                               heartbeat_interval=heartbeat_interval, **PULLING):
            await until(lambda: len(listener.got) >= 100, 10, "100 consumed")
            await broker.stop_broker("broker-a")
            at_stop = len(listener.got)
            await asyncio.sleep(0.3)  # the broker is down this long
            await broker.start_broker("broker-a")
            await until(lambda: set(listener.got) >= set(sent), 15,
                        lambda: f"{len(set(sent) - set(listener.got))} not consumed yet")
            assert broker.connections_to("broker-a") >= 1
            # and the offsets committed after the restart reach the end of every queue
            await until(lambda: sum(broker.consumer_offsets("fault-cg", TOPIC).values()) == len(sent), 5,
                        lambda: f"committed {broker.consumer_offsets('fault-cg', TOPIC)}")
        assert at_stop < len(sent), "consumed everything before the restart: not mid-run"
        total = Counter(listener.got)
        duplicates = sum(total.values()) - len(total)
        assert set(total) == set(sent), f"{len(set(sent) - set(total))} lost"
        assert all(n <= 2 for n in total.values()), f"some consumed more than twice; {duplicates} duplicates"
        print(f"restart after {at_stop}; {duplicates} consumed again")

    run(scenario)


@pytest.mark.slow  # two rounds of Java's 3 s pause after a failed pull
def test_dropped_connections_during_consumption_are_reopened_and_nothing_is_lost() -> None:
    """The broker closes the consumer's connection on a pull, twice, while it
    consumes; the consumer reconnects and goes on."""
    sent = bodies(600)

    async def scenario(broker: LocalBroker) -> None:
        await produce(broker, [Message(TOPIC, b) for b in sent])
        listener = Recorder(pause=0.001)
        # a small cache: the consumer keeps pulling while it consumes
        async with consumer_on(broker, listener, consume_thread_min=1, consume_thread_max=1, **PULLING):
            await until(lambda: len(listener.got) >= 50, 10, "50 consumed")
            at_fault = len(listener.got)
            broker.inject(Fault.drop(code=RequestCode.PULL_MESSAGE, broker="broker-a", times=2))
            await until(lambda: not broker.faults, 10, "both drops used")
            await until(lambda: set(listener.got) >= set(sent), 15,
                        lambda: f"{len(set(sent) - set(listener.got))} not consumed yet")
        assert at_fault < len(sent), "consumed everything before the drop: not mid-run"
        # the connection dropped, the committed offsets did not: nothing repeats
        check_union(sent, {"consumer": listener.got})

    run(scenario)


@pytest.mark.parametrize("code", [ResponseCode.SYSTEM_BUSY, ResponseCode.SYSTEM_ERROR, ResponseCode.FLOW_CONTROL])
def test_pulls_answered_with_errors_back_off_and_recover(code: ResponseCode) -> None:
    """Pulls answered SYSTEM_BUSY (or another error) for a while: the
    consumer waits before pulling that queue again (no busy loop against
    a struggling broker) and, once the broker answers, consumes the rest."""
    sent = bodies(400)

    async def scenario(broker: LocalBroker) -> None:
        await produce(broker, [Message(TOPIC, b) for b in sent])
        listener = Recorder(pause=0.001)
        consumer = consumer_on(broker, listener, consume_thread_min=1, consume_thread_max=1, **PULLING)
        async with consumer:
            await until(lambda: len(listener.got) >= 20, 10, "20 consumed")
            broker.record_requests = True
            broker.inject(Fault.error(code, code=RequestCode.PULL_MESSAGE))
            await asyncio.sleep(0.5)  # how long the broker refuses (a window, not an assertion)
            refused = [r for r in broker.requests if r[2].code == RequestCode.PULL_MESSAGE]
            queues = len(consumer.process_queues)
            broker.clear_faults()
            at_heal = len(listener.got)
            await until(lambda: set(listener.got) >= set(sent), 15,
                        lambda: f"{len(set(sent) - set(listener.got))} not consumed yet")
        assert at_heal < len(sent), "consumed everything before the fault: not mid-run"
        if code != ResponseCode.FLOW_CONTROL:
            # Java's PULL_TIME_DELAY_MILLS_WHEN_EXCEPTION: one refused pull per
            # queue, then a 3 s pause (a 10 ms retry loop would make ~50 each)
            assert 1 <= len(refused) <= 2 * queues, f"{len(refused)} pulls refused on {queues} queues in 0.5 s"
        check_union(sent, {"consumer": listener.got})

    run(scenario)


# --------------------------------------------------------------------------- a slow listener


def rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads RSS from /proc")


@needs_proc
@pytest.mark.parametrize("limit", ["count", "size"])
def test_a_slow_listener_keeps_the_cached_messages_under_the_pull_thresholds(limit: str) -> None:
    """The listener is far slower than the pulls; each queue's cache stops
    growing at ``pull_threshold_for_queue`` messages (or
    ``pull_threshold_size_for_queue`` MiB) plus the one batch pulled past
    it, and the process's memory grows by far less than what was sent."""
    body_size = 8 * 1024 if limit == "size" else 64
    sent = bodies(1600)
    batch = 32
    options: dict[str, Any] = (
        {"pull_threshold_for_queue": 40} if limit == "count" else {"pull_threshold_size_for_queue": 1}
    )

    async def scenario(broker: LocalBroker) -> None:
        await produce(broker, [Message(TOPIC, b.ljust(body_size, b".")) for b in sent])
        listener = Recorder(pause=0.0005)
        consumer = consumer_on(broker, listener, consume_thread_min=1, consume_thread_max=1,
                               pull_batch_size=batch, **options)
        counts: list[int] = []
        sizes: list[int] = []
        baseline = rss_bytes()
        peak = baseline
        async with consumer:
            while set(listener.got) < set(sent):
                for pq in consumer.process_queues.values():
                    counts.append(pq.msg_count)
                    sizes.append(pq.msg_size)
                peak = max(peak, rss_bytes())
                await asyncio.sleep(0.01)
        assert counts and max(counts) > 0
        if limit == "count":
            assert max(counts) <= 40 + batch, f"a queue cached {max(counts)} messages (threshold 40, batch {batch})"
        else:
            # Java compares whole MiB (size // 1 MiB > threshold): it pauses at 2 MiB
            bound = 2 * 1024 * 1024 + batch * body_size
            assert max(sizes) <= bound, f"a queue cached {max(sizes)} bytes (threshold 1 MiB, batch {batch})"
        sent_bytes = len(sent) * body_size
        growth = peak - baseline
        # the cache holds a few batches per queue; what was sent is all in the broker's store already
        assert growth < max(sent_bytes // 2, 8 * 1024 * 1024), f"RSS grew {growth} bytes consuming {sent_bytes} sent"
        check_union(sent, {"consumer": listener.got})

    run(scenario)


# --------------------------------------------------------------------------- the lite pull consumer


@pytest.mark.slow  # Java's 3 s pause after each failed pull
def test_a_lite_pull_consumer_rides_out_a_restart_a_drop_and_busy_pulls_and_nothing_is_lost() -> None:
    """The application polls while the broker restarts, then drops a pull's
    connection, then answers pulls SYSTEM_BUSY; the buffer stays under
    ``pull_threshold_for_all`` (plus one batch per queue) and every message
    is polled; one polled and not yet committed when the broker restarted
    may come once more (duplicates are counted in the report)."""
    sent = bodies(800)

    async def scenario(broker: LocalBroker) -> None:
        await produce(broker, [Message(TOPIC, b) for b in sent])
        consumer = AsyncLitePullConsumer(
            "lite-fault-cg", namesrv_addr=broker.namesrv_addr, **FAST,
            consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
            auto_commit_interval=1.0, pull_batch_size=8, pull_threshold_for_all=32,
        )
        consumer.subscribe(TOPIC, "*")
        got: list[bytes] = []
        buffered: list[int] = []
        faults = [
            lambda: broker.restart_broker("broker-a"),
            lambda: broker.inject(Fault.drop(code=RequestCode.PULL_MESSAGE, times=1)),
            lambda: broker.inject(Fault.error(ResponseCode.SYSTEM_BUSY, code=RequestCode.PULL_MESSAGE, times=4)),
        ]
        async with consumer:
            deadline = time.monotonic() + 25
            while set(got) < set(sent):
                assert time.monotonic() < deadline, f"{len(set(sent) - set(got))} never polled"
                buffered.append(consumer.buffered)
                got.extend(m.body for m in await consumer.poll(timeout=0.5))
                if faults and len(got) >= 100 * (4 - len(faults)):
                    outcome = faults.pop(0)()
                    if asyncio.iscoroutine(outcome):
                        await outcome
            assert not faults, "consumed everything before every fault had happened: not mid-run"
        assert max(buffered) <= 32 + 8 * 4, f"{max(buffered)} messages buffered (threshold 32, 4 queues x 8)"
        check_union(sent, {"consumer": got}, may_repeat={"consumer"})

    run(scenario, timeout=40)
