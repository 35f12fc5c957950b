"""LocalBroker, driven with raw frames over real loopback sockets.

Nothing here uses the producer client: requests are built with
:mod:`codec` (``RemotingCommand`` + ``encode``), answers are read with
``FrameDecoder``, so these tests pin down what the embedded name server and
broker put on the wire.  The replay test feeds the requests of a real C++
client session (``shared/golden/cpp.jsonl``) to LocalBroker and compares each
answer with the one the client accepted from the recording server.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from golden_support import shared_golden_file

from rmqwire.pytest_plugin import local_broker, local_broker_factory  # noqa: F401  (fixtures under test)
from rmqwire.testing import NAMESRV, Fault, LocalBroker
from rmqwire.codec import ConfigError, FrameDecoder, LanguageCode, RemotingCommand, RequestCode, ResponseCode, SerializeType, encode
from rmqwire.codec.body import HeartbeatData
from rmqwire.codec.headers import SendMessageRequestHeader
from rmqwire.codec.message import BatchEntry, create_offset_msg_id, encode_batch, encode_properties, parse_offset_msg_id

_T = TypeVar("_T")

GOLDEN = shared_golden_file("cpp.jsonl")
JSON, ROCKETMQ = SerializeType.JSON, SerializeType.ROCKETMQ


# --------------------------------------------------------------------------- helpers


def run(coro: Coroutine[Any, Any, _T], timeout: float = 10.0) -> _T:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def with_broker(**kwargs: Any) -> Callable[[Callable[[LocalBroker], Awaitable[None]]], Callable[[], None]]:
    """Decorate ``async def body(broker)``: a plain sync test running it against a fresh LocalBroker."""

    def wrap(body: Callable[[LocalBroker], Awaitable[None]]) -> Callable[[], None]:
        def test() -> None:
            async def main() -> None:
                async with LocalBroker(**kwargs) as broker:
                    await body(broker)

            run(main())

        test.__name__ = body.__name__
        test.__doc__ = body.__doc__
        return test

    return wrap


class Closed(Exception):
    """The server closed the connection."""


class Peer:
    """A raw client connection: send commands, read whole frames back."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = FrameDecoder()
        self.pending: list[RemotingCommand] = []
        self.raw = bytearray()

    @classmethod
    async def connect(cls, addr: str, ssl_context: ssl.SSLContext | None = None) -> Peer:
        host, port = addr.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port), ssl=ssl_context)
        return cls(reader, writer)

    def send(self, cmd: RemotingCommand) -> None:
        self.writer.write(encode(cmd))

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def recv(self, timeout: float = 3.0) -> RemotingCommand:
        while not self.pending:
            try:
                data = await asyncio.wait_for(self.reader.read(1 << 16), timeout)
            except (ConnectionResetError, BrokenPipeError) as exc:
                raise Closed(str(exc)) from None
            if not data:
                raise Closed("EOF")
            self.raw += data
            self.pending.extend(self.decoder.feed(data))
        return self.pending.pop(0)

    async def call(self, cmd: RemotingCommand, timeout: float = 3.0) -> RemotingCommand:
        self.send(cmd)
        reply = await self.recv(timeout)
        assert reply.opaque == cmd.opaque
        return reply

    async def closed_by_server(self, timeout: float = 3.0) -> bool:
        try:
            while True:
                data = await asyncio.wait_for(self.reader.read(1 << 16), timeout)
                if not data:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except asyncio.TimeoutError:
            return False

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass


def route_request(
    topic: str, *, opaque: int = 1, version: int = 479, extra: dict[str, str] | None = None, st: SerializeType = JSON
) -> RemotingCommand:
    return RemotingCommand.request(
        RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": topic, **(extra or {})}, opaque=opaque, version=version,
        serialize_type=st,
    )


def send_request(
    topic: str,
    body: bytes,
    *,
    opaque: int = 1,
    queue_id: int = 0,
    props: dict[str, str] | None = None,
    v2: bool = True,
    batch: bool = False,
    sys_flag: int = 0,
    oneway: bool = False,
    st: SerializeType = JSON,
    group: str = "PG_TEST",
    flag: int = 0,
) -> RemotingCommand:
    header = SendMessageRequestHeader(
        producer_group=group,
        topic=topic,
        queue_id=queue_id,
        sys_flag=sys_flag,
        born_timestamp=1700000000000,
        flag=flag,
        properties=encode_properties(props if props is not None else {"WAIT": "true"}),
        batch=batch,
    )
    return header.to_request(body, oneway=oneway, serialize_type=st, v2=v2).with_opaque(opaque)


def legacy_json(text: str) -> Any:
    """Parse fastjson's legacy route form (bare integer map keys) for the test's own checks."""
    import re

    return json.loads(re.sub(r'([{,])(-?\d+):', r'\1"\2":', text))


def golden_frames() -> list[dict[str, Any]]:
    if not GOLDEN.is_file():
        pytest.skip(f"golden capture not available at {GOLDEN}")
    return [json.loads(line) for line in GOLDEN.read_text().splitlines() if line.strip()]


