"""Faults a user meets, tried as a new user would (issue 13 §3): each error
says what went wrong and what to do, in our own exception tree."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

import rmqwire.instance
from rmqwire import AsyncProducer, Message, Producer
from rmqwire.codec import RequestCode
from rmqwire.codec.errors import ConfigError, ConnectError, InvalidMessageError, RemotingError, RequestTimeoutError
from rmqwire.codec.message import decode_properties
from rmqwire.testing import Fault, LocalBroker, self_signed_tls
from producer_support import producer_for, run

TOPIC = "FaultsTopic"


# --------------------------------------------------------------------------- timeouts keep their reason


def test_a_blocking_send_timeout_says_which_address_request_and_how_long() -> None:
    with LocalBroker.in_thread(topics=(TOPIC,)) as broker:
        broker.inject(Fault.swallow(code=RequestCode.SEND_MESSAGE_V2))
        with Producer(
            "timeout-group", namesrv_addr=broker.namesrv_addr, send_timeout=0.3, retry_times_when_send_failed=0
        ) as producer:
            with pytest.raises(RequestTimeoutError) as info:
                producer.send(Message(TOPIC, b"lost"))
    message = str(info.value)
    assert broker.broker_addrs["broker-a"] in message
    assert f"request code {int(RequestCode.SEND_MESSAGE_V2)} within 0.3 s" in message or re.search(
        r"request code 310 within 0\.2\d* s", message
    )
    assert "event loop" not in message


def test_a_blocking_start_against_a_silent_name_server_says_which() -> None:
    with LocalBroker.in_thread() as broker:
        broker.inject(Fault.swallow(broker="namesrv"))
        producer = Producer("silent-start", namesrv_addr=broker.namesrv_addr, request_timeout=0.3)
        with pytest.raises(RequestTimeoutError) as info:
            producer.start()
    assert broker.namesrv_addr in str(info.value) and "request code 105" in str(info.value)


def test_the_blocking_backstop_still_fires_when_the_loop_thread_is_stuck(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import rmqwire.sync

    monkeypatch.setattr(rmqwire.sync, "BACKSTOP_SLACK", 0.05)
    with LocalBroker.in_thread(topics=(TOPIC,)) as broker:
        with Producer("stuck-loop", namesrv_addr=broker.namesrv_addr) as producer:
            producer.send(Message(TOPIC, b"warm"))
            loop = producer._loop
            assert loop is not None
            loop.call_soon_threadsafe(time.sleep, 0.6)  # a callback that blocks the loop
            # the send runs on this thread, which keeps its own deadline and
            # sees the broker's answer lying unread
            with pytest.raises(RequestTimeoutError, match="event-loop thread is blocked"):
                producer.send(Message(TOPIC, b"late"), timeout=0.1)
            # a step only the loop can do (a route lookup) meets the backstop
            loop.call_soon_threadsafe(time.sleep, 0.6)
            with pytest.raises(RequestTimeoutError, match="did not finish send"):
                producer.send(Message("NotYetRouted", b"late"), timeout=0.1)


# --------------------------------------------------------------------------- TLS mismatch


@pytest.fixture(scope="module")
def tls() -> tuple[Any, Any]:
    try:
        return self_signed_tls("127.0.0.1")
    except ConfigError as exc:  # neither cryptography nor openssl can make one
        pytest.skip(str(exc))


def test_a_plaintext_client_against_a_tls_broker_is_told_about_tls(tls: tuple[Any, Any]) -> None:
    server_ctx, _ = tls

    async def scenario(broker: LocalBroker) -> None:
        with pytest.raises(RemotingError, match="uses TLS, connect with ssl=True") as info:
            await producer_for(broker, request_timeout=1.0).start()
        assert broker.namesrv_addr in str(info.value)

    run(scenario, ssl=server_ctx)


def test_a_tls_client_against_a_plaintext_broker_is_told_about_tls(tls: tuple[Any, Any]) -> None:
    _, client_ctx = tls

    async def scenario(broker: LocalBroker) -> None:
        with pytest.raises(ConnectError, match="TLS handshake failed: if the server does not use TLS"):
            await producer_for(broker, request_timeout=1.0, ssl=client_ctx).start()

    run(scenario)


def test_a_plaintext_peer_answering_tls_records_is_named() -> None:
    async def scenario() -> None:
        async def tls_alert(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1)
            writer.write(b"\x15\x03\x01\x00\x02\x02\x28")  # a TLS handshake_failure alert
            await writer.drain()
            await reader.read()
            writer.close()  # since 3.12.1 Server.wait_closed() waits for every connection

        server = await asyncio.start_server(tls_alert, "127.0.0.1", 0)
        addr = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
        try:
            with pytest.raises(RemotingError, match=f"{addr} answered with TLS"):
                await AsyncProducer("alert-group", namesrv_addr=addr, request_timeout=1.0).start()
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(scenario())


# --------------------------------------------------------------------------- bad options


@pytest.mark.parametrize("level", [99, 19, -1, True, 2.0])
def test_a_delay_level_outside_the_brokers_table_is_refused(level: Any) -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker) as producer:
            with pytest.raises(InvalidMessageError, match="delay_level must be an int from 1 to 18"):
                await producer.send(Message(TOPIC, b"x", delay_level=level))
            assert not broker.messages(TOPIC)

    run(scenario, topics=(TOPIC,))


def test_delay_levels_of_the_table_and_of_a_longer_one_are_sent() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker) as producer:
            await producer.send(Message(TOPIC, b"x", delay_level=18))
            await producer.send(Message(TOPIC, b"x", delay_level=0))
        async with producer_for(broker, group="long-table", max_delay_level=24) as producer:
            await producer.send(Message(TOPIC, b"x", delay_level=24))
        sends = [cmd for _, _, cmd in broker.requests if cmd.code == RequestCode.SEND_MESSAGE_V2]
        assert [decode_properties(cmd.ext_fields["i"]).get("DELAY") for cmd in sends] == ["18", None, "24"]
        # the delayed ones wait in SCHEDULE_TOPIC_XXXX, a level past the broker's table capped
        # to its last (CommitLog's rewrite)
        waiting = broker.messages("SCHEDULE_TOPIC_XXXX")
        assert [(m.queue_id, m.properties["DELAY"], m.properties["REAL_TOPIC"]) for m in waiting] == [
            (17, "18", TOPIC), (17, "18", TOPIC)
        ]
        assert [m.properties.get("DELAY") for m in broker.messages(TOPIC)] == [None]

    run(scenario, topics=(TOPIC,))
    with pytest.raises(ConfigError, match="max_delay_level"):
        AsyncProducer("g", max_delay_level=-1)


@pytest.mark.parametrize("group", [123, None, b"group"])
def test_a_group_that_is_not_a_str_says_so(group: Any) -> None:
    with pytest.raises(ConfigError, match=f"group must be a str, not {type(group).__name__}"):
        Producer(group)
    with pytest.raises(ConfigError, match="must be a str"):
        AsyncProducer(group)


def test_without_any_name_server_address_start_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NAMESRV_ADDR", "ROCKETMQ_NAMESRV_DOMAIN"):
        monkeypatch.delenv(name, raising=False)

    async def no_lookup(*args: Any, **kwargs: Any) -> tuple[str, ...]:
        raise AssertionError("no HTTP/DNS lookup may be tried")

    monkeypatch.setattr(rmqwire.instance, "fetch_namesrv_addr", no_lookup)

    async def scenario() -> None:
        producer = AsyncProducer("nowhere-group")
        with pytest.raises(ConfigError) as info:
            await producer.start()
        for what in ("namesrv_addr", "NAMESRV_ADDR", "namesrv_domain"):
            assert what in str(info.value)

    asyncio.run(scenario())
    with pytest.raises(ConfigError, match="NAMESRV_ADDR"):
        Producer("nowhere-sync").start()
