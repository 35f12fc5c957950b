"""The client manager without sockets: who is connected, in which groups,
and which membership changes are reported (Java's ``ConsumerManager``:
``updateChannel`` / ``updateSubscription`` true, ``unregisterConsumer``,
``doChannelCloseEvent``).
"""

from __future__ import annotations

from dataclasses import dataclass

from rmqwire.broker.client_manager import ClientManager
from rmqwire.codec import LanguageCode, RemotingCommand
from rmqwire.codec.body import ConsumerData, HeartbeatData, ProducerData, SubscriptionData


@dataclass(eq=False)
class FakeChannel:
    id: int
    peer: str = "127.0.0.1:1"
    is_open: bool = True

    def send_response(self, response: RemotingCommand, delay: float = 0.0) -> None:
        raise AssertionError("not used")

    def send_oneway(self, request: RemotingCommand) -> int:
        raise AssertionError("not used")

    async def request(self, request: RemotingCommand, timeout: float) -> RemotingCommand:
        raise AssertionError("not used")

    def track(self, deferred: object) -> None:
        raise AssertionError("not used")


def beat(client_id: str, *groups: str, topics: tuple[str, ...] = ("T",), producer: str | None = None, version: int = 1) -> HeartbeatData:
    consumers = tuple(
        ConsumerData(g, "CONSUME_PASSIVELY", "CLUSTERING", "CONSUME_FROM_FIRST_OFFSET",
                     tuple(SubscriptionData(t, "*", sub_version=version) for t in topics))
        for g in groups
    )
    producers = (ProducerData(producer),) if producer else ()
    return HeartbeatData(client_id, producers, consumers)


def test_joining_and_subscription_changes_are_reported_once() -> None:
    m = ClientManager(["a", "b"])
    one, two = FakeChannel(1), FakeChannel(2)
    assert m.heartbeat("a", one, beat("c1", "G"), LanguageCode.JAVA, 409, now=1) == ["G"]
    assert m.heartbeat("a", one, beat("c1", "G"), LanguageCode.JAVA, 409, now=2) == []
    assert m.heartbeat("a", one, beat("c1", "G", version=2), LanguageCode.JAVA, 409, now=3) == []  # newer subVersion only
    assert m.find_subscription("a", "G", "T") == SubscriptionData("T", "*", sub_version=2)
    assert m.heartbeat("a", one, beat("c1", "G", topics=("T", "U")), LanguageCode.JAVA, 409, now=4) == ["G"]
    assert m.heartbeat("a", one, beat("c1", "G", topics=("U",)), LanguageCode.JAVA, 409, now=5) == ["G"]
    assert m.heartbeat("a", two, beat("c2", "G", topics=("U",)), LanguageCode.JAVA, 409, now=6) == ["G"]
    info = m.consumer_group("a", "G")
    assert info is not None
    assert (info.client_ids, list(info.subscriptions), info.message_model) == (["c1", "c2"], ["U"], "CLUSTERING")
    assert m.consumer_group("b", "G") is None  # tables are per broker
    assert m.consumer_channels("a", "G") == [one, two]


def test_a_closed_connection_leaves_every_table() -> None:
    m = ClientManager(["a"])
    one, two = FakeChannel(1), FakeChannel(2)
    m.heartbeat("a", one, beat("c1", "G", "H", producer="PG"), LanguageCode.CPP, 63, now=1)
    m.heartbeat("a", two, beat("c2", "G"), LanguageCode.JAVA, 409, now=2)
    assert m.producer_groups("a") == ["PG"] and m.client_ids() == ["c1", "c2"]
    assert m.channel_closed("a", one) == ["G", "H"]
    assert m.consumer_ids("a", "G") == ["c2"] and m.consumer_group("a", "H") is None
    assert m.producer_groups("a") == [] and m.channels_of("c1") == [] and m.client_ids() == ["c2"]
    assert m.channel_closed("a", one) == []
    # the records stay until cleared
    assert set(m.clients) == {"c1", "c2"} and len(m.heartbeats) == 2
    m.clear_records()
    assert m.clients == {} and m.heartbeats == [] and m.consumer_ids("a", "G") == ["c2"]


def test_unregister_takes_the_connection_out_of_the_named_groups() -> None:
    m = ClientManager(["a"])
    one = FakeChannel(1)
    m.heartbeat("a", one, beat("c1", "G", producer="PG"), LanguageCode.JAVA, 409, now=1)
    assert m.unregister("a", one, "c1", "PG", None) == []
    assert m.producer_channels("a", "PG") == [] and m.consumer_ids("a", "G") == ["c1"]
    assert m.unregister("a", one, "c1", None, "G") == ["G"]
    assert m.consumer_group("a", "G") is None
    assert m.unregister("a", one, "c1", None, "G") == []  # no such group any more: nothing to notify
    assert m.unregistered == [("a", "c1", "PG", None), ("a", "c1", None, "G"), ("a", "c1", None, "G")]
    assert m.channels_of("c1") == [one]  # still connected: pushes still reach it


def test_the_push_table_prefers_the_latest_heartbeat_and_open_connections() -> None:
    m = ClientManager(["a", "b"])
    old, new, other = FakeChannel(1), FakeChannel(2), FakeChannel(3)
    m.heartbeat("a", old, beat("c1"), LanguageCode.JAVA, 409, now=1)
    m.heartbeat("b", other, beat("c1"), LanguageCode.JAVA, 409, now=2)
    m.heartbeat("a", new, beat("c1"), LanguageCode.JAVA, 409, now=3)
    assert m.channels_of("c1") == [new, other, old]
    assert m.channels_of("c1", "a") == [new, old]
    new.is_open = False
    assert m.channels_of("c1", "a") == [old]
    assert m.clients["c1"].brokers == {"a", "b"}


def test_a_connection_that_changes_its_client_id_counts_as_the_new_one() -> None:
    m = ClientManager(["a"])
    one = FakeChannel(1)
    m.heartbeat("a", one, beat("old-id"), LanguageCode.JAVA, 409, now=1)
    m.heartbeat("a", one, beat("new-id"), LanguageCode.JAVA, 409, now=2)
    assert (m.channels_of("old-id"), m.channels_of("new-id")) == ([], [one])
    m.channel_closed("a", one)
    assert m.client_ids() == []