def golden_command(seq: int) -> RemotingCommand:
    from rmqwire.codec import decode

    for frame in golden_frames():
        if frame["seq"] == seq:
            return decode(bytes.fromhex(frame["frame_hex"]))
    raise AssertionError(f"no frame {seq} in {GOLDEN}")


# --------------------------------------------------------------------------- name server


@with_broker(topics=("TopicA",))
async def test_route_legacy_for_old_clients_standard_for_new(broker: LocalBroker) -> None:
    peer = await Peer.connect(broker.namesrv_addr)
    addr = broker.broker_addrs["broker-a"]

    old = await peer.call(route_request("TopicA", opaque=11, version=63))
    assert (old.code, old.flag, old.opaque, old.language, old.version) == (0, 1, 11, LanguageCode.JAVA, 401)
    text = old.body.decode()
    assert f'"brokerAddrs":{{0:"{addr}"}}' in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    route = legacy_json(text)
    assert route["queueDatas"] == [
        {"brokerName": "broker-a", "perm": 6, "readQueueNums": 4, "topicSysFlag": 0, "writeQueueNums": 4}
    ]
    assert route["brokerDatas"][0]["cluster"] == "DefaultCluster"

    new = await peer.call(route_request("TopicA", opaque=12, version=401))
    assert json.loads(new.body)["brokerDatas"][0]["brokerAddrs"] == {"0": addr}

    asked = await peer.call(route_request("TopicA", opaque=13, version=63, extra={"acceptStandardJsonOnly": "true"}))
    assert json.loads(asked.body)["brokerDatas"][0]["brokerAddrs"] == {"0": addr}

    tbw = await peer.call(route_request("TBW102", opaque=14, version=401))
    assert json.loads(tbw.body)["queueDatas"][0]["perm"] == 7
    await peer.close()


@with_broker(topics=("TopicA",), route_json="legacy")
async def test_route_json_policy_legacy(broker: LocalBroker) -> None:
    peer = await Peer.connect(broker.namesrv_addr)
    reply = await peer.call(route_request("TopicA", version=479, extra={"acceptStandardJsonOnly": "true"}))
    assert '"brokerAddrs":{0:' in reply.body.decode()
    await peer.close()


@with_broker(topics=("TopicA",), standard_json=True)
async def test_route_json_policy_standard(broker: LocalBroker) -> None:
    peer = await Peer.connect(broker.namesrv_addr)
    reply = await peer.call(route_request("TopicA", version=63))
    assert json.loads(reply.body)["brokerDatas"][0]["brokerAddrs"] == {"0": broker.broker_addrs["broker-a"]}
    await peer.close()


@with_broker()
async def test_unknown_topic_is_17_without_body(broker: LocalBroker) -> None:
    peer = await Peer.connect(broker.namesrv_addr)
    reply = await peer.call(route_request("NoSuchTopic", opaque=5))
    assert reply.code == ResponseCode.TOPIC_NOT_EXIST
    assert reply.remark is not None
    assert reply.remark.startswith("No topic route info in name server for the topic: NoSuchTopic")
    assert reply.body == b""
    await peer.close()


@with_broker(auto_create_topics=False)
async def test_without_auto_create_there_is_no_tbw102(broker: LocalBroker) -> None:
    peer = await Peer.connect(broker.namesrv_addr)
    assert (await peer.call(route_request("TBW102"))).code == ResponseCode.TOPIC_NOT_EXIST
    bpeer = await Peer.connect(broker.broker_addrs["broker-a"])
    reply = await bpeer.call(send_request("Fresh", b"x"))
    assert reply.code == ResponseCode.TOPIC_NOT_EXIST
    assert reply.remark is not None and reply.remark.startswith("topic[Fresh] not exist, apply first please!")
    assert reply.ext_fields == {"MSG_REGION": "DefaultRegion", "TRACE_ON": "true"}
    assert broker.messages() == []
    await peer.close()
    await bpeer.close()


@with_broker(broker_names=("broker-b", "broker-a"), topics=("Both",))
async def test_routes_span_every_broker_and_auto_created_topics_appear(broker: LocalBroker) -> None:
    addrs = broker.broker_addrs
    assert len(set(addrs.values())) == 2
    peer = await Peer.connect(broker.namesrv_addr)
    route = json.loads((await peer.call(route_request("Both"))).body)
    assert {b["brokerName"]: b["brokerAddrs"] for b in route["brokerDatas"]} == {
        "broker-a": {"0": addrs["broker-a"]},
        "broker-b": {"0": addrs["broker-b"]},
    }
    assert (await peer.call(route_request("Later", opaque=2))).code == ResponseCode.TOPIC_NOT_EXIST
    bpeer = await Peer.connect(addrs["broker-b"])
    assert (await bpeer.call(send_request("Later", b"x"))).code == ResponseCode.SUCCESS
    route = json.loads((await peer.call(route_request("Later", opaque=3))).body)
    assert sorted(q["brokerName"] for q in route["queueDatas"]) == ["broker-a", "broker-b"]
    await peer.close()
    await bpeer.close()


