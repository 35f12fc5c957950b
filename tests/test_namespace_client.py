"""Producers and consumers in a namespace, on LocalBroker: what goes on the
wire is ``namespace%name``, what user code gets back is the bare name.

(``test_namespace.py`` holds the naming rules themselves, ``codec.namespace``;
``test_namespace_wire.py`` compares the frames with the real Java client's.)
"""

from __future__ import annotations

import asyncio

import pytest

from consumer_helpers import Collector, eventually, run
from rmqwire import (
    AsyncLitePullConsumer,
    AsyncProducer,
    AsyncPushConsumer,
    AsyncTransactionProducer,
    ConsumeFromWhere,
    ConsumeStatus,
    LocalTransactionState,
    Message,
    MessageQueue,
    Producer,
    PushConsumer,
    SendResult,
    SendStatus,
)
from rmqwire.codec.errors import ConfigError, InvalidMessageError
from rmqwire.codec.headers import SendMessageRequestHeader
from rmqwire.codec.message import decode_properties
from rmqwire.codec.store import MessageExt
from rmqwire.namespacing import ENV_NAMESPACE, Namespace, instance_id_of_endpoint, resolve_namespace
from rmqwire.testing import LocalBroker

NS = "ns1"


@pytest.fixture(autouse=True)
def _no_namespace_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_NAMESPACE, raising=False)


def producer(broker: LocalBroker, group: str = "pg", **kwargs: object) -> AsyncProducer:
    return AsyncProducer(group, namesrv_addr=broker.namesrv_addr, **kwargs)  # type: ignore[arg-type]


def push(broker: LocalBroker, listener: Collector, group: str = "cg", topic: str = "T", **kwargs: object) -> AsyncPushConsumer:
    kwargs.setdefault("consume_from_where", ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET)
    consumer = AsyncPushConsumer(group, namesrv_addr=broker.namesrv_addr, **kwargs)  # type: ignore[arg-type]
    consumer.subscribe(topic, "*")
    consumer.register_listener(listener)
    return consumer


def sends(broker: LocalBroker) -> list[SendMessageRequestHeader]:
    return [SendMessageRequestHeader.from_command(cmd) for _, _, cmd in broker.requests if cmd.code in (10, 310, 320)]


# --------------------------------------------------------------------------- which namespace


def test_the_option_wins_over_the_environment_and_empty_means_none() -> None:
    env = {ENV_NAMESPACE: "fromenv"}
    assert resolve_namespace(None, environ=env) == "fromenv"
    assert resolve_namespace("opt", environ=env) == "opt"
    assert resolve_namespace("", environ=env) == ""
    assert resolve_namespace(None, environ={}) == ""
    assert resolve_namespace(None, environ={ENV_NAMESPACE: ""}) == ""


def test_an_instance_endpoint_names_the_namespace_when_none_is_set() -> None:
    # ClientConfig.getNamespace: parseInstanceIdFromEndpoint of namesrvAddr
    assert instance_id_of_endpoint("http://MQ_INST_1_abc.mq.example.com:80") == "MQ_INST_1_abc"
    assert instance_id_of_endpoint("MQ_INST_1_abc.mq.example.com:80") == "MQ_INST_1_abc"
    assert instance_id_of_endpoint("127.0.0.1:9876") is None
    assert resolve_namespace(None, "MQ_INST_1_abc.mq.example.com:80", environ={}) == "MQ_INST_1_abc"
    assert resolve_namespace(None, "MQ_INST_1_abc.mq.example.com:80", environ={ENV_NAMESPACE: "e"}) == "e"
    assert resolve_namespace("", "MQ_INST_1_abc.mq.example.com:80", environ={}) == ""


@pytest.mark.parametrize("bad", ["a%b", "a|b", "名字", "a b", "x.y"])
def test_a_namespace_that_would_not_unwrap_again_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="namespace"):
        resolve_namespace(bad)
    with pytest.raises(ConfigError, match="namespace"):
        AsyncProducer("pg", namesrv_addr="127.0.0.1:9876", namespace=bad)
    with pytest.raises(ConfigError, match="namespace"):
        AsyncPushConsumer("cg", namesrv_addr="127.0.0.1:9876", namespace=bad)


