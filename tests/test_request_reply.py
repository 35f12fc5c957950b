"""Request-reply messaging end to end on the embedded broker (issue 12).

A requester's ``request`` sends a message carrying ``CORRELATION_ID``,
``REPLY_TO_CLIENT`` and ``TTL``; a replier that got it from the broker
answers with ``create_reply_message`` through its own producer, which sends
SEND_REPLY_MESSAGE(_V2); the broker pushes the reply to the requester
(PUSH_REPLY_MESSAGE_TO_CLIENT), whose ``request`` returns it.  Java model:
``DefaultMQProducerImpl.request``, ``MessageUtil.createReplyMessage``,
``ReplyMessageProcessor``, ``ClientRemotingProcessor.receiveReplyMessage``.

The replier here reads requests from the broker's store (the push consumer
is another branch's work): ``broker.messages(topic)`` holds each message
with the properties a consumer would get.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable

import pytest

from rmqwire import AsyncProducer, Message, Producer, ReplyMessage, SendStatus, create_reply_message
from rmqwire.broker import CLUSTER_NAME, StoredMessage
from rmqwire.codec import MessageExt, RequestCode, RemotingCommand, ResponseCode, decode_messages
from rmqwire.codec.errors import (
    BrokerSystemError,
    InvalidMessageError,
    NoRouteError,
    ReplyTimeoutError,
    RequestTimeoutError,
)
from rmqwire.codec.headers import ReplyMessageRequestHeader
from rmqwire.codec.message import decode_properties, encode_properties
from rmqwire.request_reply import pending_requests, receive_reply_message, reply_topic
from rmqwire.testing import LocalBroker

from golden_support import golden_commands
from producer_support import eventually, producer_for, run

REPLY_TOPIC = f"{CLUSTER_NAME}_REPLY_TOPIC"


def as_received(stored: StoredMessage) -> Message:
    """A stored request as the replier's consumer would hand it over: its
    body and every property the broker stored (CLUSTER included)."""
    return Message(stored.topic, stored.payload, properties=stored.properties)


async def next_request(broker: LocalBroker, topic: str, seen: int = 0) -> StoredMessage:
    """The ``seen``-th message stored in ``topic``, once it is there."""
    assert await eventually(lambda: len(broker.messages(topic)) > seen, timeout=5.0)
    return broker.messages(topic)[seen]


def reply_codes(broker: LocalBroker) -> list[int]:
    return [cmd.code for _, _, cmd in broker.requests if cmd.code in (324, 325)]


def run_pair(
    scenario: Callable[[LocalBroker, AsyncProducer, AsyncProducer], Awaitable[None]],
    *,
    replier_options: dict[str, object] | None = None,
    requester_options: dict[str, object] | None = None,
) -> None:
    """``scenario(broker, requester, replier)`` with both producers started."""

    async def main(broker: LocalBroker) -> None:
        requester = producer_for(broker, "requester-group", **(requester_options or {}))
        replier = producer_for(broker, "replier-group", **(replier_options or {}))
        async with requester, replier:
            assert requester.client_id != replier.client_id
            await scenario(broker, requester, replier)

    run(main)


# --------------------------------------------------------------------------- the round trip


def test_request_returns_the_reply_the_broker_pushed_back() -> None:
    async def scenario(broker: LocalBroker, requester: AsyncProducer, replier: AsyncProducer) -> None:
        async def answer() -> None:
            stored = await next_request(broker, "RequestTopic")
            result = await replier.send(create_reply_message(as_received(stored), b"pong: " + stored.payload))
            assert result.status is SendStatus.SEND_OK

        replying = asyncio.create_task(answer())
        reply = await requester.request(Message("RequestTopic", b"ping", tags="TagA"), timeout=5.0)
        await replying

        stored = broker.messages("RequestTopic")[0]
        props = stored.properties
        # the request: an ordinary message with the three request properties
        uuid.UUID(props["CORRELATION_ID"])  # a UUID, as CorrelationIdUtil makes
        assert props["REPLY_TO_CLIENT"] == requester.client_id
        assert props["TTL"] == "5000"
        assert props["TAGS"] == "TagA" and props["CLUSTER"] == CLUSTER_NAME
        assert stored.request_code == RequestCode.SEND_MESSAGE_V2

        assert isinstance(reply, MessageExt)
        assert reply.body == b"pong: ping"
        assert reply.topic == REPLY_TOPIC == reply_topic(CLUSTER_NAME)
        assert reply.properties["CORRELATION_ID"] == props["CORRELATION_ID"]
        assert reply.properties["REPLY_TO_CLIENT"] == requester.client_id
        assert reply.properties["TTL"] == "5000"
        assert reply.properties["MSG_TYPE"] == "reply"
        assert int(reply.properties["PUSH_REPLY_TIME"]) <= int(reply.properties["ARRIVE_TIME"])
        assert reply.store_host == broker.broker_addrs["broker-a"]
        assert reply.broker_name == "broker-a"
        # the replier's send went out as SEND_REPLY_MESSAGE_V2 and nothing is left pending
        assert reply_codes(broker) == [RequestCode.SEND_REPLY_MESSAGE_V2]
        assert len(pending_requests(requester.instance)) == 0

    run_pair(scenario)


def test_a_request_in_a_namespace_goes_to_the_namespaced_topic_and_its_reply_comes_back_bare() -> None:
    async def scenario(broker: LocalBroker, requester: AsyncProducer, replier: AsyncProducer) -> None:
        async def answer() -> None:
            stored = await next_request(broker, "ns1%RequestTopic")
            bare = Message("RequestTopic", stored.payload, properties=stored.properties)
            await replier.send(create_reply_message(bare, b"pong"))

        replying = asyncio.create_task(answer())
        reply = await requester.request(Message("RequestTopic", b"ping"), timeout=5.0)
        await replying
        assert reply.body == b"pong"
        assert reply.topic == REPLY_TOPIC  # stored and pushed as ns1%..._REPLY_TOPIC
        assert [m.topic for m in broker.messages(f"ns1%{REPLY_TOPIC}")] == [f"ns1%{REPLY_TOPIC}"]
        # the route looked up was the namespaced one, never the bare name
        looked_up = [cmd.ext_fields.get("topic") for _, _, cmd in broker.requests if cmd.code == RequestCode.GET_ROUTEINFO_BY_TOPIC]
        assert "ns1%RequestTopic" in looked_up and "RequestTopic" not in looked_up

    run_pair(scenario, requester_options={"namespace": "ns1"}, replier_options={"namespace": "ns1"})


def test_the_broker_keeps_a_copy_of_each_reply_in_the_reply_topic() -> None:
    async def scenario(broker: LocalBroker, requester: AsyncProducer, replier: AsyncProducer) -> None:
        async def answer() -> None:
            stored = await next_request(broker, "RequestTopic")
            reply = create_reply_message(as_received(stored), b"kept", keys="reply-key")
            result = await replier.send(reply)
            kept = broker.messages(REPLY_TOPIC)
            assert len(kept) == 1 and kept[0].payload == b"kept" and kept[0].keys == "reply-key"
            assert (result.offset_msg_id, result.queue_offset) == (kept[0].offset_msg_id, 0)
            # stored as it was sent: no CLUSTER (ReplyMessageProcessor does not add it)
            assert "CLUSTER" not in kept[0].properties and kept[0].properties["MSG_TYPE"] == "reply"

        replying = asyncio.create_task(answer())
        assert (await requester.request(Message("RequestTopic", b"q"), timeout=5.0)).body == b"kept"
        await replying
        assert broker.topics()[REPLY_TOPIC] == 1

    run_pair(scenario)


def test_without_storing_replies_the_replier_is_answered_msg_id_0() -> None:
    async def scenario(broker: LocalBroker, requester: AsyncProducer, replier: AsyncProducer) -> None:
        broker.broker().reply.store_reply_message = False

        async def answer() -> None:
            stored = await next_request(broker, "RequestTopic")
            result = await replier.send(create_reply_message(as_received(stored), b"not kept"))
            assert (result.status, result.offset_msg_id, result.queue_offset) == (SendStatus.SEND_OK, "0", 0)

        replying = asyncio.create_task(answer())
        assert (await requester.request(Message("RequestTopic", b"q"), timeout=5.0)).body == b"not kept"
        await replying
        assert broker.messages(REPLY_TOPIC) == []

    run_pair(scenario)


def test_a_v1_producer_replies_with_send_reply_message() -> None:
    async def scenario(broker: LocalBroker, requester: AsyncProducer, replier: AsyncProducer) -> None:
        async def answer() -> None:
            stored = await next_request(broker, "RequestTopic")
            await replier.send(create_reply_message(as_received(stored), b"v1"))

        replying = asyncio.create_task(answer())
        assert (await requester.request(Message("RequestTopic", b"q"), timeout=5.0)).body == b"v1"
        await replying
        assert reply_codes(broker) == [RequestCode.SEND_REPLY_MESSAGE]

    run_pair(scenario, replier_options={"use_v2": False})


def test_a_large_reply_is_sent_compressed_and_arrives_whole() -> None:
    big = bytes(range(256)) * 40  # 10 KiB: over compress_over, so the replier compresses it

    async def scenario(broker: LocalBroker, requester: AsyncProducer, replier: AsyncProducer) -> None:
        async def answer() -> None:
            stored = await next_request(broker, "RequestTopic")
            await replier.send(create_reply_message(as_received(stored), big))

        replying = asyncio.create_task(answer())
        reply = await requester.request(Message("RequestTopic", b"q"), timeout=5.0)
        await replying
        assert reply.sys_flag & 0x1 and reply.body == big

    run_pair(scenario)


def test_concurrent_requests_each_get_their_own_reply() -> None:
    async def scenario(broker: LocalBroker, requester: AsyncProducer, replier: AsyncProducer) -> None:
        async def answer_all(n: int) -> None:
            for i in range(n):
                stored = await next_request(broker, "RequestTopic", i)
                await replier.send(create_reply_message(as_received(stored), stored.payload.upper()))

        replying = asyncio.create_task(answer_all(5))
        bodies = [f"request {i}".encode() for i in range(5)]
        replies = await asyncio.gather(*(requester.request(Message("RequestTopic", b), timeout=5.0) for b in bodies))
        await replying
        assert [r.body for r in replies] == [b.upper() for b in bodies]

    run_pair(scenario)


def test_a_request_to_a_chosen_queue_is_sent_there() -> None:
    async def scenario(broker: LocalBroker, requester: AsyncProducer, replier: AsyncProducer) -> None:
        async def answer() -> None:
            stored = await next_request(broker, "RequestTopic")
            await replier.send(create_reply_message(as_received(stored), f"from queue {stored.queue_id}"))

        queues = await requester.fetch_publish_queues("RequestTopic")
        replying = asyncio.create_task(answer())
        reply = await requester.request(Message("RequestTopic", b"q"), 5.0, queue=queues[2])
        await replying
        assert reply.body == b"from queue 2"

    run_pair(scenario)


def test_the_blocking_producer_requests_too() -> None:
    with LocalBroker.in_thread() as broker:
        stop = threading.Event()

        def replier_loop() -> None:
            with Producer("replier-group", namesrv_addr=broker.namesrv_addr) as replier:
                while not stop.wait(0.01):
                    for stored in broker.messages("BlockingRequests"):
                        replier.send(create_reply_message(as_received(stored), b"sync " + stored.payload))
                        return

        thread = threading.Thread(target=replier_loop)
        thread.start()
        try:
            with Producer("requester-group", namesrv_addr=broker.namesrv_addr) as requester:
                reply = requester.request(Message("BlockingRequests", b"hi"), 5.0)
        finally:
            stop.set()
            thread.join(10)
        assert reply.body == b"sync hi" and reply.properties["MSG_TYPE"] == "reply"


# --------------------------------------------------------------------------- failures


def test_no_reply_within_the_timeout_names_the_correlation_id_and_the_time() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker, "requester-group") as requester:
            with pytest.raises(ReplyTimeoutError) as caught:
                await requester.request(Message("Unanswered", b"anyone?"), timeout=0.3)
            correlation_id = broker.messages("Unanswered")[0].properties["CORRELATION_ID"]
            error = caught.value
            assert (error.correlation_id, error.topic, error.timeout) == (correlation_id, "Unanswered", 0.3)
            assert correlation_id in str(error) and "0.3 s" in str(error) and "<Unanswered>" in str(error)
            assert isinstance(error, RequestTimeoutError) and isinstance(error, TimeoutError)
            assert not error.retriable  # the request was delivered: retrying would ask twice
            assert len(pending_requests(requester.instance)) == 0

    run(scenario)


def test_a_request_that_cannot_be_sent_raises_the_send_error() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker, "requester-group") as requester:
            with pytest.raises(NoRouteError):
                await requester.request(Message("NoSuchTopic", b"x"), timeout=2.0)
            assert len(pending_requests(requester.instance)) == 0

    run(scenario, auto_create_topics=False)


def test_a_reply_after_the_timeout_is_taken_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(broker: LocalBroker, requester: AsyncProducer, replier: AsyncProducer) -> None:
        with pytest.raises(ReplyTimeoutError):
            await requester.request(Message("RequestTopic", b"slow"), timeout=0.2)
        stored = broker.messages("RequestTopic")[0]
        with caplog.at_level(logging.WARNING, logger="rmqwire.request_reply"):
            result = await replier.send(create_reply_message(as_received(stored), b"too late"))
        assert result.status is SendStatus.SEND_OK  # the requester still took the push
        assert any(
            "not matched any request" in r.getMessage() and stored.properties["CORRELATION_ID"] in r.getMessage()
            for r in caplog.records
        )

    run_pair(scenario)


def test_a_reply_to_a_vanished_requester_is_refused_naming_it() -> None:
    async def scenario(broker: LocalBroker) -> None:
        requester = producer_for(broker, "requester-group")
        await requester.start()
        requester_id = requester.client_id
        with pytest.raises(ReplyTimeoutError):
            await requester.request(Message("RequestTopic", b"bye"), timeout=0.2)
        await requester.shutdown()  # its connection closes: the broker has no channel of it
        stored = broker.messages("RequestTopic")[0]
        async with producer_for(broker, "replier-group", retry_times_when_send_failed=0) as replier:
            with pytest.raises(BrokerSystemError) as caught:
                await replier.send(create_reply_message(as_received(stored), b"nobody listens"))
        assert caught.value.code == ResponseCode.SYSTEM_ERROR
        assert caught.value.remark == f"push reply message fail, channel of <{requester_id}> not found."
        # stored all the same, as storeReplyMessageEnable does
        assert [m.payload for m in broker.messages(REPLY_TOPIC)] == [b"nobody listens"]

    run(scenario)


def test_a_push_the_requester_refuses_fails_the_reply() -> None:
    async def scenario(broker: LocalBroker) -> None:
        # a client that never requested anything has no 326 processor: it
        # answers REQUEST_CODE_NOT_SUPPORTED, and the broker tells the replier
        async with producer_for(broker, "bystander-group") as bystander, producer_for(
            broker, "replier-group", retry_times_when_send_failed=0
        ) as replier:
            forged = Message(
                "T", b"x", properties={"CLUSTER": CLUSTER_NAME, "REPLY_TO_CLIENT": bystander.client_id, "CORRELATION_ID": "c"}
            )
            with pytest.raises(BrokerSystemError) as caught:
                await replier.send(create_reply_message(forged, b"unwanted"))
        assert caught.value.remark == f"push reply message to {bystander.client_id}fail."  # sic, as Java

    run(scenario)


def test_a_reply_without_reply_to_client_is_refused_naming_the_property() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker, "replier-group", retry_times_when_send_failed=0) as replier:
            await replier.send(Message("Plain", b"not a request"))
            plain = broker.messages("Plain")[0]
            reply = create_reply_message(as_received(plain), b"to whom?")
            assert "REPLY_TO_CLIENT" not in reply.system_properties
            with pytest.raises(BrokerSystemError, match=r"reply message properties\[REPLY_TO_CLIENT\] is null"):
                await replier.send(reply)

    run(scenario)


# --------------------------------------------------------------------------- the reply helper


def test_create_reply_message_copies_what_the_broker_routes_by() -> None:
    request = Message(
        "Orders",
        b"request",
        properties={
            "CLUSTER": "ClusterX",
            "CORRELATION_ID": "c-1",
            "REPLY_TO_CLIENT": "10.0.0.1@1#2",
            "TTL": "3000",
            "UNIQ_KEY": "not copied",
            "color": "not copied either",
        },
    )
    reply = create_reply_message(request, "answer", tags="Done", properties={"status": "ok"})
    assert isinstance(reply, ReplyMessage) and isinstance(reply, Message)
    assert (reply.topic, reply.body, reply.tags) == ("ClusterX_REPLY_TOPIC", b"answer", "Done")
    assert reply.system_properties == {
        "MSG_TYPE": "reply",
        "CORRELATION_ID": "c-1",
        "REPLY_TO_CLIENT": "10.0.0.1@1#2",
        "TTL": "3000",
    }
    wire = reply.wire_properties()
    assert wire["status"] == "ok" and wire["MSG_TYPE"] == "reply" and wire["TAGS"] == "Done"
    assert "UNIQ_KEY" not in wire and "color" not in wire


def test_create_reply_message_needs_the_cluster_property() -> None:
    with pytest.raises(InvalidMessageError, match=r"property\[CLUSTER\] is null"):
        create_reply_message(Message("T", b"x", properties={"CORRELATION_ID": "c"}), b"y")
    with pytest.raises(InvalidMessageError, match="cannot be null"):
        create_reply_message(None, b"y")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        create_reply_message("T", b"y")  # type: ignore[arg-type]


def test_user_properties_still_may_not_use_reply_names() -> None:
    with pytest.raises(InvalidMessageError, match="CORRELATION_ID"):
        Message("T", b"x", properties={"CORRELATION_ID": "forged"}).wire_properties()


def test_a_reply_to_a_pulled_message_ext() -> None:
    """A MessageExt as a pull delivers it carries CLUSTER: the real Java
    broker's pull bodies in the golden sessions say so."""
    pulled: list[MessageExt] = []
    pending: dict[tuple[int, int], RemotingCommand] = {}
    for record, cmd in golden_commands("java-broker-4.9.8.jsonl"):
        key = (record["conn"], cmd.opaque)
        if record["direction"] == "client->server":
            pending[key] = cmd
        elif (req := pending.pop(key, None)) is not None and req.code == RequestCode.PULL_MESSAGE and cmd.body:
            pulled.extend(decode_messages(cmd.body))
    assert pulled and all(m.properties["CLUSTER"] == CLUSTER_NAME for m in pulled)
    reply = create_reply_message(pulled[0], b"re")
    assert reply.topic == "DefaultCluster_REPLY_TOPIC"