@with_broker(broker_names=("broker-a", "broker-b"), auto_create_scope="broker")
async def test_auto_create_on_one_broker_like_java(broker: LocalBroker) -> None:
    bpeer = await Peer.connect(broker.broker_addrs["broker-b"])
    assert (await bpeer.call(send_request("OnB", b"x"))).code == ResponseCode.SUCCESS
    peer = await Peer.connect(broker.namesrv_addr)
    route = json.loads((await peer.call(route_request("OnB"))).body)
    assert [q["brokerName"] for q in route["queueDatas"]] == ["broker-b"]
    await peer.close()
    await bpeer.close()


# --------------------------------------------------------------------------- broker: clients


@with_broker()
async def test_heartbeat_and_unregister_are_recorded(broker: LocalBroker) -> None:
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    body = HeartbeatData.from_json(
        b'{"clientID":"10.0.0.1@1#2","consumerDataSet":[],'
        b'"producerDataSet":[{"groupName":"PG"},{"groupName":"CLIENT_INNER_PRODUCER"}]}'
    ).to_json()
    hb = RemotingCommand.request(RequestCode.HEART_BEAT, body=body, opaque=7, version=479, serialize_type=ROCKETMQ)
    reply = await peer.call(hb)
    assert (reply.code, reply.flag, reply.ext_fields, reply.body) == (0, 1, {}, b"")
    assert reply.serialize_type == ROCKETMQ
    [(name, data, language, version)] = broker.heartbeats
    assert (name, data.client_id, language, version) == ("broker-a", "10.0.0.1@1#2", LanguageCode.PYTHON, 479)
    info = broker.clients["10.0.0.1@1#2"]
    assert info.producer_groups == {"PG", "CLIENT_INNER_PRODUCER"}
    assert info.brokers == {"broker-a"}

    unreg = RemotingCommand.request(
        RequestCode.UNREGISTER_CLIENT, {"clientID": "10.0.0.1@1#2", "producerGroup": "PG"}, opaque=8
    )
    assert (await peer.call(unreg)).code == ResponseCode.SUCCESS
    assert broker.unregistered == [("broker-a", "10.0.0.1@1#2", "PG", None)]

    bad = await peer.call(RemotingCommand.request(RequestCode.HEART_BEAT, body=b"not json", opaque=9))
    assert bad.code == ResponseCode.SYSTEM_ERROR
    assert len(broker.heartbeats) == 1
    await peer.close()


# --------------------------------------------------------------------------- broker: sends


@with_broker(topics=("T",))
async def test_v1_v2_and_batch_sends_are_stored_with_offsets_and_msg_ids(broker: LocalBroker) -> None:
    addr = broker.broker_addrs["broker-a"]
    host, port = addr.rsplit(":", 1)
    peer = await Peer.connect(addr)

    r1 = await peer.call(send_request("T", b"one", opaque=1, v2=False, props={"TAGS": "A", "UNIQ_KEY": "U1"}))
    r2 = await peer.call(send_request("T", b"two", opaque=2, props={"KEYS": "k1 k2", "UNIQ_KEY": "U2", "DELAY": "3"}))
    batch = encode_batch(
        [
            BatchEntry(b"b1", {"UNIQ_KEY": "B1", "WAIT": "true"}),
            BatchEntry(b"b2", {"UNIQ_KEY": "B2", "KEYS": "kb"}, flag=5),
        ]
    )
    r3 = await peer.call(
        RemotingCommand.request(
            RequestCode.SEND_BATCH_MESSAGE,
            send_request("T", batch, batch=True).ext_fields,
            batch,
            opaque=3,
        )
    )
    r4 = await peer.call(send_request("T", b"other queue", opaque=4, queue_id=2))
    for reply in (r1, r2, r3, r4):
        assert (reply.code, reply.flag, reply.remark) == (0, 1, None)
        assert list(reply.ext_fields) == ["msgId", "queueId", "queueOffset", "MSG_REGION", "TRACE_ON"]
        assert reply.ext_fields["MSG_REGION"] == "DefaultRegion" and reply.ext_fields["TRACE_ON"] == "true"
    # "two" has a delay level: it waits in SCHEDULE_TOPIC_XXXX queue 2 (CommitLog's
    # rewrite), and its answer carries that queue's offset with the queue id asked for
    assert [(r.ext_fields["queueId"], r.ext_fields["queueOffset"]) for r in (r1, r2, r3, r4)] == [
        ("0", "0"), ("0", "0"), ("0", "1"), ("2", "0")
    ]

    stored = broker.messages()
    assert [m.body for m in stored] == [b"one", b"two", b"b1", b"b2", b"other queue"]
    assert [(m.topic, m.queue_id) for m in stored][:2] == [("T", 0), ("SCHEDULE_TOPIC_XXXX", 2)]
    assert (stored[1].properties["REAL_TOPIC"], stored[1].properties["REAL_QID"]) == ("T", "0")
    assert [m.queue_offset for m in stored] == [0, 0, 1, 2, 0]
    assert [m.uniq_key for m in stored] == ["U1", "U2", "B1", "B2", None]
    assert [m.request_code for m in stored] == [10, 310, 320, 320, 310]
    assert [m.flag for m in stored] == [0, 0, 0, 5, 0]
    assert stored[0].tags == "A" and stored[1].keys == "k1 k2" and stored[1].delay_level == 3
    assert stored[3].properties == {"UNIQ_KEY": "B2", "KEYS": "kb", "CLUSTER": "DefaultCluster"}
    assert all(m.producer_group == "PG_TEST" and m.broker_name == "broker-a" for m in stored)
    assert stored[2].batch and not stored[0].batch

    offsets = [m.commitlog_offset for m in stored]
    assert offsets[0] == 0 and offsets == sorted(offsets) and len(set(offsets)) == 5
    for m in stored:
        assert m.offset_msg_id == create_offset_msg_id(host, int(port), m.commitlog_offset)
        assert parse_offset_msg_id(m.offset_msg_id) == (host, int(port), m.commitlog_offset)
    assert r1.ext_fields["msgId"] == stored[0].offset_msg_id
    assert r3.ext_fields["msgId"] == f"{stored[2].offset_msg_id},{stored[3].offset_msg_id}"
    await peer.close()