def test_a_namespace_must_be_a_string() -> None:
    with pytest.raises(ConfigError, match="str"):
        resolve_namespace(42)  # type: ignore[arg-type]


def test_the_group_goes_on_the_wire_wrapped_and_the_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    assert AsyncProducer("pg", namesrv_addr="127.0.0.1:9876", namespace=NS).group == "ns1%pg"
    monkeypatch.setenv(ENV_NAMESPACE, "envns")
    for client in (
        AsyncProducer("pg", namesrv_addr="127.0.0.1:9876"),
        AsyncPushConsumer("pg", namesrv_addr="127.0.0.1:9876"),
        AsyncLitePullConsumer("pg", namesrv_addr="127.0.0.1:9876"),
    ):
        assert (client.namespace, client.group_name if hasattr(client, "group_name") else client.group) == ("envns", "envns%pg")
    assert AsyncProducer("pg", namesrv_addr="127.0.0.1:9876", namespace="other").group == "other%pg"
    assert AsyncProducer("pg", namesrv_addr="127.0.0.1:9876", namespace="").group == "pg"


# --------------------------------------------------------------------------- the renamings


def test_system_names_and_an_empty_namespace_are_left_alone() -> None:
    ns = Namespace(NS)
    for system in ("TBW102", "SCHEDULE_TOPIC_XXXX", "RMQ_SYS_TRANS_HALF_TOPIC", "rmq_sys_anything", "CID_RMQ_SYS_TRACE"):
        assert ns.wrap(system) == system and ns.unwrap(system) == system
    assert ns.wrap("T") == "ns1%T" and ns.wrap("ns1%T") == "ns1%T"
    assert ns.unwrap("ns1%T") == "T" and ns.unwrap("other%T") == "other%T"
    assert ns.wrap("%RETRY%cg") == "%RETRY%ns1%cg" and ns.retry_topic("cg") == "%RETRY%ns1%cg"
    assert ns.unwrap("%DLQ%ns1%cg") == "%DLQ%cg"
    none = Namespace()
    assert not none and none.wrap("T") == "T" and none.unwrap("ns1%T") == "ns1%T"
    mq = MessageQueue("T", "b", 1)
    assert none.wrap_queue(mq) is mq and none.instance_id_property() == {}


def test_queues_results_and_messages_come_back_bare() -> None:
    ns = Namespace(NS)
    wire = MessageQueue("ns1%T", "broker-a", 2)
    assert ns.unwrap_queue(wire) == MessageQueue("T", "broker-a", 2)
    assert ns.wrap_queue(MessageQueue("T", "broker-a", 2)) == wire
    result = SendResult(SendStatus.SEND_OK, "id", "off", wire, 7)
    assert ns.unwrap_result(result).message_queue.topic == "T"


def test_a_wrapped_topic_is_checked_again_for_length() -> None:
    ns = Namespace("n" * 20)
    topic = "t" * 120  # a valid topic, too long once "n...n%" is in front
    with pytest.raises(InvalidMessageError, match="longer"):
        ns.wrap_topic(topic)


# --------------------------------------------------------------------------- producing


def test_a_send_goes_to_the_namespaced_topic_and_the_result_names_the_bare_one() -> None:
    async def main(broker: LocalBroker) -> None:
        async with producer(broker, namespace=NS) as p:
            result = await p.send(Message("T", b"hello", tags="A", keys="k1"))
            assert result.status is SendStatus.SEND_OK
            assert result.message_queue.topic == "T"
            queues = await p.fetch_publish_queues("T")
            assert {mq.topic for mq in queues} == {"T"} and len(queues) == 4
            # a queue from the results or the listing is the user's, bare; it is wrapped on the way out
            again = await p.send(Message("T", b"to queue 2"), queue=MessageQueue("T", "broker-a", 2))
            assert again.message_queue == MessageQueue("T", "broker-a", 2)
            await p.send_oneway(Message("T", b"oneway"))
        stored = broker.messages("ns1%T")
        assert sorted(m.payload for m in stored) == [b"hello", b"oneway", b"to queue 2"]
        assert all(m.properties["INSTANCE_ID"] == NS for m in stored)
        assert [m.queue_id for m in stored if m.payload == b"to queue 2"] == [2]
        assert broker.messages("T") == []
        assert {(h.producer_group, h.topic, h.default_topic) for h in sends(broker)} == {("ns1%pg", "ns1%T", "TBW102")}

    run(main)