# --------------------------------------------------------------------------- the broker's CLUSTER property


def test_stored_messages_carry_the_cluster_name_as_a_java_broker_stores_them() -> None:
    java = None
    pending: dict[tuple[int, int], RemotingCommand] = {}
    for record, cmd in golden_commands("java-broker-4.9.8.jsonl"):
        key = (record["conn"], cmd.opaque)
        if record["direction"] == "client->server":
            pending[key] = cmd
        elif (req := pending.pop(key, None)) is not None and req.code == RequestCode.PULL_MESSAGE and cmd.body:
            java = java or next((m for m in decode_messages(cmd.body) if m.body == b"Hello RocketMQ 2"), None)
    assert java is not None

    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker) as producer:
            await producer.send(Message("ClusterTopic", b"Hello RocketMQ 2", tags="TagA", keys="ord-2", properties={"seq": "2"}))
            await producer.send_batch([Message("ClusterTopic", b"b1"), Message("ClusterTopic", b"b2")])
        single, *batch = broker.messages("ClusterTopic")
        assert single.properties["CLUSTER"] == java.properties["CLUSTER"] == CLUSTER_NAME
        # the same names as the Java broker stored, but WAIT (which Java leaves out)
        assert set(single.properties) - {"WAIT"} == set(java.properties)
        assert all(m.properties["CLUSTER"] == CLUSTER_NAME for m in batch)
        # the record size counts the CLUSTER entry, as Java's re-encoded properties do
        assert single.record_size == 91 + len(single.body) + len("ClusterTopic") + len(
            encode_properties(single.properties, trailing_separator=False).encode()
        )

    run(scenario)