@with_broker()
async def test_auto_created_topic_gets_min_of_requested_and_configured_queues(broker: LocalBroker) -> None:
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    cmd = send_request("Auto", b"x")
    small = RemotingCommand.request(cmd.code, {**cmd.ext_fields, "d": "2"}, cmd.body, opaque=2)
    assert (await peer.call(small)).code == ResponseCode.SUCCESS
    assert broker.topics()["Auto"] == 2
    assert (await peer.call(send_request("Auto", b"x", opaque=3, queue_id=2))).code == ResponseCode.SYSTEM_ERROR
    await peer.close()


@pytest.mark.parametrize("st", [JSON, ROCKETMQ])
def test_replies_use_the_request_serialize_type(st: SerializeType) -> None:
    @with_broker(topics=("T",))
    async def body(broker: LocalBroker) -> None:
        peer = await Peer.connect(broker.broker_addrs["broker-a"])
        reply = await peer.call(send_request("T", b"x", st=st))
        assert reply.serialize_type == st
        assert peer.raw[4] == int(st)  # the type byte of the header-length word
        assert broker.messages()[0].serialize_type == st
        npeer = await Peer.connect(broker.namesrv_addr)
        assert (await npeer.call(route_request("T", st=st))).serialize_type == st
        await peer.close()
        await npeer.close()

    body()


@with_broker(topics=("T",))
async def test_oneway_sends_get_no_reply_even_on_error(broker: LocalBroker) -> None:
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    peer.send(send_request("T", b"quiet", opaque=1, oneway=True))
    peer.send(send_request("bad topic!", b"quiet", opaque=2, oneway=True))
    peer.send(RemotingCommand.request(4242, opaque=3, oneway=True))
    reply = await peer.call(send_request("T", b"loud", opaque=4))
    assert reply.opaque == 4 and not peer.pending
    assert [m.body for m in broker.messages()] == [b"quiet", b"loud"]
    await peer.close()


@with_broker(topics=("T",))
async def test_unknown_codes_are_not_supported(broker: LocalBroker) -> None:
    for addr in (broker.broker_addrs["broker-a"], broker.namesrv_addr):
        peer = await Peer.connect(addr)
        reply = await peer.call(RemotingCommand.request(12345, opaque=77, serialize_type=ROCKETMQ))
        assert (reply.code, reply.remark, reply.opaque, reply.flag) == (3, " request type 12345 not supported", 77, 1)
        await peer.close()


@with_broker(topics=("GoldenTopic",))
async def test_cpp_batch_is_stored_as_two_messages(broker: LocalBroker) -> None:
    cmd = golden_command(15)
    assert cmd.code == RequestCode.SEND_MESSAGE and cmd.ext_fields["batch"] == "1"
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    reply = await peer.call(cmd)
    assert reply.code == ResponseCode.SUCCESS
    stored = broker.messages("GoldenTopic")
    assert [m.body for m in stored] == [b"batch message one", b"batch message two"]
    assert [m.uniq_key for m in stored] == ["0100007F0000185B00004AF05E710700", "0100007F0000185B00004AF05E710800"]
    assert stored[1].properties["color"] == "blue"
    assert [m.queue_id for m in stored] == [1, 1] and [m.queue_offset for m in stored] == [0, 1]
    assert reply.ext_fields["msgId"] == ",".join(m.offset_msg_id for m in stored)
    assert reply.ext_fields["queueOffset"] == "0"
    assert {m.language for m in stored} == {LanguageCode.CPP}
    await peer.close()


@with_broker(topics=("T",))
async def test_compressed_bodies_are_kept_and_inflated(broker: LocalBroker) -> None:
    text = b"hello rocketmq " * 400
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    assert (await peer.call(send_request("T", zlib.compress(text, 5), sys_flag=0x301))).code == 0
    assert (await peer.call(send_request("T", b"not zlib", sys_flag=0x1, opaque=2))).code == 0
    first, second = broker.messages()
    assert first.body == zlib.compress(text, 5) and first.payload == text and first.sys_flag == 0x301
    assert first.text == text.decode()
    assert second.payload == b"not zlib"  # kept as sent, as a broker does not inflate
    await peer.close()


