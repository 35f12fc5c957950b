"""The blocking producer sends on the caller's own thread (client/send_blocking.py).

As Java's ``DefaultMQProducer.send`` does: the caller's thread picks the
queue, writes the frame and waits; the event-loop thread only reads the
answer.  What only the loop can do (a route lookup, a new connection) runs
there.  Frames from several threads and the loop share one connection
without interleaving, and the socket the threads write to is closed with
the connection.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import sys
import threading
import time
from asyncio import selector_events
from collections.abc import Iterator
from typing import Any

import pytest

from rmqwire import Message, Producer, SendStatus
from rmqwire.codec import RemotingCommand, RequestCode, decode
from rmqwire.codec.errors import RequestTimeoutError, RocketMQError, ServiceStateError
from rmqwire.route import FaultTracker
from rmqwire.testing import Fault, LocalBroker
from rmqwire.transport import Connection, open_connection

TOPIC = "ThreadTopic"


@pytest.fixture
def broker() -> Iterator[LocalBroker]:
    with LocalBroker.in_thread(topics=(TOPIC,)) as running:
        yield running


_SENDS = {int(RequestCode.SEND_MESSAGE), int(RequestCode.SEND_MESSAGE_V2), int(RequestCode.SEND_BATCH_MESSAGE)}


def _counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the send frames threads write straight to the socket, and
    those handed to the loop to write."""
    counts = {"direct": 0, "handed_to_loop": 0}
    send_direct, queue = Connection._send_direct, Connection._queue

    def counted_direct(self: Connection, frame: bytes) -> int:
        sent = send_direct(self, frame)
        counts["direct"] += sent == len(frame)
        return sent

    def counted_queue(self: Connection, frame: bytes, cmd: RemotingCommand, opaque: int | None = None) -> None:
        counts["handed_to_loop"] += cmd.code in _SENDS
        queue(self, frame, cmd, opaque)

    monkeypatch.setattr(Connection, "_send_direct", counted_direct)
    monkeypatch.setattr(Connection, "_queue", counted_queue)
    return counts