# --------------------------------------------------------------------------- the client's 326 processor


class _Instance:
    """What receive_reply_message needs of a client instance."""

    class config:
        from rmqwire.codec import LanguageCode

        language = LanguageCode.PYTHON

    broker_addrs = {"broker-a": {0: "127.0.0.1:10911"}}


def _push(properties: str, body: bytes = b"r", **fields: object) -> RemotingCommand:
    header = ReplyMessageRequestHeader(
        producer_group="g", topic=REPLY_TOPIC, queue_id=0, born_timestamp=1, properties=properties,
        born_host="127.0.0.1:1", store_host="127.0.0.1:10911", store_timestamp=2, **fields,  # type: ignore[arg-type]
    )
    return RemotingCommand.request(RequestCode.PUSH_REPLY_MESSAGE_TO_CLIENT, header.to_ext_fields(), body, opaque=7)


def test_the_326_processor_answers_success_and_hands_the_reply_over() -> None:
    async def main() -> None:
        from rmqwire.request_reply import PendingRequests

        table = PendingRequests()
        future = table.add("c-9")
        answer = receive_reply_message(
            _Instance(), table, _push(encode_properties({"CORRELATION_ID": "c-9", "MSG_TYPE": "reply"})), "127.0.0.1:10911"  # type: ignore[arg-type]
        )
        assert (answer.code, answer.remark, answer.opaque, answer.is_response) == (ResponseCode.SUCCESS, None, 7, True)
        reply = future.result()
        assert (reply.body, reply.broker_name, reply.born_host) == (b"r", "broker-a", "127.0.0.1:1")
        assert "ARRIVE_TIME" in reply.properties and "c-9" not in table

    asyncio.run(main())