@with_broker(topics=("GoldenTopic",))
async def test_cpp_compressed_send(broker: LocalBroker) -> None:
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    assert (await peer.call(golden_command(7))).code == 0
    [m] = broker.messages()
    assert m.sys_flag == 1 and len(m.payload) == 6000 and m.body != m.payload
    await peer.close()


@with_broker(topics=("T",), max_message_size=1024)
async def test_broker_side_validation_like_java_4_9(broker: LocalBroker) -> None:
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    cases = [
        (send_request("bad topic!", b"x"), 1, "The specified topic contains illegal characters"),
        (send_request("T" * 128, b"x"), 1, "The specified topic is longer than topic max length."),
        (send_request("SCHEDULE_TOPIC_XXXX", b"x"), 16, "Sending message to topic[SCHEDULE_TOPIC_XXXX] is forbidden."),
        (send_request("T", b"x", queue_id=4), 1, "request queueId[4] is illegal, TopicConfig [topicName=T"),
        (send_request("T", b"x" * 1024), 13, "the message is illegal, maybe msg body or properties length not matched"),
        (send_request("T", b"x", props={"big": "y" * 33000}), 13, "the message is illegal"),
        (send_request("T", b"\x00\x00\x00\x01", batch=True), 13, "the message is illegal"),
    ]
    for opaque, (cmd, code, remark) in enumerate(cases, 1):
        reply = await peer.call(cmd.with_opaque(opaque))
        assert reply.code == code, (reply.code, reply.remark)
        assert reply.remark is not None and reply.remark.startswith(remark), reply.remark
        assert reply.ext_fields == {"MSG_REGION": "DefaultRegion", "TRACE_ON": "true"}
    missing = RemotingCommand.request(RequestCode.SEND_MESSAGE_V2, {"a": "PG"}, b"x", opaque=99)
    assert (await peer.call(missing)).code == ResponseCode.SYSTEM_ERROR
    assert broker.messages() == []
    # queueId < 0: the broker picks a queue
    reply = await peer.call(send_request("T", b"x", queue_id=-1, opaque=100))
    assert reply.code == 0 and 0 <= int(reply.ext_fields["queueId"]) < 4
    await peer.close()


@with_broker(topics=("T",))
async def test_default_message_size_limit_is_4_mib(broker: LocalBroker) -> None:
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    reply = await peer.call(send_request("T", bytes(4 * 1024 * 1024)))
    assert reply.code == ResponseCode.MESSAGE_ILLEGAL
    assert reply.remark is not None and "4194304B" in reply.remark
    assert (await peer.call(send_request("T", bytes(4 * 1024 * 1024 - 200), opaque=2))).code == 0
    await peer.close()


@with_broker(topics=("T",))
async def test_get_max_offset(broker: LocalBroker) -> None:
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    for i in range(3):
        await peer.call(send_request("T", b"x", opaque=i + 1, queue_id=1))
    reply = await peer.call(
        RemotingCommand.request(RequestCode.GET_MAX_OFFSET, {"topic": "T", "queueId": "1"}, opaque=9)
    )
    assert (reply.code, reply.ext_fields) == (0, {"offset": "3"})
    await peer.close()


# --------------------------------------------------------------------------- robustness


@with_broker(topics=("T",), max_frame_size=4096)
async def test_garbage_closes_only_that_connection(broker: LocalBroker) -> None:
    addr = broker.broker_addrs["broker-a"]
    good = await Peer.connect(addr)
    assert (await good.call(send_request("T", b"before"))).code == 0
    for garbage in (
        b"\xff\xff\xff\xff",  # negative length
        b"\x00\x00\x00\x0c\x07\x00\x00\x04abcdefgh",  # serialize type 7
        b"\x00\x00\x00\x0c\x00\x00\x00\x08{{{{{{{{",  # not JSON
        b"\x00\x00\x00\x08\x00\x00\x01\x00abcd",  # header longer than the frame
        b"\x00\x01\x00\x00",  # frame over max_frame_size
    ):
        bad = await Peer.connect(addr)
        bad.send_raw(garbage)
        assert await bad.closed_by_server(), garbage
        await bad.close()
    assert (await good.call(send_request("T", b"after", opaque=2))).code == 0
    other = await Peer.connect(addr)
    assert (await other.call(send_request("T", b"new", opaque=3))).code == 0
    assert [m.body for m in broker.messages()] == [b"before", b"after", b"new"]
    await good.close()
    await other.close()


@with_broker(topics=("T",))
async def test_requests_are_recorded_in_order(broker: LocalBroker) -> None:
    npeer = await Peer.connect(broker.namesrv_addr)
    bpeer = await Peer.connect(broker.broker_addrs["broker-a"])
    await npeer.call(route_request("T"))
    await bpeer.call(send_request("T", b"x", opaque=2))
    assert [(role, name, cmd.code) for role, name, cmd in broker.requests] == [
        ("namesrv", None, 105),
        ("broker", "broker-a", 310),
    ]
    assert broker.connections == 2 and broker.connections_to("broker-a") == 1
    broker.clear()
    assert broker.requests == [] and broker.messages() == []
    await bpeer.call(send_request("T", b"y", opaque=3))
    assert broker.messages()[0].queue_offset == 1  # clear() keeps the store's offsets
    await npeer.close()
    await bpeer.close()


