"""ACL 1.0 signing and TLS (issue: faults / security).

The signer is checked against the real C++ client's signatures (its frames
in ``shared/golden/cpp.jsonl`` are signed with an empty secret) and against
vectors computed with the ``openssl`` command; then the whole producer
workflow runs against a LocalBroker that requires signatures, and over TLS
with a self-signed certificate made at test time.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from golden_support import shared_golden_file

from rmqwire import AsyncProducer, Credentials, Message, Producer, SendStatus
from rmqwire.testing import LocalBroker, self_signed_tls
from rmqwire.codec import RequestCode, decode
from rmqwire.codec.acl import sign, sign_command, verify_command
from rmqwire.codec.command import RemotingCommand
from rmqwire.codec.errors import ConfigError, ConnectError, NoPermissionError
from rmqwire.codec.trace import unpack_records
from producer_support import eventually, open_sockets, run

ROOT = Path(__file__).resolve().parent.parent
CPP_JSONL = shared_golden_file("cpp.jsonl")
CPP_MSGPACK = ROOT / "specs" / "golden" / "cpp.msgpack"

TOPIC = "SecureTopic"
SECRET = "SECRET-do-not-log-0x5e"
TOKEN = "TOKEN-do-not-log-0x70"


# --------------------------------------------------------------------------- the signer


def cpp_requests() -> list[tuple[str, RemotingCommand]]:
    """(name, command) of every frame the real C++ client sent."""
    if CPP_JSONL.is_file():
        frames = [json.loads(line) for line in CPP_JSONL.read_text().splitlines() if line.strip()]
        return [
            (f"seq {f['seq']} {f['code_name']}", decode(bytes.fromhex(f["frame_hex"])))
            for f in frames
            if f["direction"] == "client->server"
        ]
    if CPP_MSGPACK.is_file():  # the same frames, as committed to the golden corpus
        records = unpack_records(CPP_MSGPACK.read_bytes())
        return [(r.name or str(r.seq), decode(r.wire)) for r in records if r.direction == "client->server"]
    pytest.skip("the C++ client's golden frames are not available")


def test_every_cpp_client_request_verifies_and_re_signs_to_the_same_signature() -> None:
    requests = cpp_requests()
    assert len(requests) >= 13
    codes = {cmd.code for _, cmd in requests}
    assert {RequestCode.GET_ROUTEINFO_BY_TOPIC, RequestCode.SEND_MESSAGE, RequestCode.HEART_BEAT,
            RequestCode.UNREGISTER_CLIENT} <= codes
    empty = Credentials("", "")  # the C++ client signs with an empty access key and secret
    for name, cmd in requests:
        theirs = cmd.ext_fields["Signature"]
        assert verify_command(cmd, {"": ""}), name
        assert sign(cmd.ext_fields, cmd.body, "") == theirs, name
        unsigned = replace(cmd, ext_fields={k: v for k, v in cmd.ext_fields.items() if k != "Signature"})
        assert sign_command(unsigned, empty).ext_fields["Signature"] == theirs, name
        # any change to a value or to the body breaks it
        key = next(k for k in sorted(cmd.ext_fields) if k not in ("Signature", "AccessKey"))
        tampered = replace(cmd, ext_fields={**cmd.ext_fields, key: cmd.ext_fields[key] + "x"})
        assert not verify_command(tampered, {"": ""}), name
        assert not verify_command(replace(cmd, body=cmd.body + b"x"), {"": ""}), name
        assert not verify_command(cmd, {"": "not empty"}), name


@pytest.mark.parametrize(
    ("ext_fields", "body", "secret", "expected"),
    [
        # printf 'rocketmq2xTopicTesthello' | openssl dgst -sha1 -hmac 12345678 -binary | base64
        ({"AccessKey": "rocketmq2", "topic": "TopicTest", "b": "x"}, b"hello", "12345678", "ndxt8QSFhaHooc6BlnoIQx204uM="),
        # values in Java String order of keys (A < B < _ < a < x_), UTF-8, Signature skipped, binary body:
        # printf 'AK1杭州32\x00\xff' | openssl dgst -sha1 -hmac 'sk-秘密' -binary | base64
        (
            {"a": "3", "_": "杭州", "B": "1", "AccessKey": "AK", "x_": "2", "Signature": "ignored"},
            b"\x00\xff",
            "sk-秘密",
            "+GAMEIyqPxl3k0wDGaSyN/zCOG0=",
        ),
    ],
)
def test_signature_matches_openssl(ext_fields: dict[str, str], body: bytes, secret: str, expected: str) -> None:
    assert sign(ext_fields, body, secret) == expected


def test_sign_command_adds_access_key_token_and_signature() -> None:
    cmd = RemotingCommand.request(105, {"topic": "T"})
    signed = sign_command(cmd, Credentials("AK", SECRET, TOKEN))
    assert signed.ext_fields["AccessKey"] == "AK" and signed.ext_fields["SecurityToken"] == TOKEN
    assert signed.ext_fields["Signature"] == sign({"topic": "T", "AccessKey": "AK", "SecurityToken": TOKEN}, b"", SECRET)
    assert verify_command(signed, {"AK": SECRET})
    assert "SecurityToken" not in sign_command(cmd, Credentials("AK", SECRET)).ext_fields
    assert cmd.ext_fields == {"topic": "T"}  # the original is left alone


# --------------------------------------------------------------------------- against an ACL broker


def _check_all_signed(broker: LocalBroker, token: str | None) -> None:
    requests = broker.requests
    assert {role for role, _, _ in requests} == {"namesrv", "broker"}
    for _, _, cmd in requests:
        assert cmd.ext_fields["AccessKey"] == "AK"
        assert cmd.ext_fields.get("SecurityToken") == token
        assert verify_command(cmd, {"AK": SECRET}), cmd.code


@pytest.mark.parametrize("token", [None, TOKEN])
def test_signed_workflow_against_a_broker_that_requires_signatures(token: str | None) -> None:
    async def scenario(broker: LocalBroker) -> None:
        producer = AsyncProducer("acl-group", namesrv_addr=broker.namesrv_addr, credentials=Credentials("AK", SECRET, token))
        async with producer:
            assert (await producer.send(Message(TOPIC, b"signed", tags="A"))).status is SendStatus.SEND_OK
            assert (await producer.send(Message("NewSecureTopic", b"new topic"))).status is SendStatus.SEND_OK
            await producer.send_oneway(Message(TOPIC, b"oneway"))
            batch = await producer.send_batch([Message(TOPIC, b"b1"), Message(TOPIC, b"b2")])
            assert batch.status is SendStatus.SEND_OK
            assert await producer.instance.send_heartbeat_to_all_brokers() == 1
        assert await eventually(lambda: len(broker.messages(TOPIC)) == 4)
        assert len(broker.unregistered) == 2
        codes = {cmd.code for _, _, cmd in broker.requests}
        assert {105, 310, 320, 34, 35} <= codes
        _check_all_signed(broker, token)

    run(scenario, acl={"AK": SECRET}, topics=(TOPIC,))


@pytest.mark.parametrize(
    ("credentials", "remark"),
    [
        (None, "No accessKey is configured"),
        (Credentials("AK", "wrong secret"), "Check signature failed for accessKey=AK"),
        (Credentials("nobody", SECRET), "No acl config for nobody"),
    ],
)
def test_missing_or_bad_signatures_are_refused_with_no_permission(credentials: Credentials | None, remark: str) -> None:
    async def scenario(broker: LocalBroker) -> None:
        producer = AsyncProducer("acl-group", namesrv_addr=broker.namesrv_addr, credentials=credentials)
        with pytest.raises(NoPermissionError) as info:
            await producer.start()
        assert (info.value.code, info.value.remark) == (16, remark)
        assert broker.messages() == []

    run(scenario, acl={"AK": SECRET})


def test_a_refused_send_is_not_retried_and_a_refused_oneway_gets_nothing() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with AsyncProducer(
            "acl-group", namesrv_addr=broker.namesrv_addr, credentials=Credentials("AK", SECRET)
        ) as producer:
            await producer.send(Message(TOPIC, b"route and connection ready"))
            broker.clear()
            broker.acl = {"AK": "rotated"}  # the broker's secret changes under the producer
            with pytest.raises(NoPermissionError, match="Check signature failed for accessKey=AK"):
                await producer.send(Message(TOPIC, b"refused"))
            sends = [cmd for _, _, cmd in broker.requests if cmd.code == RequestCode.SEND_MESSAGE_V2]
            assert len(sends) == 1  # NO_PERMISSION is final
            await producer.send_oneway(Message(TOPIC, b"refused oneway"))
            assert await eventually(lambda: len(broker.requests) == 2)
            await asyncio.sleep(0.05)
            assert broker.messages() == []
            broker.acl = {"AK": SECRET}
            assert (await producer.send(Message(TOPIC, b"accepted"))).status is SendStatus.SEND_OK

    run(scenario, acl={"AK": SECRET}, topics=(TOPIC,))


def test_secrets_never_appear_in_logs_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    credentials = Credentials("AK", SECRET, TOKEN)
    seen: list[str] = [repr(credentials), str(credentials)]

    async def scenario(broker: LocalBroker) -> None:
        producer = AsyncProducer("acl-group", namesrv_addr=broker.namesrv_addr, credentials=credentials)
        seen.append(repr(producer))
        async with producer:
            await producer.send(Message(TOPIC, b"x"))
            seen.extend([repr(producer), repr(producer.instance.config), repr(producer.instance)])
            broker.acl = {"AK": "rotated"}
            with pytest.raises(NoPermissionError) as info:
                await producer.send(Message(TOPIC, b"y"))
            seen.extend([repr(info.value), str(info.value)])
            broker.acl = {"AK": SECRET}
        bad = AsyncProducer("acl-bad", namesrv_addr=broker.namesrv_addr, credentials=Credentials("AK", SECRET + "!", TOKEN))
        with pytest.raises(NoPermissionError) as info:
            await bad.start()
        seen.extend([repr(info.value), str(info.value), repr(bad)])

    run(scenario, acl={"AK": SECRET}, topics=(TOPIC,))
    client_logs = [r for r in caplog.records if r.name.startswith("rmqwire.") and not r.name.startswith(("rmqwire.testing", "rmqwire.broker"))]
    assert client_logs  # the client did log, at DEBUG
    text = caplog.text + "\n".join(r.getMessage() for r in caplog.records) + "\n".join(seen)
    assert "AK" in text
    assert SECRET not in text and TOKEN not in text


def test_blocking_producer_signs_too() -> None:
    with LocalBroker.in_thread(acl={"AK": SECRET}, topics=(TOPIC,)) as broker:
        with Producer("acl-sync", namesrv_addr=broker.namesrv_addr, credentials=Credentials("AK", SECRET)) as producer:
            assert producer.send(Message(TOPIC, b"sync")).status is SendStatus.SEND_OK
        _check_all_signed(broker, None)


# --------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def tls() -> tuple[Any, Any]:
    """(server context, client context) of a self-signed 127.0.0.1 certificate made now."""
    try:
        return self_signed_tls("127.0.0.1")
    except ConfigError as exc:  # neither cryptography nor openssl can make one
        pytest.skip(str(exc))


def test_whole_workflow_over_tls_with_a_self_signed_certificate(tls: tuple[Any, Any]) -> None:
    server_ctx, client_ctx = tls

    async def scenario(broker: LocalBroker) -> None:
        tasks_before = asyncio.all_tasks()
        sockets_before = open_sockets()
        producer = AsyncProducer(
            "tls-group", namesrv_addr=broker.namesrv_addr, ssl=client_ctx, credentials=Credentials("AK", SECRET)
        )
        await producer.start()
        for name in ("broker-a", "broker-b"):
            ssl_object = producer.instance._connections[broker.broker_addrs[name]]._transport.get_extra_info("ssl_object")  # type: ignore[union-attr]
            assert ssl_object is not None and ssl_object.version().startswith("TLS")
        results = [await producer.send(Message(TOPIC, f"tls {i}".encode(), keys=f"k{i}")) for i in range(6)]
        assert all(r.status is SendStatus.SEND_OK for r in results)
        await producer.send_oneway(Message(TOPIC, b"tls oneway"))
        assert (await producer.send_batch([Message(TOPIC, b"tb1"), Message(TOPIC, b"tb2")])).status is SendStatus.SEND_OK
        assert (await producer.send(Message(TOPIC, b"z" * 10_000))).status is SendStatus.SEND_OK  # compressed
        assert await producer.instance.send_heartbeat_to_all_brokers() == 2
        await producer.shutdown()

        assert await eventually(lambda: len(broker.messages(TOPIC)) == 10)
        assert {m.broker_name for m in broker.messages(TOPIC)} == {"broker-a", "broker-b"}
        assert {m.uniq_key for m in broker.messages(TOPIC)} >= {r.msg_id for r in results}
        assert len(broker.unregistered) == 4  # two groups on two brokers
        _check_all_signed(broker, None)
        assert asyncio.all_tasks() == tasks_before
        assert await eventually(lambda: broker.connections == 0)
        assert open_sockets() == sockets_before

        # the listeners really speak TLS: a plain client gets nowhere
        plain = AsyncProducer("plain-group", namesrv_addr=broker.namesrv_addr, request_timeout=1.0)
        with pytest.raises(ConnectError, match=broker.namesrv_addr):
            await plain.start()

    run(scenario, ssl=server_ctx, acl={"AK": SECRET}, broker_names=("broker-a", "broker-b"), topics=(TOPIC,))


def test_ssl_true_on_the_producer_verifies_against_the_default_trust_store(tls: tuple[Any, Any]) -> None:
    server_ctx, _ = tls

    async def scenario(broker: LocalBroker) -> None:
        producer = AsyncProducer("tls-group", namesrv_addr=broker.namesrv_addr, ssl=True, request_timeout=2.0)
        with pytest.raises(ConnectError, match="certificate verify failed"):
            await producer.start()

    run(scenario, ssl=server_ctx)


def test_ssl_true_on_local_broker_makes_a_certificate_its_client_context_trusts() -> None:
    try:
        broker = LocalBroker(ssl=True, topics=(TOPIC,))
    except RuntimeError as exc:
        pytest.skip(str(exc))
    assert broker.ssl is not None and broker.client_ssl is not None
    assert LocalBroker().client_ssl is None
    with LocalBroker.in_thread(ssl=True, topics=(TOPIC,)) as broker:
        assert broker.client_ssl is not None
        with Producer("tls-sync", namesrv_addr=broker.namesrv_addr, ssl=broker.client_ssl) as producer:
            assert producer.send(Message(TOPIC, b"over TLS")).status is SendStatus.SEND_OK
        assert [m.payload for m in broker.messages(TOPIC)] == [b"over TLS"]
        assert broker.submit(_no_connections_soon(broker))


async def _no_connections_soon(broker: LocalBroker) -> bool:
    return await eventually(lambda: broker.connections == 0)