def test_the_326_processor_answers_system_error_for_a_push_that_does_not_decode() -> None:
    async def main() -> None:
        from rmqwire.request_reply import PendingRequests

        bad = RemotingCommand.request(RequestCode.PUSH_REPLY_MESSAGE_TO_CLIENT, {"topic": "T"}, b"x", opaque=3)
        answer = receive_reply_message(_Instance(), PendingRequests(), bad, "127.0.0.1:10911")  # type: ignore[arg-type]
        assert (answer.code, answer.remark) == (ResponseCode.SYSTEM_ERROR, "process reply message fail")

    asyncio.run(main())


def test_the_pushed_header_carries_the_replys_properties_and_the_push_time() -> None:
    async def scenario(broker: LocalBroker, requester: AsyncProducer, replier: AsyncProducer) -> None:
        pushes: list[RemotingCommand] = []
        pending_requests(requester.instance)  # registers the 326 processor, which the spy wraps
        original = requester.instance.processors[RequestCode.PUSH_REPLY_MESSAGE_TO_CLIENT]

        async def spy(cmd: RemotingCommand, addr: str) -> RemotingCommand | None:
            pushes.append(cmd)
            return await original(cmd, addr)

        async def answer() -> None:
            stored = await next_request(broker, "RequestTopic")
            await replier.send(create_reply_message(as_received(stored), b"seen"))

        replying = asyncio.create_task(answer())
        requester.instance.register_processor(RequestCode.PUSH_REPLY_MESSAGE_TO_CLIENT, spy)
        await requester.request(Message("RequestTopic", b"q"), timeout=5.0)
        await replying
        (push,) = pushes
        header = ReplyMessageRequestHeader.from_command(push)
        assert header.topic == REPLY_TOPIC and header.producer_group == "replier-group"
        assert header.store_host == broker.broker_addrs["broker-a"]
        props = decode_properties(header.properties or "")
        assert {"MSG_TYPE", "CORRELATION_ID", "REPLY_TO_CLIENT", "TTL", "PUSH_REPLY_TIME", "UNIQ_KEY"} <= set(props)
        assert push.body == b"seen" and push.language.name == "JAVA"

    run_pair(scenario)