# --------------------------------------------------------------------------- faults


@with_broker(topics=("T",))
async def test_fault_error_answers_and_is_consumed(broker: LocalBroker) -> None:
    broker.inject(Fault.error(ResponseCode.SYSTEM_BUSY, code=RequestCode.SEND_MESSAGE_V2, times=2))
    broker.inject(Fault.error(ResponseCode.TOPIC_NOT_EXIST, "gone", broker=NAMESRV, times=1))
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    codes = [(await peer.call(send_request("T", b"x", opaque=i))).code for i in range(1, 4)]
    assert codes == [2, 2, 0]
    assert len(broker.messages()) == 1
    npeer = await Peer.connect(broker.namesrv_addr)
    first = await npeer.call(route_request("T", opaque=1))
    assert (first.code, first.remark) == (17, "gone")
    assert (await npeer.call(route_request("T", opaque=2))).code == 0
    assert broker.faults == []
    await peer.close()
    await npeer.close()


@with_broker(topics=("T",))
async def test_fault_forever_until_cleared(broker: LocalBroker) -> None:
    broker.inject(Fault.error(ResponseCode.NO_PERMISSION, broker="broker-a"))
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    for i in range(3):
        assert (await peer.call(send_request("T", b"x", opaque=i))).code == ResponseCode.NO_PERMISSION
    broker.clear_faults()
    assert (await peer.call(send_request("T", b"x", opaque=9))).code == 0
    await peer.close()


@with_broker(topics=("T",))
async def test_fault_delay_stores_then_answers_late(broker: LocalBroker) -> None:
    broker.inject(Fault.delay(0.2, code=RequestCode.SEND_MESSAGE_V2, times=1))
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    start = time.monotonic()
    peer.send(send_request("T", b"slow", opaque=1))
    peer.send(send_request("T", b"fast", opaque=2))
    first = await peer.recv()
    assert first.opaque == 2 and time.monotonic() - start < 0.2
    assert [m.body for m in broker.messages()] == [b"slow", b"fast"]
    second = await peer.recv()
    assert second.opaque == 1 and second.code == 0 and time.monotonic() - start >= 0.2
    await peer.close()


@with_broker(topics=("T",))
async def test_fault_swallow_never_answers(broker: LocalBroker) -> None:
    broker.inject(Fault.swallow(code=RequestCode.SEND_MESSAGE_V2, times=1))
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    peer.send(send_request("T", b"lost", opaque=1))
    assert (await peer.call(send_request("T", b"kept", opaque=2))).opaque == 2
    assert [m.body for m in broker.messages()] == [b"kept"]
    assert [cmd.opaque for _, _, cmd in broker.requests] == [1, 2]
    await peer.close()


@with_broker(topics=("T",))
async def test_fault_drop_closes_before_storing(broker: LocalBroker) -> None:
    broker.inject(Fault.drop(code=RequestCode.SEND_MESSAGE_V2, broker="broker-a", times=1))
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    peer.send(send_request("T", b"dropped", opaque=1))
    assert await peer.closed_by_server()
    assert broker.messages() == []
    again = await Peer.connect(broker.broker_addrs["broker-a"])
    assert (await again.call(send_request("T", b"ok", opaque=2))).code == 0
    await peer.close()
    await again.close()


@with_broker(topics=("T",), broker_names=("broker-a", "broker-b"))
async def test_fault_refuse_connections(broker: LocalBroker) -> None:
    broker.inject(Fault.refuse("broker-a", times=2))
    for _ in range(2):
        peer = await Peer.connect(broker.broker_addrs["broker-a"])
        assert await peer.closed_by_server()
        await peer.close()
    other = await Peer.connect(broker.broker_addrs["broker-b"])
    assert (await other.call(send_request("T", b"b"))).code == 0
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    assert (await peer.call(send_request("T", b"a"))).code == 0
    assert broker.connections_to("broker-a") == 1
    await peer.close()
    await other.close()


def test_fault_validation() -> None:
    with pytest.raises(ConfigError, match="unknown fault kind"):
        Fault("explode")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="times"):
        Fault.error(2, times=0)
    with pytest.raises(ConfigError, match="seconds"):
        Fault.delay(-1)
    with pytest.raises(ConfigError, match="broker-z"):
        LocalBroker().inject(Fault.drop(broker="broker-z"))


