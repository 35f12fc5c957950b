"""Route -> publish queues, queue selection and fault avoidance
(protocol.md 7.3 and 7.4), with time passed in: no sleeping."""

from __future__ import annotations

import pytest

from rmqwire.route import FaultTracker, MessageQueue, TopicPublishInfo, not_available_duration, publish_info_from_route
from rmqwire.codec.body import BrokerData, QueueData, TopicRouteData


def route(*brokers: tuple[str, int, int, bool]) -> TopicRouteData:
    """brokers: (name, write queues, perm, has master)"""
    return TopicRouteData(
        queue_datas=tuple(QueueData(name, 4, nums, perm, 0) for name, nums, perm, _ in brokers),
        broker_datas=tuple(
            BrokerData("DefaultCluster", name, {0: f"127.0.0.1:{10911 + i}"} if master else {1: "127.0.0.1:1"})
            for i, (name, _, _, master) in enumerate(brokers)
        ),
    )


def test_writable_master_queues_sorted_by_broker_name() -> None:
    info = publish_info_from_route("T", route(("broker-b", 2, 6, True), ("broker-a", 3, 6, True)))
    assert [(q.broker_name, q.queue_id) for q in info.queues] == [
        ("broker-a", 0), ("broker-a", 1), ("broker-a", 2), ("broker-b", 0), ("broker-b", 1),
    ]


def test_read_only_brokers_and_brokers_without_master_are_skipped() -> None:
    info = publish_info_from_route("T", route(("ro", 4, 4, True), ("slave-only", 4, 6, False), ("ok", 1, 6, True)))
    assert info.queues == [MessageQueue("T", "ok", 0)]


def test_tbw102_fallback_clamps_queue_count() -> None:
    info = publish_info_from_route("New", route(("broker-a", 8, 7, True)), clamp_queue_nums=4)
    assert len(info.queues) == 4 and all(q.topic == "New" for q in info.queues)


def test_order_topic_conf_lists_queues_per_broker() -> None:
    data = TopicRouteData(queue_datas=(), broker_datas=(), order_topic_conf="broker-b:2;broker-a:1")
    info = publish_info_from_route("T", data)
    assert info.order_topic
    assert [(q.broker_name, q.queue_id) for q in info.queues] == [("broker-b", 0), ("broker-b", 1), ("broker-a", 0)]


def test_round_robin_visits_every_queue() -> None:
    info = publish_info_from_route("T", route(("a", 2, 6, True), ("b", 2, 6, True)))
    picked = [info.select_queue() for _ in range(8)]
    assert set(picked) == set(info.queues)
    assert picked[:4] != picked[1:5]


def test_retry_prefers_another_broker_than_the_one_that_failed() -> None:
    info = publish_info_from_route("T", route(("a", 4, 6, True), ("b", 1, 6, True)))
    for _ in range(20):
        assert info.select_queue(last_broker="a").broker_name == "b"


def test_single_broker_retry_still_gets_a_queue() -> None:
    info = publish_info_from_route("T", route(("a", 2, 6, True)))
    assert info.select_queue(last_broker="a").broker_name == "a"


def test_empty_publish_info_has_no_queue() -> None:
    with pytest.raises(LookupError):
        TopicPublishInfo("T", []).select_queue()


@pytest.mark.parametrize(
    ("latency_ms", "seconds"),
    [(10, 0), (99, 0), (100, 0), (600, 2), (1800, 5), (3000, 6), (5000, 10), (10000, 10), (15000, 30)],
)
def test_latency_buckets_follow_the_5x_tables(latency_ms: float, seconds: float) -> None:
    assert not_available_duration(latency_ms) == seconds


def test_isolated_broker_is_avoided_for_a_while_then_tried_again() -> None:
    tracker = FaultTracker()
    tracker.update("a", 5, isolated=True, now=100.0)
    assert not tracker.is_available("a", now=105.0)
    assert tracker.avoided(105.0) == frozenset({"a"})
    assert tracker.is_available("a", now=110.1)
    info = publish_info_from_route("T", route(("a", 2, 6, True), ("b", 2, 6, True)))
    tracker.update("a", 5, isolated=True, now=200.0)
    for _ in range(10):
        assert info.select_queue(avoid=tracker.avoided(201.0)).broker_name == "b"


def test_a_fast_success_clears_the_fault_window() -> None:
    tracker = FaultTracker()
    tracker.update("a", 700, isolated=False, now=0.0)
    assert not tracker.is_available("a", now=1.0)
    tracker.update("a", 5, isolated=False, now=1.0)
    assert tracker.is_available("a", now=1.0)


# --------------------------------------------------------------------------- one route-to-queues function


def test_subscribe_queues_are_the_readable_ones_on_masters_and_slaves() -> None:
    from rmqwire.route import subscribe_queues_from_route

    data = TopicRouteData(
        queue_datas=(
            QueueData("rw", 3, 1, 6, 0),
            QueueData("write-only", 4, 4, 2, 0),
            QueueData("slave-only", 2, 2, 4, 0),
        ),
        broker_datas=(
            BrokerData("c", "rw", {0: "127.0.0.1:1"}),
            BrokerData("c", "write-only", {0: "127.0.0.1:2"}),
            BrokerData("c", "slave-only", {1: "127.0.0.1:3"}),
        ),
        order_topic_conf="rw:1",  # plays no part in the subscribe queues
    )
    assert subscribe_queues_from_route("T", data) == {
        MessageQueue("T", "rw", 0), MessageQueue("T", "rw", 1), MessageQueue("T", "rw", 2),
        MessageQueue("T", "slave-only", 0), MessageQueue("T", "slave-only", 1),
    }  # fmt: skip


def test_publish_queues_sort_broker_names_as_java_and_refuse_bad_order_conf() -> None:
    from rmqwire.codec.errors import MalformedBodyError

    info = publish_info_from_route("T", route(("\uff5e", 1, 6, True), ("\U0001f600", 1, 6, True), ("B", 1, 6, True)))
    assert [q.broker_name for q in info.queues] == ["B", "\U0001f600", "\uff5e"]
    with pytest.raises(MalformedBodyError):
        publish_info_from_route("T", TopicRouteData((), (), order_topic_conf="broker-a:x"))
    with pytest.raises(MalformedBodyError):
        publish_info_from_route("T", route(("a", 2**31 - 1, 6, True)))


def test_tbw102_clamp_takes_the_smaller_of_the_default_and_the_read_queues() -> None:
    # Java: min(defaultTopicQueueNums, readQueueNums) for both counts
    data = TopicRouteData(
        queue_datas=(QueueData("a", 2, 8, 6, 0),), broker_datas=(BrokerData("c", "a", {0: "127.0.0.1:1"}),)
    )
    assert len(publish_info_from_route("New", data, clamp_queue_nums=4).queues) == 2
    assert len(publish_info_from_route("New", data).queues) == 8