def test_a_selector_is_shown_the_bare_queues() -> None:
    async def main(broker: LocalBroker) -> None:
        shown: list[list[MessageQueue]] = []

        def last_queue(queues: list[MessageQueue], msg: Message, arg: object) -> MessageQueue:
            shown.append(queues)
            return queues[-1]

        async with producer(broker, namespace=NS) as p:
            result = await p.send(Message("T", b"ordered"), selector=last_queue, arg=1)
        assert {mq.topic for mq in shown[0]} == {"T"}
        assert result.message_queue == shown[0][-1]
        assert [(m.topic, m.queue_id) for m in broker.messages("ns1%T")] == [("ns1%T", shown[0][-1].queue_id)]

    run(main, topics=["ns1%T"])


def test_a_batch_goes_to_the_namespaced_topic() -> None:
    async def main(broker: LocalBroker) -> None:
        async with producer(broker, namespace=NS) as p:
            result = await p.send_batch([Message("T", b"one"), Message("T", b"two")])
        assert result.message_queue.topic == "T"
        assert sorted(m.payload for m in broker.messages("ns1%T")) == [b"one", b"two"]
        [header] = sends(broker)
        assert (header.topic, header.batch) == ("ns1%T", True)

    run(main, topics=["ns1%T"])


def test_two_producers_of_one_instance_keep_their_own_namespaces() -> None:
    # Java's instance would stamp both with its first member's namespace
    async def main(broker: LocalBroker) -> None:
        a = producer(broker, namespace="a", instance_name="shared")
        b = producer(broker, namespace="b", instance_name="shared")
        async with a, b:
            assert a.instance is b.instance
            ra = await a.send(Message("T", b"from a"))
            rb = await b.send(Message("T", b"from b"))
        assert (ra.message_queue.topic, rb.message_queue.topic) == ("T", "T")
        assert [(m.payload, m.properties["INSTANCE_ID"]) for m in broker.messages("a%T")] == [(b"from a", "a")]
        assert [(m.payload, m.properties["INSTANCE_ID"]) for m in broker.messages("b%T")] == [(b"from b", "b")]

    run(main)


def test_without_a_namespace_nothing_changes() -> None:
    async def main(broker: LocalBroker) -> None:
        async with producer(broker, namespace="") as p:
            assert (p.namespace, p.group) == ("", "pg")
            await p.send(Message("T", b"plain"))
        [stored] = broker.messages("T")
        assert "INSTANCE_ID" not in stored.properties

    run(main, topics=["T"])


# --------------------------------------------------------------------------- consuming


def test_a_namespaced_consumer_gets_what_was_sent_in_its_namespace_with_the_bare_topic() -> None:
    async def main(broker: LocalBroker) -> None:
        async with producer(broker, namespace=NS) as p:
            await p.send(Message("T", b"inside", tags="A"))
        async with producer(broker, group="plain") as p:
            await p.send(Message("T", b"outside"))
        got = Collector()
        async with push(broker, got, namespace=NS) as consumer:
            assert consumer.group_name == "ns1%cg"
            await got.wait_for(1)
            await eventually(lambda: len(consumer.process_queues) == 5)
            assert {mq.topic for mq in consumer.process_queues} == {"T", "%RETRY%cg"}
        [msg] = got.msgs
        assert (msg.topic, msg.body, msg.tags) == ("T", b"inside", "A")
        assert sum(broker.consumer_offsets("ns1%cg", "ns1%T").values()) == 1
        assert broker.consumer_offsets("cg", "T") == {}
        [beat] = {b.consumer_data_set[0].group_name for _, b, _, _ in broker.heartbeats if b.consumer_data_set}
        assert beat == "ns1%cg"

    run(main, topics=["T", "ns1%T"])