@with_broker(topics=("T",))
async def test_restart_broker_closes_connections_and_keeps_port_and_store(broker: LocalBroker) -> None:
    addr = broker.broker_addrs["broker-a"]
    peer = await Peer.connect(addr)
    assert (await peer.call(send_request("T", b"1"))).code == 0
    await broker.restart_broker("broker-a")
    assert await peer.closed_by_server()
    assert broker.broker_addrs["broker-a"] == addr
    again = await Peer.connect(addr)
    reply = await again.call(send_request("T", b"2", opaque=2))
    assert (reply.code, reply.ext_fields["queueOffset"]) == (0, "1")
    await peer.close()

    await broker.stop_broker("broker-a")
    assert await again.closed_by_server()
    with pytest.raises(OSError):
        await Peer.connect(addr)
    await broker.start_broker("broker-a")
    third = await Peer.connect(addr)
    assert (await third.call(send_request("T", b"3", opaque=3))).code == 0
    await again.close()
    await third.close()


# --------------------------------------------------------------------------- lifecycle


def _open_fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def test_stop_leaves_no_connection_task_socket_or_thread() -> None:
    fds_before = _open_fds()
    threads_before = set(threading.enumerate())

    async def main() -> None:
        tasks_before = asyncio.all_tasks()
        broker = LocalBroker(topics=("T",), http_port=0, broker_names=("a", "b"))
        await broker.start()
        peers = [await Peer.connect(broker.namesrv_addr), await Peer.connect(broker.broker_addrs["a"])]
        broker.inject(Fault.delay(30, times=1))
        peers[1].send(send_request("T", b"x"))
        for _ in range(50):  # the delayed answer's task exists once the request is handled
            if broker.messages():
                break
            await asyncio.sleep(0.01)
        assert broker.connections == 2
        addrs = [broker.namesrv_addr, *broker.broker_addrs.values(), broker.http_addr]
        await broker.stop()
        await broker.stop()  # idempotent
        assert broker.connections == 0
        assert asyncio.all_tasks() <= tasks_before
        for peer in peers:
            assert await peer.closed_by_server()
            await peer.close()
        for addr in addrs:
            assert addr is not None
            with pytest.raises(OSError):
                await Peer.connect(addr)

    run(main())
    assert set(threading.enumerate()) <= threads_before
    if fds_before is not None:
        assert _open_fds() == fds_before


def test_in_thread_mode_from_sync_code() -> None:
    before = set(threading.enumerate())
    with LocalBroker.in_thread(topics=("T",)) as broker:
        assert any(t.name == "rmqwire-local-broker" for t in threading.enumerate())
        host, port = broker.namesrv_addr.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=3) as sock:
            sock.sendall(encode(route_request("T", opaque=3)))
            decoder = FrameDecoder()
            replies: list[RemotingCommand] = []
            while not replies:
                replies = decoder.feed(sock.recv(65536))
        assert replies[0].code == 0 and replies[0].opaque == 3
        broker.submit(broker.restart_broker("broker-a"))
        assert broker.connections == 0
    assert set(threading.enumerate()) <= before


def test_fixtures(local_broker: LocalBroker, local_broker_factory: Callable[..., LocalBroker]) -> None:  # noqa: F811
    assert local_broker.namesrv_addr.startswith("127.0.0.1:")
    second = local_broker_factory(broker_names=("x", "y"), queues=2)
    assert set(second.broker_addrs) == {"x", "y"}
    assert second.namesrv_addr != local_broker.namesrv_addr


# --------------------------------------------------------------------------- HTTP, TLS


async def _http_get(addr: str, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    host, port = addr.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 3)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


@with_broker(http_port=0)
async def test_http_name_server_address_endpoint(broker: LocalBroker) -> None:
    assert broker.http_addr is not None
    status, headers, body = await _http_get(broker.http_addr, "/rocketmq/nsaddr")
    assert (status, body.decode()) == (200, broker.namesrv_addr)
    assert headers["Content-Type"].startswith("text/plain")
    assert (await _http_get(broker.http_addr, "/rocketmq/nsaddr-unit?x=1"))[0] == 200
    assert (await _http_get(broker.http_addr, "/other"))[0] == 404
    assert (await _http_get(broker.http_addr, "/rocketmq/nsaddr", "POST"))[0] == 405


def test_no_http_without_http_port() -> None:
    async def main() -> None:
        async with LocalBroker() as broker:
            assert broker.http_addr is None

    run(main())


@pytest.fixture(scope="module")
def tls_contexts(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context) for a self-signed 127.0.0.1 certificate made now."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        _make_cert_with_cryptography(cert, key)
    except ImportError:
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("neither the cryptography package nor the openssl CLI is available to make a certificate")
        done = subprocess.run(
            [
                openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            ],
            capture_output=True,
            timeout=30,
        )
        if done.returncode != 0:
            pytest.skip(f"openssl could not make a certificate: {done.stderr.decode(errors='replace')[:200]}")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


