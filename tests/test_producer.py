"""The producer workflow against the embedded broker (issue: client).

start -> send (small, UTF-8, > 4 KiB compressed, delay, oneway, batch) ->
heartbeat -> shutdown, the state machine, the registry, timeouts and
dropped connections.  Async tests drive their own event loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any, TypeVar

import pytest
from golden_support import golden_records

from rmqwire import AsyncProducer, Message, Producer, SendStatus, ServiceState
from rmqwire.instance import REGISTRY
from rmqwire.testing import Fault, LocalBroker
from rmqwire.codec import RequestCode, SerializeType, decode
from rmqwire.codec.body import HeartbeatData
from rmqwire.codec.errors import (
    ConfigError,
    ConnectError,
    ConnectionClosedError,
    InvalidMessageError,
    MessageIllegalError,
    NoPermissionError,
    RequestTimeoutError,
    ServiceStateError,
    SystemBusyError,
    TopicNotExistError,
)
from rmqwire.codec.message import MessageSysFlag, decode_properties
from producer_support import eventually, producer_for, run

T = TypeVar("T")


# --------------------------------------------------------------------------- the workflow


def test_whole_workflow_stores_exactly_what_was_sent() -> None:
    async def scenario(broker: LocalBroker) -> None:
        producer = producer_for(broker)
        await producer.start()
        assert producer.state is ServiceState.RUNNING
        big = bytes(range(256)) * 24  # 6144 bytes, compressible
        sent = [
            Message("WorkflowTopic", b"x", tags="TagA", keys=["k1", "k2"], properties={"color": "red"}),
            Message("WorkflowTopic", "你好，RocketMQ".encode(), tags="TagB", properties={"city": "杭州"}),
            Message("WorkflowTopic", big, tags="TagC"),
            Message("WorkflowTopic", b"later", delay_level=3),
        ]
        results = [await producer.send(m) for m in sent]
        assert all(r.status is SendStatus.SEND_OK for r in results)
        await producer.send_oneway(Message("WorkflowTopic", b"oneway body", tags="TagE"))
        batch = [Message("WorkflowTopic", f"batch {i}".encode(), keys=f"b{i}") for i in range(3)]
        batch_result = await producer.send_batch(batch)
        assert batch_result.status is SendStatus.SEND_OK
        assert len(batch_result.msg_id.split(",")) == 3
        assert await producer.instance.send_heartbeat_to_all_brokers() == 1
        await producer.shutdown()
        assert producer.state is ServiceState.SHUTDOWN_ALREADY

        for _ in range(50):  # the oneway send has no answer to wait for
            if len(broker.messages("WorkflowTopic")) == 8:
                break
            await asyncio.sleep(0.01)
        stored = broker.messages("WorkflowTopic")
        assert len(stored) == 8
        by_body = {m.payload: m for m in stored}
        first = by_body[b"x"]
        assert first.tags == "TagA" and first.keys == "k1 k2" and first.properties["color"] == "red"
        assert first.properties["WAIT"] == "true"
        assert first.uniq_key == results[0].msg_id
        assert first.offset_msg_id == results[0].offset_msg_id
        assert by_body["你好，RocketMQ".encode()].properties["city"] == "杭州"
        compressed = by_body[big]
        assert compressed.sys_flag & MessageSysFlag.COMPRESSED_FLAG
        assert compressed.body != big and len(compressed.body) < len(big)
        assert by_body[b"later"].delay_level == 3
        assert by_body[b"oneway body"].tags == "TagE"
        assert {by_body[f"batch {i}".encode()].keys for i in range(3)} == {"b0", "b1", "b2"}
        assert {by_body[f"batch {i}".encode()].uniq_key for i in range(3)} == set(batch_result.msg_id.split(","))
        assert len({m.uniq_key for m in stored}) == 8

        # heartbeats list the group and CLIENT_INNER_PRODUCER; shutdown unregisters both
        groups = {p.group_name for _, hb, *_ in broker.heartbeats for p in hb.producer_data_set}
        assert groups == {"test-group", "CLIENT_INNER_PRODUCER"}
        unregistered = [(cid, group) for _, cid, group, _ in broker.unregistered]
        assert unregistered == [(producer.client_id, "test-group"), (producer.client_id, "CLIENT_INNER_PRODUCER")]
        assert broker.connections == 0 or await eventually(lambda: broker.connections == 0)

    run(scenario, delay_scale=0.01)  # the delayed send comes out of SCHEDULE_TOPIC_XXXX in 0.1 s



def test_a_batch_of_plain_and_dressed_messages_stores_each_ones_properties() -> None:
    # plain messages take the cached-prefix path, the others encode their own dict
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker) as producer:
            batch = [
                Message("BatchMix", b"plain"),
                Message("BatchMix", b"tagged", tags="TagA"),
                Message("BatchMix", b"keyed", keys=["k1", "k2"], flag=7),
                Message("BatchMix", b"dressed", tags="TagB", properties={"color": "red"}),
                Message("BatchMix", b"tagged again", tags="TagA"),
            ]
            result = await producer.send_batch(batch)
        by_body = {m.payload: m for m in broker.messages("BatchMix")}
        assert [by_body[m.body].uniq_key for m in batch] == result.msg_id.split(",")
        for msg in batch:
            stored = by_body[msg.body]
            want = dict(msg.wire_properties(), UNIQ_KEY=stored.uniq_key)
            assert {k: v for k, v in stored.properties.items() if k in want} == want
        assert by_body[b"keyed"].keys == "k1 k2" and by_body[b"dressed"].properties["color"] == "red"

    run(scenario)

def test_oneway_send_sets_the_oneway_flag_and_gets_no_reply() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker) as producer:
            await producer.send_oneway(Message("OnewayTopic", b"o"))
            await eventually(lambda: bool(broker.messages("OnewayTopic")))
        sends = [cmd for _, _, cmd in broker.requests if cmd.code == RequestCode.SEND_MESSAGE_V2]
        assert len(sends) == 1 and sends[0].is_oneway and sends[0].flag == 2

    run(scenario)


def test_send_to_a_new_topic_goes_through_tbw102_and_auto_creates_it() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker) as producer:
            result = await producer.send(Message("BrandNewTopic", b"first"))
            assert result.status is SendStatus.SEND_OK
            queues = await producer.fetch_publish_queues("BrandNewTopic")
            assert len(queues) == 4
        sends = [cmd for _, _, cmd in broker.requests if cmd.code == RequestCode.SEND_MESSAGE_V2]
        assert sends[0].ext_fields["c"] == "TBW102" and sends[0].ext_fields["d"] == "4"

    run(scenario)


def test_orderly_send_to_a_chosen_queue() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker) as producer:
            queues = await producer.fetch_publish_queues("OrderTopic")
            target = queues[2]
            results = [await producer.send(Message("OrderTopic", f"o{i}".encode()), queue=target) for i in range(3)]
        assert {r.message_queue for r in results} == {target}
        assert [r.queue_offset for r in results] == [0, 1, 2]

    run(scenario)


# --------------------------------------------------------------------------- wire shape


def _golden_frames() -> list[dict[str, Any]]:
    import json

    return golden_records("cpp.jsonl")


_ACL_KEYS = {"AccessKey", "Signature", "OnsChannel"}
_V1_FOR_V2 = {
    "a": "producerGroup", "b": "topic", "c": "defaultTopic", "d": "defaultTopicQueueNums", "e": "queueId",
    "f": "sysFlag", "g": "bornTimestamp", "h": "flag", "i": "properties", "j": "reconsumeTimes",
    "k": "unitMode", "m": "batch", "n": "bname",
}


def test_frames_have_the_shape_of_the_real_cpp_clients() -> None:
    golden = [decode(bytes.fromhex(f["frame_hex"])) for f in _golden_frames() if f["direction"] == "client->server"]
    by_code: dict[int, list[Any]] = {}
    for cmd in golden:
        by_code.setdefault(cmd.code, []).append(cmd)

    tiny = next(f["driver_input"] for f in _golden_frames() if (f["driver_input"] or {}).get("case") == "tiny-body")
    message = Message(
        tiny["topic"], bytes.fromhex(tiny["body_hex"]), tags=tiny["tags"], keys=tiny["keys"], properties=tiny["properties"]
    )
    captured: list[Any] = []

    async def capture(broker: LocalBroker) -> None:
        async with producer_for(broker, group="golden-group", use_v2=False) as v1:
            await v1.send(message)
        async with producer_for(broker, group="golden-group2") as v2:
            await v2.send(message)
        captured.extend(cmd for _, _, cmd in broker.requests)

    run(capture)
    ours: dict[int, list[Any]] = {}
    for cmd in captured:
        ours.setdefault(cmd.code, []).append(cmd)

    # the same request codes as the real client (plus V2, which it cannot send)
    assert set(by_code) <= set(ours)
    assert RequestCode.SEND_MESSAGE_V2 in ours

    # route lookups: the same header keys
    assert {k for c in by_code[105] for k in c.ext_fields} - _ACL_KEYS == {k for c in ours[105] for k in c.ext_fields}
    # SEND_MESSAGE V1: every key the C++ client sends, named the same
    cpp_send = by_code[RequestCode.SEND_MESSAGE][0]
    our_send = ours[RequestCode.SEND_MESSAGE][0]
    assert set(cpp_send.ext_fields) - _ACL_KEYS <= set(our_send.ext_fields)
    # V2 carries the same fields under the one-letter names
    our_v2 = ours[RequestCode.SEND_MESSAGE_V2][0]
    assert {_V1_FOR_V2[k] for k in our_v2.ext_fields} >= set(cpp_send.ext_fields) - _ACL_KEYS
    # properties: the same encoding (name\x01value\x02), same system names
    cpp_props = decode_properties(cpp_send.ext_fields["properties"])
    our_props = decode_properties(our_send.ext_fields["properties"])
    assert set(cpp_props) == set(our_props) == {"KEYS", "TAGS", "UNIQ_KEY", "WAIT", *tiny["properties"]}
    assert {k: our_props[k] for k in ("KEYS", "TAGS", "WAIT")} == {k: cpp_props[k] for k in ("KEYS", "TAGS", "WAIT")}
    assert len(our_props["UNIQ_KEY"]) == len(cpp_props["UNIQ_KEY"]) == 32
    # heartbeat body: the same JSON keys, the group listed
    cpp_hb = HeartbeatData.from_json(by_code[RequestCode.HEART_BEAT][0].body)
    our_hb = HeartbeatData.from_json(ours[RequestCode.HEART_BEAT][0].body)
    assert cpp_hb.producer_data_set[0].group_name == "golden-group"
    assert "golden-group" in {p.group_name for p in our_hb.producer_data_set}
    # unregister: clientID and producerGroup, as the C++ client sends them
    cpp_unreg = by_code[RequestCode.UNREGISTER_CLIENT][0]
    our_unreg = ours[RequestCode.UNREGISTER_CLIENT][0]
    assert {"clientID", "producerGroup"} <= set(our_unreg.ext_fields) <= set(cpp_unreg.ext_fields)
    # requests are flag 0 and JSON by default, like the C++ client's
    assert all(c.flag == 0 and c.serialize_type is SerializeType.JSON for c in captured)


def test_rocketmq_binary_headers_on_request() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker, serialize_type=SerializeType.ROCKETMQ) as producer:
            result = await producer.send(Message("BinTopic", b"binary header"))
            assert result.status is SendStatus.SEND_OK
        assert all(cmd.serialize_type is SerializeType.ROCKETMQ for _, _, cmd in broker.requests)

    run(scenario)


# --------------------------------------------------------------------------- state machine


def test_start_twice_fails_and_start_after_shutdown_fails() -> None:
    async def scenario(broker: LocalBroker) -> None:
        producer = producer_for(broker)
        await producer.start()
        with pytest.raises(ServiceStateError, match="maybe started once"):
            await producer.start()
        await producer.shutdown()
        await producer.shutdown()  # idempotent
        assert producer.state is ServiceState.SHUTDOWN_ALREADY
        with pytest.raises(ServiceStateError):
            await producer.start()
        with pytest.raises(ServiceStateError):
            await producer.send(Message("T", b"x"))

    run(scenario)


@pytest.mark.parametrize("group", ["", "   ", "bad group", "g" * 256, "DEFAULT_PRODUCER", "naïve"])
def test_bad_groups_fail_start_and_leave_start_failed(group: str) -> None:
    async def scenario(broker: LocalBroker) -> None:
        producer = producer_for(broker, group=group)
        with pytest.raises(ConfigError):
            await producer.start()
        assert producer.state is ServiceState.START_FAILED
        with pytest.raises(ServiceStateError):
            await producer.start()

    run(scenario)


def test_group_of_255_characters_is_allowed() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker, group="g" * 255) as producer:
            assert producer.state is ServiceState.RUNNING

    run(scenario)


def test_duplicate_group_on_one_instance_fails_and_returns_to_create_just() -> None:
    async def scenario(broker: LocalBroker) -> None:
        first = producer_for(broker, instance_name="shared")
        second = producer_for(broker, instance_name="shared")
        other = producer_for(broker, group="other-group", instance_name="shared")
        await first.start()
        with pytest.raises(ConfigError, match="has been created before"):
            await second.start()
        assert second.state is ServiceState.CREATE_JUST
        await other.start()
        assert other.instance is first.instance  # one client instance per client id
        hb = HeartbeatData.from_json(
            [cmd for _, _, cmd in broker.requests if cmd.code == RequestCode.HEART_BEAT][-1].body
        )
        assert {p.group_name for p in hb.producer_data_set} == {"test-group", "other-group", "CLIENT_INNER_PRODUCER"}
        await other.shutdown()
        assert first.instance.state is ServiceState.RUNNING  # still used by `first`
        await first.shutdown()
        assert REGISTRY.get(first.client_id) is None

    run(scenario)


def test_default_instance_name_becomes_pid_and_client_id_has_ip_and_unit() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker, unit_name="unitA", client_ip="10.1.2.3") as producer:
            ip, instance, unit = producer.client_id.split("@")
            assert ip == "10.1.2.3" and unit == "unitA"
            assert instance.split("#")[0] == str(os.getpid())

    run(scenario)


def test_invalid_messages_are_rejected_before_sending() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker, max_message_size=1024) as producer:
            for msg in (
                Message("T", b""),
                Message("T", b"x" * 1025),
                Message("bad topic", b"x"),
                Message("t" * 128, b"x"),
                Message("SCHEDULE_TOPIC_XXXX", b"x"),
                Message("T", b"x", properties={"UNIQ_KEY": "mine"}),
                Message("T", b"x", properties={"k": "a\x01b"}),
            ):
                with pytest.raises(InvalidMessageError):
                    await producer.send(msg)
            with pytest.raises(InvalidMessageError):
                await producer.send_batch([Message("A", b"1"), Message("B", b"2")])
            with pytest.raises(InvalidMessageError):
                await producer.send_batch([Message("A", b"1", delay_level=2)])
        assert not broker.messages()

    run(scenario)


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError):
        AsyncProducer("g", namesrv_addr="nonsense")
    with pytest.raises(ConfigError):
        AsyncProducer("g", namesrv_addr="127.0.0.1:9876", send_timeout=0)
    with pytest.raises(ConfigError):
        AsyncProducer("g", namesrv_addr="127.0.0.1:9876", retry_times_when_send_failed=-1)


# --------------------------------------------------------------------------- name servers


def test_namesrv_addr_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario(broker: LocalBroker) -> None:
        monkeypatch.setenv("NAMESRV_ADDR", broker.namesrv_addr)
        async with AsyncProducer("env-group") as producer:
            assert (await producer.send(Message("EnvTopic", b"x"))).status is SendStatus.SEND_OK

    run(scenario)


def test_namesrv_addr_from_the_http_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NAMESRV_ADDR", raising=False)

    async def scenario(broker: LocalBroker) -> None:
        async with AsyncProducer("http-group", namesrv_domain=broker.http_addr) as producer:
            assert producer.instance.namesrv_addrs == (broker.namesrv_addr,)
            assert (await producer.send(Message("HttpTopic", b"x"))).status is SendStatus.SEND_OK

    run(scenario, http_port=0)


def test_unreachable_name_server_is_a_clear_error_naming_it() -> None:
    async def scenario() -> None:
        producer = AsyncProducer("g", namesrv_addr="127.0.0.1:1", request_timeout=1.0)
        with pytest.raises(ConnectError, match="127.0.0.1:1"):
            await producer.start()
        assert producer.state is ServiceState.START_FAILED
        assert REGISTRY.get(producer.client_id) is None

    asyncio.run(scenario())


def test_the_next_name_server_is_used_when_one_is_down() -> None:
    async def scenario(broker: LocalBroker) -> None:
        addrs = f"127.0.0.1:1;{broker.namesrv_addr}"
        async with AsyncProducer("g", namesrv_addr=addrs) as producer:
            assert (await producer.send(Message("NextTopic", b"x"))).status is SendStatus.SEND_OK

    run(scenario)


# --------------------------------------------------------------------------- failures


def test_a_broker_that_never_answers_times_out_within_the_send_timeout() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker, send_timeout=0.5) as producer:
            broker.inject(Fault(code=RequestCode.SEND_MESSAGE_V2, kind="swallow"))
            started = time.monotonic()
            with pytest.raises(RequestTimeoutError):
                await producer.send(Message("SilentTopic", b"x"))
            assert time.monotonic() - started < 1.5

    run(scenario)


def test_dropped_connection_mid_send_is_retried() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker) as producer:
            broker.inject(Fault(code=RequestCode.SEND_MESSAGE_V2, kind="drop", times=1))
            result = await producer.send(Message("DropTopic", b"survives"))
            assert result.status is SendStatus.SEND_OK
        assert [m.payload for m in broker.messages("DropTopic")] == [b"survives"]

    run(scenario)


def test_dropped_connection_on_every_attempt_fails_clearly() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker) as producer:
            broker.inject(Fault(code=RequestCode.SEND_MESSAGE_V2, kind="drop"))
            with pytest.raises(ConnectionClosedError):
                await producer.send(Message("DropTopic", b"lost?"))
        assert broker.messages("DropTopic") == []

    run(scenario)


@pytest.mark.parametrize(("code", "error"), [(2, SystemBusyError), (14, None)])
def test_retriable_broker_errors_are_retried(code: int, error: type[Exception] | None) -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker) as producer:
            broker.inject(Fault(code=RequestCode.SEND_MESSAGE_V2, kind="error", response_code=code, times=2))
            assert (await producer.send(Message("BusyTopic", b"x"))).status is SendStatus.SEND_OK
            broker.inject(Fault(code=RequestCode.SEND_MESSAGE_V2, kind="error", response_code=code, times=3))
            with pytest.raises(error or Exception) as info:
                await producer.send(Message("BusyTopic", b"y"))
            assert getattr(info.value, "code", None) == code

    run(scenario)


@pytest.mark.parametrize(("code", "error"), [(16, NoPermissionError), (17, TopicNotExistError), (13, MessageIllegalError)])
def test_non_retriable_broker_errors_surface_at_once(code: int, error: type[Exception]) -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker) as producer:
            await producer.send(Message("PermTopic", b"warm up the route"))
            broker.inject(Fault(code=RequestCode.SEND_MESSAGE_V2, kind="error", response_code=code, remark="nope", times=1))
            with pytest.raises(error) as info:
                await producer.send(Message("PermTopic", b"x"))
            assert info.value.code == code and info.value.remark == "nope"  # type: ignore[attr-defined]
            assert (await producer.send(Message("PermTopic", b"after"))).status is SendStatus.SEND_OK

    run(scenario)


# --------------------------------------------------------------------------- blocking facade, recorder


def test_blocking_producer_leaves_no_thread_behind() -> None:
    before = {t.name for t in threading.enumerate()}
    with LocalBroker.in_thread() as broker:
        with Producer("sync-group", namesrv_addr=broker.namesrv_addr) as producer:
            result = producer.send(Message("SyncTopic", b"blocking"))
            assert result.status is SendStatus.SEND_OK
            producer.send_oneway(Message("SyncTopic", b"oneway"))
            assert producer.send_batch([Message("SyncTopic", b"b1"), Message("SyncTopic", b"b2")]).status is SendStatus.SEND_OK
        assert producer.state is ServiceState.SHUTDOWN_ALREADY
        producer.shutdown()
    assert "rmqwire-loop" not in {t.name for t in threading.enumerate()} - before


def test_recorder_writes_a_decodable_trace(tmp_path: Any) -> None:
    from rmqwire.codec.trace import unpack_records

    path = tmp_path / "session.msgpack"

    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker, trace=str(path)) as producer:
            await producer.send(Message("TraceTopic", b"traced"))

    run(scenario)
    records = list(unpack_records(path.read_bytes()))
    codes = [(r.direction, r.role, r.expect["code"]) for r in records if r.expect]
    assert ("client->server", "namesrv", 105) in codes
    assert ("client->server", "broker", RequestCode.SEND_MESSAGE_V2) in codes
    assert ("server->client", "broker", 0) in codes
    for r in records:
        assert decode(r.wire).opaque == r.expect["opaque"]  # type: ignore[index]