def test_a_warm_blocking_send_is_written_by_the_callers_thread(broker: LocalBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    with Producer("thread-group", namesrv_addr=broker.namesrv_addr) as producer:
        producer.send(Message(TOPIC, b"first"))  # looks the route up and connects on the loop
        counts = _counting(monkeypatch)
        results = [producer.send(Message(TOPIC, b"m%d" % i)) for i in range(20)]
    assert all(r.status is SendStatus.SEND_OK for r in results)
    assert counts == {"direct": 20, "handed_to_loop": 0}
    assert [m.body for m in broker.messages(TOPIC)] == [b"first"] + [b"m%d" % i for i in range(20)]


def test_a_send_after_the_connection_closed_reconnects_on_the_loop(broker: LocalBroker) -> None:
    with Producer("reconnect", namesrv_addr=broker.namesrv_addr) as producer:
        producer.send(Message(TOPIC, b"warm"))
        instance = producer.core.instance
        addr = broker.broker_addrs["broker-a"]
        old = instance._connections[addr]
        producer._run_plain(old.close, "close")
        producer._run(old.wait_closed(), 5, "wait_closed")
        assert producer.send(Message(TOPIC, b"again")).status is SendStatus.SEND_OK
        assert instance._connections[addr] is not old and not instance._connections[addr].closed


def test_threads_and_the_loop_share_a_connection_without_mixing_frames(broker: LocalBroker) -> None:
    # Four threads send while the loop writes heartbeats on the same
    # connection: every frame arrives whole (the broker would close the
    # connection on a broken one) and every message is stored once.
    with Producer("many-threads", namesrv_addr=broker.namesrv_addr) as producer:
        producer.send(Message(TOPIC, b"warm"))
        errors: list[BaseException] = []
        ids: list[str] = []
        stop = threading.Event()

        def sender(n: int) -> None:
            try:
                for i in range(150):
                    ids.append(producer.send(Message(TOPIC, f"{n}-{i}".encode())).msg_id)
            except BaseException as exc:  # reported below
                errors.append(exc)

        def heartbeats() -> None:
            while not stop.is_set():
                producer._run(producer.core.instance.send_heartbeat_to_all_brokers(), 10, "heartbeat")

        beating = threading.Thread(target=heartbeats)
        beating.start()
        threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        beating.join()
    assert errors == []
    stored = [m.body.decode() for m in broker.messages(TOPIC)]
    assert sorted(stored[1:]) == sorted(f"{n}-{i}" for n in range(4) for i in range(150))
    assert len(set(ids)) == len(ids) == 600


def test_a_frame_the_socket_took_only_part_of_is_finished_by_the_loop(
    broker: LocalBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    send_direct = Connection._send_direct

    def half(self: Connection, frame: bytes) -> int:
        return send_direct(self, frame[: len(frame) // 2])  # the kernel's buffer was nearly full

    with Producer("partial", namesrv_addr=broker.namesrv_addr) as producer:
        producer.send(Message(TOPIC, b"warm"))
        monkeypatch.setattr(Connection, "_send_direct", half)
        results = [producer.send(Message(TOPIC, b"%d" % i * 300)) for i in range(10)]
    assert all(r.status is SendStatus.SEND_OK for r in results)
    assert [m.body for m in broker.messages(TOPIC)][1:] == [b"%d" % i * 300 for i in range(10)]


def test_a_thread_timeout_names_the_broker_and_closes_the_connection(broker: LocalBroker) -> None:
    with Producer("thread-timeout", namesrv_addr=broker.namesrv_addr, retry_times_when_send_failed=0) as producer:
        producer.send(Message(TOPIC, b"warm"))
        addr = broker.broker_addrs["broker-a"]
        conn = producer.core.instance._connections[addr]
        broker.inject(Fault.swallow(code=RequestCode.SEND_MESSAGE_V2, times=1))
        with pytest.raises(RequestTimeoutError) as info:
            producer.send(Message(TOPIC, b"swallowed"), timeout=0.3)
        assert f"no response from {addr} to request code {int(RequestCode.SEND_MESSAGE_V2)}" in str(info.value)
        assert "event-loop" not in str(info.value)  # the broker, not our loop, was silent
        producer._run(conn.wait_closed(), 5, "wait_closed")  # Java closes the channel after a sync timeout
        assert producer.send(Message(TOPIC, b"after")).status is SendStatus.SEND_OK  # on a new connection
    assert conn._direct is None


def test_a_dropped_connection_is_retried_on_another_broker() -> None:
    with LocalBroker.in_thread(topics=(TOPIC,), broker_names=("broker-a", "broker-b")) as broker:
        with Producer("retry-thread", namesrv_addr=broker.namesrv_addr) as producer:
            for _ in range(4):  # connected to both brokers
                producer.send(Message(TOPIC, b"warm"))
            broker.inject(Fault.drop(code=RequestCode.SEND_MESSAGE_V2, broker="broker-a", times=1))
            results = [producer.send(Message(TOPIC, b"r%d" % i)) for i in range(4)]
    assert all(r.status is SendStatus.SEND_OK for r in results)
    assert {b"r%d" % i for i in range(4)} <= {m.body for m in broker.messages(TOPIC)}


def test_the_threads_socket_closes_with_the_connection(broker: LocalBroker) -> None:
    # Our own descriptor on the connection must not keep it open: the
    # broker sees every client connection go at shutdown.
    with Producer("closing", namesrv_addr=broker.namesrv_addr) as producer:
        producer.send(Message(TOPIC, b"x"))
        conn = producer.core.instance._connections[broker.broker_addrs["broker-a"]]
        assert conn._direct is not None
    assert conn._direct is None
    deadline = time.monotonic() + 3
    while broker.connections_to("broker-a") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert broker.connections_to("broker-a") == 0


def test_oneway_and_batch_sends_go_from_the_callers_thread_too(broker: LocalBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    with Producer("oneway-thread", namesrv_addr=broker.namesrv_addr) as producer:
        producer.send(Message(TOPIC, b"warm"))
        counts = _counting(monkeypatch)
        producer.send_oneway(Message(TOPIC, b"oneway"))
        batch = producer.send_batch([Message(TOPIC, b"b1"), Message(TOPIC, b"b2")])
        assert batch.status is SendStatus.SEND_OK
    assert counts == {"direct": 2, "handed_to_loop": 0}
    bodies = [m.body for m in broker.messages(TOPIC)]
    assert b"oneway" in bodies and bodies[-2:] == [b"b1", b"b2"]


def test_a_selector_runs_on_the_callers_thread(broker: LocalBroker) -> None:
    seen: list[str] = []

    def last(queues: list[Any], msg: Message, arg: Any) -> Any:
        seen.append(threading.current_thread().name)
        return queues[-1]

    with Producer("selector-thread", namesrv_addr=broker.namesrv_addr) as producer:
        result = producer.send(Message(TOPIC, b"ordered"), selector=last, arg=None)
    assert seen == [threading.current_thread().name]  # as Java runs it, not on the loop thread
    assert result.message_queue.queue_id == 3


def test_sends_racing_a_shutdown_return_or_raise_our_errors_and_never_hang(broker: LocalBroker) -> None:
    producer = Producer("racing-shutdown", namesrv_addr=broker.namesrv_addr)
    producer.start()
    producer.send(Message(TOPIC, b"warm"))
    outcomes: list[object] = []
    started = threading.Barrier(5)

    def sender() -> None:
        started.wait()
        for _ in range(200):
            try:
                outcomes.append(producer.send(Message(TOPIC, b"x"), timeout=2.0).status)
            except RocketMQError as exc:
                outcomes.append(type(exc))
            except BaseException as exc:  # anything else is the failure this test looks for
                outcomes.append(exc)
                return

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    started.wait()
    time.sleep(0.05)
    producer.shutdown()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    assert len(outcomes) == 800
    assert all(o is SendStatus.SEND_OK or (isinstance(o, type) and issubclass(o, RocketMQError)) for o in outcomes), {
        repr(o) for o in outcomes
    }
    assert SendStatus.SEND_OK in outcomes and ServiceStateError in outcomes


def _like_python_312(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make 3.10/3.11's socket transport write as 3.12+'s does: a deque of
    chunks, whose head leaves the buffer while send() runs without the GIL."""
    transport = selector_events._SelectorSocketTransport
    if sys.version_info >= (3, 12):
        return  # the real thing

    def write(self: Any, data: bytes) -> None:
        if not self._buffer:
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            data = data[sent:]
            if not data:
                return
            self._loop._add_writer(self._sock_fd, self._write_ready)
        self._buffer.append(data)
        self._maybe_pause_protocol()

    def write_ready(self: Any) -> None:
        head = self._buffer.popleft()
        try:
            sent = self._sock.send(head)
        except (BlockingIOError, InterruptedError):
            sent = 0
        if sent != len(head):
            self._buffer.appendleft(head[sent:])
        self._maybe_resume_protocol()
        if not self._buffer:
            self._loop._remove_writer(self._sock_fd)
            if self._closing:
                self._call_connection_lost(None)

    monkeypatch.setattr(transport, "_buffer_factory", collections.deque)
    monkeypatch.setattr(transport, "write", write)
    monkeypatch.setattr(transport, "_write_ready", write_ready)
    monkeypatch.setattr(transport, "get_write_buffer_size", lambda self: sum(map(len, self._buffer)))


def test_thread_frames_never_land_inside_a_frame_the_loop_is_still_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    # The loop writes large frames into a small socket buffer while two
    # threads write small ones; threads switch as often as they can.  Every
    # frame the peer reads must be whole.
    _like_python_312(monkeypatch)
    received = bytearray()
    server = socket.create_server(("127.0.0.1", 0))
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)

    def read_all() -> None:
        peer, _ = server.accept()
        with peer:
            while chunk := peer.recv(65536):
                received.extend(chunk)

    reader = threading.Thread(target=read_all)
    reader.start()

    def oneway(body: bytes) -> RemotingCommand:
        return RemotingCommand.request(int(RequestCode.SEND_MESSAGE), {"k": "v"}, body, oneway=True)

    async def main() -> None:
        conn = await open_connection(f"127.0.0.1:{server.getsockname()[1]}")
        conn._transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # type: ignore[union-attr]
        stop = time.monotonic() + 0.6

        def sender(n: int) -> None:
            i = 0
            while time.monotonic() < stop:
                conn.send_oneway_blocking(oneway(b"T%d-%d" % (n, i)))
                i += 1
                time.sleep(0.00005)

        threads = [threading.Thread(target=sender, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        while time.monotonic() < stop:
            conn.send_oneway(oneway(b"L" * 200_000))
            await asyncio.sleep(0)
            while conn._transport.get_write_buffer_size():  # type: ignore[union-attr]
                await asyncio.sleep(0.0005)
        for t in threads:
            t.join()
        conn.close()
        await conn.wait_closed()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        asyncio.run(main())
    finally:
        sys.setswitchinterval(interval)
        reader.join(30)
        server.close()
    frames = big = 0
    with memoryview(received) as view:
        pos = 0
        while pos < len(view):
            size = int.from_bytes(view[pos : pos + 4], "big")
            cmd = decode(bytes(view[pos : pos + 4 + size]))  # raises on a broken frame
            big += len(cmd.body) == 200_000
            frames += 1
            pos += 4 + size
    assert big > 0 and frames > big


def test_the_fault_tracker_takes_updates_from_many_threads_at_once() -> None:
    # Blocking sends update it from their callers' threads while brokers
    # go in and out of fault windows.
    tracker = FaultTracker()
    errors: list[BaseException] = []

    def churn(n: int) -> None:
        try:
            for i in range(5000):
                now = time.monotonic()
                tracker.update(f"broker-{(n * 7 + i) % 50}", 0, isolated=True, now=now - 9.999)
                tracker.avoided(now)
                tracker.update(f"broker-{i % 50}", 1.0, isolated=False, now=now)
        except BaseException as exc:  # reported below
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=churn, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []


def test_a_timeout_longer_than_a_thread_can_wait_is_waited_in_full(broker: LocalBroker) -> None:
    with Producer("long-timeout", namesrv_addr=broker.namesrv_addr) as producer:
        producer.send(Message(TOPIC, b"warm"))
        assert producer.send(Message(TOPIC, b"x"), timeout=1e10).status is SendStatus.SEND_OK