# --------------------------------------------------------------------------- with a real push consumer


def test_a_push_consumer_answers_requests_with_create_reply_message() -> None:
    """The whole Java flow: the replier is a push consumer of the request
    topic whose listener sends ``create_reply_message`` of what it got."""
    push = pytest.importorskip("rmqwire.consumer.push", reason="the push consumer (issue 11) is not merged yet")
    from rmqwire import ConsumeFromWhere, ConsumeStatus

    async def scenario(broker: LocalBroker) -> None:
        requester = producer_for(broker, "requester-group")
        replier = producer_for(broker, "replier-group")
        consumer = push.AsyncPushConsumer(
            "replier-consumers",
            namesrv_addr=broker.namesrv_addr,
            consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
        )
        consumer.subscribe("PushRequests", "*")
        received: list[MessageExt] = []

        @consumer.register_listener
        async def on_messages(msgs: list[MessageExt]) -> ConsumeStatus:
            for msg in msgs:
                received.append(msg)
                await replier.send(create_reply_message(msg, b"consumed " + msg.body))
            return ConsumeStatus.CONSUME_SUCCESS

        async with requester, replier, consumer:
            reply = await requester.request(Message("PushRequests", b"order 7"), timeout=15.0)
        assert reply.body == b"consumed order 7"
        (request,) = received
        assert request.properties["CLUSTER"] == CLUSTER_NAME
        assert reply.properties["CORRELATION_ID"] == request.properties["CORRELATION_ID"]

    run(scenario, topics=["PushRequests"])  # routable before the consumer starts