def _make_cert_with_cryptography(cert: Path, key: Path) -> None:
    import datetime
    import ipaddress

    from cryptography import x509  # type: ignore[import-not-found, unused-ignore]
    from cryptography.hazmat.primitives import hashes, serialization  # type: ignore[import-not-found, unused-ignore]
    from cryptography.hazmat.primitives.asymmetric import ec  # type: ignore[import-not-found, unused-ignore]
    from cryptography.x509.oid import NameOID  # type: ignore[import-not-found, unused-ignore]

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(private, hashes.SHA256())
    )
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def test_tls_on_every_listener(tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = tls_contexts

    async def main() -> None:
        async with LocalBroker(topics=("T",), ssl=server_ctx, http_port=0) as broker:
            npeer = await Peer.connect(broker.namesrv_addr, client_ctx)
            assert (await npeer.call(route_request("T"))).code == 0
            bpeer = await Peer.connect(broker.broker_addrs["broker-a"], client_ctx)
            assert (await bpeer.call(send_request("T", b"secret", opaque=2))).code == 0
            assert broker.messages()[0].body == b"secret"
            assert broker.http_addr is not None
            host, port = broker.http_addr.rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port), ssl=client_ctx)
            writer.write(b"GET /rocketmq/nsaddr HTTP/1.1\r\nHost: x\r\n\r\n")
            data = await asyncio.wait_for(reader.read(), 3)
            assert data.startswith(b"HTTP/1.1 200") and data.endswith(broker.namesrv_addr.encode())
            writer.close()
            plain = await Peer.connect(broker.broker_addrs["broker-a"])  # no TLS: the handshake fails
            plain.send(send_request("T", b"plain"))
            with pytest.raises(Closed):
                await plain.recv()
            await plain.close()
            await npeer.close()
            await bpeer.close()

    run(main())


# --------------------------------------------------------------------------- replaying a real client


def test_replay_cpp_client_session() -> None:
    """Every request of the real C++ client gets an answer with the code,
    flag and extFields keys the client accepted from the recording server
    (plus MSG_REGION / TRACE_ON on SEND answers, which a Java broker adds)."""
    frames = golden_frames()
    requests = [f for f in frames if f["direction"] == "client->server"]
    replies = {f["in_reply_to"]: f for f in frames if f["direction"] == "server->client"}
    from rmqwire.codec import decode

    async def main() -> None:
        async with LocalBroker(topics=("GoldenTopic",)) as broker:
            peers: dict[int, Peer] = {}
            delayed_in: dict[str, int] = {}
            for frame in requests:
                addr = broker.namesrv_addr if frame["port_role"] == "namesrv" else broker.broker_addrs["broker-a"]
                peer = peers.get(frame["conn"])
                if peer is None:
                    peer = peers[frame["conn"]] = await Peer.connect(addr)
                request = decode(bytes.fromhex(frame["frame_hex"]))
                peer.send_raw(bytes.fromhex(frame["frame_hex"]))
                ours = await peer.recv()
                theirs = decode(bytes.fromhex(replies[frame["seq"]]["frame_hex"]))
                where = f"seq {frame['seq']} ({frame['code_name']})"
                assert (ours.code, ours.flag, ours.opaque) == (theirs.code, theirs.flag, theirs.opaque), where
                assert ours.serialize_type == theirs.serialize_type == JSON, where
                extra = {"MSG_REGION", "TRACE_ON"} if request.code == RequestCode.SEND_MESSAGE else set()
                assert set(ours.ext_fields) == set(theirs.ext_fields) | extra, where
                if request.code == RequestCode.SEND_MESSAGE:
                    # A delayed send is stored in SCHEDULE_TOPIC_XXXX (CommitLog's rewrite): a Java
                    # broker answers that queue's offset, and the delayed message takes no offset of
                    # its own queue; the recording server counted it there.
                    queue = theirs.ext_fields["queueId"]
                    assert ours.ext_fields["queueId"] == queue, where
                    if "DELAY\x01" in request.ext_fields.get("properties", ""):
                        assert ours.ext_fields["queueOffset"] == "0", where
                        delayed_in[queue] = delayed_in.get(queue, 0) + 1
                    else:
                        expected = int(theirs.ext_fields["queueOffset"]) - delayed_in.get(queue, 0)
                        assert ours.ext_fields["queueOffset"] == str(expected), where
                    assert len(ours.ext_fields["msgId"].split(",")) == len(theirs.ext_fields["msgId"].split(","))
                if theirs.body:
                    # route data, legacy form as the C++ client (version 63) gets it
                    assert b"{0:" in ours.body, where
                    mine, recorded = legacy_json(ours.body.decode()), legacy_json(theirs.body.decode())
                    if request.ext_fields["topic"] == "TBW102":
                        # A Java broker registers its auto-create key topic with perm 7
                        # (RW + inherit); the recording server said 6.
                        assert [q.pop("perm") for q in mine["queueDatas"]] == [7]
                        assert [q.pop("perm") for q in recorded["queueDatas"]] == [6]
                    assert mine["queueDatas"] == recorded["queueDatas"], where
                    assert mine["brokerDatas"][0]["brokerAddrs"] == {"0": broker.broker_addrs["broker-a"]}
                else:
                    assert ours.body == b"", where
            assert len(broker.messages()) == 8  # six singles and a batch of two
            assert len(broker.heartbeats) == 2 and broker.heartbeats[0][2] == LanguageCode.CPP
            assert broker.unregistered == [("broker-a", "14590-127.0.0.1@DEFAULT", "golden-group", "")]
            for peer in peers.values():
                await peer.close()

    run(main())