def test_an_orderly_listener_in_a_namespace_gets_the_bare_topic_too() -> None:
    async def main(broker: LocalBroker) -> None:
        async with producer(broker, namespace=NS) as p:
            for i in range(3):
                await p.send(Message("T", b"o%d" % i), queue=MessageQueue("T", "broker-a", 0))
        got = Collector()
        consumer = AsyncPushConsumer("cg", namesrv_addr=broker.namesrv_addr, namespace=NS,
                                     consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET)
        consumer.subscribe("T", "*")
        consumer.register_listener(got, orderly=True)
        async with consumer:
            await got.wait_for(3)
        assert [(m.topic, m.body) for m in got.msgs] == [("T", b"o0"), ("T", b"o1"), ("T", b"o2")]

    run(main, topics=["T", "ns1%T"])


def test_a_retried_message_goes_through_the_namespaced_retry_topic_and_comes_back_bare() -> None:
    async def main(broker: LocalBroker) -> None:
        async with producer(broker, namespace=NS) as p:
            sent = await p.send(Message("T", b"retry me", tags="A"))
        got = Collector(lambda m: ConsumeStatus.RECONSUME_LATER if m.reconsume_times == 0 else ConsumeStatus.CONSUME_SUCCESS)
        async with push(broker, got, namespace=NS):
            await eventually(lambda: any(m.reconsume_times >= 1 for m in got.msgs), timeout=15)
        again = next(m for m in got.msgs if m.reconsume_times >= 1)
        assert (again.topic, again.body, again.msg_id) == ("T", b"retry me", sent.msg_id)
        [retried] = broker.messages("%RETRY%ns1%cg")
        assert retried.properties["RETRY_TOPIC"] == "ns1%T"
        # the send-back named the wire group and the wire topic
        back = [cmd.ext_fields for _, _, cmd in broker.requests if cmd.code == 36]
        assert [(f["group"], f["originTopic"]) for f in back] == [("ns1%cg", "ns1%T")]

    run(main, topics=["ns1%T"])


def test_a_message_past_max_reconsume_times_lands_in_the_namespaced_dlq() -> None:
    async def main(broker: LocalBroker) -> None:
        async with producer(broker, namespace=NS) as p:
            await p.send(Message("T", b"hopeless"))
        got = Collector(lambda m: ConsumeStatus.RECONSUME_LATER)
        async with push(broker, got, namespace=NS, max_reconsume_times=1):
            await eventually(lambda: len(broker.messages("%DLQ%ns1%cg")) == 1, timeout=15)
        assert {m.topic for m in got.msgs} == {"T"}
        assert [m.payload for m in broker.messages("%DLQ%ns1%cg")] == [b"hopeless"]

    run(main, topics=["ns1%T"])


def test_the_environment_namespace_is_honoured_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_NAMESPACE, "envns")

    async def main(broker: LocalBroker) -> None:
        async with producer(broker) as p:
            result = await p.send(Message("T", b"via env"))
        assert result.message_queue.topic == "T"
        assert [m.payload for m in broker.messages("envns%T")] == [b"via env"]
        got = Collector()
        async with push(broker, got):
            await got.wait_for(1)
        assert [(m.topic, m.body) for m in got.msgs] == [("T", b"via env")]
        # the option overrides it, and "" turns namespaces off
        async with producer(broker, group="pg2", namespace="") as p:
            await p.send(Message("T", b"bare"))
        async with producer(broker, group="pg3", namespace="opt") as p:
            await p.send(Message("T", b"opt"))
        assert [m.payload for m in broker.messages("T")] == [b"bare"]
        assert [m.payload for m in broker.messages("opt%T")] == [b"opt"]

    run(main)


def test_lite_pull_in_a_namespace_takes_and_returns_bare_queues_and_topics() -> None:
    async def main(broker: LocalBroker) -> None:
        async with producer(broker, namespace=NS) as p:
            for i in range(4):
                await p.send(Message("T", f"m{i}".encode()), queue=MessageQueue("T", "broker-a", i))
        changes: list[tuple[str, set[MessageQueue]]] = []
        consumer = AsyncLitePullConsumer(
            "lg", namesrv_addr=broker.namesrv_addr, namespace=NS, auto_commit=False,
            consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
            message_queue_listener=lambda topic, all_, mine: changes.append((topic, mine)),
        )
        consumer.subscribe("T", "*")
        async with consumer:
            got: list[MessageExt] = []
            while len(got) < 4:
                got += await consumer.poll(0.5)
            bare = {MessageQueue("T", "broker-a", i) for i in range(4)}
            assert {m.topic for m in got} == {"T"}
            assert consumer.assignment() == bare
            assert changes and changes[-1] == ("T", bare)
            await consumer.commit({MessageQueue("T", "broker-a", 1): 1})
            assert await consumer.committed(MessageQueue("T", "broker-a", 1)) == 1
            await consumer.seek(MessageQueue("T", "broker-a", 0), 0)
            again = await consumer.poll(5)
            assert [(m.topic, m.queue_id, m.body) for m in again] == [("T", 0, b"m0")]
        assert broker.consumer_offsets("ns1%lg", "ns1%T")[1] == 1

    run(main, topics=["ns1%T"])


