"""The client instance (MQClientInstance): processors for broker-initiated
requests, the consumer table and its services, heartbeats, broker lookup,
name-server choice.  Against LocalBroker; intervals are made short instead
of waiting through Java's 20 s / 5 s / 30 s, and every wait is on an event
with a bounded timeout."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from rmqwire import AsyncProducer, ConsumeFromWhere, ConsumeType, MessageModel, MessageQueue
from rmqwire.codec import RequestCode, ResponseCode
from rmqwire.codec.body import SubscriptionData, TopicRouteData
from rmqwire.codec.command import RemotingCommand
from rmqwire.codec.errors import NoRouteError, RequestTimeoutError
from rmqwire.inner import ConsumerInner, ProducerInner
from rmqwire.instance import REGISTRY, ClientConfig, ClientInstance, FindBrokerResult, ServiceState
from rmqwire.namesrv import NamesrvChooser
from rmqwire.testing import LocalBroker
from producer_support import producer_for, run

TOPIC = "InstanceTopic"
BROKERS = ("broker-a", "broker-b")
WAIT = 3.0  # bound on every wait for an event


class FakeConsumer:
    """A ConsumerInner that records what the instance asks of it."""

    def __init__(self, group: str = "cg", topic: str = TOPIC) -> None:
        self.group_name = group
        self.message_model = MessageModel.CLUSTERING
        self.consume_type = ConsumeType.CONSUME_PASSIVELY
        self.consume_from_where = ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET
        self.unit_mode = False
        self.topic = topic
        self.rebalances = 0
        self.persists = 0
        self.rebalanced = asyncio.Event()
        self.persisted = asyncio.Event()
        self.subscribe_info: dict[str, set[MessageQueue]] = {}
        self.subscribe_updated = asyncio.Event()
        self.on_persist: Any = None

    def subscriptions(self) -> list[SubscriptionData]:
        return [SubscriptionData(self.topic, "*"), SubscriptionData(f"%RETRY%{self.group_name}", "*")]

    async def do_rebalance(self) -> None:
        self.rebalances += 1
        self.rebalanced.set()

    async def persist_consumer_offset(self) -> None:
        self.persists += 1
        if self.on_persist is not None:
            await self.on_persist()
        self.persisted.set()

    def update_topic_subscribe_info(self, topic: str, queues: set[MessageQueue]) -> None:
        if topic == self.topic:
            self.subscribe_info[topic] = queues
            self.subscribe_updated.set()

    def is_subscribe_topic_need_update(self, topic: str) -> bool:
        return topic == self.topic and topic not in self.subscribe_info


def config_for(broker: LocalBroker, name: str = "inst", **kwargs: Any) -> ClientConfig:
    return ClientConfig(
        client_id=f"127.0.0.1@{name}",
        namesrv_addrs=(broker.namesrv_addr,),
        namesrv_domain=None,
        namesrv_domain_subgroup="nsaddr",
        **kwargs,
    )


@asynccontextmanager
async def consumer_instance(broker: LocalBroker, consumer: FakeConsumer, **kwargs: Any) -> AsyncIterator[ClientInstance]:
    """A started instance with ``consumer`` registered and the brokers known."""
    instance = REGISTRY.get_or_create(config_for(broker, **kwargs))
    assert instance.register_consumer(consumer.group_name, consumer)
    await instance.start()
    try:
        await instance.fetch_subscribe_queues(consumer.topic)
        yield instance
    finally:
        if consumer.group_name in instance.consumers:
            await instance.unregister_consumer(consumer.group_name)
        await instance.shutdown()


def cluster(**kwargs: Any) -> dict[str, Any]:
    return {"broker_names": BROKERS, "topics": (TOPIC,), **kwargs}


def test_fake_consumer_and_producer_satisfy_the_protocols() -> None:
    async def scenario(broker: LocalBroker) -> None:
        assert isinstance(FakeConsumer(), ConsumerInner)
        async with producer_for(broker) as producer:
            assert isinstance(producer, ProducerInner)

    run(scenario, **cluster())


# --------------------------------------------------------------------------- processors


def test_a_registered_processor_answers_the_brokers_request_with_its_opaque() -> None:
    async def scenario(broker: LocalBroker) -> None:
        seen: list[tuple[int, str]] = []

        async def running_info(cmd: RemotingCommand, addr: str) -> RemotingCommand:
            seen.append((cmd.code, addr))
            # a reply with another opaque and no response flag is fixed up
            return RemotingCommand.request(ResponseCode.SUCCESS, {"k": "v"}, b"info", opaque=77777)

        async with producer_for(broker) as producer:
            producer.instance.register_processor(RequestCode.GET_CONSUMER_RUNNING_INFO, running_info)
            request = RemotingCommand.request(RequestCode.GET_CONSUMER_RUNNING_INFO, {"consumerGroup": "g"})
            answer = await broker.request_client(producer.client_id, request, 2.0)
            assert answer.is_response and answer.code == ResponseCode.SUCCESS and answer.body == b"info"
            assert answer.ext_fields == {"k": "v"}
            assert seen == [(RequestCode.GET_CONSUMER_RUNNING_INFO, seen[0][1])]
            assert seen[0][1] in broker.broker_addrs.values()

    run(scenario, **cluster())


def test_a_code_without_processor_gets_request_code_not_supported() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with producer_for(broker) as producer:
            answer = await broker.request_client(producer.client_id, RemotingCommand.request(4242), 2.0)
            assert answer.code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED
            assert "4242" in (answer.remark or "")
            producer.instance.register_processor(4242, _answer_ok)
            assert (await broker.request_client(producer.client_id, RemotingCommand.request(4242), 2.0)).code == 0
            producer.instance.unregister_processor(4242)
            answer = await broker.request_client(producer.client_id, RemotingCommand.request(4242), 2.0)
            assert answer.code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED

    run(scenario, **cluster())


async def _answer_ok(cmd: RemotingCommand, addr: str) -> RemotingCommand:
    return cmd.reply(ResponseCode.SUCCESS)


def test_a_processor_that_raises_answers_system_error_with_the_reason_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="rmqwire.instance")

    async def scenario(broker: LocalBroker) -> None:
        async def broken(cmd: RemotingCommand, addr: str) -> RemotingCommand:
            raise KeyError("no such transaction")

        async with producer_for(broker) as producer:
            producer.instance.register_processor(4243, broken)
            answer = await broker.request_client(producer.client_id, RemotingCommand.request(4243), 2.0)
            assert answer.code == ResponseCode.SYSTEM_ERROR
            assert "KeyError" in (answer.remark or "") and "no such transaction" in (answer.remark or "")
            # the connection survives
            producer.instance.register_processor(4243, _answer_ok)
            assert (await broker.request_client(producer.client_id, RemotingCommand.request(4243), 2.0)).code == 0

    run(scenario, **cluster())
    assert any("4243" in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_processor_returning_none_sends_no_answer_and_oneway_requests_get_none() -> None:
    async def scenario(broker: LocalBroker) -> None:
        calls: list[bool] = []
        called = asyncio.Event()

        async def silent(cmd: RemotingCommand, addr: str) -> RemotingCommand | None:
            calls.append(cmd.is_oneway)
            called.set()
            return cmd.reply(ResponseCode.SUCCESS) if cmd.is_oneway else None

        async with producer_for(broker) as producer:
            producer.instance.register_processor(4244, silent)
            with pytest.raises(RequestTimeoutError):
                await broker.request_client(producer.client_id, RemotingCommand.request(4244), 0.3)
            called.clear()
            await broker.send_oneway_to_client(producer.client_id, RemotingCommand.request(4244, oneway=True))
            await asyncio.wait_for(called.wait(), WAIT)
            assert calls == [False, True]
            # nothing came back for the oneway one: the broker saw no unmatched response
            # (the connection still answers normally)
            producer.instance.register_processor(4244, _answer_ok)
            assert (await broker.request_client(producer.client_id, RemotingCommand.request(4244), 2.0)).code == 0

    run(scenario, **cluster())


# --------------------------------------------------------------------------- consumers


def test_consumer_groups_are_registered_once() -> None:
    async def scenario(broker: LocalBroker) -> None:
        consumer = FakeConsumer()
        async with consumer_instance(broker, consumer) as instance:
            assert not instance.register_consumer(consumer.group_name, FakeConsumer())
            assert instance.consumers[consumer.group_name] is consumer and instance.in_use

    run(scenario, **cluster())


def test_notify_consumer_ids_changed_rebalances_at_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rmqwire.instance")

    async def scenario(broker: LocalBroker) -> None:
        consumer = FakeConsumer("notified-group")
        async with consumer_instance(broker, consumer, rebalance_interval=600.0) as instance:
            assert await instance.send_heartbeat_to_all_brokers() == 2
            # a new member: the broker notifies the group on its own
            await asyncio.wait_for(consumer.rebalanced.wait(), WAIT)
            consumer.rebalanced.clear()
            before = consumer.rebalances
            assert await broker.notify_consumer_ids_changed("notified-group") >= 1
            await asyncio.wait_for(consumer.rebalanced.wait(), WAIT)
            assert consumer.rebalances > before

    run(scenario, **cluster())
    assert any("notified-group" in r.getMessage() for r in caplog.records)


def test_rebalance_runs_every_interval_and_when_woken() -> None:
    async def scenario(broker: LocalBroker) -> None:
        consumer = FakeConsumer()
        async with consumer_instance(broker, consumer, rebalance_interval=0.02):
            for _ in range(3):
                consumer.rebalanced.clear()
                await asyncio.wait_for(consumer.rebalanced.wait(), WAIT)
            assert consumer.rebalances >= 3
        consumer = FakeConsumer()
        async with consumer_instance(broker, consumer, rebalance_interval=600.0) as instance:
            instance.rebalance_immediately()
            await asyncio.wait_for(consumer.rebalanced.wait(), WAIT)

    run(scenario, **cluster())


def test_a_failing_consumer_does_not_stop_the_others() -> None:
    async def scenario(broker: LocalBroker) -> None:
        class Broken(FakeConsumer):
            async def do_rebalance(self) -> None:
                raise RuntimeError("boom")

        good = FakeConsumer("good")
        async with consumer_instance(broker, good, rebalance_interval=600.0) as instance:
            instance.register_consumer("bad", Broken("bad"))
            instance.consumers = {"bad": instance.consumers.pop("bad"), "good": good}
            await instance.do_rebalance()
            assert good.rebalances == 1

    run(scenario, **cluster())


def test_offsets_are_persisted_every_interval() -> None:
    async def scenario(broker: LocalBroker) -> None:
        consumer = FakeConsumer()
        async with consumer_instance(broker, consumer, persist_consumer_offset_interval=0.02):
            for _ in range(2):
                consumer.persisted.clear()
                await asyncio.wait_for(consumer.persisted.wait(), WAIT)
            assert consumer.persists >= 2

    run(scenario, **cluster())


def test_route_refresh_gives_consumers_the_readable_queues_of_their_topics() -> None:
    async def scenario(broker: LocalBroker) -> None:
        consumer = FakeConsumer()
        instance = REGISTRY.get_or_create(config_for(broker, poll_name_server_interval=0.02))
        instance.register_consumer(consumer.group_name, consumer)
        await instance.start()
        try:
            await asyncio.wait_for(consumer.subscribe_updated.wait(), WAIT)
            expected = {MessageQueue(TOPIC, b, q) for b in BROKERS for q in range(broker.queues)}
            assert consumer.subscribe_info[TOPIC] == expected
            assert await instance.fetch_subscribe_queues(TOPIC) == expected
        finally:
            await instance.shutdown()

    run(scenario, **cluster())


def test_fetch_subscribe_queues_of_an_unknown_topic_is_no_route() -> None:
    async def scenario(broker: LocalBroker) -> None:
        async with consumer_instance(broker, FakeConsumer()) as instance:
            with pytest.raises(NoRouteError, match="NoSuchTopic"):
                await instance.fetch_subscribe_queues("NoSuchTopic")

    run(scenario, **cluster(auto_create_topics=False))


def test_heartbeat_carries_consumer_data_with_java_names_and_reaches_slaves() -> None:
    async def scenario(broker: LocalBroker) -> None:
        consumer = FakeConsumer("hb-group")
        async with consumer_instance(broker, consumer) as instance:
            addrs = broker.broker_addrs
            # present broker-b's listener as broker-a's slave (id 1)
            instance.broker_addrs = {"broker-a": {0: addrs["broker-a"], 1: addrs["broker-b"]}}
            broker.clear()
            assert await instance.send_heartbeat_to_all_brokers() == 2
            assert sorted(name for name, *_ in broker.heartbeats) == ["broker-a", "broker-b"]
            _, data, _, _ = broker.heartbeats[0]
            (cd,) = data.consumer_data_set
            assert (cd.group_name, cd.consume_type, cd.message_model, cd.consume_from_where, cd.unit_mode) == (
                "hb-group", "CONSUME_PASSIVELY", "CLUSTERING", "CONSUME_FROM_FIRST_OFFSET", False,
            )  # fmt: skip
            assert {s.topic for s in cd.subscription_data_set} == {TOPIC, "%RETRY%hb-group"}
            assert instance.find_broker_version("broker-a", addrs["broker-a"]) > 0

            # producers only: masters only
            await instance.unregister_consumer("hb-group")
            broker.clear()
            assert await instance.send_heartbeat_to_all_brokers() == 1
            assert [name for name, *_ in broker.heartbeats] == ["broker-a"]
            assert not broker.heartbeats[0][1].consumer_data_set

    run(scenario, **cluster())


def test_unregister_consumer_tells_every_broker() -> None:
    async def scenario(broker: LocalBroker) -> None:
        consumer = FakeConsumer("leaving")
        async with consumer_instance(broker, consumer) as instance:
            await instance.unregister_consumer("leaving")
            assert "leaving" not in instance.consumers and not instance.in_use
            assert sorted((b, pg, cg) for b, _, pg, cg in broker.unregistered) == [
                ("broker-a", None, "leaving"), ("broker-b", None, "leaving"),
            ]  # fmt: skip

    run(scenario, **cluster())


def test_shutdown_persists_offsets_and_unregisters_consumers_before_closing() -> None:
    async def scenario(broker: LocalBroker) -> None:
        consumer = FakeConsumer("closing", topic=TOPIC)
        instance = REGISTRY.get_or_create(config_for(broker, persist_consumer_offset_interval=600.0))
        instance.register_consumer("closing", consumer)
        await instance.start()
        await instance.fetch_subscribe_queues(TOPIC)
        seen_open: list[bool] = []

        async def persist() -> None:
            # the offsets can still reach a broker: connections are open
            conn = await instance.connection(broker.broker_addrs["broker-a"])
            seen_open.append(not conn.closed)

        consumer.on_persist = persist
        await instance.shutdown()
        assert seen_open == [True]
        assert ("closing" in {cg for *_, cg in broker.unregistered})
        assert instance.state is ServiceState.SHUTDOWN_ALREADY and not instance.consumers
        assert REGISTRY.get(instance.client_id) is None

    run(scenario, **cluster())


# --------------------------------------------------------------------------- broker lookup


def test_find_broker_address_in_subscribe_follows_java() -> None:
    async def scenario() -> None:
        instance = ClientInstance(ClientConfig("127.0.0.1@lookup", ("127.0.0.1:9876",), None, "nsaddr"))
        instance.broker_addrs = {"a": {0: "m:1", 1: "s1:1"}, "slaves": {2: "s2:1", 3: "s3:1"}, "empty": {}}
        assert instance.find_broker_address_in_subscribe("a") == FindBrokerResult("m:1", False)
        assert instance.find_broker_address_in_subscribe("a", 1) == ("s1:1", True)
        # a missing slave id: the next id, else any address unless only this broker
        assert instance.find_broker_address_in_subscribe("slaves", 1) == ("s2:1", True)
        assert instance.find_broker_address_in_subscribe("slaves", 0) == ("s2:1", True)
        assert instance.find_broker_address_in_subscribe("slaves", 0, only_this_broker=True) is None
        assert instance.find_broker_address_in_subscribe("a", 5) == ("m:1", False)
        assert instance.find_broker_address_in_subscribe("empty") is None
        assert instance.find_broker_address_in_subscribe("unknown") is None
        assert instance.find_broker_address_in_publish("a") == "m:1"
        assert instance.find_broker_address_in_publish("slaves") is None
        assert sorted(instance.broker_names) == ["a", "empty", "slaves"]

    asyncio.run(scenario())


def test_find_broker_addr_by_topic_prefers_masters() -> None:
    async def scenario() -> None:
        from rmqwire.codec.body import BrokerData

        instance = ClientInstance(ClientConfig("127.0.0.1@by-topic", ("127.0.0.1:9876",), None, "nsaddr"))
        assert instance.find_broker_addr_by_topic("T") is None
        instance.topic_routes["T"] = TopicRouteData((), (BrokerData("c", "a", {1: "s:1", 0: "m:1"}),))
        assert instance.find_broker_addr_by_topic("T") == "m:1"
        instance.topic_routes["T"] = TopicRouteData((), (BrokerData("c", "a", {1: "s:1"}),))
        assert instance.find_broker_addr_by_topic("T") == "s:1"

    asyncio.run(scenario())


# --------------------------------------------------------------------------- name servers


def test_namesrv_chooser_prefers_the_one_that_answered_and_moves_on_after_a_failure() -> None:
    chooser = NamesrvChooser(("a:1", "b:1", "c:1"))
    chooser.answered("b:1")
    assert chooser.order() == ["b:1", "c:1", "a:1"]
    chooser.failed("a:1")  # not the preferred one: nothing changes
    assert chooser.preferred == "b:1"
    chooser.failed("b:1")
    assert chooser.preferred == "c:1"
    chooser.addrs = ("c:1", "d:1")  # a new list keeps the preferred address
    assert chooser.preferred == "c:1"


@asynccontextmanager
async def silent_server() -> AsyncIterator[tuple[str, list[int]]]:
    """Accepts connections and never answers; yields (addr, [connections])."""
    accepted = [0]
    writers: list[asyncio.StreamWriter] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted[0] += 1
        writers.append(writer)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}", accepted
    finally:
        for w in writers:
            w.close()
        server.close()
        await server.wait_closed()


def test_a_silent_first_name_server_is_left_after_a_timeout_and_the_answering_one_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import rmqwire.namesrv

    monkeypatch.setattr(rmqwire.namesrv.random, "randrange", lambda n: 0)  # the silent one first

    async def scenario(broker: LocalBroker) -> None:
        async with silent_server() as (dead, accepted):
            addrs = f"{dead};{broker.namesrv_addr}"
            async with AsyncProducer("silent-ns", namesrv_addr=addrs, request_timeout=0.6) as producer:
                assert accepted[0] == 1
                assert producer.instance._namesrv.preferred == broker.namesrv_addr
                await producer.instance.update_route(TOPIC)
                await producer.instance.update_route(TOPIC)
                assert accepted[0] == 1  # the one that answered is asked first now

    run(scenario, **cluster())


def test_no_name_server_answering_names_each_and_the_request() -> None:
    async def scenario() -> None:
        async with silent_server() as (one, _), silent_server() as (two, _):
            instance = ClientInstance(ClientConfig("127.0.0.1@silent", (one, two), None, "nsaddr"))
            try:
                with pytest.raises(RequestTimeoutError) as info:
                    await instance.fetch_route(TOPIC, 0.4)
            finally:
                await instance.shutdown()
            message = str(info.value)
            assert one in message and two in message and "request code 105" in message

    asyncio.run(scenario())


def test_a_heartbeat_asked_for_during_a_round_is_sent_after_it_not_dropped() -> None:
    async def scenario(broker: LocalBroker) -> None:
        consumer = FakeConsumer("hb-twice")
        async with consumer_instance(broker, consumer) as instance:
            broker.clear()
            first, second = await asyncio.gather(
                instance.send_heartbeat_to_all_brokers(), instance.send_heartbeat_to_all_brokers()
            )
            assert (first, second) == (2, 2)
            assert sorted(name for name, *_ in broker.heartbeats) == ["broker-a", "broker-a", "broker-b", "broker-b"]

    run(scenario, **cluster())
