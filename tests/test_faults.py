"""Fault tolerance of the producer, against LocalBroker's fault injection (issue: faults).

Each test breaks something the way a real cluster breaks (a broker that
refuses or drops connections, a restart, a connection lost with requests in
flight, a shutdown racing a connect) and checks the behaviour that copes
with it; each would fail without that behaviour.  Fault windows are made
short through the producer's ``not_available_duration`` instead of sleeping
through Java's 10 s.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest

import rmqwire.instance
from rmqwire import AsyncProducer, Message, Producer, SendResult, SendStatus
from rmqwire.testing import NAMESRV, Fault, LocalBroker
from rmqwire.transport import open_connection
from rmqwire.codec import RequestCode
from rmqwire.codec.command import RemotingCommand
from rmqwire.codec.errors import ConnectionClosedError, RemotingError
from rmqwire.codec.headers import SendMessageRequestHeader
from producer_support import eventually, needs_proc, open_sockets, run
from producer_support import producer_for as _producer_for

TOPIC = "FaultTopic"
#: the fault window of a failed broker in these tests (Java: 10 s)
WINDOW = 0.8
SHORT_WINDOWS: dict[str, Any] = {"not_available_duration": (0, 0, WINDOW, WINDOW, WINDOW, WINDOW, WINDOW)}


def producer_for(broker: LocalBroker, group: str = "fault-group", **kwargs: Any) -> AsyncProducer:
    return _producer_for(broker, group, **kwargs)


def send_failures(caplog: pytest.LogCaptureFixture, broker_name: str) -> int:
    """Failed send attempts to ``broker_name`` (the producer logs each one)."""
    return sum(
        1
        for r in caplog.records
        if r.name == "rmqwire.producer" and r.getMessage().startswith(f"send to {broker_name} failed")
    )


# --------------------------------------------------------------------------- two brokers, one failing


async def _break(broker: LocalBroker, how: str) -> None:
    if how == "refuse":  # accept, then close at once, every new connection
        broker.inject(Fault.refuse("broker-a"))
        await broker.restart_broker("broker-a")  # and end the open ones
    elif how == "stop":  # nothing listens: connecting is refused by the OS
        await broker.stop_broker("broker-a")
    else:  # "drop": the connection closes on every request
        broker.inject(Fault.drop(broker="broker-a"))


async def _heal(broker: LocalBroker, how: str) -> None:
    broker.clear_faults()
    if how == "stop":
        await broker.start_broker("broker-a")


@pytest.mark.parametrize("how", ["refuse", "stop", "drop"])
def test_sends_move_to_the_other_broker_which_is_then_avoided_and_later_retried(
    how: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="rmqwire.producer")

    async def scenario(broker: LocalBroker) -> None:
        loop = asyncio.get_running_loop()
        async with producer_for(broker, send_timeout=2.0, **SHORT_WINDOWS) as producer:
            warm = [await producer.send(Message(TOPIC, f"warm {i}".encode())) for i in range(8)]
            assert {r.message_queue.broker_name for r in warm} == {"broker-a", "broker-b"}

            await _break(broker, how)
            stored_on_a = len(broker.messages(broker_name="broker-a"))
            results: list[SendResult] = []
            for i in range(12):
                started = loop.time()
                results.append(await producer.send(Message(TOPIC, f"during {i}".encode())))
                assert loop.time() - started < 2.0  # within the send timeout
            assert all(r.status is SendStatus.SEND_OK for r in results)
            assert {r.message_queue.broker_name for r in results} == {"broker-b"}
            assert len(broker.messages(broker_name="broker-a")) == stored_on_a
            # broker-a failed once, then was left alone for the fault window
            assert send_failures(caplog, "broker-a") == 1
            assert "broker-a" in producer.fault_tracker.avoided(loop.time())

            await _heal(broker, how)
            await asyncio.sleep(WINDOW)
            assert producer.fault_tracker.avoided(loop.time()) == frozenset()
            after = [await producer.send(Message(TOPIC, f"after {i}".encode())) for i in range(8)]
            assert {r.message_queue.broker_name for r in after} == {"broker-a", "broker-b"}
            assert send_failures(caplog, "broker-a") == 1

        bodies = sorted(m.payload for m in broker.messages(TOPIC))
        expected = [f"{phase} {i}".encode() for phase, n in (("warm", 8), ("during", 12), ("after", 8)) for i in range(n)]
        assert bodies == sorted(expected)  # nothing lost, nothing twice

    run(scenario, broker_names=("broker-a", "broker-b"), topics=(TOPIC,))


def test_without_fault_avoidance_the_failed_broker_is_tried_on_every_turn(caplog: pytest.LogCaptureFixture) -> None:
    """The counterpart of the test above: what the fault window saves.  Each
    send still succeeds (the retry picks the other broker), but round-robin
    keeps coming back to the dead one."""
    caplog.set_level(logging.WARNING, logger="rmqwire.producer")

    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker, latency_fault_tolerance=False) as producer:
            await producer.send(Message(TOPIC, b"warm"))
            await broker.stop_broker("broker-a")
            results = [await producer.send(Message(TOPIC, f"during {i}".encode())) for i in range(20)]
            assert {r.message_queue.broker_name for r in results} == {"broker-b"}
            # round-robin over 4 + 4 queues comes back to broker-a every 4 or 5 sends
            assert send_failures(caplog, "broker-a") >= 3

    run(scenario, broker_names=("broker-a", "broker-b"), topics=(TOPIC,))


def test_fault_windows_are_checked() -> None:
    with pytest.raises(ValueError):
        AsyncProducer("g", namesrv_addr="127.0.0.1:9876", not_available_duration=(0, 1))
    with pytest.raises(ValueError):
        AsyncProducer("g", namesrv_addr="127.0.0.1:9876", latency_max=(3, 2, 1, 0, 0, 0, 0))
    producer = AsyncProducer("g", namesrv_addr="127.0.0.1:9876")
    assert producer.fault_tracker.duration(0, isolated=True) == 10.0  # Java 5.x: 10 s after a failure


# --------------------------------------------------------------------------- restarts


def test_a_restarted_broker_is_reconnected_heartbeats_resume_and_sends_succeed() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker, heartbeat_interval=0.2) as producer:
            assert (await producer.send(Message(TOPIC, b"before"))).status is SendStatus.SEND_OK
            assert broker.connections_to("broker-a") == 1

            await broker.restart_broker("broker-a")
            assert broker.connections_to("broker-a") == 0
            beats = len(broker.heartbeats)
            # no send needed: the heartbeat task reconnects by itself
            assert await eventually(lambda: len(broker.heartbeats) > beats + 1)
            assert broker.connections_to("broker-a") == 1
            latest = broker.heartbeats[-1][1]
            assert latest.client_id == producer.client_id
            assert {p.group_name for p in latest.producer_data_set} == {"fault-group", "CLIENT_INNER_PRODUCER"}
            assert (await producer.send(Message(TOPIC, b"after"))).status is SendStatus.SEND_OK

            # the name server restarts too: the next route lookup reconnects
            await broker.restart_broker(NAMESRV)
            assert broker.connections_to(NAMESRV) == 0
            assert (await producer.send(Message("NewAfterRestart", b"new"))).status is SendStatus.SEND_OK
            assert broker.connections_to(NAMESRV) == 1
        assert [m.payload for m in broker.messages(TOPIC)] == [b"before", b"after"]
        assert [m.payload for m in broker.messages("NewAfterRestart")] == [b"new"]

    run(scenario, topics=(TOPIC,))


# --------------------------------------------------------------------------- requests in flight


async def _twenty_in_flight(broker: LocalBroker, producer: AsyncProducer) -> list[asyncio.Task[SendResult]]:
    """20 concurrent sends, all stored by the broker and none answered yet."""
    await producer.send(Message(TOPIC, b"warm"))  # route and connection ready
    broker.clear()
    broker.inject(Fault.delay(30, code=RequestCode.SEND_MESSAGE_V2, times=20))
    tasks = [asyncio.create_task(producer.send(Message(TOPIC, f"m{i}".encode()))) for i in range(20)]
    assert await eventually(lambda: len(broker.messages(TOPIC)) == 20)
    assert not any(t.done() for t in tasks)
    return tasks


def test_requests_in_flight_all_fail_when_the_broker_goes_away() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker, send_timeout=10.0) as producer:
            tasks = await _twenty_in_flight(broker, producer)
            started = time.monotonic()
            await broker.stop_broker("broker-a")
            # far sooner than the 10 s send timeout or the 30 s delay
            outcomes = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 3.0)
            assert time.monotonic() - started < 3.0
            assert all(isinstance(o, RemotingError) for o in outcomes), outcomes

    run(scenario, topics=(TOPIC,))


def test_requests_in_flight_all_complete_when_the_connection_drops_and_comes_back() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker, send_timeout=10.0) as producer:
            tasks = await _twenty_in_flight(broker, producer)
            await broker.restart_broker("broker-a")  # every connection is cut
            results = await asyncio.wait_for(asyncio.gather(*tasks), 3.0)
            assert all(r.status is SendStatus.SEND_OK for r in results)
        # At least once: the first copies were stored before the cut, the
        # retries stored them again; every message is there exactly twice.
        stored = [m.uniq_key or "" for m in broker.messages(TOPIC)]
        assert sorted(stored) == sorted(r.msg_id for r in results for _ in range(2))

    run(scenario, topics=(TOPIC,))


def test_pending_requests_fail_on_the_connection_itself() -> None:
    """The transport alone: 20 requests pending, the peer closes, all fail at once."""

    async def scenario(broker: LocalBroker) -> None:
        header = SendMessageRequestHeader(producer_group="g", topic=TOPIC, queue_id=0, born_timestamp=0)
        broker.inject(Fault.swallow(code=RequestCode.SEND_MESSAGE_V2))
        for closer in ("peer", "local"):
            conn = await open_connection(broker.broker_addrs["broker-a"])
            requests = [
                asyncio.create_task(conn.request(RemotingCommand.request(310, header.to_ext_fields(True), b"x"), 30.0))
                for _ in range(20)
            ]
            assert await eventually(lambda: len(broker.requests) == 20)
            if closer == "peer":
                await broker.restart_broker("broker-a")
            else:
                conn.close()
            outcomes = await asyncio.wait_for(asyncio.gather(*requests, return_exceptions=True), 2.0)
            assert all(isinstance(o, ConnectionClosedError) for o in outcomes), outcomes
            assert conn.closed
            with pytest.raises(ConnectionClosedError):
                await conn.request(RemotingCommand.request(105, {"topic": TOPIC}), 1.0)
            await conn.wait_closed()
            broker.clear()

    run(scenario, topics=(TOPIC,))


# --------------------------------------------------------------------------- shutdown leaves nothing


@needs_proc
def test_shutdown_leaves_no_task_and_no_socket() -> None:
    async def scenario(broker: LocalBroker) -> None:
        tasks_before = asyncio.all_tasks()
        sockets_before = open_sockets()
        producers = [producer_for(broker, f"group-{i}", heartbeat_interval=0.1) for i in range(2)]
        for p in producers:
            await p.start()
        for p in producers:
            for _ in range(4):  # both brokers
                await p.send(Message(TOPIC, b"x"))
        await asyncio.sleep(1.2)  # let the periodic heartbeat task run a few rounds
        assert open_sockets() > sockets_before and asyncio.all_tasks() > tasks_before
        for p in producers:
            await p.shutdown()
        assert asyncio.all_tasks() == tasks_before
        assert await eventually(lambda: broker.connections == 0)
        assert open_sockets() == sockets_before

    run(scenario, broker_names=("broker-a", "broker-b"), topics=(TOPIC,))


@needs_proc
def test_shutdown_with_sends_in_flight_fails_them_and_leaves_nothing() -> None:
    async def scenario(broker: LocalBroker) -> None:
        tasks_before = asyncio.all_tasks()
        sockets_before = open_sockets()
        producer = producer_for(broker, send_timeout=10.0)
        await producer.start()
        sends = await _twenty_in_flight(broker, producer)
        await asyncio.wait_for(producer.shutdown(), 3.0)
        outcomes = await asyncio.wait_for(asyncio.gather(*sends, return_exceptions=True), 3.0)
        assert all(isinstance(o, RemotingError) for o in outcomes), outcomes
        # what is left is the broker's: its 20 delayed answers, cancelled when it stops
        left = asyncio.all_tasks() - tasks_before
        assert {getattr(t.get_coro(), "__qualname__", "") for t in left} <= {"ServerConnection._send_later"}
        assert await eventually(lambda: broker.connections == 0)
        assert open_sockets() == sockets_before

    run(scenario, topics=(TOPIC,))


@needs_proc
def test_a_connection_opened_while_shutting_down_is_closed_not_leaked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A send's route lookup is connecting to the name server when shutdown
    closes every connection; the connection that completes afterwards must be
    closed, not stored in a client that is gone."""
    gate = asyncio.Event()
    connecting = asyncio.Event()
    real_open = open_connection  # what client.instance calls

    async def slow_open(addr: str, **kwargs: Any) -> Any:
        if kwargs.get("role") == "namesrv":
            connecting.set()
            await gate.wait()
        return await real_open(addr, **kwargs)

    async def scenario(broker: LocalBroker) -> None:
        sockets_before = open_sockets()
        producer = producer_for(broker)
        await producer.start()
        await broker.restart_broker(NAMESRV)  # the next route lookup must connect again
        monkeypatch.setattr(rmqwire.instance, "open_connection", slow_open)
        send = asyncio.create_task(producer.send(Message("NeedsARoute", b"x")))
        await asyncio.wait_for(connecting.wait(), 2.0)
        await producer.shutdown()
        gate.set()
        with pytest.raises(RemotingError):
            await asyncio.wait_for(send, 3.0)
        assert await eventually(lambda: broker.connections == 0)
        assert open_sockets() == sockets_before

    run(scenario)


@needs_proc
def test_blocking_producer_leaves_no_thread_and_no_socket() -> None:
    threads_before = set(threading.enumerate())
    with LocalBroker.in_thread(topics=(TOPIC,)) as broker:
        sockets_before = open_sockets()
        with Producer("sync-fault-group", namesrv_addr=broker.namesrv_addr) as producer:
            assert producer.send(Message(TOPIC, b"x")).status is SendStatus.SEND_OK
            assert any(t.name == "rmqwire-loop" for t in threading.enumerate())
        deadline = time.monotonic() + 3
        while broker.connections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert broker.connections == 0
        assert open_sockets() == sockets_before
    assert set(threading.enumerate()) == threads_before
