"""Queue allocation: every strategy splits a topic's queues among the sorted
consumer ids as Java's does (consumer-protocol.md section 8)."""

from __future__ import annotations

import pytest

from rmqwire.codec.errors import ConfigError
from rmqwire.consumer.allocate import (
    AllocateMessageQueueAveragely,
    AllocateMessageQueueAveragelyByCircle,
    AllocateMessageQueueByConfig,
    AllocateMessageQueueByMachineRoom,
    AllocateMessageQueueConsistentHash,
    AllocateStrategy,
    md5_hash,
    sort_client_ids,
    sort_queues,
)
from rmqwire import MessageQueue


def queues(n: int, topic: str = "T", broker: str = "broker-a") -> list[MessageQueue]:
    return [MessageQueue(topic, broker, i) for i in range(n)]


def split(strategy: AllocateStrategy, mqs: list[MessageQueue], cids: list[str]) -> dict[str, list[int]]:
    return {cid: [mq.queue_id for mq in strategy.allocate("g", cid, mqs, cids)] for cid in cids}


def test_averagely_worked_example_of_the_spec() -> None:
    # 4 queues, 3 consumers: A takes q0 q1, B q2, C q3
    assert split(AllocateMessageQueueAveragely(), queues(4), ["A", "B", "C"]) == {"A": [0, 1], "B": [2], "C": [3]}


def test_averagely_more_consumers_than_queues_leaves_the_last_idle() -> None:
    got = split(AllocateMessageQueueAveragely(), queues(4), ["A", "B", "C", "D", "E"])
    assert got == {"A": [0], "B": [1], "C": [2], "D": [3], "E": []}


def test_averagely_one_consumer_takes_all() -> None:
    assert split(AllocateMessageQueueAveragely(), queues(8), ["A"]) == {"A": list(range(8))}


@pytest.mark.parametrize("n", range(1, 17))
@pytest.mark.parametrize("c", range(1, 7))
@pytest.mark.parametrize(
    "strategy",
    [AllocateMessageQueueAveragely(), AllocateMessageQueueAveragelyByCircle(), AllocateMessageQueueConsistentHash()],
    ids=lambda s: s.name,
)
def test_every_queue_has_exactly_one_owner(strategy: AllocateStrategy, n: int, c: int) -> None:
    cids = [f"10.0.0.{i}@pid" for i in range(c)]
    owned = [q for got in split(strategy, queues(n), cids).values() for q in got]
    assert sorted(owned) == list(range(n))


def test_by_circle_deals_queues_round_robin() -> None:
    got = split(AllocateMessageQueueAveragelyByCircle(), queues(7), ["A", "B", "C"])
    assert got == {"A": [0, 3, 6], "B": [1, 4], "C": [2, 5]}


def test_an_id_missing_from_the_list_gets_nothing() -> None:
    assert AllocateMessageQueueAveragely().allocate("g", "Z", queues(4), ["A", "B"]) == []
    assert AllocateMessageQueueAveragelyByCircle().allocate("g", "Z", queues(4), ["A", "B"]) == []


def test_bad_arguments_raise_config_error() -> None:
    s = AllocateMessageQueueAveragely()
    with pytest.raises(ConfigError):
        s.allocate("g", "", queues(1), ["A"])
    with pytest.raises(ConfigError):
        s.allocate("g", "A", [], ["A"])
    with pytest.raises(ConfigError):
        s.allocate("g", "A", queues(1), [])
    with pytest.raises(ConfigError):
        AllocateMessageQueueConsistentHash(-1)


def test_consistent_hash_uses_javas_md5_ring() -> None:
    # ConsistentHashRouter.MD5Hash: the first four digest bytes, unsigned
    assert md5_hash("") == 0xD41D8CD9
    ring = AllocateMessageQueueConsistentHash(virtual_node_count=3, hash_function=lambda key: {
        "A-0": 10, "A-1": 50, "A-2": 90, "B-0": 30, "B-1": 70, "B-2": 110,
    }.get(key, 0))
    # every queue string hashes to 0 here: the first point (10) is A's
    assert split(ring, queues(3), ["A", "B"]) == {"A": [0, 1, 2], "B": []}


def test_consistent_hash_moves_only_the_leavers_queues() -> None:
    s = AllocateMessageQueueConsistentHash()
    mqs = queues(32)
    before = split(s, mqs, ["A", "B", "C"])
    after = split(s, mqs, ["A", "B"])
    assert set(before["A"]) <= set(after["A"]) and set(before["B"]) <= set(after["B"])


def test_by_config_returns_the_configured_queues() -> None:
    mine = [MessageQueue("T", "b", 5)]
    assert AllocateMessageQueueByConfig(mine).allocate("g", "A", queues(2), ["A", "B"]) == mine


def test_by_machine_room_takes_only_its_rooms_brokers() -> None:
    mqs = sort_queues(queues(3, broker="room1@b1") + queues(2, broker="room2@b2") + queues(2, broker="plain"))
    s = AllocateMessageQueueByMachineRoom({"room1"})
    got = {cid: [(mq.broker_name, mq.queue_id) for mq in s.allocate("g", cid, mqs, ["A", "B"])] for cid in "AB"}
    assert got == {"A": [("room1@b1", 0), ("room1@b1", 2)], "B": [("room1@b1", 1)]}


def test_sorting_is_javas_order() -> None:
    mqs = [MessageQueue("b", "x", 1), MessageQueue("a", "y", 0), MessageQueue("a", "x", 2), MessageQueue("a", "x", 10)]
    assert sort_queues(mqs) == [
        MessageQueue("a", "x", 2), MessageQueue("a", "x", 10), MessageQueue("a", "y", 0), MessageQueue("b", "x", 1)
    ]
    # UTF-16 code units: U+FFFF sorts after U+10000 (a surrogate pair, 0xD800...)
    assert sort_client_ids(["\uffff", "\U00010000", "a"]) == ["a", "\U00010000", "\uffff"]