def test_lite_pull_assign_takes_bare_queues() -> None:
    async def main(broker: LocalBroker) -> None:
        async with producer(broker, namespace=NS) as p:
            await p.send(Message("T", b"assigned"), queue=MessageQueue("T", "broker-a", 3))
        consumer = AsyncLitePullConsumer(
            "lg", namesrv_addr=broker.namesrv_addr, namespace=NS,
            consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
        )
        async with consumer:
            await consumer.assign([MessageQueue("T", "broker-a", 3)])
            got: list[MessageExt] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while not got and loop.time() < deadline:
                got = await consumer.poll(0.5)
            assert [(m.topic, m.body) for m in got] == [("T", b"assigned")]
            assert consumer.assignment() == {MessageQueue("T", "broker-a", 3)}
        pulls = {cmd.ext_fields["topic"] for _, _, cmd in broker.requests if cmd.code == 11}
        assert pulls == {"ns1%T"}

    run(main, topics=["ns1%T"])


def test_the_blocking_facades_take_the_namespace_too() -> None:
    with LocalBroker.in_thread(topics=["ns1%T"], delay_scale=0.01) as broker:
        with Producer("pg", namesrv_addr=broker.namesrv_addr, namespace=NS) as p:
            assert p.group == "ns1%pg"
            assert p.send(Message("T", b"blocking")).message_queue.topic == "T"
        seen: list[str] = []
        done = __import__("threading").Event()

        def listener(msgs: list[MessageExt]) -> ConsumeStatus:
            seen.extend(m.topic for m in msgs)
            done.set()
            return ConsumeStatus.CONSUME_SUCCESS

        consumer = PushConsumer("cg", namesrv_addr=broker.namesrv_addr, namespace=NS,
                                consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET)
        consumer.subscribe("T", "*")
        consumer.register_listener(listener)
        with consumer:
            assert done.wait(10)
        assert seen == ["T"]


# --------------------------------------------------------------------------- transactions


def test_a_transaction_in_a_namespace_names_the_wire_group_and_shows_bare_topics() -> None:
    async def main(broker: LocalBroker) -> None:
        executed: list[Message] = []
        checked: list[MessageExt] = []

        def execute(msg: Message, arg: object) -> LocalTransactionState:
            executed.append(msg)
            return LocalTransactionState.UNKNOW

        def check(msg: MessageExt) -> LocalTransactionState:
            checked.append(msg)
            return LocalTransactionState.COMMIT_MESSAGE

        async with AsyncTransactionProducer(
            "txg", namesrv_addr=broker.namesrv_addr, namespace=NS,
            execute_local_transaction=execute, check_local_transaction=check,
        ) as p:
            result = await p.send_in_transaction(Message("T", b"tx", keys="tx-1"))
            assert result.message_queue.topic == "T"
            await eventually(lambda: [m.keys for m in broker.messages("ns1%T")] == ["tx-1"])
        assert [m.topic for m in executed] == ["T"] and executed[0].properties["PGROUP"] == "ns1%txg"
        assert [(m.topic, m.keys) for m in checked] == [("T", "tx-1")]
        [half] = sends(broker)
        assert (half.producer_group, half.topic) == ("ns1%txg", "ns1%T")
        assert decode_properties(half.properties or "")["INSTANCE_ID"] == NS
        ends = [cmd.ext_fields["producerGroup"] for _, _, cmd in broker.requests if cmd.code == 37]
        assert ends == ["ns1%txg", "ns1%txg"]  # the unknown end, then the check's commit

    run(main, topics=["ns1%T"], transaction_check_interval=0.1, transaction_timeout=0.1)
